"""update and setup (srcgrad/optim/update.py): implicit and explicit styles, and all-or-nothing updates."""

import importlib
import os
import signal

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, functor, mse, relu
from srcgrad.optim import Adam, Descent, Leaf, Momentum, OptimiserChain, ClipNorm, setup, update

# The package exports the function update, which hides the module of the same name.
update_module = importlib.import_module("srcgrad.optim.update")

RNG = np.random.default_rng(3)


def test_implicit_single_array_in_place():
    W = np.array([1.0, 2.0])
    same = W
    assert update(Descent(0.1), W, np.array([10.0, -10.0])) is None
    assert W is same
    np.testing.assert_allclose(W, [0.0, 3.0])


def test_implicit_state_is_kept_per_array():
    opt = Momentum(0.1, 0.5)
    a, b = np.zeros(1), np.zeros(1)
    update(opt, a, np.ones(1))
    update(opt, a, np.ones(1))
    update(opt, b, np.ones(1))
    np.testing.assert_allclose(a, [-(0.1 + 0.15)])
    np.testing.assert_allclose(b, [-0.1])


def test_implicit_state_of_a_dead_array_is_not_reused():
    opt = Momentum(0.1, 0.5)
    for _ in range(3):
        fresh = np.zeros(1)
        update(opt, fresh, np.ones(1))
        np.testing.assert_allclose(fresh, [-0.1])
        del fresh
    assert len(opt._implicit_state) == 0


def test_explicit_state_tree_mirrors_the_model():
    model = Chain(Dense(2, 3, relu), Dense(3, 1))
    state = setup(Momentum(), model)
    layer = state["layers"][0]
    assert set(layer) == {"W", "b", "activation"} and layer["activation"] is None
    assert isinstance(layer["W"], Leaf) and layer["W"].state.shape == (3, 2)
    assert layer["W"].rule is layer["b"].rule


def test_setup_needs_a_rule():
    with pytest.raises(TypeError, match="optimisation rule"):
        setup(0.1, {"w": np.zeros(1)})


def test_explicit_update_returns_the_same_objects_updated_in_place():
    model = Dense(2, 1, rng=0)
    W = model.W
    before = W.copy()
    state = setup(Descent(0.5), model)
    (g,) = srcgrad.gradient(lambda m: np.sum(m(np.array([1.0, 2.0]))), model)
    new_state, new_model = update(state, model, g)
    assert new_model is model and new_state is state and model.W is W
    np.testing.assert_allclose(model.W, before - 0.5 * np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(model.b, [-0.5])


def test_none_gradients_leave_arrays_alone():
    model = {"a": np.ones(2), "b": np.ones(2)}
    state = setup(Descent(), model)
    update(state, model, {"a": None, "b": np.ones(2)})
    update(state, model, None)
    np.testing.assert_array_equal(model["a"], 1.0)
    np.testing.assert_allclose(model["b"], 0.9)


def test_functor_narrowing_is_respected():
    @functor("W")
    class Layer:
        def __init__(self):
            self.W, self.offset = np.ones(2), np.ones(2)

        def __call__(self, x):
            return self.W * x + self.offset

    layer = Layer()
    state = setup(Descent(), layer)
    assert state == {"W": state["W"]}
    (g,) = srcgrad.gradient(lambda m: np.sum(m(np.ones(2))), layer)
    update(state, layer, g)
    np.testing.assert_allclose(layer.W, 0.9)
    np.testing.assert_array_equal(layer.offset, 1.0)


def test_tied_weights_are_updated_once_with_the_summed_gradient():
    shared = np.ones(2)
    model = [shared, shared]
    state = setup(Descent(1.0), model)
    assert state[0] is state[1]
    update(state, model, [np.array([1.0, 0.0]), np.array([0.0, 2.0])])
    np.testing.assert_allclose(shared, [0.0, -1.0])


def test_passing_the_whole_gradient_tuple_says_what_to_do():
    model = Dense(2, 1)
    state = setup(Descent(), model)
    grads = srcgrad.gradient(lambda m, x: np.sum(m(x)), model, np.ones(2))
    with pytest.raises(TypeError, match=r"\[0\]"):
        update(state, model, grads)


def test_wrong_gradient_shape_is_refused_before_anything_changes():
    model = {"a": np.ones(2), "b": np.ones(3)}
    state = setup(Descent(), model)
    with pytest.raises(ValueError, match="shape"):
        update(state, model, {"a": np.ones(2), "b": np.ones(2)})
    np.testing.assert_array_equal(model["a"], 1.0)


def test_a_failing_rule_leaves_every_array_and_state_unchanged():
    model = {"a": np.ones(2), "b": np.ones(2)}
    state = setup(OptimiserChain(ClipNorm(), Momentum()), model)
    before = state["a"].state
    with pytest.raises(FloatingPointError):
        update(state, model, {"a": np.ones(2), "b": np.array([np.nan, 1.0])})
    np.testing.assert_array_equal(model["a"], 1.0)
    assert state["a"].state is before


def test_learning_rate_can_be_changed_between_steps():
    opt = Descent(1.0)
    model = {"w": np.zeros(1)}
    state = setup(opt, model)
    update(state, model, {"w": np.ones(1)})
    opt.lr = 0.5
    update(state, model, {"w": np.ones(1)})
    np.testing.assert_allclose(model["w"], [-1.5])


def test_ctrl_c_during_an_update_is_held_until_every_array_has_changed(monkeypatch):
    model = {"a": np.zeros(1), "b": np.zeros(1), "c": np.zeros(1)}
    state = setup(Descent(1.0), model)
    real = update_module._subtract
    calls = []

    def subtract_then_interrupt(x, step):
        real(x, step)
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(update_module, "_subtract", subtract_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        update(state, model, {"a": np.ones(1), "b": np.ones(1), "c": np.ones(1)})
    assert [float(model[k][0]) for k in "abc"] == [-1.0, -1.0, -1.0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ---------------------------------------------------------------- implicit style with srcgrad.params


def test_implicit_params_and_grads():
    W = RNG.random((2, 5))
    b = RNG.random(2)
    x, y = RNG.random(5), RNG.random(2)

    def loss(x, y):
        return np.sum((y - (W @ x + b)) ** 2)

    ps = srcgrad.params(W, b)
    before = loss(x, y)
    gs = srcgrad.gradient(lambda: loss(x, y), ps)
    expected_W = W - 0.1 * gs[W]
    update(Descent(0.1), ps, gs)
    np.testing.assert_allclose(W, expected_W)
    assert loss(x, y) < before


def test_implicit_update_one_parameter_at_a_time_as_in_the_tutorial():
    W, b = RNG.random((2, 5)), RNG.random(2)
    x, y = RNG.random(5), RNG.random(2)
    loss = lambda x, y: np.sum((y - (W @ x + b)) ** 2)
    opt = Descent(0.05)
    losses = []
    for _ in range(50):
        grads = srcgrad.gradient(lambda: loss(x, y), srcgrad.params(W, b))
        for p in (W, b):
            update(opt, p, grads[p])
        losses.append(loss(x, y))
    assert losses[-1] < 1e-3 < losses[0]


def adam_run(style, steps=5):
    model = Chain(Dense(3, 4, relu, rng=1), Dense(4, 2, rng=2))
    x, y = np.random.default_rng(4).normal(size=(6, 3)), np.random.default_rng(5).normal(size=(6, 2))
    if style == "implicit":
        ps, opt = srcgrad.params(model), Adam(0.01)
        for _ in range(steps):
            update(opt, ps, srcgrad.gradient(lambda: mse(model(x), y), ps))
    else:
        state = setup(Adam(0.01), model)
        for _ in range(steps):
            state, model = update(state, model, srcgrad.gradient(lambda m: mse(m(x), y), model)[0])
    return [a.copy() for a in (model[0].W, model[0].b, model[1].W, model[1].b)]


def test_implicit_and_explicit_styles_give_the_same_updates():
    for a, b in zip(adam_run("implicit"), adam_run("explicit")):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_a_number_cannot_be_updated_in_place():
    with pytest.raises(TypeError, match="in place"):
        update(Descent(), 3.0, 1.0)
