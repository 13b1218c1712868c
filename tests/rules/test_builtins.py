"""Rules for Python's builtins (srcgrad/rules/builtins.py), checked against finite differences."""

import builtins
import functools

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad

from .specs import Spec, define, missing_specs, table_tests

SPECS = [
    Spec(builtins.abs, "abs(a)", [(), (3,), (2, 3)], domain="nonzero"),
    Spec(builtins.float, "float(a)", [(), "0d"]),
    Spec(builtins.pow, "pow(a, b)", [((), ()), ((3,), (3,)), ((3, 1), (4,)), ((2, 3), ())], domain="pos"),
    Spec(builtins.sum, "sum(a)", [(3,), (3, 4)]),
    Spec(builtins.sum, "sum([a, b, c])", [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (3,), ())]),
    Spec(builtins.sum, "sum([a, b], c)", [((), (), ()), ((3,), (3,), (3,)), ((3,), (3,), ())]),
    Spec(builtins.list, "list(a)", [(3,), (2, 3)]),
    Spec(builtins.sorted, "sorted([a, b, c])", [((), (), ())]),
    Spec(builtins.sorted, "sorted([a, b, c], reverse=True)", [((), (), ())]),
    Spec(builtins.list, "list((a, b, c))", [((), (3,), ())]),
    Spec(builtins.tuple, "tuple([a, b])", [((), ()), ((3,), (2,))]),
    Spec(builtins.tuple, "tuple(a)", [(3,), (2, 3)]),
    Spec(builtins.max, "max(a, b)", [((), ())]),
    Spec(builtins.max, "max(a, b, c)", [((), (), ())]),
    Spec(builtins.max, "max([a, b, c])", [((), (), ())]),
    Spec(builtins.max, "max(a)", [(4,)]),
    Spec(builtins.min, "min(a, b)", [((), ())]),
    Spec(builtins.min, "min(a, b, c)", [((), (), ())]),
    Spec(builtins.min, "min([a, b, c])", [((), (), ())]),
    Spec(builtins.min, "min(a)", [(4,)]),
    Spec(builtins.divmod, "divmod(a, b)[1]", [((), ()), ((3,), ())], domain=("real", "pos"), dynamic="fn(a, b)[1]"),
    Spec(builtins.divmod, "divmod(a, b)[0] * a", [((), ())], domain=("real", "pos"), dynamic="fn(a, b)[0] * a"),
    Spec(functools.partial, "functools.partial(np.multiply, a)(b)", [((), ()), ((3,), (3,)), ((3,), ())],
         dynamic="fn(np.multiply, a)(b)"),
    Spec(functools.partial, "functools.partial(np.clip, a, b)(c)", [((3,), (), ())], domain=("real", "unit", "pos"),
         dynamic="fn(np.clip, a, b)(c)"),
]


test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)


def test_every_builtins_rule_has_a_spec():
    assert missing_specs(SPECS, "srcgrad.rules.builtins") == []


@pytest.mark.parametrize("call, args", [
    ("max(a, b)", (1.0, 1.0)),
    ("min(a, b)", (1.0, 1.0)),
    ("max(a, b, c)", (2.0, 0.5, 2.0)),
    ("max([a, b, c])", (2.0, 2.0, 0.5)),
    ("min([a, b, c])", (0.5, 2.0, 0.5)),
])
def test_max_min_ties_share_the_gradient(call, args, tmp_path):
    """At a tie, central differences split the gradient evenly; so does the rule."""
    names = "abc"[:len(args)]
    f = define(tmp_path, f"def f({', '.join(names)}):\n    return 3.0 * {call}\n")
    check_gradient(f, *args)


def test_three_way_tie_splits_the_gradient_in_three(tmp_path):
    """(Central differences would give each 1/2 here, which is no gradient: the shares must add up to 1.)"""
    f = define(tmp_path, "def f(a, b, c):\n    return 3.0 * max([a, b, c])\n")
    assert srcgrad.gradient(f, 2.0, 2.0, 2.0) == (1.0, 1.0, 1.0)


def test_max_of_array_with_ties_shares_the_gradient(tmp_path):
    f = define(tmp_path, "def f(a):\n    return 3.0 * max(a)\n")
    grad, = check_gradient(f, np.array([1.0, 2.0, 0.0, 2.0]))
    np.testing.assert_allclose(grad, [0.0, 1.5, 0.0, 1.5])


@pytest.mark.parametrize("expression, expected", [
    ("a * len(a)", lambda a: np.full(a.shape, len(a))),
    ("a * int(a[0] > 0)", lambda a: np.full(a.shape, float(a[0] > 0))),
    ("a * round(a[1])", lambda a: np.full(a.shape, float(round(a[1])))),
    ("a * bool(a[0] > 0)", lambda a: np.full(a.shape, float(a[0] > 0))),
    ("a * builtins.any(a > 1.0)", lambda a: np.full(a.shape, float(any(a > 1.0)))),
    ("a * builtins.all(a > -10.0)", lambda a: np.ones(a.shape)),
    ("a * sorted([2.0, 1.0])[0]", lambda a: np.ones(a.shape)),
    ("a * divmod(7, 2)[0]", lambda a: np.full(a.shape, 3.0)),
    ("a * isinstance(a, np.ndarray)", lambda a: np.ones(a.shape)),
])
def test_nondiff_builtins_pass_zero_gradient(expression, expected, tmp_path):
    """``len``, ``int``, ``round`` and friends are constants: only ``a`` itself carries gradient."""
    f = define(tmp_path, f"def f(a):\n    return np.sum({expression})\n")
    a = np.array([0.7, 1.6, -0.4])
    grad, = check_gradient(f, a)
    np.testing.assert_array_equal(grad, expected(a))


def test_abs_keeps_float32():
    x = np.array([1.0, -2.0], np.float32)
    grad, = srcgrad.gradient(lambda x: np.sum(abs(x)), x)
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad, [1.0, -1.0])
