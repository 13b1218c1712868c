"""The benchmark objectives, each written once as ordinary NumPy code.

Every function here reads the array module through the global name ``xp``
(``numpy`` by default). :func:`benchmarks.backends.instantiate` makes a copy
of this module's functions with ``xp`` bound to ``autograd.numpy``,
``jax.numpy`` or a thin PyTorch shim, so every tool runs the same maths,
line for line. srcgrad and tangent-ad read the source of the functions below.

The code is plain NumPy in the subset srcgrad differentiated when this was
written: ``for i in range(n)`` loops, tuples, lists built with ``append``,
no ``x[i] = v``, no comprehensions, no nested ``def`` inside differentiated
code (the ``bind_*`` factories below create closures *outside* of it:
srcgrad differentiates the returned closure, which calls the objective).
"""

import numpy

xp = numpy


# ----------------------------------------------------------------- seed polynomial
def poly(x):
    return 3.0 * x ** 2 + 2.0 * x + 1.0


# ------------------------------------------------------- seed linear regression
def linreg(W, b, x, y):
    return xp.sum((y - (W @ x + b)) ** 2)


def bind_linreg(x, y):
    def linreg_loss(W, b):
        return linreg(W, b, x, y)

    return linreg_loss


# ------------------------------------------------------------------------ MLP
def mlp(W1, b1, W2, b2, X, Y):
    """Mean softmax cross-entropy of a 784-256-10 ReLU network; ``Y`` is one-hot."""
    h = xp.maximum(X @ W1 + b1, 0.0)
    z = h @ W2 + b2
    zmax = xp.max(z, axis=1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(z - zmax), axis=1, keepdims=True)) + zmax
    return -xp.sum(Y * (z - lse)) / X.shape[0]


def bind_mlp(X, Y):
    def mlp_loss(W1, b1, W2, b2):
        return mlp(W1, b1, W2, b2, X, Y)

    return mlp_loss


# ---------------------------------------------------------------- scalar loops
def horner(c, x):
    """The polynomial with coefficients ``c`` (highest degree first) at ``x``."""
    y = 0.0
    for i in range(c.shape[0]):
        y = y * x + c[i]
    return y


def bind_horner(c):
    def horner_at(x):
        return horner(c, x)

    return horner_at


def logistic(r, x0, n):
    """``n`` steps of the logistic map ``x <- r x (1 - x)``."""
    x = x0
    for i in range(n):
        x = r * x * (1.0 - x)
    return x


def bind_logistic(n):
    def logistic_map(r, x0):
        return logistic(r, x0, n)

    return logistic_map


# ------------------------------------------------------------------ ADBench GMM
def logsumexp_rows(a):
    """``log(sum(exp(a), axis=1))`` with the row maximum subtracted first."""
    amax = xp.max(a, axis=1, keepdims=True)
    return xp.log(xp.sum(xp.exp(a - amax), axis=1)) + amax[:, 0]


def logsumexp_vec(a):
    amax = xp.max(a)
    return xp.log(xp.sum(xp.exp(a - amax))) + amax


def gmm(alphas, means, icf, x, tri_idx, tri_mask, wishart_gamma, wishart_m, const):
    """The ADBench / gradbench GMM objective (negative log-likelihood form).

    ``icf[k]`` holds the log of the diagonal of the inverse-covariance
    factor Q_k (first ``d`` entries) then its strictly lower triangle,
    column by column. ``tri_idx``/``tri_mask`` (constants, see
    :func:`benchmarks.data.gmm_tri`) gather those entries into the dense
    lower-triangular Q_k. ``const`` is the part of the objective that
    depends on no parameter (the Gaussian normaliser and the Wishart
    normaliser, with the multivariate log-gamma), computed outside.
    """
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    qs = icf[:, :d]
    Qdiags = xp.exp(qs)
    sum_qs = xp.sum(qs, axis=1)
    packed = xp.concatenate([Qdiags, icf[:, d:]], axis=1)
    Qs = packed[:, tri_idx].reshape(k, d, d) * tri_mask
    xcentered = x[:, None, :] - means[None, :, :]
    Qx = xp.einsum("kij,nkj->nki", Qs, xcentered)
    sqsum_Qx = xp.sum(Qx ** 2, axis=2)
    inner = alphas + sum_qs - 0.5 * sqsum_Qx
    slse = xp.sum(logsumexp_rows(inner))
    frobenius = xp.sum(Qdiags ** 2) + xp.sum(icf[:, d:] ** 2)
    prior = 0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * xp.sum(sum_qs)
    return const + slse - n * logsumexp_vec(alphas) + prior


def bind_gmm(x, tri_idx, tri_mask, wishart_gamma, wishart_m, const):
    def gmm_loss(alphas, means, icf):
        return gmm(alphas, means, icf, x, tri_idx, tri_mask, wishart_gamma, wishart_m, const)

    return gmm_loss


# ----------------------------------------------------------------- ADBench LSTM
def sigmoid(x):
    return 1.0 / (1.0 + xp.exp(-x))


def lstm_model(weight, bias, hidden, cell, inp):
    """One ADBench LSTM cell: element-wise ("diagonal") weights."""
    gates = xp.concatenate([inp, hidden, inp, hidden]) * weight + bias
    hsize = hidden.shape[0]
    forget = sigmoid(gates[0:hsize])
    ingate = sigmoid(gates[hsize:2 * hsize])
    outgate = sigmoid(gates[2 * hsize:3 * hsize])
    change = xp.tanh(gates[3 * hsize:])
    cell = cell * forget + ingate * change
    hidden = outgate * xp.tanh(cell)
    return hidden, cell


def lstm_predict(main_params, extra_params, state, x):
    """One time step through every layer; ``state`` is a list [h0, c0, h1, c1, ...]."""
    x = x * extra_params[0]
    new_state = []
    for i in range(0, len(state), 2):
        h, c = lstm_model(main_params[i], main_params[i + 1], state[i], state[i + 1], x)
        new_state.append(h)
        new_state.append(c)
        x = h
    return x * extra_params[1] + extra_params[2], new_state


def lstm(main_params, extra_params, state, sequence):
    """The ADBench / gradbench LSTM objective.

    ``main_params`` (2 layers x 4b: weights and biases per layer),
    ``extra_params`` (3 x b: input weight, output weight, output bias),
    ``state`` (2 layers x b: hidden and cell per layer), ``sequence`` (c x b).
    The normaliser is ADBench's ``log(sum(exp(ypred)) + 2)`` (its
    reference implementations add 2, and so do we).
    """
    s = []
    for i in range(state.shape[0]):
        s.append(state[i])
    total = 0.0
    count = 0
    inp = sequence[0]
    for t in range(sequence.shape[0] - 1):
        ypred, s = lstm_predict(main_params, extra_params, s, inp)
        ynorm = ypred - xp.log(xp.sum(xp.exp(ypred)) + 2.0)
        ygold = sequence[t + 1]
        total = total + xp.sum(ygold * ynorm)
        count = count + ygold.shape[0]
        inp = ygold
    return -total / count


def bind_lstm(state, sequence):
    def lstm_loss(main_params, extra_params):
        return lstm(main_params, extra_params, state, sequence)

    return lstm_loss
