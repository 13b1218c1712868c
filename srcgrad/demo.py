"""``python -m srcgrad demo``: the Flux tutorials' tour, in Python, in a few seconds.

Each step prints what it computes; the functions are ordinary module-level
Python so srcgrad can read their source.
"""

from __future__ import annotations

import time

import numpy as np

import srcgrad


def f(x):
    return 3 * x ** 2 + 2 * x + 1


def df(x):
    return srcgrad.gradient(f, x)[0]


def d2f(x):
    return srcgrad.gradient(df, x)[0]


rng = np.random.default_rng(0)
W = rng.random((2, 5))
b = rng.random(2)


def predict(x):
    return W @ x + b


def loss(x, y):
    y_cap = predict(x)
    return np.sum((y - y_cap) ** 2)


def _title(text):
    print()
    print(text)
    print("-" * len(text))


def run() -> None:
    start = time.perf_counter()
    _title("1. Derivatives of ordinary Python")
    print("f(x) = 3x² + 2x + 1")
    print(f"gradient(f, 2)            -> {srcgrad.gradient(f, 2)}")
    print(f"df(2) = gradient(f, 2)[0] -> {df(2)}")
    print(f"d2f(2) = gradient(df, 2)[0] -> {d2f(2)}   (srcgrad differentiated its own output)")
    print(f"gradient(lambda W, b, x: W*x + b, 2, 3, 4) -> {srcgrad.gradient(lambda W, b, x: W * x + b, 2, 3, 4)}")

    _title("2. The code srcgrad wrote for df")
    print(srcgrad.adjoint_source(f))

    _title("3. Implicit parameters: gradient(() -> loss(x, y), params(W, b))")
    x, y = rng.random(5), rng.random(2)
    print(f"loss before: {loss(x, y):.4f}")
    gs = srcgrad.gradient(lambda: loss(x, y), srcgrad.params(W, b))
    print(f"gs[W] has shape {gs[W].shape}, gs[b] = {np.round(gs[b], 4)}")
    W[...] -= 0.1 * gs[W]
    print(f"after W -= 0.1 * gs[W]: {loss(x, y):.4f}")

    _title("4. Gradient descent on the linear regression")
    for step in range(201):
        gs = srcgrad.gradient(lambda: loss(x, y), srcgrad.params(W, b))
        W[...] -= 0.05 * gs[W]
        b[...] -= 0.05 * gs[b]
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss(x, y):.6f}")
    _title("5. A Chain of Dense layers learns sin(x), trained with Adam")
    from srcgrad.models import Chain, Dense, mse, tanh
    from srcgrad.optim import Adam, DataLoader, setup, train

    model = Chain(Dense(1, 16, tanh, rng=1), Dense(16, 1, rng=2))
    print(model)
    xs = np.linspace(-3, 3, 64).reshape(-1, 1)
    ys = np.sin(xs)
    data = DataLoader((xs, ys), batchsize=16, shuffle=True, rng=np.random.default_rng(0))
    state = setup(Adam(0.01), model)
    for epoch in range(1, 301):
        train(lambda m, x, y: mse(m(x), y), model, data, state)
        if epoch % 75 == 0:
            print(f"epoch {epoch:3d}  loss {mse(model(xs), ys):.5f}")
    print(f"\ndone in {time.perf_counter() - start:.2f} s; compiled adjoints: {srcgrad.cache_info().size}")
