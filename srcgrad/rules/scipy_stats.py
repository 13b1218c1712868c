"""Rules for ``scipy.stats``'s univariate densities, registered once the program has imported ``scipy.stats``.

``scipy.stats.norm.logpdf`` is a method of the distribution object
``scipy.stats.norm`` (made anew at each attribute access, its parameters
hidden behind ``*args, **kwds``). Each method with a rule here has a
*stand-in*: a plain function with the method's real signature
(``norm_logpdf(x, loc=0.0, scale=1.0)``) that computes the same value and
carries the rule, so keywords (``loc=``, ``df=``) fill their positions as for
any function. The calling layer differentiates a call of the method as a
call of its stand-in (:func:`stand_in`), and never reads SciPy's source.
(:mod:`.scipy_multivariate` adds ``multivariate_normal`` and ``dirichlet`` to the same table.)

A frozen distribution (``scipy.stats.norm(0, 1).logpdf(x)``) is refused
with a :class:`~srcgrad.NoRuleError` that names the unfrozen form.

Shape parameters without a closed-form gradient (``t.cdf``'s ``df``,
``gamma.cdf``'s ``a``) are refused when asked for, never a silent zero.
"""

import functools
import sys
import types

import numpy as np

from ..errors import NoRuleError
from ..runtime.located import call_site
from . import registry
from .registry import defrule, when_imported
from .scipy_special import order_grad

rule = functools.partial(defrule, _builtin=True)
shaped = functools.partial(defrule, _builtin=True, broadcast=False)

#: ``scipy.stats`` and ``scipy.special``, once imported (the rules read them, as inlined rules do).
_stats = None
_special = None
LOG_2PI = np.log(2 * np.pi)

#: ``(distribution object, method name) -> stand-in``: what a call of ``scipy.stats.norm.logpdf`` runs as.
STAND_INS: dict = {}
#: The methods with a rule, by name: a frozen distribution's are refused.
METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "pmf", "logpmf", "entropy")


def stand_in(method):
    """What to differentiate for a call of the bound ``method``: its stand-in, or ``method`` itself."""
    owner = getattr(method, "__self__", None)
    found = STAND_INS.get((owner, method.__name__)) if isinstance(owner, _distributions) else None
    if found is not None:
        return found
    if isinstance(owner, _distributions):  # (traced, SciPy's source would fail on its **kwds)
        filename, lineno, context = call_site()
        raise NoRuleError(f"srcgrad has no rule for scipy.stats.{name_of(owner)}.{method.__name__}{context}",
                          filename=filename, lineno=lineno,
                          fix="compute it outside the function being differentiated, or write the formula with "
                              "NumPy and scipy.special (docs/rules.md lists the distributions srcgrad knows)")
    if isinstance(owner, _frozen) and method.__name__ in METHODS:
        raise frozen_error(f"the {method.__name__} of a frozen distribution", method.__name__)
    return method


def refuse_freezing(distribution):
    """A frozen distribution (``scipy.stats.norm(mu, s)``) made in differentiated code is refused."""
    raise frozen_error(f"freezing scipy.stats.{name_of(distribution)}", "logpdf")


def name_of(distribution):
    """``norm`` for ``scipy.stats.norm`` (``multivariate_normal`` for its ``multivariate_normal_gen``)."""
    return getattr(distribution, "name", None) or type(distribution).__name__.removesuffix("_gen")


def frozen_error(what, method):
    filename, lineno, context = call_site()
    return NoRuleError(f"srcgrad has no rule for {what}{context}", filename=filename, lineno=lineno,
                       fix=f"call the distribution's own method with its parameters: scipy.stats.norm.{method}(x, loc, "
                           f"scale), not scipy.stats.norm(loc, scale).{method}(x)")


_distributions = ()
_frozen = ()


def located(dz, z, scale, jacobian):
    """``(dx, dloc, dscale)`` of ``f((x - loc) / scale) - jacobian * log(scale)``, given ``dz = dy f'(z)``."""
    return dz / scale, -dz / scale, -(dz * z + jacobian) / scale


# ------------------------------------------------------------------ norm

def norm_logpdf(x, loc=0.0, scale=1.0):
    """``scipy.stats.norm.logpdf``: ``-z^2 / 2 - log(scale) - log(2 pi) / 2``."""
    return _stats.norm.logpdf(x, loc, scale)


def norm_pdf(x, loc=0.0, scale=1.0):
    """``scipy.stats.norm.pdf``."""
    return _stats.norm.pdf(x, loc, scale)


def norm_cdf(x, loc=0.0, scale=1.0):
    """``scipy.stats.norm.cdf``: ``ndtr(z)``."""
    return _stats.norm.cdf(x, loc, scale)


def norm_logcdf(x, loc=0.0, scale=1.0):
    """``scipy.stats.norm.logcdf``: ``log_ndtr(z)``."""
    return _stats.norm.logcdf(x, loc, scale)


def norm_sf(x, loc=0.0, scale=1.0):
    """``scipy.stats.norm.sf``: ``ndtr(-z)``."""
    return _stats.norm.sf(x, loc, scale)


def norm_logsf(x, loc=0.0, scale=1.0):
    """``scipy.stats.norm.logsf``: ``log_ndtr(-z)``."""
    return _stats.norm.logsf(x, loc, scale)


def normal_density(z):
    """``exp(-z^2 / 2) / sqrt(2 pi)``."""
    return np.exp(-z ** 2 / 2 - LOG_2PI / 2)


def mills(z):
    """``pdf(z) / cdf(z)``, by logarithms: ``exp(-z^2 / 2 - log_ndtr(z)) / sqrt(2 pi)``."""
    return np.exp(-z ** 2 / 2 - LOG_2PI / 2 - _special.log_ndtr(z))


def norm_logpdf_rule(dy, y, x, loc=0.0, scale=1.0):
    """``d/dz = -z``, and ``-1 / scale`` from the Jacobian."""
    return located(-dy * (x - loc) / scale, (x - loc) / scale, scale, dy)


def norm_pdf_rule(dy, y, x, loc=0.0, scale=1.0):
    """``y`` times the logpdf's gradients."""
    return located(-dy * y * (x - loc) / scale, (x - loc) / scale, scale, dy * y)


def norm_cdf_rule(dy, y, x, loc=0.0, scale=1.0):
    """``d/dz = pdf(z)``."""
    return located(dy * normal_density((x - loc) / scale), (x - loc) / scale, scale, 0)


def norm_logcdf_rule(dy, y, x, loc=0.0, scale=1.0):
    """``d/dz = pdf(z) / cdf(z)``."""
    return located(dy * mills((x - loc) / scale), (x - loc) / scale, scale, 0)


def norm_sf_rule(dy, y, x, loc=0.0, scale=1.0):
    """``d/dz = -pdf(z)``."""
    return located(-dy * normal_density((x - loc) / scale), (x - loc) / scale, scale, 0)


def norm_logsf_rule(dy, y, x, loc=0.0, scale=1.0):
    """``d/dz = -pdf(z) / sf(z) = -mills(-z)``."""
    return located(-dy * mills((loc - x) / scale), (x - loc) / scale, scale, 0)


# ------------------------------------------------------------------ t

def t_logpdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.t.logpdf``."""
    return _stats.t.logpdf(x, df, loc, scale)


def t_pdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.t.pdf``."""
    return _stats.t.pdf(x, df, loc, scale)


def t_cdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.t.cdf``."""
    return _stats.t.cdf(x, df, loc, scale)


def t_logcdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.t.logcdf``."""
    return _stats.t.logcdf(x, df, loc, scale)


def t_log_density(z, df):
    """The standard t log-density: ``gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - (df+1)/2 log1p(z^2/df)``."""
    return (_special.gammaln((df + 1) / 2) - _special.gammaln(df / 2) - np.log(df * np.pi) / 2
            - (df + 1) / 2 * np.log1p(z ** 2 / df))


def t_df_slope(z, df):
    """``d/ddf`` of :func:`t_log_density`."""
    return ((_special.digamma((df + 1) / 2) - _special.digamma(df / 2) - 1 / df - np.log1p(z ** 2 / df)) / 2
            + (df + 1) / 2 * z ** 2 / (df * (df + z ** 2)))


def t_logpdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``d/dz = -(df + 1) z / (df + z^2)``; ``df`` by :func:`t_df_slope`."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(-dy * (df + 1) * z / (df + z ** 2), z, scale, dy)
    return dx, dy * t_df_slope(z, df), dloc, dscale


def t_pdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``y`` times the logpdf's gradients."""
    return t_logpdf_rule(dy * y, y, x, df, loc, scale)


def t_cdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``d/dz = pdf(z)``; ``df`` refused (no closed form)."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(dy * np.exp(t_log_density(z, df)), z, scale, 0)
    return dx, order_grad("scipy.stats.t.cdf", "df", df), dloc, dscale


def t_logcdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``d/dz = pdf(z) / cdf(z)``; ``df`` refused (no closed form)."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(dy * np.exp(t_log_density(z, df) - y), z, scale, 0)
    return dx, order_grad("scipy.stats.t.logcdf", "df", df), dloc, dscale


# ------------------------------------------------------------------ gamma, beta, chi2

def gamma_logpdf(x, a, loc=0.0, scale=1.0):
    """``scipy.stats.gamma.logpdf``: ``(a - 1) log z - z - gammaln(a) - log(scale)``."""
    return _stats.gamma.logpdf(x, a, loc, scale)


def gamma_pdf(x, a, loc=0.0, scale=1.0):
    """``scipy.stats.gamma.pdf``."""
    return _stats.gamma.pdf(x, a, loc, scale)


def gamma_cdf(x, a, loc=0.0, scale=1.0):
    """``scipy.stats.gamma.cdf``: ``gammainc(a, z)``."""
    return _stats.gamma.cdf(x, a, loc, scale)


def gamma_logpdf_rule(dy, y, x, a, loc=0.0, scale=1.0):
    """``d/dz = (a - 1) / z - 1``, ``d/da = log z - digamma(a)``."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(dy * ((a - 1) / z - 1), z, scale, dy)
    return dx, dy * (np.log(z) - _special.digamma(a)), dloc, dscale


def gamma_pdf_rule(dy, y, x, a, loc=0.0, scale=1.0):
    """``y`` times the logpdf's gradients."""
    return gamma_logpdf_rule(dy * y, y, x, a, loc, scale)


def gamma_cdf_rule(dy, y, x, a, loc=0.0, scale=1.0):
    """``d/dz`` is the density ``z^(a-1) exp(-z) / gamma(a)``; ``a`` refused (no closed form)."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(dy * np.exp((a - 1) * np.log(z) - z - _special.gammaln(a)), z, scale, 0)
    return dx, order_grad("scipy.stats.gamma.cdf", "a", a), dloc, dscale


def beta_logpdf(x, a, b, loc=0.0, scale=1.0):
    """``scipy.stats.beta.logpdf``: ``(a - 1) log z + (b - 1) log(1 - z) - betaln(a, b) - log(scale)``."""
    return _stats.beta.logpdf(x, a, b, loc, scale)


def beta_pdf(x, a, b, loc=0.0, scale=1.0):
    """``scipy.stats.beta.pdf``."""
    return _stats.beta.pdf(x, a, b, loc, scale)


def beta_cdf(x, a, b, loc=0.0, scale=1.0):
    """``scipy.stats.beta.cdf``: ``betainc(a, b, z)``."""
    return _stats.beta.cdf(x, a, b, loc, scale)


def beta_logpdf_rule(dy, y, x, a, b, loc=0.0, scale=1.0):
    """``d/dz = (a-1)/z - (b-1)/(1-z)``, ``d/da = log z - digamma(a) + digamma(a+b)``, ``b`` likewise."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(dy * ((a - 1) / z - (b - 1) / (1 - z)), z, scale, dy)
    both = _special.digamma(a + b)
    return (dx, dy * (np.log(z) - _special.digamma(a) + both), dy * (np.log1p(-z) - _special.digamma(b) + both),
            dloc, dscale)


def beta_pdf_rule(dy, y, x, a, b, loc=0.0, scale=1.0):
    """``y`` times the logpdf's gradients."""
    return beta_logpdf_rule(dy * y, y, x, a, b, loc, scale)


def beta_cdf_rule(dy, y, x, a, b, loc=0.0, scale=1.0):
    """``d/dz`` is the beta density; ``a`` and ``b`` refused (no closed form)."""
    z = (x - loc) / scale
    density = np.exp((a - 1) * np.log(z) + (b - 1) * np.log1p(-z) - _special.betaln(a, b))
    dx, dloc, dscale = located(dy * density, z, scale, 0)
    return (dx, order_grad("scipy.stats.beta.cdf", "a", a), order_grad("scipy.stats.beta.cdf", "b", b),
            dloc, dscale)


def chi2_logpdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.chi2.logpdf``: ``(df/2 - 1) log z - z/2 - df/2 log 2 - gammaln(df/2) - log(scale)``."""
    return _stats.chi2.logpdf(x, df, loc, scale)


def chi2_pdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.chi2.pdf``."""
    return _stats.chi2.pdf(x, df, loc, scale)


def chi2_cdf(x, df, loc=0.0, scale=1.0):
    """``scipy.stats.chi2.cdf``: ``gammainc(df / 2, z / 2)``."""
    return _stats.chi2.cdf(x, df, loc, scale)


def chi2_logpdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``d/dz = (df/2 - 1) / z - 1/2``, ``d/ddf = (log(z / 2) - digamma(df / 2)) / 2``."""
    z = (x - loc) / scale
    dx, dloc, dscale = located(dy * ((df / 2 - 1) / z - 0.5), z, scale, dy)
    return dx, dy * (np.log(z / 2) - _special.digamma(df / 2)) / 2, dloc, dscale


def chi2_pdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``y`` times the logpdf's gradients."""
    return chi2_logpdf_rule(dy * y, y, x, df, loc, scale)


def chi2_cdf_rule(dy, y, x, df, loc=0.0, scale=1.0):
    """``d/dz`` is the chi-squared density; ``df`` refused (no closed form)."""
    z = (x - loc) / scale
    density = np.exp((df / 2 - 1) * np.log(z / 2) - z / 2 - _special.gammaln(df / 2)) / 2
    dx, dloc, dscale = located(dy * density, z, scale, 0)
    return dx, order_grad("scipy.stats.chi2.cdf", "df", df), dloc, dscale


# ------------------------------------------------------------------ poisson (in mu; k is a count)

def poisson_logpmf(k, mu, loc=0):
    """``scipy.stats.poisson.logpmf``: ``k log mu - mu - gammaln(k + 1)``."""
    return _stats.poisson.logpmf(k, mu, loc)


def poisson_pmf(k, mu, loc=0):
    """``scipy.stats.poisson.pmf``."""
    return _stats.poisson.pmf(k, mu, loc)


def poisson_cdf(k, mu, loc=0):
    """``scipy.stats.poisson.cdf``: ``gammaincc(floor(k) + 1, mu)``."""
    return _stats.poisson.cdf(k, mu, loc)


def poisson_logpmf_rule(dy, y, k, mu, loc=0):
    """``d/dmu = k / mu - 1`` (the count ``k`` and shift ``loc`` are integers: no gradient)."""
    return None, dy * ((k - loc) / mu - 1), None


def poisson_pmf_rule(dy, y, k, mu, loc=0):
    """``y (k / mu - 1)``."""
    return None, dy * y * ((k - loc) / mu - 1), None


def poisson_cdf_rule(dy, y, k, mu, loc=0):
    """``d/dmu = -pmf(floor(k), mu)``."""
    n = np.floor(k - loc)
    return None, -dy * np.exp(n * np.log(mu) - mu - _special.gammaln(n + 1)), None


#: ``(distribution, method) -> (stand-in, rule, forward)``: ``forward`` None for an elementwise rule (diagonal).
TABLE = {
    ("norm", "logpdf"): (norm_logpdf, norm_logpdf_rule, None), ("norm", "pdf"): (norm_pdf, norm_pdf_rule, None),
    ("norm", "cdf"): (norm_cdf, norm_cdf_rule, None), ("norm", "logcdf"): (norm_logcdf, norm_logcdf_rule, None),
    ("norm", "sf"): (norm_sf, norm_sf_rule, None), ("norm", "logsf"): (norm_logsf, norm_logsf_rule, None),
    ("t", "logpdf"): (t_logpdf, t_logpdf_rule, None), ("t", "pdf"): (t_pdf, t_pdf_rule, None),
    ("t", "cdf"): (t_cdf, t_cdf_rule, None), ("t", "logcdf"): (t_logcdf, t_logcdf_rule, None),
    ("gamma", "logpdf"): (gamma_logpdf, gamma_logpdf_rule, None), ("gamma", "pdf"): (gamma_pdf, gamma_pdf_rule, None),
    ("gamma", "cdf"): (gamma_cdf, gamma_cdf_rule, None),
    ("beta", "logpdf"): (beta_logpdf, beta_logpdf_rule, None), ("beta", "pdf"): (beta_pdf, beta_pdf_rule, None),
    ("beta", "cdf"): (beta_cdf, beta_cdf_rule, None),
    ("chi2", "logpdf"): (chi2_logpdf, chi2_logpdf_rule, None), ("chi2", "pdf"): (chi2_pdf, chi2_pdf_rule, None),
    ("chi2", "cdf"): (chi2_cdf, chi2_cdf_rule, None),
    ("poisson", "logpmf"): (poisson_logpmf, poisson_logpmf_rule, None),
    ("poisson", "pmf"): (poisson_pmf, poisson_pmf_rule, None),
    ("poisson", "cdf"): (poisson_cdf, poisson_cdf_rule, None),
}


def register(table):
    """Register each row of ``table``, ``(distribution, method) -> (stand-in, rule, forward)``."""
    for (name, method), (function, reverse, forward) in table.items():
        STAND_INS[(getattr(_stats, name), method)] = function
        (rule if forward is None else shaped)(function, forward=forward)(reverse)
        registry.callee_stand_ins[type(getattr(_stats, name))] = refuse_freezing


def _register():
    """The table: each distribution's methods, their stand-ins and rules; the calling layer told of them."""
    global _stats, _special, _distributions, _frozen

    _stats, _special = sys.modules["scipy.stats"], sys.modules["scipy.special"]
    infrastructure = sys.modules["scipy.stats._distn_infrastructure"]
    multivariate = sys.modules["scipy.stats._multivariate"]
    _distributions = (infrastructure.rv_generic, multivariate.multi_rv_generic)
    _frozen = (infrastructure.rv_frozen, multivariate.multi_rv_frozen)
    # (The calling layer looks no bound method up in the rule table: it asks here what a call of one runs as.)
    registry.callee_stand_ins[types.MethodType] = stand_in
    register(TABLE)


when_imported("scipy.stats", _register)
