"""train and throttle (srcgrad/optim/train.py): both styles, callbacks, interrupts, XOR, progress bar."""

import importlib
import sys
import types

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, init, mse, relu
from srcgrad.optim import Adam, DataLoader, Descent, setup, throttle, train

train_module = importlib.import_module("srcgrad.optim.train")

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def xor_model():
    init.seed(0)
    return Chain(Dense(2, 16, relu), Dense(16, 1))


def test_xor_explicit_style():
    model = xor_model()
    state = setup(Adam(0.01), model)
    loss = lambda m, x, y: mse(m(x), y)
    start = loss(model, XOR_X, XOR_Y)
    for _ in range(300):
        train(loss, model, [(XOR_X, XOR_Y)], state)
    final = loss(model, XOR_X, XOR_Y)
    assert final < 1e-4 < start
    np.testing.assert_allclose(model(XOR_X), XOR_Y, atol=0.02)


def test_xor_implicit_style():
    model = xor_model()
    loss = lambda x, y: mse(model(x), y)
    ps = srcgrad.params(model)
    opt = Adam(0.01)
    for _ in range(300):
        train(loss, ps, [(XOR_X, XOR_Y)], opt)
    assert loss(XOR_X, XOR_Y) < 1e-4


def test_xor_with_a_shuffled_data_loader():
    model = xor_model()
    state = setup(Adam(0.01), model)
    loader = DataLoader((XOR_X, XOR_Y), batchsize=2, shuffle=True, rng=0)
    for _ in range(300):
        train(lambda m, x, y: mse(m(x), y), model, loader, state)
    assert mse(model(XOR_X), XOR_Y) < 1e-3


def generate_data(n, rng):
    W0, b0 = rng.random((2, 5)), rng.random(2)
    xs = [rng.random(5) for _ in range(n)]
    ys = [W0 @ x + b0 + 0.1 * rng.random(2) for x in xs]
    return xs, ys


def test_linear_regression_from_the_tutorial():
    rng = np.random.default_rng(0)
    xs, ys = generate_data(10, rng)
    W, b = rng.random((2, 5)), rng.random(2)

    def predict(x):
        return W @ x + b

    def loss(x, y):
        return np.sum((y - predict(x)) ** 2)

    losses = []
    for _ in range(100):
        train(loss, srcgrad.params(W, b), zip(xs, ys), Descent(0.05))
        losses.append(sum(loss(x, y) for x, y in zip(xs, ys)))
    assert losses[-1] < 0.05 * losses[0]


def test_an_item_that_is_not_a_tuple_is_the_one_argument():
    model = {"w": np.array([5.0])}
    seen = []

    def loss(m, x):
        seen.append(x.shape)
        return np.sum((m["w"] - x) ** 2)

    train(loss, model, [np.array([1.0]), np.array([1.0])], setup(Descent(0.25), model))
    assert seen == [(1,), (1,)]
    np.testing.assert_allclose(model["w"], [2.0])  # 5 -> 3 -> 2


def test_callback_runs_after_every_update():
    model = {"w": np.array([0.0])}
    seen = []
    train(lambda m, x: np.sum((m["w"] - x) ** 2), model, [np.array([1.0])] * 3, setup(Descent(0.25), model),
          cb=lambda: seen.append(float(model["w"][0])))
    assert seen == [0.5, 0.75, 0.875]


def test_interrupt_between_updates_leaves_whole_updates():
    model = {"w": np.array([0.0]), "v": np.array([0.0])}
    count = []

    def cb():
        count.append(1)
        if len(count) == 2:
            raise KeyboardInterrupt

    loss = lambda m, x: np.sum((m["w"] - x) ** 2) + np.sum((m["v"] + x) ** 2)
    with pytest.raises(KeyboardInterrupt):
        train(loss, model, [np.array([1.0])] * 5, setup(Descent(0.25), model), cb=cb)
    np.testing.assert_allclose([model["w"][0], model["v"][0]], [0.75, -0.75])


def test_a_non_finite_loss_stops_before_the_update():
    model = {"w": np.array([1.0])}
    with pytest.raises(FloatingPointError, match="loss is nan"):
        train(lambda m, x: np.sum(m["w"] * x), model, [np.array([np.nan])], setup(Descent(), model))
    assert model["w"][0] == 1.0


def test_a_rule_with_a_model_asks_for_params_or_setup():
    with pytest.raises(TypeError, match="setup"):
        train(lambda x: x, Dense(1, 1), [1.0], Descent())


# ---------------------------------------------------------------- progress bar


class FakeBar:
    made = []

    def __init__(self, iterable, **kwargs):
        self.iterable, self.kwargs, self.closed = iterable, kwargs, False
        FakeBar.made.append(self)

    def __iter__(self):
        return iter(self.iterable)

    def close(self):
        self.closed = True


class Terminal:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty

    def write(self, text):
        pass


@pytest.fixture
def fake_tqdm(monkeypatch):
    FakeBar.made = []
    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeBar))
    return FakeBar.made


def run_short_pass(**kwargs):
    model = {"w": np.array([0.0])}
    train(lambda m, x: np.sum((m["w"] - x) ** 2), model, [np.array([1.0])] * 2, setup(Descent(), model), **kwargs)


def test_progress_bar_in_a_terminal_shows_only_after_a_delay(fake_tqdm, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal(True))
    run_short_pass()
    assert len(fake_tqdm) == 1 and fake_tqdm[0].kwargs["delay"] > 0 and fake_tqdm[0].closed


def test_no_progress_bar_outside_a_terminal(fake_tqdm, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal(False))
    run_short_pass()
    assert fake_tqdm == []


def test_progress_can_be_forced_on_or_off(fake_tqdm, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal(False))
    run_short_pass(progress=True)
    assert len(fake_tqdm) == 1 and fake_tqdm[0].kwargs["delay"] == 0
    monkeypatch.setattr(sys, "stderr", Terminal(True))
    run_short_pass(progress=False)
    assert len(fake_tqdm) == 1


def test_no_progress_bar_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    monkeypatch.setattr(sys, "stderr", Terminal(True))
    run_short_pass(progress=True)


# ---------------------------------------------------------------- throttle


def test_throttle_calls_at_most_once_per_interval(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(train_module.time, "monotonic", lambda: now[0])
    calls = []
    log = throttle(lambda x: calls.append(x) or x, 10)
    assert log(1) == 1
    now[0] = 105.0
    assert log(2) is None
    now[0] = 110.0
    assert log(3) == 3
    assert calls == [1, 3]


def test_throttle_keeps_the_name():
    def show_loss():
        pass

    assert throttle(show_loss, 1).__name__ == "show_loss"


def sqrt_loss(m, x):
    """Finite at w = 0, where its gradient is infinite (issue #16: parameters became nan silently)."""
    return np.sum(np.sqrt(m["w"] * x))


def test_an_infinite_gradient_of_a_finite_loss_stops_before_the_update():
    model = {"w": np.array([0.0, 1.0])}
    for rule in (Descent(0.1), Adam()):
        state = setup(rule, model)
        with pytest.raises(FloatingPointError, match=r"update of model\.w \(shape \(2,\)\).*its gradient has 1 "
                                                     r"infinite or nan entry \(of 2\); no parameter was changed"):
            with np.errstate(divide="ignore", invalid="ignore"):
                train(sqrt_loss, model, [np.array([1.0])], state)
        np.testing.assert_array_equal(model["w"], [0.0, 1.0])


def test_an_infinite_gradient_in_the_implicit_style_names_the_parameter():
    w, v = np.array([1.0]), np.array([0.0, 4.0])
    ps = srcgrad.params(w, v)
    with pytest.raises(FloatingPointError, match=r"update of parameter 1 of the params \(shape \(2,\)\)"):
        with np.errstate(divide="ignore", invalid="ignore"):
            train(lambda: np.sum(w ** 2) + np.sum(np.sqrt(v)), ps, [()], Descent(0.1))
    np.testing.assert_array_equal(w, [1.0])  # (the finite step of w is not applied either: all or nothing)
    np.testing.assert_array_equal(v, [0.0, 4.0])


def test_a_clipped_infinite_gradient_is_a_finite_step():
    """ClipValue makes the step finite: that is what clipping is for, so it is not refused."""
    from srcgrad.optim import ClipValue, OptimiserChain

    model = {"w": np.array([0.0, 1.0])}
    state = setup(OptimiserChain(ClipValue(1.0), Descent(0.1)), model)
    with np.errstate(divide="ignore", invalid="ignore"):
        train(sqrt_loss, model, [np.array([1.0])], state)
    np.testing.assert_allclose(model["w"], [-0.1, 1.0 - 0.1 * 0.5])


def test_update_refuses_a_step_that_a_rule_makes_nan():
    from srcgrad.optim import update

    w = np.array([1.0, 2.0])
    with pytest.raises(FloatingPointError, match=r"update of the parameter \(shape \(2,\)\).*Descent\(lr=inf\) "
                                                 r"turned a finite gradient into an infinite or nan step"):
        with np.errstate(invalid="ignore"):
            update(Descent(np.inf), w, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(w, [1.0, 2.0])
    from srcgrad.optim import OptimiserChain, WeightDecay

    w[0] = np.inf  # (weight decay's step is a multiple of the parameter)
    with pytest.raises(FloatingPointError, match="the parameter itself is already infinite or nan"):
        update(OptimiserChain(WeightDecay(0.1), Descent(0.1)), w, np.array([0.0, 1.0]))
    assert w[1] == 2.0
