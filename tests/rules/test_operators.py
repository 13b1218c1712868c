"""Rules for Python's operators (srcgrad/rules/operators.py), checked against finite differences."""

import operator

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad

from .specs import Spec, define, missing_specs, table_tests

#: Scalars, same shapes, and shapes that broadcast against each other.
BINARY = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((3, 1), (4,)), ((2, 3), ()), ((), (3,)), ((2, 1, 3), (4, 1))]
UNARY = [(), (3,), (2, 3)]

SPECS = [
    Spec(operator.add, "a + b", BINARY, dynamic="fn(a, b)", id="add"),
    Spec(operator.sub, "a - b", BINARY, dynamic="fn(a, b)", id="sub"),
    Spec(operator.mul, "a * b", BINARY, dynamic="fn(a, b)", id="mul"),
    Spec(operator.truediv, "a / b", BINARY, domain=("real", "nonzero"), dynamic="fn(a, b)", id="truediv"),
    Spec(operator.pow, "a ** b", BINARY, domain="pos", dynamic="fn(a, b)", id="pow"),
    Spec(operator.pow, "a ** 3", UNARY, dynamic="fn(a, 3)", id="pow-int-exponent"),
    Spec(operator.pow, "a ** 0.5", UNARY, domain="pos", dynamic="fn(a, 0.5)", id="pow-float-exponent"),
    Spec(operator.pow, "2.0 ** a", UNARY, dynamic="fn(2.0, a)", id="pow-float-base"),
    Spec(operator.mod, "a % b", BINARY, domain="pos", dynamic="fn(a, b)", id="mod"),
    Spec(operator.matmul, "a @ b", [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)),
                                    ((2, 3, 4), (4, 2)), ((2, 3, 4), (2, 4, 2)), ((3, 4), (2, 4, 2)),
                                    ((2, 1, 2, 3), (3, 3, 2)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))],
         dynamic="fn(a, b)", id="matmul"),
    Spec(operator.neg, "-a", UNARY, dynamic="fn(a)", id="neg"),
    Spec(operator.pos, "+a", UNARY, dynamic="fn(a)", id="pos"),
]


test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)


def test_every_operator_rule_has_a_spec():
    from .tables import ALL_SPECS  # (np.add shares +'s row, builtins.pow **'s: every table counts)

    assert missing_specs(ALL_SPECS, "srcgrad.rules.operators") == []


@pytest.mark.parametrize("expression", ["a // 0.7", "a > 0", "a >= 0.1", "a == a", "a != a", "~(a > 0)",
                                        "(a > 0) & (a < 1)", "(a > 0) | (a < -1)", "(a > 0) ^ (a < 1)"])
def test_nondiff_operators_pass_zero_gradient(expression, tmp_path):
    """Comparisons, ``//`` and bitwise operators are constants: ``a * (a > 0)`` has gradient ``a > 0``."""
    f = define(tmp_path, f"def f(a):\n    return np.sum(a * ({expression}))\n")
    a = np.array([[0.3, -1.6, 1.2], [-0.4, 0.8, 2.5]])
    grad, = check_gradient(f, a)
    np.testing.assert_array_equal(grad, eval(expression, {"a": a}))


def test_matmul_float32_stays_float32():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 2), np.float32)
    ga, gb = srcgrad.gradient(lambda a, b: np.sum(a @ b), a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.float32
    np.testing.assert_allclose(ga, np.full((3, 4), 2.0))
