"""Layers (srcgrad/models/layers.py): Dense, Chain, compose; their gradients and how they print."""

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, compose, init, mse, relu, sigmoid, softmax, tanh, σ

from .modelcheck import check_model_gradient

RNG = np.random.default_rng(2)


def test_dense_fields_and_shapes():
    layer = Dense(10, 5, σ)
    assert layer.W.shape == (5, 10) and layer.b.shape == (5,)
    assert layer.activation is sigmoid
    assert layer(RNG.random(10)).shape == (5,)
    assert layer(RNG.random((7, 10))).shape == (7, 5)


def test_dense_computes_activation_of_affine():
    layer = Dense(3, 2, tanh, rng=0)
    layer.b[:] = [0.5, -0.5]
    x = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(layer(x), np.tanh(x @ layer.W.T + layer.b))
    np.testing.assert_allclose(layer(x[0]), np.tanh(layer.W @ x[0] + layer.b))


def test_dense_init_is_glorot_uniform_and_seedable():
    layer = Dense(30, 20)
    limit = np.sqrt(6 / 50)
    assert np.all(np.abs(layer.W) <= limit) and layer.W.std() > limit / 4
    np.testing.assert_array_equal(layer.b, 0.0)
    np.testing.assert_array_equal(Dense(3, 2, rng=7).W, Dense(3, 2, rng=7).W)
    init.seed(11)
    first = Dense(3, 2).W
    init.seed(11)
    np.testing.assert_array_equal(Dense(3, 2).W, first)
    generator = np.random.default_rng(5)
    assert not np.array_equal(Dense(3, 2, rng=generator).W, Dense(3, 2, rng=generator).W)


def test_dense_custom_init():
    layer = Dense(3, 2, init=lambda *shape, rng=None: np.ones(shape))
    np.testing.assert_array_equal(layer.W, np.ones((2, 3)))


@pytest.mark.parametrize("activation", [None, sigmoid, relu, tanh, softmax])
@pytest.mark.parametrize("batch", [False, True])
def test_dense_gradient(activation, batch):
    layer = Dense(4, 3, rng=3) if activation is None else Dense(4, 3, activation, rng=3)
    layer.b[:] = RNG.normal(size=3)
    x = RNG.normal(size=(5, 4) if batch else 4)
    y = RNG.normal(size=(5, 3) if batch else 3)
    grads = check_model_gradient(lambda m, x, y: mse(m(x), y), layer, x, y)
    assert set(grads[0]) == {"W", "b", "activation"} and grads[0]["activation"] is None


def test_dense_gradient_is_the_structural_dict():
    layer = Dense(2, 1, rng=0)
    (g,) = srcgrad.gradient(lambda m: np.sum(m(np.array([3.0, 4.0]))), layer)
    np.testing.assert_allclose(g["W"], [[3.0, 4.0]])
    np.testing.assert_allclose(g["b"], [1.0])


def test_chain_applies_in_order_and_accepts_any_callable():
    m = Chain(lambda x: x ** 2, lambda x: x + 1)
    assert m(5) == 26


def test_chain_of_seed_tutorial():
    model = Chain(Dense(10, 5, σ), Dense(5, 2), softmax)
    out = model(RNG.random(10))
    assert out.shape == (2,) and np.isclose(out.sum(), 1.0)


def test_chain_indexing_slicing_len_iteration():
    layers = [Dense(4, 3), Dense(3, 2), softmax]
    model = Chain(*layers)
    assert len(model) == 3
    assert model[0] is layers[0] and model[-1] is softmax
    assert list(model) == layers
    head = model[:2]
    assert isinstance(head, Chain) and len(head) == 2 and head[1] is layers[1]
    x = RNG.random(4)
    np.testing.assert_allclose(model(x), model[2:](model[:2](x)))
    assert Chain(layers).layers == layers


def test_chain_gradient():
    model = Chain(Dense(3, 4, tanh, rng=0), Dense(4, 2, rng=1), softmax)
    x = RNG.normal(size=(6, 3))
    y = RNG.normal(size=(6, 2))
    grads = check_model_gradient(lambda m, x, y: mse(m(x), y), model, x, y)
    g = grads[0]["layers"]
    assert len(g) == 3 and g[2] is None and set(g[0]) >= {"W", "b"}


def test_nested_chain_and_lambda_layers_gradient():
    inner = Chain(Dense(2, 3, relu, rng=4), lambda h: h * 2.0)
    model = Chain(inner, Dense(3, 1, rng=5))
    check_model_gradient(lambda m, x: np.sum(m(x) ** 2), model, RNG.normal(size=(5, 2)))


def test_compose_is_right_to_left():
    f = lambda x: x + 1
    g = lambda x: 2 * x
    assert compose(f, g)(3) == f(g(3)) == 7
    assert compose(f, g, g)(1) == 5
    m = compose(Dense(5, 2), Dense(10, 5, σ))
    assert m(RNG.random(10)).shape == (2,)
    np.testing.assert_allclose(m(np.ones(10)), m[1](m[0](np.ones(10))))


def test_compose_gradient():
    m = compose(Dense(3, 1, rng=0), Dense(2, 3, sigmoid, rng=1))
    check_model_gradient(lambda m, x: np.sum(m(x)), m, RNG.normal(size=2))


def test_user_layer_needs_nothing_special():
    class Affine:
        def __init__(self, n_in, n_out):
            self.W = RNG.normal(size=(n_out, n_in))
            self.b = RNG.normal(size=n_out)

        def __call__(self, x):
            return self.W @ x + self.b

    a = Affine(10, 5)
    assert a(RNG.random(10)).shape == (5,)
    check_model_gradient(lambda m, x: np.sum(sigmoid(m(x))), a, RNG.random(10))


def test_closure_layer_from_the_tutorial():
    def linear(n_in, n_out):
        W = RNG.normal(size=(n_out, n_in))
        b = RNG.normal(size=n_out)
        return lambda x: W @ x + b

    linear1, linear2 = linear(5, 3), linear(3, 2)
    model = lambda x: linear2(σ(linear1(x)))
    assert model(RNG.random(5)).shape == (2,)
    check_model_gradient(lambda m, x: np.sum(m(x) ** 2), model, RNG.random(5))


def test_dense_repr_shows_parameter_count():
    assert repr(Dense(2, 16, relu)) == "Dense(2, 16, relu)  # 48 parameters"
    assert repr(Dense(16, 1)) == "Dense(16, 1)  # 17 parameters"


def test_chain_repr_shows_layers_counts_and_total():
    model = Chain(Dense(10, 5, σ), Dense(5, 2), softmax)
    assert repr(model) == (
        "Chain(\n"
        "  Dense(10, 5, sigmoid),  # 55 parameters\n"
        "  Dense(5, 2),            # 12 parameters\n"
        "  softmax,\n"
        ")                         # Total: 4 arrays, 67 parameters, 536 bytes."
    )


def test_nested_chain_repr():
    text = repr(Chain(Chain(Dense(2, 2)), lambda x: x))
    assert text.splitlines()[1:4] == ["  Chain(", "    Dense(2, 2),  # 6 parameters", "  ),"]
    assert "<lambda>," in text and "Total: 2 arrays, 6 parameters" in text
