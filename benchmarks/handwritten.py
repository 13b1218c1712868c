"""Hand-written NumPy gradients: the baseline a careful person would write.

Each ``make_*(*consts)`` does its set-up once and returns
``grad(*wrt) -> tuple`` with one gradient per differentiated argument.
"""

import numpy as np

from .data import gmm_tri


def make_poly():
    def grad(x):
        return (6.0 * x + 2.0,)

    return grad


def make_linreg(x, y):
    def grad(W, b):
        r = y - (W @ x + b)
        return -2.0 * np.outer(r, x), -2.0 * r

    return grad


def make_mlp(X, Y):
    def grad(W1, b1, W2, b2):
        a = X @ W1 + b1
        h = np.maximum(a, 0.0)
        z = h @ W2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        dz = (p - Y) / X.shape[0]
        dW2 = h.T @ dz
        db2 = dz.sum(axis=0)
        da = (dz @ W2.T) * (a > 0)
        dW1 = X.T @ da
        db1 = da.sum(axis=0)
        return dW1, db1, dW2, db2

    return grad


def make_horner(c):
    def grad(x):
        # forward mode, alongside Horner's rule
        y = 0.0
        dy = 0.0
        for i in range(c.shape[0]):
            dy = dy * x + y
            y = y * x + c[i]
        return (dy,)

    return grad


def make_logistic(n):
    def grad(r, x0):
        # forward mode for both inputs at once
        x = x0
        dr = 0.0
        dx0 = 1.0
        for i in range(n):
            s = r * (1.0 - 2.0 * x)
            dr = x * (1.0 - x) + s * dr
            dx0 = s * dx0
            x = r * x * (1.0 - x)
        return dr, dx0

    return grad


def make_gmm(x, tri_idx, tri_mask, wishart_gamma, wishart_m, const):
    n, d = x.shape
    _, _, diag_pos, off_pos = gmm_tri(d)

    def grad(alphas, means, icf):
        k = alphas.shape[0]
        Qd = np.exp(icf[:, :d])
        packed = np.concatenate([Qd, icf[:, d:]], axis=1)
        Q = packed[:, tri_idx].reshape(k, d, d) * tri_mask
        xc = x[:, None, :] - means[None, :, :]
        Qx = np.einsum("kij,nkj->nki", Q, xc)
        inner = alphas + icf[:, :d].sum(axis=1) - 0.5 * np.sum(Qx ** 2, axis=2)
        P = np.exp(inner - inner.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        Psum = P.sum(axis=0)
        sa = np.exp(alphas - alphas.max())
        dalphas = Psum - n * sa / sa.sum()
        dQx = -P[:, :, None] * Qx
        dQ = np.einsum("nki,nkj->kij", dQx, xc).reshape(k, d * d)
        dmeans = -np.einsum("kij,nki->kj", Q, dQx)
        g2 = wishart_gamma * wishart_gamma
        dicf = np.empty_like(icf)
        dicf[:, :d] = dQ[:, diag_pos] * Qd + (Psum - wishart_m)[:, None] + g2 * Qd ** 2
        dicf[:, d:] = dQ[:, off_pos] + g2 * icf[:, d:]
        return dalphas, dmeans, dicf

    return grad


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_lstm(state, sequence):
    L = state.shape[0] // 2
    steps = sequence.shape[0] - 1
    b = sequence.shape[1]
    count = steps * b

    def grad(main_params, extra_params):
        w0, w1, w2 = extra_params
        H = [state[2 * i] for i in range(L)]
        C = [state[2 * i + 1] for i in range(L)]
        tape = []  # per step: (inp, [per-layer saved], top x, softmax-ish weights)
        for t in range(steps):
            inp = sequence[t]
            x = inp * w0
            layers = []
            for i in range(L):
                W = main_params[2 * i]
                B = main_params[2 * i + 1]
                hp, cp = H[i], C[i]
                cat = np.concatenate([x, hp, x, hp])
                g = cat * W + B
                f = _sigmoid(g[:b])
                ig = _sigmoid(g[b:2 * b])
                o = _sigmoid(g[2 * b:3 * b])
                ch = np.tanh(g[3 * b:])
                c = cp * f + ig * ch
                tc = np.tanh(c)
                h = o * tc
                layers.append((cat, cp, f, ig, o, ch, tc))
                H[i], C[i] = h, c
                x = h
            ypred = x * w1 + w2
            e = np.exp(ypred)
            tape.append((inp, layers, x, e / (e.sum() + 2.0)))

        dmain = np.zeros_like(main_params)
        dextra = np.zeros_like(extra_params)
        dH = [np.zeros(b) for _ in range(L)]
        dC = [np.zeros(b) for _ in range(L)]
        for t in range(steps - 1, -1, -1):
            inp, layers, xtop, sm = tape[t]
            gy = sequence[t + 1] * (-1.0 / count)
            dy = gy - gy.sum() * sm
            dextra[1] += dy * xtop
            dextra[2] += dy
            dx = dy * w1
            for i in range(L - 1, -1, -1):
                cat, cp, f, ig, o, ch, tc = layers[i]
                dh = dx + dH[i]
                do = dh * tc
                dc = dC[i] + dh * o * (1.0 - tc * tc)
                dg = np.concatenate([
                    dc * cp * f * (1.0 - f),
                    dc * ch * ig * (1.0 - ig),
                    do * o * (1.0 - o),
                    dc * ig * (1.0 - ch * ch),
                ])
                W = main_params[2 * i]
                dmain[2 * i] += dg * cat
                dmain[2 * i + 1] += dg
                dcat = dg * W
                dx = dcat[:b] + dcat[2 * b:3 * b]
                dH[i] = dcat[b:2 * b] + dcat[3 * b:]
                dC[i] = dc * f
            dextra[0] += dx * inp
        return dmain, dextra

    return grad
