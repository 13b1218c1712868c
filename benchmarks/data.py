"""Deterministic, seeded inputs for every task (no downloads)."""

import math

import numpy as np


def rng(seed):
    return np.random.default_rng(seed)


def poly_inputs():
    return (2.0,), ()


def linreg_inputs(seed=0):
    r = rng(seed)
    W = r.random((2, 5))
    b = r.random(2)
    x = r.random(5)
    y = r.random(2)
    return (W, b), (x, y)


def mlp_inputs(batch=128, n_in=784, n_hidden=256, n_out=10, seed=0, dtype=np.float32):
    r = rng(seed)
    W1 = (r.standard_normal((n_in, n_hidden)) * math.sqrt(2.0 / n_in)).astype(dtype)
    b1 = (r.standard_normal(n_hidden) * 0.01).astype(dtype)
    W2 = (r.standard_normal((n_hidden, n_out)) * math.sqrt(1.0 / n_hidden)).astype(dtype)
    b2 = (r.standard_normal(n_out) * 0.01).astype(dtype)
    X = r.random((batch, n_in)).astype(dtype)
    Y = np.eye(n_out, dtype=dtype)[r.integers(0, n_out, batch)]
    return (W1, b1, W2, b2), (X, Y)


def horner_inputs(n=1000, seed=0):
    r = rng(seed)
    c = r.standard_normal(n)
    return (0.97,), (c,)


def logistic_inputs(n=1000):
    # r = 2.9: the orbit settles on the fixed point 1 - 1/r, where the map's slope is
    # 2 - r = -0.9, so d/dx0 decays like 0.9**n and d/dr stays O(1); a chaotic r (> 3.57)
    # would make both grow like exp(0.5 n) and overflow over 1000 steps.
    return (2.9, 0.3), (n,)


def gmm_tri(d):
    """Constants that gather ``[exp(log-diagonal), off-diagonal]`` into dense lower-triangular Q.

    ADBench stores the strictly lower triangle column by column.
    Returns ``(tri_idx, tri_mask, diag_pos, off_pos)``: ``tri_idx`` (d*d ints)
    indexes the packed row for each entry of Q (row-major), ``tri_mask`` (d, d)
    zeroes the upper triangle, and ``diag_pos``/``off_pos`` are the row-major
    positions in Q of each packed entry (used by the hand-written gradient).
    """
    tri_idx = np.zeros((d, d), dtype=np.int64)
    tri_mask = np.zeros((d, d))
    off_pos = []
    p = d
    for j in range(d):
        tri_idx[j, j] = j
        tri_mask[j, j] = 1.0
        for i in range(j + 1, d):
            tri_idx[i, j] = p
            tri_mask[i, j] = 1.0
            off_pos.append(i * d + j)
            p += 1
    diag_pos = np.arange(d) * (d + 1)
    return tri_idx.reshape(-1), tri_mask, diag_pos, np.array(off_pos, dtype=np.int64)


def multigammaln(a, p):
    return 0.25 * p * (p - 1) * math.log(math.pi) + sum(math.lgamma(a + 0.5 * (1 - j)) for j in range(1, p + 1))


def gmm_inputs(d=2, k=5, n=1000, seed=0):
    r = rng(seed)
    alphas = r.standard_normal(k)
    means = r.random((k, d))
    icf = r.standard_normal((k, d * (d + 1) // 2)) * 0.5
    x = r.standard_normal((n, d))
    wishart_gamma = 1.0
    wishart_m = 0
    tri_idx, tri_mask, _, _ = gmm_tri(d)
    nn = d + wishart_m + 1
    C = nn * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - multigammaln(0.5 * nn, d)
    const = -n * d * 0.5 * math.log(2.0 * math.pi) - k * C
    return (alphas, means, icf), (x, tri_idx, tri_mask, wishart_gamma, float(wishart_m), const)


def lstm_inputs(layers=2, c=1024, b=14, seed=0):
    r = rng(seed)
    main_params = r.standard_normal((2 * layers, 4 * b)) * 0.5
    extra_params = r.standard_normal((3, b)) * 0.5
    state = r.standard_normal((2 * layers, b)) * 0.5
    sequence = r.standard_normal((c, b))
    return (main_params, extra_params), (state, sequence)
