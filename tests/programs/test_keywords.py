"""Group 7, keywords: differentiated values passed by keyword, to rules and to your own functions.

A value passed by keyword gets the gradient it would get positionally, in
reverse and forward mode: ``np.clip(x, a_max=b)`` as ``np.clip(x, None, b)``,
with the NumPy function called by name (its rule is inlined) or held in a
variable (its rule runs at run time), and ``f(x, scale=s)`` for a function of
your own. A keyword whose gradient no rule gives is refused with the file and
line, never taken as a constant.
"""

import dataclasses
import inspect

import numpy as np
import pytest
from gradcheck import numerical_gradient

import srcgrad

from .checks import check_program

try:
    import scipy.special
except ImportError:  # pragma: no cover - scipy is optional
    scipy = None

rng = np.random.default_rng(7)
X = np.array([0.3, -1.2, 2.5, 0.8])
M = rng.standard_normal((3, 4))


# --- rules ---------------------------------------------------------------------

def clip_bounds_by_keyword(x, lo, hi):
    return np.sum(np.clip(x, a_min=lo, a_max=hi) ** 2)


def clip_upper_by_keyword(x, hi):
    return np.sum(np.clip(x, None, a_max=hi) * x)


def clip_everything_by_keyword(x, hi):
    return np.sum(np.clip(a_max=hi, a=x, a_min=-hi))


def clip_min_max(x, lo, hi):  # NumPy 2.1's spelling
    return np.sum(np.clip(x, min=lo, max=hi) ** 2)


def clip_method_by_keyword(x, lo, hi):
    return np.sum(x.clip(min=lo, max=hi) ** 2)


def dot_by_keyword(a, b):
    return np.sum(np.dot(a, b=b) ** 2)


def solve_by_keyword(A, b):
    return np.sum(np.linalg.solve(A, b=b))


def logsumexp_weights_by_keyword(x, w):
    return scipy.special.logsumexp(x, b=w)


def sum_over_axis_keyword(x):
    return np.sum(np.sum(x, axis=0) ** 2)


def sum_over_axis_parameter(x, k):
    return np.sum(np.sum(x, axis=k, keepdims=True) ** 2)


def rule_held_in_a_variable(fn, x, hi):
    return np.sum(fn(x, a_min=-hi, a_max=hi) ** 2)


def product_held_in_a_variable(fn, a, b):
    return np.sum(fn(a=a, b=b) ** 2)


# --- your own functions ----------------------------------------------------------

def scaled(x, scale=1.0, shift=0.0):
    return x * scale + shift


def with_keyword_only(x, *, gain):
    return np.tanh(gain * x)


class Layer:
    def __init__(self, w):
        self.w = w

    def apply(self, x, scale=1.0):
        return self.w * x * scale


@dataclasses.dataclass
class Point:
    x: float
    y: float


def keyword_to_own_function(x, s, t):
    return np.sum(scaled(x, shift=t, scale=s) ** 2)


def keyword_to_keyword_only_parameter(x, g):
    return np.sum(with_keyword_only(x, gain=g))


def keyword_to_method(w, x, s):
    return np.sum(Layer(w).apply(x, scale=s) ** 2)


def keyword_to_method_of_argument(layer, x, s):
    return np.sum(layer.apply(x, scale=s) ** 2)


def keyword_to_lambda(x, s):
    return np.sum((lambda t, k=1.0: t * k)(x, k=s) ** 2)


def keywords_to_dataclass(a, b):
    p = Point(y=b, x=a)
    return p.x * p.y ** 2


def every_argument_by_keyword(x, s):
    return np.sum(scaled(shift=s, x=x) * x)


CASES = [
    (clip_bounds_by_keyword, [(X, -0.5, 1.0), (X, 0.5, 2.0)], None),
    (clip_upper_by_keyword, [(X, 1.0), (M, 0.5)], None),
    (clip_everything_by_keyword, [(X, 1.0), (M, 0.5)], None),
    (clip_method_by_keyword, [(X, -0.5, 1.0), (M, np.full(4, -0.2), 0.5)], None),
    (dot_by_keyword, [(M, X), (X, X)], None),
    (solve_by_keyword, [(M[:, :3] + 3 * np.eye(3), X[:3]), (2 * np.eye(2), np.array([1.0, -1.0]))], None),
    (sum_over_axis_keyword, [(M,), (X,)], None),
    (sum_over_axis_parameter, [(M, 0), (M, 1)], [0]),
    (rule_held_in_a_variable, [(np.clip, X, 1.0), (np.clip, M, 0.5)], [1, 2]),
    (product_held_in_a_variable, [(np.dot, M, X), (np.outer, X, X[:2])], [1, 2]),
    (keyword_to_own_function, [(X, 1.5, 0.3), (M, -0.5, 2.0)], None),
    (keyword_to_keyword_only_parameter, [(X, 0.7), (M, -1.5)], None),
    (keyword_to_method, [(X, X[::-1], 1.5), (0.5, M, -2.0)], None),
    (keyword_to_method_of_argument, [(Layer(X), X[::-1], 1.5), (Layer(0.5), M, -2.0)], None),
    (keyword_to_lambda, [(X, 1.5), (M, -0.5)], None),
    (keywords_to_dataclass, [(1.5, -0.5), (-2.0, 0.25)], None),
    (every_argument_by_keyword, [(X, 1.5), (M, -0.5)], None),
]
if "min" in inspect.signature(np.clip).parameters:
    CASES.insert(3, (clip_min_max, [(X, -0.5, 1.0), (M, np.full(4, -0.2), 0.5)], None))
if scipy is not None:
    CASES.append((logsumexp_weights_by_keyword, [(X, np.abs(X) + 0.5), (M, np.full(4, 0.5))], None))


@pytest.mark.parametrize("fn, inputs, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_keyword_program(fn, inputs, wrt):
    for args in inputs:
        check_program(fn, *args, wrt=wrt)


#: Forward mode does not build objects yet (keyword_to_method_of_argument covers methods).
FORWARD_CASES = [c for c in CASES if c[0] not in (keyword_to_method, keywords_to_dataclass)]


@pytest.mark.parametrize("fn, inputs, wrt", FORWARD_CASES, ids=[c[0].__name__ for c in FORWARD_CASES])
def test_keyword_program_forward(fn, inputs, wrt):
    """jvp along a random tangent of the differentiated arguments matches central differences."""
    for args in inputs:
        wrt_ = wrt if wrt is not None else [i for i, a in enumerate(args) if not isinstance(a, Layer)]
        tangents = [rng.standard_normal(np.shape(a)) if i in wrt_ else None for i, a in enumerate(args)]
        tangents = [float(t) if t is not None and np.ndim(args[i]) == 0 else t for i, t in enumerate(tangents)]
        _, dy = srcgrad.jvp(fn, tuple(args), tuple(tangents))

        def along(eps):
            return fn(*[a + eps * t if t is not None else a for a, t in zip(args, tangents)])

        numeric = (along(1e-6) - along(-1e-6)) / 2e-6
        np.testing.assert_allclose(dy, numeric, rtol=1e-5, atol=1e-6)


def test_keyword_gets_the_positional_gradient():
    """The bug this file is about: np.clip(x, a_max=b) used to give b a zero gradient."""
    by_keyword = srcgrad.gradient(lambda x, b: np.sum(np.clip(x, a_min=None, a_max=b)), X, 1.5)
    by_position = srcgrad.gradient(lambda x, b: np.sum(np.clip(x, None, b)), X, 1.5)
    assert by_keyword[1] == by_position[1] == 1.0
    np.testing.assert_array_equal(by_keyword[0], by_position[0])
    assert numerical_gradient(lambda x, b: np.sum(np.clip(x, None, b)), (X, 1.5), 1) == pytest.approx(1.0)


def test_a_keyword_held_in_a_variable_gets_its_gradient_in_both_modes():
    def f(fn, x, b):
        return np.sum(fn(x, a_min=None, a_max=b))

    _, dx, db = srcgrad.gradient(f, np.clip, X, 1.5)
    assert db == 1.0
    _, dy = srcgrad.jvp(f, (np.clip, X, 1.5), (None, np.zeros(4), 1.0))
    assert dy == 1.0


# --- refused ---------------------------------------------------------------------

def soft_limit(x, *, limit=1.0):
    return limit * np.tanh(x / limit)


@srcgrad.defrule(soft_limit)
def soft_limit_rule(dy, y, x, *, limit=1.0):  # gives no gradient for limit
    return (dy * (1 - (y / limit) ** 2),)


def soft_limited(x, s):
    return np.sum(soft_limit(x, limit=s))  # refused


def sum_with_initial(x, c):
    return np.sum(x, initial=c)  # refused


def refused_line(fn):
    lines, start = inspect.getsourcelines(fn)
    return next(start + i for i, line in enumerate(lines) if line.rstrip().endswith("# refused"))


@pytest.mark.parametrize("fn, args", [(soft_limited, (X, 2.0)), (sum_with_initial, (X, 1.5))],
                         ids=["keyword-only", "a-parameter-the-rule-lacks"])
def test_a_keyword_without_a_gradient_is_refused_with_file_and_line(fn, args):
    with pytest.raises(srcgrad.NoRuleError) as info:
        srcgrad.gradient(fn, *args)
    message = str(info.value)
    assert f"test_keywords.py:{refused_line(fn)}" in message, message
    assert "keyword argument" in message and "positionally" in info.value.fix
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.jvp(fn, args, tuple(np.ones_like(a) if np.ndim(a) else 1.0 for a in args))


def test_a_constant_keyword_without_a_gradient_is_fine():
    g = srcgrad.gradient(lambda x: np.sum(soft_limit(x, limit=2.0)) + np.sum(x, axis=0), X)[0]
    np.testing.assert_allclose(g, 1 - np.tanh(X / 2.0) ** 2 + 1.0)
    g = srcgrad.gradient(lambda x, s: np.sum(soft_limit(x, limit=srcgrad.stop_gradient(s))), X, 2.0)
    np.testing.assert_allclose(g[0], 1 - np.tanh(X / 2.0) ** 2)


def test_a_keyword_held_in_a_variable_without_a_gradient_is_refused():
    def f(fn, x, c):
        return fn(x, initial=c)

    with pytest.raises(srcgrad.NoRuleError, match="initial="):
        srcgrad.gradient(f, np.sum, X, 1.5)


def scaled_norm(t):
    return np.sum(scaled(X, scale=t) ** 2)


def test_second_order_through_a_keyword_call_to_a_spliced_helper():
    # A global helper of the same module is pasted into its caller, its keywords bound when compiled.
    def slope(s):
        return srcgrad.gradient(scaled_norm, s)[0]

    for s in (1.5, -0.3):
        assert slope(s) == pytest.approx(2 * s * np.sum(X ** 2))
        assert srcgrad.gradient(slope, s)[0] == pytest.approx(2 * np.sum(X ** 2))
    f = lambda v: np.sum(scaled(v, scale=v[0]) ** 2)
    for v in (X.ravel()[:3], X.ravel()[2:]):
        H = srcgrad.hessian(f, v)
        slope_0 = lambda w: srcgrad.gradient(f, w)[0][0]
        np.testing.assert_allclose(H[0], numerical_gradient(slope_0, (v,), 0), rtol=1e-6, atol=1e-6)


def test_second_order_through_a_keyword_call_made_at_run_time():
    def slope(s, helper=scaled):  # (held in a variable: called at run time, not spliced)
        return srcgrad.gradient(lambda t: np.sum(helper(X, scale=t) ** 2), s)[0]

    for s in (1.5, -0.3):
        assert slope(s) == pytest.approx(2 * s * np.sum(X ** 2))
        assert srcgrad.gradient(slope, s)[0] == pytest.approx(numerical_gradient(slope, (s,), 0), rel=1e-6)