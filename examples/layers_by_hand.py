"""Two ways to write a layer by hand: a closure and a class.

Both hold a weight matrix W and a bias b and compute W @ x + b. srcgrad
differentiates both through their source: the gradient of a closure is a
dict of the variables it captured, the gradient of an object a dict of
its fields. Both are trained here on the same small problem, first with
explicit gradients and hand-written steps, then with params and an
optimiser. At the end the script prints the code srcgrad generated for
Affine.__call__.

    python examples/layers_by_hand.py
"""

import numpy as np

import srcgrad
from srcgrad.models import sigmoid
from srcgrad.optim import Descent, update

rng = np.random.default_rng(42)


def linear(n_in, n_out):
    """A layer as a closure: the returned function keeps its own W and b."""
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: W @ x + b


class Affine:
    """A layer as a class: the fields are the parameters, __call__ is the computation."""

    def __init__(self, n_in, n_out):
        self.W = rng.standard_normal((n_out, n_in))
        self.b = rng.standard_normal(n_out)

    def __call__(self, x):
        return self.W @ x + self.b


# A target to learn: y = sigmoid(A @ x + c) for a fixed A and c.
A, c = rng.standard_normal((2, 3)), rng.standard_normal(2)
xs = [rng.standard_normal(3) for _ in range(50)]
ys = [sigmoid(A @ x + c) for x in xs]


def loss(layer, x, y):
    return np.sum((sigmoid(layer(x)) - y) ** 2)


def mean_loss(layer):
    return sum(loss(layer, x, y) for x, y in zip(xs, ys)) / len(xs)


# --- Explicit gradients --------------------------------------------------------------

closure_layer = linear(3, 2)
object_layer = Affine(3, 2)

(g,) = srcgrad.gradient(lambda layer: loss(layer, xs[0], ys[0]), closure_layer)
print("gradient of the closure: dict of captured variables", {k: v.shape for k, v in g.items()})
(g,) = srcgrad.gradient(lambda layer: loss(layer, xs[0], ys[0]), object_layer)
print("gradient of the object:  dict of fields            ", {k: v.shape for k, v in g.items()})

# One step changes the arrays in place. For the closure they are its captured
# variables, reached through srcgrad.params (the object's are just its fields).
W_closure, b_closure = srcgrad.params(closure_layer)
before = (mean_loss(closure_layer), mean_loss(object_layer))
for epoch in range(30):
    for x, y in zip(xs, ys):
        (g,) = srcgrad.gradient(lambda layer: loss(layer, x, y), closure_layer)
        W_closure -= 0.5 * g["W"]
        b_closure -= 0.5 * g["b"]
        (g,) = srcgrad.gradient(lambda layer: loss(layer, x, y), object_layer)
        object_layer.W -= 0.5 * g["W"]
        object_layer.b -= 0.5 * g["b"]
after = (mean_loss(closure_layer), mean_loss(object_layer))
print(f"closure: loss {before[0]:.4f} -> {after[0]:.4f}")
print(f"object:  loss {before[1]:.4f} -> {after[1]:.4f}")
assert after[0] < before[0] / 10 and after[1] < before[1] / 10

# --- Implicit parameters and an optimiser -------------------------------------------------

layer1, layer2 = linear(3, 4), Affine(4, 2)


def model(x):
    return layer2(np.tanh(layer1(x)))


ps = srcgrad.params(layer1, layer2)
print("params of a closure and an object:", ps)
opt = Descent(0.2)
start = mean_loss(model)
for epoch in range(30):
    for x, y in zip(xs, ys):
        update(opt, ps, srcgrad.gradient(lambda: loss(model, x, y), ps))
print(f"two layers: loss {start:.4f} -> {mean_loss(model):.4f}")
assert mean_loss(model) < start / 5

# --- What srcgrad wrote -------------------------------------------------------------

print()
print(srcgrad.adjoint_source(Affine.__call__))
