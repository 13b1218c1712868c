"""hessian(f, x): forward mode over the generated reverse-mode code (SPEC 1).

Each Hessian is checked against central differences of srcgrad's gradient,
and against the Hessian reverse mode over reverse mode gives, at two or
more points.
"""

import numpy as np
import pytest
from gradcheck import numerical_gradient

import srcgrad
from srcgrad import api


def polynomial(x):
    return np.sum(x ** 3) + x[0] * x[1] ** 2 - 2.0 * x[1] * x[2] + 4.0


def transcendental(x):
    return np.sum(np.sin(x) * np.exp(-x ** 2)) + np.log(1.0 + np.sum(x ** 2)) * np.cos(x[0])


W = np.array([[0.5, -1.0, 0.3], [1.2, 0.4, -0.7]])


def layer(x):
    return np.sum(np.tanh(W @ x + 0.1) ** 2) + x @ W.T @ W @ x


def log_softmax_loss(x):
    m = np.max(x)
    logits = x - m
    return m + np.log(np.sum(np.exp(logits))) - x[1]


def branch(x):
    if np.sum(x) > 0:
        y = np.sum(x ** 4) / 4
    else:
        y = np.prod(np.cos(x))
    return y


def softplus(t):
    return np.log1p(np.exp(t))


def calls(x):
    return np.sum(softplus(x) * softplus(-2.0 * x))


def loop(x):
    h = x
    for _ in range(3):
        h = np.tanh(W.T @ (W @ h) + x)
    return np.sum(h * x)


def matrix(m):
    return np.sum(m @ m.T @ m * m[0])


def scalar(x):
    return x ** 3 * np.sin(x) + np.exp(x) / x


CASES = [
    (polynomial, [np.array([0.3, -0.7, 1.1]), np.array([2.0, 1.0, -1.0])]),
    (transcendental, [np.array([0.3, -0.7, 1.1]), np.array([-1.2, 0.4, 0.9])]),
    (layer, [np.array([0.3, -0.7, 1.1]), np.array([1.5, 0.2, -0.4])]),
    (log_softmax_loss, [np.array([0.3, -0.7, 1.1]), np.array([2.0, 2.5, -1.0, 0.0])]),
    (branch, [np.array([0.3, -0.7, 1.1]), np.array([-0.3, -0.7, 0.1])]),
    (calls, [np.array([0.3, -0.7, 1.1]), np.array([-2.0, 0.5])]),
    (loop, [np.array([0.3, -0.7, 1.1]), np.array([0.1, 0.2, -0.2])]),
    (matrix, [np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -1.0]])]),
    (scalar, [0.7, -1.3, 2.0]),
]


def gradient_differences(fn, x):
    """Central differences of srcgrad's gradient: one column of the Hessian per element of ``x``."""
    grad = lambda x: np.asarray(srcgrad.gradient(fn, x)[0], dtype=float)  # noqa: E731
    columns = []
    for i in range(np.size(x)):
        step = np.zeros(np.shape(x))
        step.flat[i] = 1e-5
        columns.append((grad(x + step) - grad(x - step)) / 2e-5)
    return np.stack(columns, axis=-1).reshape(np.shape(x) + np.shape(x))


@pytest.mark.parametrize("fn, points", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_hessian_matches_differences_of_the_gradient(fn, points):
    for x in points:
        H = api._forward_over_reverse(fn, x)
        assert H.shape == np.shape(x) + np.shape(x) and H.dtype == np.float64
        np.testing.assert_allclose(H, gradient_differences(fn, x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(srcgrad.hessian(fn, x), H, rtol=0, atol=0)


#: Reverse mode keeps the arrays a loop or a branch overwrites on a tape, and reverse over
#: reverse cannot read a tape yet: these two need forward over reverse.
NEEDS_FORWARD = (loop, branch)
REVERSE_OVER_REVERSE = [case for case in CASES if case[0] not in NEEDS_FORWARD]


@pytest.mark.parametrize("fn, points", REVERSE_OVER_REVERSE, ids=[fn.__name__ for fn, _ in REVERSE_OVER_REVERSE])
def test_forward_over_reverse_agrees_with_reverse_over_reverse(fn, points):
    for x in points:
        np.testing.assert_allclose(api._forward_over_reverse(fn, x), api._reverse_over_reverse(fn, x),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", NEEDS_FORWARD)
def test_both_ways_read_the_tapes_of_loops_and_branches(fn):
    """The backward pops tapes: forward mode runs the pops, reverse mode differentiates them (push/pop rules)."""
    for x in (np.array([0.3, -0.7, 1.1]), np.array([-0.4, 0.9, 0.2])):
        H = srcgrad.hessian(fn, x)
        np.testing.assert_allclose(H, gradient_differences(fn, x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(H, api._reverse_over_reverse(fn, x), rtol=1e-10, atol=1e-12)


def test_hessian_is_symmetric():
    x = np.array([0.2, 0.5, -0.3])
    H = srcgrad.hessian(transcendental, x)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)


def test_column_by_column_is_the_jvp_of_the_gradient():
    """Column i of the Hessian is forward mode applied to the gradient along the i-th basis vector."""
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([0.0, 1.0, 0.0])
    _, column = srcgrad.jvp(lambda x: srcgrad.gradient(layer, x)[0], (x,), (v,))
    np.testing.assert_allclose(srcgrad.hessian(layer, x)[:, 1], column, rtol=1e-12)
    np.testing.assert_allclose(column, numerical_gradient(lambda x: srcgrad.gradient(layer, x)[0][1], (x,), 0),
                               rtol=1e-6, atol=1e-6)


def test_falls_back_to_reverse_over_reverse(monkeypatch):
    """Where forward mode cannot go (here: made to fail), reverse over reverse gives the Hessian."""
    def refuse(f, x):
        raise srcgrad.NoRuleError("forward mode cannot run this")

    monkeypatch.setattr(api, "_forward_over_reverse", refuse)
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(srcgrad.hessian(polynomial, x), gradient_differences(polynomial, x), rtol=1e-6)


def test_hessian_of_a_closure():
    """``hessian(lambda q: loss(q, data), q)``: the lambda captures ``data``, and forward mode runs through
    the generated code of a closure (whose own captured values are the helpers it was compiled with)."""
    for scale in (2.0, -0.5):
        data = np.array([1.0, -2.0, 0.5])
        q = np.array([0.3, -0.7, 1.1]) * scale

        def captured_only(q):
            return np.sum(np.tanh(q) * data)

        for fn in (captured_only, lambda q: transcendental(q * data)):
            H = srcgrad.hessian(fn, q)
            np.testing.assert_allclose(H, gradient_differences(fn, q), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(H, api._reverse_over_reverse(fn, q), rtol=1e-10, atol=1e-12)
