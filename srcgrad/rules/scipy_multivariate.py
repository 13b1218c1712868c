"""Rules for ``scipy.stats.multivariate_normal`` and ``scipy.stats.dirichlet``, registered with scipy.stats.

Their methods run as stand-ins with their real signatures, as the univariate
densities of :mod:`.scipy_stats` do; a frozen one is refused the same way.
"""

import sys

import numpy as np

from ..errors import NoRuleError
from . import scipy_stats
from .registry import when_imported

#: ``scipy.stats`` and ``scipy.special``, once imported (the rules read them, as inlined rules do).
_stats = None
_special = None


def mvn_logpdf(x, mean=None, cov=1, allow_singular=False):
    """``scipy.stats.multivariate_normal.logpdf``: ``-(d log 2 pi + log det cov + r' cov^-1 r) / 2``."""
    return _stats.multivariate_normal.logpdf(x, mean, cov, allow_singular)


def mvn_pdf(x, mean=None, cov=1, allow_singular=False):
    """``scipy.stats.multivariate_normal.pdf``."""
    return _stats.multivariate_normal.pdf(x, mean, cov, allow_singular)


def mvn_entropy(mean=None, cov=1):
    """``scipy.stats.multivariate_normal.entropy``: ``log det(2 pi e cov) / 2``."""
    return _stats.multivariate_normal.entropy(mean, cov)


def covariance(x, cov):
    """``cov`` as the ``d x d`` matrix it stands for; refused unless it is one (a scalar or diagonal is not)."""
    if np.ndim(cov) != 2 or np.shape(cov) != (np.shape(x)[-1],) * 2:
        raise NoRuleError("srcgrad's rule for scipy.stats.multivariate_normal takes x of shape (..., d) and cov "
                          f"as a d x d matrix, not x of shape {np.shape(x)} with cov of shape {np.shape(cov)}",
                          fix="pass the full covariance matrix (np.eye(d) * s for a scalar s)")
    return cov


def whitened(x, mean, cov):
    """``cov^-1 (x - mean)``, one row per point."""
    return (x - (0 if mean is None else mean)) @ np.linalg.inv(covariance(x, cov)).T


def mvn_grads(dy, x, mean, cov):
    """The logpdf's ``(dx, dmean, dcov)``: ``-dy s``, ``sum dy s``, ``(sum dy s s' - sum dy cov^-1) / 2``.

    ``s = cov^-1 (x - mean)``; the gradient in ``cov`` is the symmetric one, as for a function of symmetric matrices.
    """
    s = whitened(x, mean, cov)
    dy = np.reshape(dy, np.shape(x)[:-1] + (1,))
    weighted = np.reshape(dy * s, (-1, np.shape(x)[-1]))
    outer = weighted.T @ np.reshape(s, (-1, np.shape(x)[-1]))
    dcov = (outer - np.sum(dy) * np.linalg.inv(cov)) / 2
    return -dy * s, None if mean is None else np.sum(weighted, axis=0), dcov, None


def mvn_logpdf_rule(dy, y, x, mean=None, cov=1, allow_singular=False):
    """See :func:`mvn_grads`."""
    return mvn_grads(dy, x, mean, cov)


def mvn_pdf_rule(dy, y, x, mean=None, cov=1, allow_singular=False):
    """``y`` times the logpdf's gradients."""
    return mvn_grads(dy * y, x, mean, cov)


def mvn_log_tangent(dargs, x, mean, cov):
    """The logpdf's tangent: ``-s'dx + s'dmean + (s' dcov s - tr(cov^-1 dcov)) / 2``, one per point."""
    dx, dmean, dcov = (tuple(dargs) + (None,) * 3)[:3]
    s = whitened(x, mean, cov)
    total = np.zeros(np.shape(x)[:-1])
    if dx is not None:
        total = total - np.sum(s * dx, axis=-1)
    if dmean is not None:
        total = total + np.sum(s * dmean, axis=-1)
    if dcov is not None:
        total = total + (np.sum(s * (s @ dcov.T), axis=-1) - np.trace(np.linalg.solve(cov, dcov))) / 2
    return total


def mvn_logpdf_tangent(dargs, y, x, mean=None, cov=1, allow_singular=False):
    """See :func:`mvn_log_tangent`, shaped like ``y``."""
    return np.reshape(mvn_log_tangent(dargs, x, mean, cov), np.shape(y))


def mvn_pdf_tangent(dargs, y, x, mean=None, cov=1, allow_singular=False):
    """``y`` times the logpdf's tangent."""
    return y * np.reshape(mvn_log_tangent(dargs, x, mean, cov), np.shape(y))


def mvn_entropy_rule(dy, y, mean=None, cov=1):
    """``d/dcov = cov^-1 / 2``; none in ``mean``."""
    return None, dy * np.linalg.inv(covariance(np.zeros(np.shape(cov)[-1]), cov)) / 2


def mvn_entropy_tangent(dargs, y, mean=None, cov=1):
    """``tr(cov^-1 dcov) / 2``."""
    dcov = dargs[1] if len(dargs) > 1 else None
    return np.zeros(np.shape(y)) if dcov is None else np.trace(np.linalg.solve(cov, dcov)) / 2


def dirichlet_logpdf(x, alpha):
    """``scipy.stats.dirichlet.logpdf``: ``gammaln(sum alpha) - sum gammaln(alpha) + sum (alpha - 1) log x``."""
    return _stats.dirichlet.logpdf(x, alpha)


def dirichlet_pdf(x, alpha):
    """``scipy.stats.dirichlet.pdf``."""
    return _stats.dirichlet.pdf(x, alpha)


def dirichlet_grads(dy, x, alpha):
    """``(alpha - 1) / x`` and ``digamma(sum alpha) - digamma(alpha) + log x`` (``x``: one column per point)."""
    a = np.reshape(alpha, (-1,) + (1,) * (np.ndim(x) - 1))
    da = dy * (_special.digamma(np.sum(alpha)) - _special.digamma(a) + np.log(x))
    return dy * (a - 1) / x, np.reshape(np.sum(np.reshape(da, (np.size(alpha), -1)), axis=1), np.shape(alpha))


def dirichlet_logpdf_rule(dy, y, x, alpha):
    """See :func:`dirichlet_grads`."""
    return dirichlet_grads(dy, x, alpha)


def dirichlet_pdf_rule(dy, y, x, alpha):
    """``y`` times the logpdf's gradients."""
    return dirichlet_grads(dy * y, x, alpha)


def dirichlet_log_tangent(dargs, x, alpha):
    """The logpdf's tangent: ``sum((alpha - 1) / x dx) + sum((digamma(sum alpha) - digamma(alpha) + log x) dalpha)``."""
    dx, dalpha = (tuple(dargs) + (None, None))[:2]
    a = np.reshape(alpha, (-1,) + (1,) * (np.ndim(x) - 1))
    total = np.zeros(np.shape(x)[1:])
    if dx is not None:
        total = total + np.sum((a - 1) / x * dx, axis=0)
    if dalpha is not None:
        slope = _special.digamma(np.sum(alpha)) - _special.digamma(a) + np.log(x)
        total = total + np.sum(slope * np.reshape(dalpha, np.shape(a)), axis=0)
    return total


def dirichlet_logpdf_tangent(dargs, y, x, alpha):
    """See :func:`dirichlet_log_tangent`."""
    return np.reshape(dirichlet_log_tangent(dargs, x, alpha), np.shape(y))


def dirichlet_pdf_tangent(dargs, y, x, alpha):
    """``y`` times the logpdf's tangent."""
    return y * np.reshape(dirichlet_log_tangent(dargs, x, alpha), np.shape(y))


#: ``(distribution, method) -> (stand-in, rule, forward)``.
TABLE = {
    ("multivariate_normal", "logpdf"): (mvn_logpdf, mvn_logpdf_rule, mvn_logpdf_tangent),
    ("multivariate_normal", "pdf"): (mvn_pdf, mvn_pdf_rule, mvn_pdf_tangent),
    ("multivariate_normal", "entropy"): (mvn_entropy, mvn_entropy_rule, mvn_entropy_tangent),
    ("dirichlet", "logpdf"): (dirichlet_logpdf, dirichlet_logpdf_rule, dirichlet_logpdf_tangent),
    ("dirichlet", "pdf"): (dirichlet_pdf, dirichlet_pdf_rule, dirichlet_pdf_tangent),
}


def _register():
    """The table, added to :mod:`.scipy_stats`'s (which registered first: this module imports it)."""
    global _stats, _special
    _stats, _special = sys.modules["scipy.stats"], sys.modules["scipy.special"]
    scipy_stats.register(TABLE)


when_imported("scipy.stats", _register)
