"""Functions the explorer's tests show (their line numbers are read by the tests: add at the end)."""

import numpy as np


def polynomial(x):
    return 3 * x ** 2 + 2 * x + 1


def dense(W, b, x):
    h = np.tanh(W @ x + b)
    return h


def two_layer_loss(W1, b1, W2, b2, x, y):
    h = dense(W1, b1, x)
    out = W2 @ h + b2
    d = out - y
    return np.sum(d ** 2)


def running_sum(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
    return s


def two_layer_arguments(seed=0):
    """Arguments for :func:`two_layer_loss`: a 3-4-2 network, an input and a target."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2),
            rng.normal(size=3), np.ones(2))
