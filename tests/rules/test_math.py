"""Rules for the ``math`` module (srcgrad/rules/math.py), checked against finite differences."""

import math

import numpy as np
import pytest
from gradcheck import check_gradient

from srcgrad.rules import math as math_rules

from .specs import Spec, define, missing_specs, table_tests

S = [()]        # math works on Python floats only
S2 = [((), ())]

SPECS = [
    Spec(math.sin, "math.sin(a)", S),
    Spec(math.cos, "math.cos(a)", S),
    Spec(math.tan, "math.tan(a)", S, domain="unit"),
    Spec(math.exp, "math.exp(a)", S),
    Spec(math.expm1, "math.expm1(a)", S),
    Spec(math.log, "math.log(a)", S, domain="pos"),
    Spec(math.log, "math.log(a, b)", S2, domain=("pos", "pos")),
    Spec(math.log, "math.log(a, 10)", S, domain="pos"),
    Spec(math.log1p, "math.log1p(a)", S, domain="pos"),
    Spec(math.log2, "math.log2(a)", S, domain="pos"),
    Spec(math.log10, "math.log10(a)", S, domain="pos"),
    Spec(math.sqrt, "math.sqrt(a)", S, domain="pos"),
    Spec(math.tanh, "math.tanh(a)", S),
    Spec(math.sinh, "math.sinh(a)", S),
    Spec(math.cosh, "math.cosh(a)", S),
    Spec(math.asin, "math.asin(a)", S, domain="unit"),
    Spec(math.acos, "math.acos(a)", S, domain="unit"),
    Spec(math.atan, "math.atan(a)", S),
    Spec(math.atan2, "math.atan2(a, b)", S2, domain=("real", "nonzero")),
    Spec(math.hypot, "math.hypot(a, b)", S2, domain="nonzero"),
    Spec(math.pow, "math.pow(a, b)", S2, domain="pos"),
    Spec(math.pow, "math.pow(a, 3)", S),
    Spec(math.fabs, "math.fabs(a)", S, domain="nonzero"),
    Spec(math.erf, "math.erf(a)", S),
    Spec(math.copysign, "math.copysign(a, b)", S2, domain="nonzero"),
    Spec(math.erfc, "math.erfc(a)", S),
    Spec(math.asinh, "math.asinh(a)", S),
    Spec(math.acosh, "math.acosh(a + 1.5)", S, domain="pos"),
    Spec(math.atanh, "math.atanh(a)", S, domain="unit"),
    Spec(math.lgamma, "math.lgamma(a)", S, domain="pos"),
    Spec(math.gamma, "math.gamma(a)", S, domain="pos"),
    Spec(math_rules.polygamma, "srcgrad.rules.math.polygamma(0, a)", S, domain="pos"),
    Spec(math_rules.polygamma, "srcgrad.rules.math.polygamma(2, a)", S, domain="pos"),
]


test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)


def test_every_math_rule_has_a_spec():
    assert missing_specs(SPECS, "srcgrad.rules.math") == []


@pytest.mark.parametrize("expression, expected", [
    ("a * math.floor(a)", lambda a: 2 * math.floor(a)),
    ("a * math.ceil(a)", lambda a: 2 * math.ceil(a)),
    ("a * math.trunc(a)", lambda a: 2 * math.trunc(a)),
    ("a * math.isfinite(a)", lambda a: 2.0),
    ("a * math.isnan(a)", lambda a: 0.0),
    ("a * math.isinf(a)", lambda a: 0.0),
    ("a * math.factorial(3)", lambda a: 12.0),
    ("a * math.gcd(4, 6)", lambda a: 4.0),
    ("a * math.isclose(a, 1.0)", lambda a: 0.0),
])
def test_nondiff_math_passes_zero_gradient(expression, expected, tmp_path):
    """``math.floor`` and friends are constants: ``2 * a * floor(a)`` has gradient ``2 * floor(a)``."""
    f = define(tmp_path, f"def f(a):\n    return 2.0 * {expression}\n")
    for a in (1.7, -0.4):
        grad, = check_gradient(f, a)
        assert grad == expected(a)


def test_math_rule_of_a_numpy_float():
    """A ``np.float64`` (say, from a reduction) goes through ``math`` like a float."""
    import srcgrad

    grad, = srcgrad.gradient(lambda x: math.sin(np.sum(x)), np.array([0.25, 0.5]))
    np.testing.assert_allclose(grad, [math.cos(0.75)] * 2)


def test_polygamma_of_floats_matches_scipy():
    """srcgrad's own polygamma (``math`` has no digamma, which ``lgamma``'s gradient needs) is SciPy's."""
    special = pytest.importorskip("scipy.special")
    for n in range(4):
        for x in (0.3, 1.0, 2.5, 9.9, 15.0):
            np.testing.assert_allclose(math_rules.polygamma(n, x), special.polygamma(n, x), rtol=1e-12)
