"""Rules for ``scipy.special`` and ``scipy.stats`` (srcgrad/rules/scipy_*.py), checked against finite differences."""

import numpy as np
import pytest

import srcgrad
from srcgrad.rules import registry
from srcgrad.rules import scipy_multivariate as mv
from srcgrad.rules import scipy_stats as st

from .specs import Spec, define, keyword_variants, missing_specs, table_tests

special = pytest.importorskip("scipy.special")
stats = pytest.importorskip("scipy.stats")
registry.load_optional_rules()  # (scipy.stats's rows are registered at the registry's first use after its import)

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

LOCATED = [((), (), ()), ((3,), (3,), ()), ((2, 3), (3,), (2, 3))]
SHAPED = [((), (), (), ()), ((3,), (), (3,), ()), ((2, 3), (3,), (), (2, 3))]
COV = "c @ c.T + 3.0 * np.eye(3)"
D = "scipy.stats."

SPECS += [
    *[Spec(getattr(st, f"norm_{m}"), D + f"norm.{m}(a, b, c)", LOCATED, domain=("real", "real", "pos"))
      for m in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    Spec(st.norm_logpdf, D + "norm.logpdf(a)", UNARY, id="norm.logpdf-standard"),
    Spec(st.t_logpdf, D + "t.logpdf(a, b + 2.0, c, d)", SHAPED, domain=("real", "pos", "real", "pos")),
    Spec(st.t_pdf, D + "t.pdf(a, b + 2.0, c, d)", SHAPED, domain=("real", "pos", "real", "pos")),
    Spec(st.t_cdf, D + "t.cdf(a, 3, b, c)", LOCATED, domain=("real", "real", "pos")),
    Spec(st.t_logcdf, D + "t.logcdf(a, 4, b, c)", LOCATED, domain=("real", "real", "pos")),
    Spec(st.gamma_logpdf, D + "gamma.logpdf(a, b + 1.0, c - 1.0, d)", SHAPED, domain=("pos", "pos", "unit", "pos")),
    Spec(st.gamma_pdf, D + "gamma.pdf(a, b + 1.0, c - 1.0, d)", SHAPED, domain=("pos", "pos", "unit", "pos")),
    Spec(st.gamma_cdf, D + "gamma.cdf(a, 2, b - 1.0, c)", LOCATED, domain=("pos", "unit", "pos")),
    Spec(st.beta_logpdf, D + "beta.logpdf(a, b, c, d - 2.0, 4.0)", SHAPED, domain="pos"),
    Spec(st.beta_pdf, D + "beta.pdf(a / 2.5, b, c)", LOCATED, domain="pos"),
    Spec(st.beta_cdf, D + "beta.cdf(a, 2, 3, b - 2.0, c + 3.5)", LOCATED, domain="pos"),
    Spec(st.chi2_logpdf, D + "chi2.logpdf(a, b + 1.0, c - 1.0, d)", SHAPED, domain=("pos", "pos", "unit", "pos")),
    Spec(st.chi2_pdf, D + "chi2.pdf(a, b + 1.0)", [((), ()), ((3,), (3,))], domain="pos"),
    Spec(st.chi2_cdf, D + "chi2.cdf(a, 3, b - 1.0, c)", LOCATED, domain=("pos", "unit", "pos")),
    Spec(st.poisson_logpmf, D + "poisson.logpmf(np.arange(3), a)", [(), (3,)], domain="pos"),
    Spec(st.poisson_pmf, D + "poisson.pmf(4, a, 1)", UNARY, domain="pos"),
    Spec(st.poisson_cdf, D + "poisson.cdf(2, a)", UNARY, domain="pos"),
    Spec(mv.mvn_logpdf, D + f"multivariate_normal.logpdf(a, b, {COV})", [((3,), (3,), (3, 3)), ((4, 3), (3,), (3, 3))]),
    Spec(mv.mvn_pdf, D + f"multivariate_normal.pdf(a, b, {COV})", [((3,), (3,), (3, 3)), ((2, 3), (3,), (3, 3))],
         domain=("unit", "unit", "real")),
    Spec(mv.mvn_entropy, D + "multivariate_normal.entropy(np.zeros(3), a @ a.T + 3.0 * np.eye(3))", [(3, 3)]),
    Spec(mv.dirichlet_logpdf, D + "dirichlet.logpdf(a / np.sum(a, axis=0), b)", [((3,), (3,)), ((3, 2), (3,))],
         domain="pos"),
    Spec(mv.dirichlet_pdf, D + "dirichlet.pdf(a / np.sum(a, axis=0), b)", [((3,), (3,)), ((3, 2), (3,))], domain="pos"),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)

KEYWORD_SPECS = keyword_variants(SPECS)
(test_keyword_inline, test_keyword_dynamic, test_keyword_rule_shapes, test_keyword_forward,
 test_keyword_forward_dynamic) = table_tests(KEYWORD_SPECS)


def test_every_scipy_stats_rule_has_a_spec():
    assert missing_specs(SPECS, "srcgrad.rules.scipy_stats") == []
    assert missing_specs(SPECS, "srcgrad.rules.scipy_multivariate") == []


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


def test_a_distribution_method_held_in_a_variable():
    """``logpdf = scipy.stats.norm.logpdf`` held and called later runs the same rule."""
    logpdf = stats.norm.logpdf
    grad, = srcgrad.gradient(lambda x: logpdf(x, 0.5, scale=2.0), 0.3)
    np.testing.assert_allclose(grad, -(0.3 - 0.5) / 4.0, rtol=1e-12)
    _, tangent = srcgrad.jvp(lambda s: logpdf(0.3, 0.5, s), (2.0,), (1.0,))
    np.testing.assert_allclose(tangent, (0.2 / 2.0) ** 2 / 2.0 - 1 / 2.0, rtol=1e-12)


@pytest.mark.parametrize("call, name", [
    ("scipy.stats.t.cdf(0.3, a)", "df of scipy.stats.t.cdf"),
    ("scipy.stats.t.logcdf(0.3, df=a)", "df of scipy.stats.t.logcdf"),
    ("scipy.stats.gamma.cdf(0.3, a)", "a of scipy.stats.gamma.cdf"),
    ("scipy.stats.beta.cdf(0.3, 2, b=a)", "b of scipy.stats.beta.cdf"),
    ("scipy.stats.chi2.cdf(0.3, a)", "df of scipy.stats.chi2.cdf"),
])
def test_gradient_in_a_shape_without_closed_form_is_refused(call, name, tmp_path):
    f = define(tmp_path, f"import scipy.stats\n\n\ndef f(a):\n    return {call}\n")
    with pytest.raises(srcgrad.NoRuleError, match=f"gradient with respect to {name} is not implemented"):
        srcgrad.gradient(f, 2.5)


@pytest.mark.parametrize("body, what", [
    ("return scipy.stats.norm(0.0, 1.0).logpdf(a)", "the logpdf of a frozen distribution"),
    ("return scipy.stats.norm(a, 1.0).logpdf(0.3)", "freezing scipy.stats.norm"),
    ("return scipy.stats.multivariate_normal(np.zeros(2)).logpdf(a * np.ones(2))", "the logpdf of a frozen"),
])
def test_frozen_distributions_are_refused_by_name(body, what, tmp_path):
    """A frozen distribution is refused at the user's line, with the unfrozen form as the fix."""
    f = define(tmp_path, f"import scipy.stats\n\n\ndef f(a):\n    {body}\n")
    for differentiate in (lambda: srcgrad.gradient(f, 0.3), lambda: srcgrad.jvp(f, (0.3,), (1.0,))):
        with pytest.raises(srcgrad.NoRuleError, match=what) as excinfo:
            differentiate()
        assert "scipy.stats.norm.logpdf(x, loc, scale)" in str(excinfo.value)
        assert excinfo.value.filename.startswith(str(tmp_path))


@pytest.mark.parametrize("call, name", [
    ("scipy.stats.laplace.logpdf(a)", "scipy.stats.laplace.logpdf"),
    ("scipy.stats.norm.ppf(a / 3.0)", "scipy.stats.norm.ppf"),
    ("scipy.stats.multivariate_normal.logcdf(a * np.ones(2), np.zeros(2), np.eye(2))",
     "scipy.stats.multivariate_normal.logcdf"),
])
def test_a_distribution_method_without_a_rule_is_refused_at_the_call(call, name, tmp_path):
    """Not traced into SciPy's source (which fails there): refused at the user's line, by name."""
    f = define(tmp_path, f"import scipy.stats\n\n\ndef f(a):\n    return {call}\n")
    with pytest.raises(srcgrad.NoRuleError, match=f"no rule for {name}") as excinfo:
        srcgrad.gradient(f, 0.3)
    assert excinfo.value.filename.startswith(str(tmp_path))


@pytest.mark.parametrize("cov", ["2.0", "np.ones(3)"])
def test_multivariate_normal_takes_a_full_covariance(cov, tmp_path):
    """A scalar or diagonal ``cov`` (which SciPy accepts) is refused with the fix, not differentiated wrongly."""
    f = define(tmp_path, f"import scipy.stats\n\n\ndef f(a):\n    return scipy.stats.multivariate_normal.logpdf(a, "
                         f"np.zeros(3), {cov})\n")
    with pytest.raises(srcgrad.NoRuleError, match="cov as a d x d matrix"):
        srcgrad.gradient(f, np.ones(3))


def test_a_user_class_with_a_logpdf_method_is_differentiated_as_written(tmp_path):
    """Only SciPy's distributions run as stand-ins: a user's own ``logpdf`` method is read from its source."""
    f = define(tmp_path, """
class Model:
    def __init__(self, w):
        self.w = w

    def logpdf(self, x):
        return -self.w * x ** 2


def f(a):
    return Model(3.0).logpdf(a)
""")
    assert srcgrad.gradient(f, 0.5) == (-3.0,)


def test_gradients_agree_with_autograd():
    """A few of the rules against autograd's own (same maths, independent code)."""
    pytest.importorskip("autograd")
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.special as aspecial
    import autograd.scipy.stats as astats

    rng = np.random.default_rng(0)
    x, mean = rng.standard_normal((4, 3)), rng.standard_normal(3)
    root = rng.standard_normal((3, 3))
    cov = root @ root.T + 3.0 * np.eye(3)
    a, b = rng.uniform(0.5, 2.0, 3), rng.uniform(0.5, 2.0, 3)
    cases = [
        (lambda m, s: np.sum(stats.norm.logpdf(x, m, s)), lambda m, s: anp.sum(astats.norm.logpdf(x, m, s)),
         (0.3, 1.7)),
        (lambda m, c: np.sum(stats.multivariate_normal.logpdf(x, m, c)),
         lambda m, c: anp.sum(astats.multivariate_normal.logpdf(x, m, c)), (mean, cov)),
        (lambda u: np.sum(special.gammaln(u)), lambda u: anp.sum(aspecial.gammaln(u)), (a,)),
        (lambda u, v: np.sum(special.beta(u, v)), lambda u, v: anp.sum(aspecial.beta(u, v)), (a, b)),
        (lambda u: np.sum(special.i1(u) + special.jn(2, u)), lambda u: anp.sum(aspecial.i1(u) + aspecial.jn(2, u)),
         (a,)),
        (lambda u: np.sum(stats.t.logpdf(x[0], u)), lambda u: anp.sum(astats.t.logpdf(x[0], u)), (a,)),
    ]
    for ours, theirs, args in cases:
        expected = autograd.grad(theirs, list(range(len(args))))(*args)
        for got, want in zip(srcgrad.gradient(ours, *args), expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
