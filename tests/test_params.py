"""Implicit parameters, the seeds' style: gradient(() -> loss(x, y), params(W, b))."""

import warnings

import numpy as np
import pytest

import srcgrad

W = np.array(2.0)
b = np.array(3.0)


def f(x):
    return W * x + b


def test_seed_scalar_params():
    gs = srcgrad.gradient(lambda: f(4.0), srcgrad.params(W, b))
    assert gs[W] == 4.0 and gs[b] == 1.0
    assert len(gs) == 2 and W in gs and b in gs


rng = np.random.default_rng(0)
W2 = rng.random((2, 5))
b2 = rng.random(2)


def predict(x):
    return W2 @ x + b2


def loss(x, y):
    y_cap = predict(x)
    return np.sum((y - y_cap) ** 2)


def test_seed_linear_regression_step_lowers_the_loss():
    x, y = rng.random(5), rng.random(2)
    before = loss(x, y)
    gs = srcgrad.gradient(lambda: loss(x, y), srcgrad.params(W2, b2))
    W2_bar = gs[W2]
    assert W2_bar.shape == (2, 5)
    W2[...] -= 0.1 * W2_bar
    assert loss(x, y) < before


def linear(n_in, n_out):
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: W @ x + b


linear1 = linear(5, 3)
linear2 = linear(3, 2)


def model(x):
    return linear2(1 / (1 + np.exp(-linear1(x))))


def test_seed_params_of_two_closures():
    ps = srcgrad.params(linear1, linear2)
    assert len(ps) == 4
    x = rng.random(5)
    gs = srcgrad.gradient(lambda: np.sum(model(x)), ps)
    shapes = [g.shape for _, g in gs.items()]
    assert shapes == [(3, 5), (3,), (2, 3), (2,)]
    # each gradient matches finite differences on its own array
    for p, g in gs.items():
        eps = 1e-6
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = np.sum(model(x))
            p[i] = old - eps
            down = np.sum(model(x))
            p[i] = old
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_unused_parameter_gets_zeros_and_get_gives_none():
    extra = np.ones(3)
    gs = srcgrad.gradient(lambda: f(1.0), srcgrad.params(W, b, extra))
    np.testing.assert_array_equal(gs[extra], np.zeros(3))
    assert gs.get(extra) is None


def test_grads_add():
    g1 = srcgrad.gradient(lambda: f(1.0), srcgrad.params(W, b))
    g2 = srcgrad.gradient(lambda: f(2.0), srcgrad.params(W, b))
    total = g1 + g2
    assert total[W] == 3.0 and total[b] == 2.0


def test_not_a_parameter_is_a_key_error():
    gs = srcgrad.gradient(lambda: f(1.0), srcgrad.params(W))
    with pytest.raises(KeyError):
        gs[b]


Wr = np.array([1.0, 2.0])


def test_rebinding_a_parameter_warns():
    global Wr
    ps = srcgrad.params(Wr)
    Wr = Wr - 0.1  # the pitfall: a new array, not the parameter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        srcgrad.gradient(lambda: np.sum(Wr * 2.0), ps)
    assert any("rebound" in str(w.message) and "Wr -=" in str(w.message) for w in caught)
