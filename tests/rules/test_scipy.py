"""Rules for ``scipy.special`` and ``scipy.stats`` (srcgrad/rules/scipy_*.py), checked against finite differences."""

import numpy as np
import pytest

import srcgrad

from .specs import Spec, define, keyword_variants, missing_specs, table_tests

special = pytest.importorskip("scipy.special")

UNARY = [(), (3,), (2, 3)]
BINARY = [((), ()), ((3,), (3,)), ((2, 3), (3,))]
S = "scipy.special."


def unary(name, domain="real", shapes=UNARY, call=None):
    """The spec of ``scipy.special.name(a)`` (or of ``call``, written with ``a``)."""
    return Spec(getattr(special, name), S + (call or f"{name}(a)"), shapes, domain=domain)


SPECS = [
    unary("logit", "pos", call="logit(a / 2.5)"),
    unary("erfc"),
    unary("erfcx"),
    unary("erfinv", "unit"),
    unary("erfcinv", "pos", call="erfcinv(a / 1.1)"),
    unary("ndtr"),
    unary("log_ndtr"),
    unary("ndtri", "pos", call="ndtri(a / 2.5)"),
    unary("gamma", "pos"),
    unary("rgamma", "pos"),
    unary("j0"), unary("j1"), unary("y0", "pos"), unary("y1", "pos"),
    unary("i0"), unary("i1"), unary("i0e", "nonzero"), unary("i1e", "nonzero"),
    Spec(special.beta, S + "beta(a, b)", BINARY, domain="pos"),
    Spec(special.betaln, S + "betaln(a, b)", BINARY, domain="pos"),
    Spec(special.betainc, S + "betainc(2, 3, a / 2.5)", UNARY, domain="pos"),
    Spec(special.gammainc, S + "gammainc(3, a)", UNARY, domain="pos"),
    Spec(special.gammaincc, S + "gammaincc(2, a)", UNARY, domain="pos"),
    Spec(special.jv, S + "jn(2, a)", UNARY),
    Spec(special.jv, S + "jv(np.arange(3), a)", [(3,), (2, 3)]),
    Spec(special.yn, S + "yn(2, a)", UNARY, domain="pos"),
    Spec(special.iv, S + "iv(1, a)", UNARY),
    Spec(special.iv, S + "iv(np.arange(3), a)", [(2, 3)]),
    Spec(special.ive, S + "ive(2, a)", UNARY, domain="nonzero"),
    Spec(special.multigammaln, S + "multigammaln(a + 2.0, 3)", [(), (3,)], domain="pos"),
    Spec(special.xlogy, S + "xlogy(a, b)", BINARY, domain=("real", "pos")),
    Spec(special.xlog1py, S + "xlog1py(a, b)", BINARY, domain=("real", "pos")),
    Spec(special.softmax, S + "softmax(a)", [(4,), (2, 3)]),
    Spec(special.softmax, S + "softmax(a, axis=1)", [(2, 3)]),
    Spec(special.log_softmax, S + "log_softmax(a)", [(4,), (2, 3)]),
    Spec(special.log_softmax, S + "log_softmax(a, axis=0)", [(2, 3)]),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)

KEYWORD_SPECS = keyword_variants(SPECS)
(test_keyword_inline, test_keyword_dynamic, test_keyword_rule_shapes, test_keyword_forward,
 test_keyword_forward_dynamic) = table_tests(KEYWORD_SPECS)


def test_every_scipy_rule_has_a_spec():
    assert missing_specs(SPECS, "srcgrad.rules.scipy_special",
                         skip=lambda rule: rule.primal in (special.logsumexp, special.expit, special.erf,
                                                           special.gammaln, special.digamma,
                                                           special.polygamma)) == []


def test_gammasgn_passes_no_gradient():
    grad, = srcgrad.gradient(lambda x: x * special.gammasgn(x), -0.5)
    assert grad == -1.0


@pytest.mark.parametrize("call, name", [
    ("scipy.special.gammainc(a, 2.0)", "a of scipy.special.gammainc"),
    ("scipy.special.gammaincc(a, 2.0)", "a of scipy.special.gammaincc"),
    ("scipy.special.betainc(a, 2.0, 0.5)", "a of scipy.special.betainc"),
    ("scipy.special.betainc(2.0, a, 0.5)", "b of scipy.special.betainc"),
    ("scipy.special.iv(a, 2.0)", "v of scipy.special.iv"),
    ("scipy.special.ive(a, 2.0)", "v of scipy.special.ive"),
    ("scipy.special.jv(a, 2.0)", "v of scipy.special.jv"),
])
def test_gradient_in_a_real_order_is_refused(call, name, tmp_path):
    """No closed form for these: asked for, the gradient is refused by name, in both modes, never a zero."""
    f = define(tmp_path, f"def f(a):\n    return {call}\n")
    with pytest.raises(srcgrad.NoRuleError, match=f"gradient with respect to {name} is not implemented"):
        srcgrad.gradient(f, 1.5)
    with pytest.raises(srcgrad.NoRuleError, match=f"gradient with respect to {name} is not implemented"):
        srcgrad.jvp(f, (1.5,), (1.0,))


def test_constant_real_order_is_not_refused(tmp_path):
    """A real order held constant is fine: only its own gradient is refused."""
    f = define(tmp_path, "def f(x):\n    v = 1.5\n    return scipy.special.iv(v, x) + scipy.special.gammainc(2.5, x)\n")
    grad, = srcgrad.gradient(f, 1.2)
    expected = (special.iv(0.5, 1.2) + special.iv(2.5, 1.2)) / 2 + 1.2 ** 1.5 * np.exp(-1.2) / special.gamma(2.5)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
