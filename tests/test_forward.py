"""Forward mode: jvp, derivative and tangent_source, against finite differences and reverse mode."""

import math

import numpy as np
import pytest

import srcgrad


def poly(x):
    return 3 * x ** 2 + 2 * x + 1


def test_seed_polynomial():
    assert srcgrad.derivative(poly, 2.0) == 14.0
    source = srcgrad.tangent_source(poly)
    assert "def poly_tangent(x, dx):" in source
    assert "6 * x * dx + 2 * dx" in source


def wave(x):
    return math.sin(x) * math.exp(-x) + math.log(1 + x ** 2)


def branchy(x):
    if x > 0:
        y = x ** 3
    else:
        y = 2.0
    return y


def looped(x, n):
    s = 0.0
    for i in range(n):
        s = s + x ** i
        if s > 10.0:
            break
    return s


def halving(x):
    while x > 0.1:
        x = x / 2
    return x


def helper(t):
    return np.tanh(t) * 2.0


def calls(x):
    return helper(x) * helper(x * 3.0)


def closure_inside(x, w):
    f = lambda t: t * w + x
    return f(2.0) * f(x)


def mutation(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x * (i + 1)
    return np.sum(y ** 2)


A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])


def arrays(x):
    h = np.tanh(A @ x)
    return np.sum(h ** 2) + np.mean(x) * np.max(x) + np.linalg.norm(x)


def vector_out(x):
    return np.sin(x) * x[::-1]


def numeric_jvp(f, primals, tangents, eps=1e-6):
    up = f(*[p + eps * t if not isinstance(p, int) else p for p, t in zip(primals, tangents)])
    down = f(*[p - eps * t if not isinstance(p, int) else p for p, t in zip(primals, tangents)])
    return (np.asarray(up) - np.asarray(down)) / (2 * eps)


CASES = [
    (wave, [(0.7,), (-0.3,)]),
    (branchy, [(1.5,), (-1.5,)]),
    (looped, [(1.3, 6), (0.5, 0)]),
    (halving, [(3.0,), (0.05,)]),
    (calls, [(0.4,), (-1.1,)]),
    (closure_inside, [(1.5, 0.3)]),
    (mutation, [(1.3,)]),
    (arrays, [(np.array([0.3, -0.2, 0.9]),), (np.array([1.0, 2.0, -1.0]),)]),
    (vector_out, [(np.array([0.3, -0.2, 0.9]),)]),
]


@pytest.mark.parametrize("fn, inputs", CASES, ids=[c[0].__name__ for c in CASES])
def test_jvp_matches_finite_differences_and_reverse_mode(fn, inputs):
    rng = np.random.default_rng(0)
    for primals in inputs:
        tangents = tuple(rng.normal(size=np.shape(p)) if isinstance(p, np.ndarray) else (0 if isinstance(p, int)
                                                                                          else 0.7) for p in primals)
        y, dy = srcgrad.jvp(fn, primals, tangents)
        np.testing.assert_allclose(y, fn(*primals))
        np.testing.assert_allclose(dy, numeric_jvp(fn, primals, tangents), rtol=1e-5, atol=1e-7)
        if np.ndim(y) == 0:
            grads = srcgrad.gradient(fn, *primals)
            expected = sum(np.sum(g * t) for g, t in zip(grads, tangents) if not isinstance(t, int))
            np.testing.assert_allclose(dy, expected, rtol=1e-6, atol=1e-9)


def test_jvp_needs_one_tangent_per_primal():
    with pytest.raises(ValueError):
        srcgrad.jvp(poly, (1.0, 2.0), (1.0,))


def cube(x):
    return x ** 3


def uses_cube(x):
    return np.sum(cube(x) * np.array([1.0, -2.0]))


def test_a_users_rule_works_in_forward_mode_by_transposing_it():
    """A rule gives forward mode too: J t is the gradient in dy of <rule(dy), t>, the rule run in reverse mode."""
    from srcgrad.rules import registry

    @srcgrad.defrule(cube)
    def cube_rule(dy, y, x):
        return (3 * x ** 2 * dy,)

    try:
        x, t = np.array([0.5, -1.5]), np.array([2.0, 0.25])
        _, dy = srcgrad.jvp(uses_cube, (x,), (t,))
        assert "transposed_tangent(cube_rule" in srcgrad.tangent_source(uses_cube)
        np.testing.assert_allclose(dy, numeric_jvp(uses_cube, (x,), (t,)), rtol=1e-7)
        _, dy_dynamic = srcgrad.jvp(lambda x, f: np.sum(f(x) * np.array([1.0, -2.0])), (x, cube), (t, None))
        np.testing.assert_allclose(dy_dynamic, dy, rtol=1e-12)
    finally:
        registry.rules.pop(cube, None)
        registry._changed(cube)
