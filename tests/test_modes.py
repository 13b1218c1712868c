"""Every composition of modes, to third order (SPEC 1, Soundness; issue #16).

Reverse over reverse, forward over reverse, reverse over forward, forward over forward, and
``jacobian``, ``hessian``, ``pullback``, ``withgradient`` nested inside differentiated code,
checked against analytic derivatives (exact up to rounding, so third order needs no step
size), and the value at every level against the plain function's.

The scalar functions go through every pair of modes and the third-order words below; the
array ones through their directional derivatives along ``V``. What srcgrad cannot do is
checked to be refused with an error naming the user's function.
"""

import numpy as np
import pytest

import srcgrad
from srcgrad import derivative, gradient, hessian, jacobian, jvp, pullback, withgradient
from srcgrad.errors import NoRuleError

# ---------------------------------------------------------------- scalar functions, with derivatives 0 to 3


def poly(x):
    return 3 * x ** 3 + 2 * x ** 2 - x + 1


def transcendental(x):
    return np.sin(x) * np.exp(x) + np.log(x)


def loop_branch(x):
    y = x
    for i in range(3):
        if i == 1:
            y = y * x
        else:
            y = y + x * x
    if y > 0:  # y = 2x^2 + x^3 after the loop; its sign picks the branch
        return y
    return -y


def _loop_branch_sign(x):
    return 1.0 if 2 * x ** 2 + x ** 3 > 0 else -1.0


DERIVATIVES = {
    "poly": [poly, lambda x: 9 * x ** 2 + 4 * x - 1, lambda x: 18 * x + 4, lambda x: 18.0],
    "transcendental": [
        transcendental,
        lambda x: np.exp(x) * (np.sin(x) + np.cos(x)) + 1 / x,
        lambda x: 2 * np.exp(x) * np.cos(x) - 1 / x ** 2,
        lambda x: 2 * np.exp(x) * (np.cos(x) - np.sin(x)) + 2 / x ** 3,
    ],
    "loop_branch": [
        loop_branch,
        lambda x: _loop_branch_sign(x) * (4 * x + 3 * x ** 2),
        lambda x: _loop_branch_sign(x) * (4 + 6 * x),
        lambda x: _loop_branch_sign(x) * 6.0,
    ],
}

#: (function, point): loop_branch at a point of each branch.
POINTS = [("poly", 0.7), ("transcendental", 0.7), ("loop_branch", 0.7), ("loop_branch", -3.0)]


# ---------------------------------------------------------------- one derivative, by each mode


def by_gradient(f):
    def d(x):
        return gradient(f, x)[0]
    return d


def by_derivative(f):
    def d(x):
        return derivative(f, x)
    return d


def by_jvp(f):
    def d(x):
        return jvp(f, (x,), (1.0,))[1]
    return d


def by_pullback(f):
    def d(x):
        y, back = pullback(f, x)
        return back(1.0)[0]
    return d


def by_withgradient(f):
    def d(x):
        return withgradient(f, x)[1][0]
    return d


def by_jacobian(f):
    def d(x):
        return jacobian(f, x)[0]
    return d


MODES = {"gradient": by_gradient, "derivative": by_derivative, "jvp": by_jvp, "pullback": by_pullback,
         "withgradient": by_withgradient, "jacobian": by_jacobian}

#: The outermost derivative, taken at the top: (its value or None, the derivative).
OUTER = {
    "gradient": lambda g, x: (None, gradient(g, x)[0]),
    "derivative": lambda g, x: (None, derivative(g, x)),
    "jvp": lambda g, x: jvp(g, (x,), (1.0,)),
    "pullback": lambda g, x: (lambda y, back: (y, back(1.0)[0]))(*pullback(g, x)),
    "withgradient": lambda g, x: (lambda y, grads: (y, grads[0]))(*withgradient(g, x)),
    "jacobian": lambda g, x: (None, jacobian(g, x)[0]),
}

SECOND = [(outer, inner) for outer in MODES for inner in MODES]
THIRD = [(a, b, c) for a in ("gradient", "derivative") for b in ("gradient", "derivative")
         for c in ("gradient", "derivative")] + [
    ("gradient", "jacobian", "gradient"), ("derivative", "pullback", "gradient"), ("jacobian", "gradient", "jvp"),
    ("gradient", "withgradient", "derivative"), ("derivative", "jacobian", "jacobian"),
    ("jacobian", "jacobian", "jacobian"), ("pullback", "derivative", "pullback"), ("jvp", "gradient", "jvp"),
]


def close(a, b):
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-10, atol=1e-10)


def check_word(word, name, x):
    """``word[0]`` at the top over the others nested, innermost last: every level's value, then the derivative."""
    truth = DERIVATIVES[name]
    g = truth[0]
    for level, mode in enumerate(reversed(word[1:]), start=1):
        g = MODES[mode](g)
        assert close(g(x), truth[level](x)), f"level {level} ({mode}) has the wrong value"
    value, d = OUTER[word[0]](g, x)
    if value is not None:
        assert close(value, truth[len(word) - 1](x)), "the outer call's value is not the plain function's"
    assert close(d, truth[len(word)](x)), f"{' over '.join(word)} of {name} at {x}: {d} != {truth[len(word)](x)}"


@pytest.mark.parametrize("name, x", POINTS)
@pytest.mark.parametrize("word", SECOND, ids="-".join)
def test_second_order(word, name, x):
    check_word(word, name, x)


@pytest.mark.parametrize("name, x", POINTS)
@pytest.mark.parametrize("word", THIRD, ids="-".join)
def test_third_order(word, name, x):
    check_word(word, name, x)


@pytest.mark.parametrize("name, x", POINTS[:3])
def test_hessian_inside_gradient_and_jvp(name, x):
    truth = DERIVATIVES[name]

    def h(z):
        return hessian(truth[0], z)

    assert close(h(x), truth[2](x))
    assert close(gradient(h, x)[0], truth[3](x))
    assert close(jvp(h, (x,), (1.0,))[1], truth[3](x))
    assert close(hessian(by_gradient(truth[0]), x), truth[3](x))


# ---------------------------------------------------------------- the repro: jvp of a vjp


def vjp_of_sin(a, v):
    y, back = srcgrad.pullback(np.sin, a)
    return back(v)[0]


def test_jvp_of_a_pullback_of_np_sin_keeps_the_input_tangent():
    y, dy = srcgrad.jvp(vjp_of_sin, (1.0, 1.0), (1.0, 0.0))
    assert close(y, np.cos(1.0)) and close(dy, -np.sin(1.0))
    assert close(srcgrad.jvp(vjp_of_sin, (1.0, 2.0), (0.0, 1.0))[1], np.cos(1.0))
    assert close(srcgrad.gradient(vjp_of_sin, 1.0, 2.0), (-2 * np.sin(1.0), np.cos(1.0)))


def helper_sin(x):
    return np.sin(x) * x


#: How the function reaches pullback/gradient inside differentiated code, and its derivatives at x.
CALLEES = {
    "user function": (helper_sin, lambda x: np.cos(x) * x + np.sin(x), lambda x: -np.sin(x) * x + 2 * np.cos(x)),
    "lambda": (lambda x: np.sin(x) * x, lambda x: np.cos(x) * x + np.sin(x), lambda x: -np.sin(x) * x + 2 * np.cos(x)),
    "np.sin": (np.sin, np.cos, lambda x: -np.sin(x)),
    "np.exp": (np.exp, np.exp, np.exp),
    "np.tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
}


@pytest.mark.parametrize("callee", CALLEES)
@pytest.mark.parametrize("mode", ["pullback", "gradient", "withgradient", "jacobian"])
def test_forward_and_reverse_over_a_callee_passed_as_a_value(callee, mode):
    f, df, d2f = CALLEES[callee]
    d = MODES[mode](f)
    x = 0.6
    assert close(d(x), df(x))
    assert close(srcgrad.jvp(d, (x,), (1.0,)), (df(x), d2f(x)))
    assert close(srcgrad.gradient(d, x)[0], d2f(x))
    assert close(srcgrad.derivative(by_gradient(d), x), srcgrad.gradient(by_derivative(d), x)[0])


def test_np_sin_as_a_value_to_third_order():
    d1 = by_gradient(np.sin)
    assert close(gradient(by_gradient(d1), 0.4)[0], -np.cos(0.4))
    assert close(derivative(by_pullback(d1), 0.4), -np.cos(0.4))


def test_a_closure_over_a_value_that_depends_on_the_input():
    def g(a):
        c = a * a
        return gradient(lambda x: c * np.sin(x), a)[0]  # a^2 cos(a)

    want = 2 * 0.8 * np.cos(0.8) - 0.8 ** 2 * np.sin(0.8)
    assert close(g(0.8), 0.8 ** 2 * np.cos(0.8))
    assert close(gradient(g, 0.8)[0], want)
    assert close(derivative(g, 0.8), want)


# ---------------------------------------------------------------- arrays: directional derivatives along V

W = np.array([[0.5, -1.0, 0.2], [0.3, 0.1, 0.0], [-0.4, 0.7, 1.1]])
S = W + W.T
V = np.array([0.3, -0.5, 0.8])
X = np.array([0.2, 0.9, -0.6])


def cubic_form(x):
    return np.sum(x ** 3) + np.dot(x, W @ x)


#: The k-th derivative of cubic_form along V (k - 1 times), as a gradient: D^k f[V, ..., V, .].
GRADS = [lambda x: 3 * x ** 2 + S @ x, lambda x: 6 * x * V + S @ V, lambda x: 6 * V ** 2]


def along_gradient(f):
    def g(x):
        return np.dot(gradient(f, x)[0], V)
    return g


def along_jvp(f):
    def g(x):
        return jvp(f, (x,), (V,))[1]
    return g


def along_jacobian(f):
    def g(x):
        return np.sum(jacobian(f, x)[0] * V)
    return g


def along_pullback(f):
    def g(x):
        y, back = pullback(f, x)
        return np.sum(back(1.0)[0] * V)
    return g


ALONG = {"gradient": along_gradient, "jvp": along_jvp, "jacobian": along_jacobian, "pullback": along_pullback}
ARRAY_WORDS = [(a,) for a in ALONG] + [(a, b) for a in ("gradient", "jvp") for b in ALONG] + [
    ("jacobian", "pullback")]


@pytest.mark.parametrize("inner", ARRAY_WORDS, ids="-".join)
def test_array_function_every_mode_outside(inner):
    g = cubic_form
    for level, mode in enumerate(reversed(inner), start=1):
        g = ALONG[mode](g)
        assert close(g(X), GRADS[level - 1](X) @ V), f"level {level} ({mode}) has the wrong value"
    k = len(inner)
    want = GRADS[k](X)
    assert close(gradient(g, X)[0], want)
    assert close(jvp(g, (X,), (V,)), (GRADS[k - 1](X) @ V, want @ V))
    assert close(jacobian(g, X)[0], want)


def test_hessian_and_its_derivatives():
    H = 6 * np.diag(X) + S
    assert close(hessian(cubic_form, X), H)
    M = np.arange(9.0).reshape(3, 3)
    assert close(gradient(lambda x: np.sum(hessian(cubic_form, x) * M), X)[0], 6 * np.diag(M))
    assert close(jvp(lambda x: hessian(cubic_form, x), (X,), (V,))[1], 6 * np.diag(V))
    assert close(jacobian(lambda x: jacobian(cubic_form, x)[0], X)[0], H)


def spread(x):
    return np.sin(x) * np.sum(x)


def spread_derivatives(x):
    """The first three derivatives of ``spread``: tensors ``[i, j]``, ``[i, j, k]``, ``[i, j, k, l]``."""
    s, c, n = np.sum(x), np.cos(x), np.sin(x)
    e = np.eye(len(x))
    d3 = np.einsum("ij,ik->ijk", e, e)
    d4 = np.einsum("ij,ik,il->ijkl", e, e, e)
    j1 = e * (c * s)[:, None] + n[:, None]
    j2 = -(n * s)[:, None, None] * d3 + c[:, None, None] * (e[:, :, None] + e[:, None, :])
    j3 = (-(c * s)[:, None, None, None] * d4 - n[:, None, None, None] * (
        d3[:, :, :, None] + np.einsum("ij,il->ijl", e, e)[:, :, None, :] + np.einsum("ik,il->ikl", e, e)[:, None]))
    return j1, j2, j3


def test_jacobian_of_jacobian_to_third_order():
    j1, j2, j3 = spread_derivatives(X)
    first = by_jacobian(spread)
    second = by_jacobian(first)
    assert close(first(X), j1)
    assert close(second(X), j2)
    assert close(jacobian(second, X)[0], j3)
    assert close(jvp(first, (X,), (V,))[1], j2 @ V)
    assert close(jvp(second, (X,), (V,))[1], j3 @ V)
    assert close(jacobian(lambda x: jvp(spread, (x,), (V,))[1], X)[0], j2 @ V)


def test_jvp_of_a_vector_function_inside_gradient():
    j1, j2, _ = spread_derivatives(X)
    w = np.array([1.0, -2.0, 0.5])

    def g(x):
        y, dy = jvp(spread, (x,), (V,))
        return np.dot(dy, w)

    assert close(g(X), w @ j1 @ V)
    assert close(gradient(g, X)[0], np.einsum("i,ijk,j->k", w, j2, V))


# ---------------------------------------------------------------- what used to crash


def det(m):
    return np.linalg.det(m)


def test_forward_mode_through_a_function_named_like_the_numpy_one_it_calls():
    a = np.array([[2.0, 0.5], [0.3, 1.0]])
    t = np.array([[0.1, 0.2], [-0.3, 0.4]])
    y, dy = jvp(det, (a,), (t,))
    assert close(y, np.linalg.det(a))
    assert close(dy, np.linalg.det(a) * np.trace(np.linalg.solve(a, t)))


def shifted_store(x):
    h = np.zeros(3)
    for i in range(2):
        h[i + 1] = x[0] * x[1]
    return np.sum(h * np.array([1.0, 2.0, 3.0]))


def test_forward_mode_store_at_a_computed_index():
    x, t = np.array([1.5, 2.0]), np.array([1.0, -1.0])
    y, dy = jvp(shifted_store, (x,), (t,))
    assert close(y, shifted_store(x)) and close(dy, 5 * (t[0] * x[1] + x[0] * t[1]))
    assert close(hessian(shifted_store, x), [[0.0, 5.0], [5.0, 0.0]])


def contract(a, b, k):
    return np.sum(np.tensordot(a * a, b, k))


def joined(a, axis):
    return np.sum(np.concatenate([a, a * a], axis) ** 2)


def test_forward_over_reverse_with_integer_arguments():
    a, b = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.3, 0.1], [-0.2, 0.4]])
    t = np.array([[1.0, 0.0], [0.5, 2.0]])
    y, dy = jvp(lambda z: gradient(contract, z, b, 1)[0], (a,), (t,))
    # d/da sum((a*a) @ b) = 2 a * (b summed over its columns); its derivative along t is 2 t * that sum
    assert close(y, 2 * a * np.sum(b, axis=1)) and close(dy, 2 * t * np.sum(b, axis=1))
    x = np.array([0.5, -1.5])
    y, dy = jvp(lambda z: gradient(joined, z, 0)[0], (x,), (np.array([1.0, 1.0]),))
    assert close(y, 2 * x + 4 * x ** 3) and close(dy, 2 + 12 * x ** 2)
    assert close(hessian(lambda z: joined(z, 0), x), np.diag(2 + 12 * x ** 2))


# ---------------------------------------------------------------- refused, naming the function


def looped(x):
    y = x
    for _ in range(2):
        y = y * x
    return y


def test_a_pullback_made_outside_of_a_function_with_a_loop_is_refused():
    y, back = pullback(looped, 0.5)
    with pytest.raises(NoRuleError, match=r"test_modes.py:\d+ \(looped\).*made outside"):
        gradient(lambda u: back(u)[0], 1.0)
    with pytest.raises(NoRuleError, match="made outside"):
        jvp(lambda u: back(u)[0], (1.0,), (1.0,))

    def inside(a):  # the same, with the pullback taken inside: right
        y, back = pullback(looped, a)
        return gradient(lambda u: back(u)[0] * u, 1.0)[0]

    assert close(gradient(inside, 0.5)[0], 2 * 6 * 0.5)


def pair(x):
    return x, 2 * x


def test_jacobian_and_jvp_inside_differentiated_code_refuse_a_tuple_output():
    with pytest.raises(NoRuleError, match=r"test_modes.py:\d+.*pair returned a tuple"):
        gradient(lambda x: jacobian(pair, x)[0][0], 1.0)
    with pytest.raises(NoRuleError, match=r"test_modes.py:\d+.*pair returned a tuple"):
        gradient(lambda x: jvp(pair, (x,), (1.0,))[1][0], 1.0)


def test_a_broadcasting_rule_and_a_non_differentiable_function_passed_as_values():
    a = np.array([0.5, 1.5, -0.3])

    def g(a, s):
        y, back = pullback(np.multiply, a * a, s)  # s is broadcast: its gradient is summed back
        ga, gs = back(np.ones(3))
        return np.sum(ga * a) + gs * s  # s * sum(a) + s * sum(a ** 2)

    assert close(g(a, 2.0), 2 * np.sum(a) + 2 * np.sum(a * a))
    da, ds = gradient(g, a, 2.0)
    assert close(da, 2 + 4 * a) and close(ds, np.sum(a) + np.sum(a * a))
    assert close(jvp(g, (a, 2.0), (np.ones(3), 1.0))[1], np.sum(2 + 4 * a) + np.sum(a) + np.sum(a * a))

    def h(x):
        y, back = pullback(np.floor, x)
        return back(1.0)[0] + x * y

    assert close(gradient(h, 1.3)[0], 1.0) and close(jvp(h, (1.3,), (1.0,)), (1.3, 1.0))


def test_a_rule_pullback_made_outside_is_differentiated_inside():
    y, back = pullback(np.sin, 0.4)  # (a rule's pullback keeps no tapes: nothing to refuse)

    def f(u):
        return back(u)[0] * u  # u ** 2 * cos(0.4)

    assert close(gradient(f, 2.0)[0], 4 * np.cos(0.4))
    assert close(jvp(f, (2.0,), (1.0,)), (4 * np.cos(0.4), 4 * np.cos(0.4)))
    y, back = pullback(np.floor, 1.5)
    assert close(gradient(lambda u: back(u)[0] + u, 2.0)[0], 1.0)
