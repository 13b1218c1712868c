"""destructure (srcgrad/models/restructure.py): a model's parameters as one vector, and rebuild.

The gradient through ``rebuild`` is checked against central differences,
in both modes and to second order, for every kind of model the functor
walk knows (layers, containers, objects of one's own, lists, dicts,
closures, namedtuples, shared weights, fields ``@functor`` leaves out).
"""

import collections
import doctest

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient, numerical_gradient
from srcgrad.models import BatchNorm, Chain, Dense, destructure, functor, mse, relu, tanh, testmode, trainmode
from srcgrad.models import restructure as destructure_module
from srcgrad.models.functor import named_arrays
from srcgrad.models.layers import Parallel, SkipConnection

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 3))


def dense(n_in, n_out, activation=None, seed=0):
    layer = Dense(n_in, n_out, rng=seed) if activation is None else Dense(n_in, n_out, activation, rng=seed)
    layer.b[:] = np.random.default_rng(seed + 100).normal(size=n_out)
    return layer


@functor("scale")
class Norm:
    """A layer with a parameter, statistics that are not parameters, and a mode flag."""

    def __init__(self):
        self.scale = np.array([1.5, 0.5, 2.0])
        self.running = np.array([0.1, -0.2, 0.3])
        self.training = True

    def __call__(self, x):
        return self.scale * (x - self.running)


Pair = collections.namedtuple("Pair", "first second")


def closure_layer(seed):
    W = np.random.default_rng(seed).normal(size=(3, 3))
    return lambda x: np.tanh(x @ W.T)


def shared_model():
    layer = dense(3, 3, tanh, seed=1)
    return Chain(layer, layer, dense(3, 2, seed=2))


MODELS = {
    "dense": lambda: dense(3, 2, tanh, seed=1),
    "chain": lambda: Chain(dense(3, 4, relu, seed=1), dense(4, 2, seed=2)),
    "skip and parallel": lambda: Chain(
        SkipConnection(Chain(dense(3, 3, tanh, seed=1), dense(3, 3, seed=2)), np.add),
        Parallel(lambda a, b: np.concatenate([a, b], axis=-1), dense(3, 1, seed=3), dense(3, 2, tanh, seed=4))),
    "own class with statistics": lambda: Chain(Norm(), dense(3, 2, seed=1)),
    "closure": lambda: Chain(closure_layer(3), dense(3, 2, seed=1)),
    "shared weights": shared_model,
}


def apply(model, x):
    return model(x)


def loss(model, x=X):
    return np.sum(np.tanh(apply(model, x)) ** 2)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_flat_is_named_arrays_in_order_and_rebuild_gives_the_same_model(name):
    model = MODELS[name]()
    flat, rebuild = destructure(model)
    arrays = [array for _, array in named_arrays(model)]
    np.testing.assert_array_equal(flat, np.concatenate([a.ravel() for a in arrays]))
    assert flat.dtype == np.float64 and flat.ndim == 1
    again = rebuild(flat)
    assert again is not model and type(again) is type(model)
    np.testing.assert_array_equal(apply(again, X), apply(model, X))
    assert [n for n, _ in named_arrays(again)] == [n for n, _ in named_arrays(model)]
    assert not any(a is b for (_, a), (_, b) in zip(named_arrays(again, False), named_arrays(model, False)))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradient_through_rebuild(name):
    model = MODELS[name]()
    flat, rebuild = destructure(model)
    (g,) = check_gradient(lambda v: loss(rebuild(v)), flat)
    assert g.shape == flat.shape and g.dtype == flat.dtype


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_mode_through_rebuild(name):
    flat, rebuild = destructure(MODELS[name]())
    f = lambda v: loss(rebuild(v))
    t = RNG.normal(size=flat.shape)
    y, dy = srcgrad.jvp(f, (flat,), (t,))
    assert y == f(flat)
    np.testing.assert_allclose(dy, np.dot(srcgrad.gradient(f, flat)[0], t), rtol=1e-10)


@pytest.mark.parametrize("name", ["chain", "skip and parallel", "shared weights"])
def test_second_order_through_rebuild(name):
    flat, rebuild = destructure(MODELS[name]())
    f = lambda v: loss(rebuild(v), X[:2])
    grad = lambda v: srcgrad.gradient(f, v)[0]
    hessian = srcgrad.hessian(f, flat)
    assert hessian.shape == flat.shape * 2
    expected = np.stack([numerical_gradient(lambda v: grad(v)[i], (flat,), 0) for i in range(flat.size)])
    np.testing.assert_allclose(hessian, expected, rtol=1e-5, atol=1e-6)
    # Reverse over reverse: the gradient of |grad|^2 is 2 H grad.
    (gg,) = srcgrad.gradient(lambda v: np.sum(srcgrad.gradient(f, v)[0] ** 2), flat)
    np.testing.assert_allclose(gg, 2 * hessian @ grad(flat), rtol=1e-8, atol=1e-10)


def test_shared_weights_appear_once_and_get_both_uses_gradient():
    model = shared_model()
    flat, rebuild = destructure(model)
    assert flat.size == 12 + 8  # (the shared layer's 12 numbers once)
    again = rebuild(flat + 1.0)
    assert again[0] is again[1], "the rebuilt model shares the layer as the original does"
    np.testing.assert_array_equal(again[0].W, model[0].W + 1.0)


def test_the_original_is_untouched_and_other_fields_carried_over():
    model = Chain(Norm(), dense(3, 2, seed=1))
    model[0].training = False
    keep = [a.copy() for _, a in named_arrays(model, False)]
    flat, rebuild = destructure(model)
    new = rebuild(np.arange(flat.size, dtype=float))
    for (_, a), k in zip(named_arrays(model, False), keep):
        np.testing.assert_array_equal(a, k)
    np.testing.assert_array_equal(new[0].scale, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(new[0].running, model[0].running)  # not a parameter: carried over,
    assert new[0].running is not model[0].running                    # as a copy
    assert new[0].training is False and new[1].activation is model[1].activation
    new[0].running += 1.0
    np.testing.assert_array_equal(model[0].running, [0.1, -0.2, 0.3])
    (g,) = check_gradient(lambda v: loss(rebuild(v)), flat)


def test_lists_dicts_namedtuples_and_closures():
    W = RNG.normal(size=(2, 3))
    model = {"layers": [dense(3, 2, seed=1), Pair(np.ones(2), np.full(2, 0.5))], "name": "m", "W": W}

    def run(m, x):
        first, pair = m["layers"]
        return (first(x) + x @ m["W"].T) * pair.first + pair.second

    flat, rebuild = destructure(model)
    assert flat.size == 8 + 4 + 6
    new = rebuild(flat)
    assert isinstance(new["layers"][1], Pair) and new["name"] == "m"
    check_gradient(lambda v: np.sum(np.tanh(run(rebuild(v), X)) ** 2), flat)
    f = lambda v: np.sum(np.tanh(run(rebuild(v), X)) ** 2)
    t = RNG.normal(size=flat.shape)
    np.testing.assert_allclose(srcgrad.jvp(f, (flat,), (t,))[1], srcgrad.gradient(f, flat)[0] @ t, rtol=1e-10)
    # A closure is rebuilt as a new function over new cells; the original keeps its own.
    closure = closure_layer(5)
    flat, rebuild = destructure(closure)
    new = rebuild(np.zeros(flat.size))
    np.testing.assert_array_equal(new(X), np.zeros((5, 3)))
    assert not np.array_equal(closure(X), np.zeros((5, 3)))


def test_dtypes():
    layer = dense(3, 2, seed=1)
    layer.W, layer.b = layer.W.astype(np.float32), layer.b.astype(np.float32)
    flat, rebuild = destructure(layer)
    assert flat.dtype == np.float32
    assert rebuild(flat).W.dtype == np.float32
    (g,) = srcgrad.gradient(lambda v: np.sum(rebuild(v)(X.astype(np.float32))), flat)
    assert g.dtype == np.float32
    mixed = Chain(layer, dense(2, 2, seed=2))
    flat, rebuild = destructure(mixed)
    assert flat.dtype == np.float64 and rebuild(flat)[0].W.dtype == np.float32 and rebuild(flat)[1].W.dtype == np.float64
    flat, rebuild = destructure(lambda x: x)
    assert flat.shape == (0,) and rebuild(flat)(3) == 3


def test_rebuild_refuses_a_vector_of_the_wrong_length():
    flat, rebuild = destructure(Chain(dense(3, 4, seed=1), dense(4, 2, seed=2)))
    with pytest.raises(ValueError, match=r"rebuild expects a vector of 26 parameters, got an array of shape \(25,\)"):
        rebuild(flat[:-1])
    with pytest.raises(ValueError, match=r"got an array of shape \(2, 13\)"):
        rebuild(flat.reshape(2, 13))
    with pytest.raises(ValueError, match=r"vector of 26 parameters, got an array of shape \(27,\)"):
        srcgrad.gradient(lambda v: loss(rebuild(v), X[:, :3]), np.zeros(27))
    with pytest.raises(TypeError, match="numeric vector"):
        rebuild(np.array(["a"] * 26))


def test_training_on_the_flat_vector():
    model = Chain(dense(3, 8, tanh, seed=1), dense(8, 1, seed=2))
    y = np.sin(X.sum(axis=1, keepdims=True))
    flat, rebuild = destructure(model)
    f = lambda v: mse(rebuild(v)(X), y)
    start = f(flat)
    for _ in range(50):
        flat = flat - 0.1 * srcgrad.gradient(f, flat)[0]
    assert f(flat) < 0.5 * start
    assert mse(model(X), y) == start, "the original model did not move"


def test_destructure_docstrings_run():
    assert doctest.testmod(destructure_module, optionflags=doctest.ELLIPSIS).failed == 0


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    model = Chain(dense(3, 4, tanh, seed=1), dense(4, 2, seed=2))
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    flat, rebuild = destructure(model)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(flat.copy()), net.parameters())
    np.testing.assert_array_equal(torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy(), flat)
    v = torch.tensor(flat, requires_grad=True)
    names = [name for name, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    pieces, start = {}, 0
    for name, shape in zip(names, shapes):
        pieces[name] = v[start:start + shape.numel()].reshape(shape)
        start += shape.numel()
    out = torch.func.functional_call(net, pieces, (torch.from_numpy(X),))
    torch.sum(torch.tanh(out) ** 2).backward()
    np.testing.assert_allclose(rebuild(flat)(X), out.detach().numpy(), rtol=0, atol=1e-10)
    (g,) = srcgrad.gradient(lambda v: loss(rebuild(v)), flat)
    np.testing.assert_allclose(g, v.grad.numpy(), rtol=0, atol=1e-10)


def test_batchnorm_statistics_and_mode_are_carried_over():
    model = Chain(dense(3, 4, seed=1), BatchNorm(4), dense(4, 1, seed=2))
    model(X)  # (the running statistics move off their start)
    for mode in (trainmode, testmode):
        mode(model)
        flat, rebuild = destructure(model)
        keep = model[1].running_mean.copy()
        new = rebuild(flat)
        assert new[1].training == model[1].training
        np.testing.assert_array_equal(new[1].running_var, model[1].running_var)
        check_gradient(lambda v: loss(rebuild(v)), flat)
        np.testing.assert_array_equal(model[1].running_mean, keep)
