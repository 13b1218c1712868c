"""A gentle introduction to Flux, in Python with srcgrad.

This follows the tutorial "A gentle introduction to the Flux Machine
Learning Package" step by step: derivatives of a polynomial, several
arguments, implicit parameters, a linear regression with one gradient
step, layers by hand, a function that makes layers, an Affine class,
Dense, Chain and composition.

Run it from the repository root:

    python examples/seed_gentle_introduction.py
"""

from functools import reduce

import numpy as np

import srcgrad
from srcgrad import gradient, params
from srcgrad.models import Chain, Dense, compose, sigmoid, softmax, σ

rng = np.random.default_rng(0)


# --- Derivatives -------------------------------------------------------------
# Julia: f(x) = 3x^2 + 2x + 1; df(x) = Tracker.gradient(f, x; nest = true)


def f(x):
    return 3 * x ** 2 + 2 * x + 1


def df(x):
    return gradient(f, x)[0]  # df/dx = 6x + 2


def d2f(x):
    return gradient(df, x)[0]  # d²f/dx² = 6


print("df(2)  =", df(2))
print("d2f(2) =", d2f(2))
assert df(2) == 14.0 and d2f(2) == 6.0


# --- Several arguments ----------------------------------------------------------
# Julia: f(W, b, x) = W * x + b; Tracker.gradient(f, 2, 3, 4)


def affine(W, b, x):
    return W * x + b


print("gradient(affine, 2, 3, 4) =", gradient(affine, 2, 3, 4))
assert gradient(affine, 2, 3, 4) == (4.0, 1.0, 2.0)


# --- Implicit parameters -----------------------------------------------------------
# Julia: W = param(2); b = param(3); grads = Tracker.gradient(() -> f(4), params(W, b))
# A parameter is an array (here 0-dimensional), so it can be found and changed in place.

W = np.array(2.0)
b = np.array(3.0)


def line(x):
    return W * x + b


grads = gradient(lambda: line(4), params(W, b))
print("grads[W] =", grads[W], " grads[b] =", grads[b])
assert grads[W] == 4.0 and grads[b] == 1.0


# --- A simple model: linear regression ------------------------------------------------

W = rng.random((2, 5))
b = rng.random(2)


def predict(x):
    return W @ x + b


def loss(x, y):
    y_hat = predict(x)
    return np.sum((y - y_hat) ** 2)


x, y = rng.random(5), rng.random(2)  # dummy data
before = loss(x, y)

gs = gradient(lambda: loss(x, y), params(W, b))
delta = gs[W]
W -= 0.1 * delta  # Julia: update!(W, -0.1Δ); in place, so predict sees it
after = loss(x, y)
print(f"loss before the step {before:.4f}, after {after:.4f}")
assert after < before


# --- Building layers by hand -------------------------------------------------------------

W1 = rng.random((3, 5))
b1 = rng.random(3)
W2 = rng.random((2, 3))
b2 = rng.random(2)


def layer1(x):
    return W1 @ x + b1


def layer2(x):
    return W2 @ x + b2


def model(x):
    return layer2(σ(layer1(x)))  # Julia: σ.(layer1(x)); NumPy needs no dot


print("model(rand(5)) =", model(rng.random(5)))
assert model(rng.random(5)).shape == (2,)


# --- A function that returns layers ---------------------------------------------------------


def linear(n_in, n_out):
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: W @ x + b


linear1 = linear(5, 3)  # the closure keeps its own W and b
linear2 = linear(3, 2)


def model(x):
    return linear2(σ(linear1(x)))


print("model(rand(5)) =", model(rng.random(5)))
ps = params(linear1, linear2)
gs = gradient(lambda: np.sum(model(x)), ps)
print("parameters found in the closures:", ps)
assert [gs[p].shape for p in ps] == [(3, 5), (3,), (2, 3), (2,)]


# --- The same as a class: Affine -------------------------------------------------------------


class Affine:
    def __init__(self, n_in, n_out):
        self.W = rng.standard_normal((n_out, n_in))
        self.b = rng.standard_normal(n_out)

    def __call__(self, x):  # Julia: (m::Affine)(x) = m.W * x .+ m.b
        return self.W @ x + self.b


a = Affine(10, 5)
print("a(rand(10)) =", a(rng.random(10)))
assert a(rng.random(10)).shape == (5,)


# --- Dense, and stacking layers ------------------------------------------------------------------

layers = [Dense(10, 5, σ), Dense(5, 2), softmax]


def model(x):
    return reduce(lambda x, m: m(x), layers, x)  # Julia: foldl((x, m) -> m(x), layers, init = x)


def model_loop(x):  # the same, as a loop
    for layer in layers:
        x = layer(x)
    return x


x10 = rng.random(10)
print("model(rand(10)) =", model(x10))
assert np.allclose(model(x10), model_loop(x10)) and np.isclose(np.sum(model(x10)), 1.0)
gs = gradient(lambda: np.sum(model(x10) ** 2), params(layers))
gs_loop = gradient(lambda: np.sum(model_loop(x10) ** 2), params(layers))
assert all(np.allclose(gs[p], gs_loop[p]) for p in params(layers))

model2 = Chain(Dense(10, 5, σ), Dense(5, 2), softmax)
print("model2(rand(10)) =", model2(x10))
print(model2)

m = compose(Dense(5, 2), Dense(10, 5, σ))  # Julia: Dense(5, 2) ∘ Dense(10, 5, σ)
print("m(rand(10)) =", m(x10))

m = Chain(lambda x: x ** 2, lambda x: x + 1)
print("Chain(x -> x^2, x -> x + 1)(5) =", m(5))
assert m(5) == 26
assert sigmoid is σ
