"""A ~50-line objective, for the time-to-first-gradient measurement.

A small regression model with a feature map, a recurrent smoother, a
branch, a robust loss and penalties: the sort of function a user writes
once and differentiates, mixing array code, a loop and a helper call.
"""

import numpy as np

xp = np  # re-bound to autograd.numpy by the smoke test (benchmarks.backends.instantiate)


def softplus(z):
    return xp.log1p(xp.exp(-xp.abs(z))) + xp.maximum(z, 0.0)


def fifty(W, b, v, a, X, y):
    # feature map: affine, two nonlinearities, concatenated
    n = X.shape[0]
    z = X @ W.T + b
    h1 = xp.tanh(z)
    h2 = softplus(z)
    h = xp.concatenate([h1, h2], axis=1)
    # normalise the features per column
    mu = xp.mean(h, axis=0)
    hc = h - mu
    sd = xp.sqrt(xp.mean(hc * hc, axis=0) + 1e-6)
    hn = hc / sd
    # linear read-out and a recurrent smoother over the rows
    pred = hn @ v
    s = 0.0
    smooth = 0.0
    for i in range(n):
        s = a * s + (1.0 - a) * pred[i]
        if i % 2 == 0:
            smooth = smooth + s * s
        else:
            smooth = smooth + 0.5 * s * s
    smooth = smooth / n
    # a robust (Huber) loss on the residuals
    r = pred - y
    ar = xp.abs(r)
    delta = 1.0
    quad = 0.5 * r * r
    lin = delta * (ar - 0.5 * delta)
    huber = xp.where(ar <= delta, quad, lin)
    data_term = xp.mean(huber)
    # penalties: weight decay, a soft norm bound, a log barrier on a
    wd = 1e-3 * (xp.sum(W * W) + xp.sum(v * v))
    norm = xp.sqrt(xp.sum(W * W) + 1e-12)
    bound = softplus(norm - 3.0)
    barrier = -1e-3 * (xp.log(a) + xp.log(1.0 - a))
    # an entropy-like term over the softmax of the bias
    e = xp.exp(b - xp.max(b))
    p = e / xp.sum(e)
    ent = xp.sum(p * xp.log(p + 1e-12))
    total = data_term + 0.1 * smooth + wd + 0.01 * bound + barrier
    total = total + 1e-3 * ent
    if total > 1e6:
        total = total * 1e-6
    return total


def inputs(n=64, d=3, m=4, seed=0):
    r = np.random.default_rng(seed)
    W = r.standard_normal((m, d)) * 0.5
    b = r.standard_normal(m) * 0.1
    v = r.standard_normal(2 * m) * 0.5
    a = 0.7
    X = r.standard_normal((n, d))
    y = r.standard_normal(n)
    return (W, b, v, a), (X, y)


def bind(X, y):
    def fifty_loss(W, b, v, a):
        return fifty(W, b, v, a, X, y)

    return fifty_loss
