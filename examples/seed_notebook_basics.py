"""The Flux basics notebook, cell by cell, in Python with srcgrad.

Arrays, derivatives, gradients of several arrays, implicit parameters,
one step of gradient descent, layers, Chain, composition and @functor.
Each Julia cell is quoted in a comment above its Python version.

Run it from the repository root:

    python examples/seed_notebook_basics.py
"""

from functools import reduce

import numpy as np

import srcgrad
from srcgrad import gradient, params
from srcgrad.models import Chain, Dense, compose, functor, softmax, σ

rng = np.random.default_rng(1)

# x = ones(Float32, 1, 2, 3); typeof(x)
x = np.ones((1, 2, 3), dtype=np.float32)
print(x.dtype, x.shape)


# f(x) = 3x^2 + 2x + 1;  f(1);  df(x) = gradient(f, x)[1];  d2f(x) = gradient(df, x)[1]
def f(x):
    return 3 * x ** 2 + 2 * x + 1


def df(x):
    return gradient(f, x)[0]  # Python counts from 0


def d2f(x):
    return gradient(df, x)[0]


print("f(1) =", f(1), " df(1) =", df(1), " d2f(1) =", d2f(1))
assert (f(1), df(1), d2f(1)) == (6, 8.0, 6.0)


# f(x, y) = sum((x .- y).^2);  gradient(f, [2, 1], [2, 0])
# Julia adds a second method to f; in Python a second `def f` would replace the first.
def sqdist(x, y):
    return np.sum((x - y) ** 2)


dx, dy = gradient(sqdist, np.array([2, 1]), np.array([2, 0]))
print("gradient(sqdist, [2, 1], [2, 0]) =", (dx, dy))
assert dx.tolist() == [0.0, 2.0] and dy.tolist() == [0.0, -2.0]

# x = [2, 1]; y = [2, 0];  gs = gradient(params(x, y)) do f(x, y) end;  gs[x];  gs[y]
# Parameters must be floating-point arrays: params refuses integer ones.
x = np.array([2.0, 1.0])
y = np.array([2.0, 0.0])
gs = gradient(lambda: sqdist(x, y), params(x, y))
print("gs[x] =", gs[x], " gs[y] =", gs[y])
assert gs[x].tolist() == [0.0, 2.0] and gs[y].tolist() == [0.0, -2.0]

# W = rand(2, 5); b = rand(2); predict(x) = W*x .+ b
W = rng.random((2, 5))
b = rng.random(2)


def predict(x):
    return W @ x + b


# function loss(x, y) ... end
def loss(x, y):
    y_cap = predict(x)
    return np.sum((y - y_cap) ** 2)


x, y = rng.random(5), rng.random(2)
print("loss(x, y) =", loss(x, y))

# gs = gradient(() -> loss(x, y), params(W, b));  W̄ = gs[W];  W .-= 0.1 .* W̄
gs = gradient(lambda: loss(x, y), params(W, b))
W_bar = gs[W]
before = loss(x, y)
W -= 0.1 * W_bar  # in place, like .-=
print("after one step: loss(x, y) =", loss(x, y))
assert loss(x, y) < before

# W1 = rand(3, 5); b1 = rand(3); layer1(x) = W1*x .+ b1; ...; model(x) = layer2(σ.(layer1(x)))
W1 = rng.random((3, 5))
b1 = rng.random(3)
W2 = rng.random((2, 3))
b2 = rng.random(2)


def layer1(x):
    return W1 @ x + b1


def layer2(x):
    return W2 @ x + b2


def model(x):
    return layer2(σ(layer1(x)))


print("model(rand(5)) =", model(rng.random(5)))


# function linear(in, out) W = randn(out, in); b = randn(out); x -> W*x .+ b end
def linear(n_in, n_out):
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: W @ x + b


linear1 = linear(5, 3)
linear2 = linear(3, 2)


def model(x):
    return linear2(σ(linear1(x)))


print("model(rand(5)) =", model(rng.random(5)))


# struct Affine W; b end;  Affine(in, out) = Affine(randn(out, in), randn(out));  (m::Affine)(x) = ...
class Affine:
    def __init__(self, n_in, n_out):
        self.W = rng.standard_normal((n_out, n_in))
        self.b = rng.standard_normal(n_out)

    def __call__(self, x):
        return self.W @ x + self.b


a = Affine(10, 5)
print("a(rand(10)) =", a(rng.random(10)))

# layers = [Dense(10, 5, σ), Dense(5, 2), softmax];  model(x) = foldl((x, m) -> m(x), layers, init = x)
layers = [Dense(10, 5, σ), Dense(5, 2), softmax]


def model(x):
    return reduce(lambda x, m: m(x), layers, x)  # Julia's foldl


x10 = rng.random(10)
print("model(rand(10)) =", model(x10))
gs = gradient(lambda: np.sum(model(x10) ** 2), params(layers))
assert len(gs) == 4  # the W and b of both Dense layers

# model2 = Chain(Dense(10, 5, σ), Dense(5, 2), softmax)
model2 = Chain(Dense(10, 5, σ), Dense(5, 2), softmax)
print("model2(rand(10)) =", model2(rng.random(10)))

# m = Dense(5, 2) ∘ Dense(10, 5, σ)
m = compose(Dense(5, 2), Dense(10, 5, σ))
print("m(rand(10)) =", m(rng.random(10)))

# m = Chain(x -> x^2, x -> x+1);  m(5)
m = Chain(lambda x: x ** 2, lambda x: x + 1)
print("m(5) =", m(5))
assert m(5) == 26

# Flux.@functor Affine
Affine = functor(Affine)
print("params(Affine(10, 5)) =", params(Affine(10, 5)))
assert len(params(Affine(10, 5))) == 2
print("ok:", srcgrad.cache_info())
