"""Print the code srcgrad writes, for a few small functions chosen for teaching.

Each function below shows one idea: the chain rule on a polynomial,
broadcasting, a branch, a loop with a tape, a while loop, a helper pasted
in, a function passed in, and a layer's __call__. For each, the script prints
the function's source and the forward and backward functions srcgrad
generated, then checks the gradient against finite differences.

    python examples/show_generated_source.py            # all of them
    python examples/show_generated_source.py branch     # one, by name

The same output for any function in any file:

    python -m srcgrad show FILE.py:FUNCTION
    python -m srcgrad show --stages FILE.py:FUNCTION    # every compiler stage
"""

import inspect
import sys

import numpy as np

import srcgrad


def polynomial(x):
    """The chain rule, then simplified: 6x + 2."""
    return 3 * x ** 2 + 2 * x + 1


def sum_of_squares(x, y):
    """Broadcasting: y may be a single number, so its gradient is summed back (unbroadcast)."""
    return np.sum((x - y) ** 2)


def branch(x):
    """The test is saved in the forward and replayed in the backward."""
    if x > 0:
        y = x * x
    else:
        y = -x
    return y


def rnn(W, h, xs):
    """h is overwritten in the loop, so its old values go on a tape (h_tape)."""
    for x in xs:
        h = np.tanh(W @ h + x)
    return np.sum(h)


def halving(x):
    """A while loop: the forward counts the iterations, the backward repeats that many times."""
    while x > 1.0:
        x = x / 2
    return x


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def two_calls(x):
    """A call to a small helper of this module: its lines are pasted in (spliced)."""
    h = sigmoid(x)
    return np.sum(h * h)


def through(act, x):
    """A call to a function passed in: pullback(act, ...) in the forward, its back(...) in the backward."""
    h = act(x)
    return np.sum(h * h)


class Affine:
    def __init__(self, n_in, n_out):
        self.W = np.ones((n_out, n_in))
        self.b = np.zeros(n_out)

    def __call__(self, x):
        """A method: the gradient of self is a dict of its fields (dself)."""
        return self.W @ x + self.b


rng = np.random.default_rng(0)
EXAMPLES = {
    "polynomial": (polynomial, (2.0,)),
    "sum_of_squares": (sum_of_squares, (rng.standard_normal(3), 0.5)),
    "branch": (branch, (-1.5,)),
    "rnn": (rnn, (rng.standard_normal((2, 2)), rng.standard_normal(2), [rng.standard_normal(2) for _ in range(3)])),
    "halving": (halving, (10.0,)),
    "two_calls": (two_calls, (rng.standard_normal(3),)),
    "through": (lambda x: through(sigmoid, x), (rng.standard_normal(3),)),
    "Affine.__call__": (lambda x: np.sum(Affine(3, 2)(x)), (rng.standard_normal(3),)),
}


def finite_difference(f, args, i, h=1e-6):
    """The derivative of f with respect to its i-th argument, by central differences."""
    x = np.asarray(args[i], dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        up = list(args)
        down = list(args)
        up[i] = x + step if x.shape else float(x + step)
        down[i] = x - step if x.shape else float(x - step)
        grad[index] = (f(*up) - f(*down)) / (2 * h)
    return grad


def show(name):
    f, args = EXAMPLES[name]
    target = {"Affine.__call__": Affine.__call__, "through": through}.get(name, f)
    print("=" * 72)
    print(inspect.getsource(target).rstrip())
    print("-" * 72)
    print(srcgrad.adjoint_source(target).rstrip())
    grads = srcgrad.gradient(f, *args)
    for i, (g, a) in enumerate(zip(grads, args)):
        if isinstance(a, list):  # a list of arrays: check the first element only
            continue
        assert np.allclose(g, finite_difference(f, args, i), atol=1e-5), (name, i)
    print(f"-- gradients agree with finite differences for {name}")


names = sys.argv[1:] or list(EXAMPLES)
for name in names:
    if name not in EXAMPLES:
        raise SystemExit(f"unknown example {name!r}; choose from {', '.join(EXAMPLES)}")
    show(name)
