"""Rules for ``scipy.special``, registered once the program has imported it.

SciPy is optional and slow to import, so ``import srcgrad`` does not import
it: this module only asks the registry (:func:`~.registry.when_imported`)
to register the rows below before its first use after ``scipy.special`` is
imported. A program can only hold a SciPy function once it is, so every
SciPy function finds its rule, whichever is met first.

An argument that is an order or a shape parameter (``jn``'s ``n``, ``iv``'s
``v``, ``gammainc``'s ``a``) gets no gradient when it is an integer; where
no closed form exists for a real one, asking for it is refused
(:func:`order_grad`), never answered with a silent zero.
"""

import functools
import sys

import numpy as np

from ..errors import NoRuleError
from .reductions import logsumexp_grad, logsumexp_weight_grad
from .registry import defrule, nograd, when_imported
from .shaping import unreduce

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False, elementwise=True)
shaped = functools.partial(defrule, _builtin=True, broadcast=False)

#: ``scipy.special``, once imported (the rules below read it, as generated code that inlines them does).
_special = None
SQRT_PI = np.sqrt(np.pi)
SQRT_2PI = np.sqrt(2 * np.pi)


def order_grad(function, name, value):
    """No gradient for an integer order ``value``; a real one is refused (no closed form is implemented)."""
    if np.issubdtype(np.asarray(value).dtype, np.integer):
        return None
    raise NoRuleError(f"the gradient with respect to {name} of {function} is not implemented",
                      fix=f"pass {name} as an integer if it is one; a float {name} that reaches the call through a "
                          "parameter, or a function held as a value, counts as differentiated")


def logsumexp(dy, y, a, axis=None, b=None, keepdims=False):
    """``b exp(a - y)`` for ``a``, ``exp(a - y)`` for ``b``."""
    return (logsumexp_grad(dy, y, a, axis, b, keepdims), None, logsumexp_weight_grad(dy, y, a, axis, b, keepdims))


def logsumexp_tangent(dargs, y, a, axis=None, b=None, keepdims=False):
    """The forward rule: ``sum(b exp(a - y) da) + sum(exp(a - y) db)`` over the reduced axes."""
    da, db = dargs[0], dargs[2] if len(dargs) > 2 else None
    softmax = np.exp(a - unreduce(y, a, axis, keepdims))
    total = np.zeros(np.shape(y))
    if da is not None:
        total = total + np.sum((1 if b is None else b) * softmax * da, axis=axis, keepdims=keepdims)
    if db is not None:
        total = total + np.sum(softmax * db, axis=axis, keepdims=keepdims)
    return total


def softmax(dy, y, x, axis=None):
    """``y (dy - sum(dy y))`` over ``axis``."""
    return (y * (dy - np.sum(dy * y, axis=axis, keepdims=True)),)


def softmax_tangent(dargs, y, x, axis=None):
    """``y (dx - sum(y dx))`` over ``axis``."""
    return y * (dargs[0] - np.sum(y * dargs[0], axis=axis, keepdims=True))


def log_softmax(dy, y, x, axis=None):
    """``dy - exp(y) sum(dy)`` over ``axis``."""
    return (dy - np.exp(y) * np.sum(dy, axis=axis, keepdims=True),)


def log_softmax_tangent(dargs, y, x, axis=None):
    """``dx - sum(exp(y) dx)`` over ``axis``."""
    return dargs[0] - np.sum(np.exp(y) * dargs[0], axis=axis, keepdims=True)


def expit(dy, y, x):
    """``y (1 - y)``."""
    return (dy * y * (1 - y),)


def logit(dy, y, x):
    """``1 / (x (1 - x))``."""
    return (dy / (x * (1 - x)),)


def erf(dy, y, x):
    """``2 exp(-x^2) / sqrt(pi)``."""
    return (dy * 2 / SQRT_PI * np.exp(-x ** 2),)


def erfc(dy, y, x):
    """``-2 exp(-x^2) / sqrt(pi)``."""
    return (-dy * 2 / SQRT_PI * np.exp(-x ** 2),)


def erfcx(dy, y, x):
    """``erfcx = exp(x^2) erfc(x)``: ``2 x y - 2 / sqrt(pi)``."""
    return (dy * (2 * x * y - 2 / SQRT_PI),)


def erfinv(dy, y, x):
    """``sqrt(pi) / 2 exp(y^2)``."""
    return (dy * SQRT_PI / 2 * np.exp(y ** 2),)


def erfcinv(dy, y, x):
    """``-sqrt(pi) / 2 exp(y^2)``."""
    return (-dy * SQRT_PI / 2 * np.exp(y ** 2),)


def ndtr(dy, y, x):
    """The normal density ``exp(-x^2 / 2) / sqrt(2 pi)``."""
    return (dy * np.exp(-x ** 2 / 2) / SQRT_2PI,)


def log_ndtr(dy, y, x):
    """``pdf / cdf = exp(-x^2 / 2 - y) / sqrt(2 pi)``."""
    return (dy * np.exp(-x ** 2 / 2 - y) / SQRT_2PI,)


def ndtri(dy, y, p):
    """``1 / pdf(y) = sqrt(2 pi) exp(y^2 / 2)``."""
    return (dy * SQRT_2PI * np.exp(y ** 2 / 2),)


def gammaln(dy, y, x):
    """``digamma(x)``."""
    return (dy * _special.digamma(x),)


def gamma(dy, y, x):
    """``gamma(x) digamma(x)``."""
    return (dy * y * _special.digamma(x),)


def rgamma(dy, y, x):
    """``rgamma = 1 / gamma``: ``-rgamma(x) digamma(x)``."""
    return (-dy * y * _special.digamma(x),)


def digamma(dy, y, x):
    """``polygamma(1, x)``."""
    return (dy * _special.polygamma(1, x),)


def polygamma(dy, y, n, x):
    """``polygamma(n + 1, x)``; ``n`` is an integer."""
    return (None, dy * _special.polygamma(n + 1, x))


def multigammaln(dy, y, a, d):
    """``sum over j < d of digamma(a - j / 2)``."""
    return (dy * multidigamma(a, d), None)


def multidigamma(a, d):
    """The derivative of ``multigammaln(a, d)``: ``sum over j < d of digamma(a - j / 2)``."""
    return np.sum(_special.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)


def beta(dy, y, a, b):
    """``y (digamma(a) - digamma(a + b))``, ``y (digamma(b) - digamma(a + b))``."""
    return (dy * y * (_special.digamma(a) - _special.digamma(a + b)),
            dy * y * (_special.digamma(b) - _special.digamma(a + b)))


def betaln(dy, y, a, b):
    """``digamma(a) - digamma(a + b)``, ``digamma(b) - digamma(a + b)``."""
    return (dy * (_special.digamma(a) - _special.digamma(a + b)), dy * (_special.digamma(b) - _special.digamma(a + b)))


def betainc(dy, y, a, b, x):
    """In ``x``: the beta density ``x^(a-1) (1-x)^(b-1) / B(a, b)``; ``a`` and ``b`` refused."""
    return (order_grad("scipy.special.betainc", "a", a), order_grad("scipy.special.betainc", "b", b),
            dy * beta_density(a, b, x))


def beta_density(a, b, x):
    """``x^(a-1) (1-x)^(b-1) / B(a, b)``, by logarithms."""
    return np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - _special.betaln(a, b))


def betainc_tangent(dargs, y, a, b, x):
    """``beta_density(a, b, x) dx`` (a tangent of ``a`` or ``b`` is refused)."""
    for name, value, d in (("a", a, dargs[0]), ("b", b, dargs[1])):
        if d is not None:
            order_grad("scipy.special.betainc", name, value)
    return beta_density(a, b, x) * dargs[2] if dargs[2] is not None else np.zeros(np.shape(y))


def gammainc(dy, y, a, x):
    """In ``x``: the gamma density ``x^(a-1) exp(-x) / gamma(a)``; ``a`` refused."""
    return (order_grad("scipy.special.gammainc", "a", a), dy * gamma_density(a, x))


def gammaincc(dy, y, a, x):
    """``gammaincc = 1 - gammainc``: minus the gamma density in ``x``; ``a`` refused."""
    return (order_grad("scipy.special.gammaincc", "a", a), -dy * gamma_density(a, x))


def gamma_density(a, x):
    """``x^(a-1) exp(-x) / gamma(a)``, by logarithms."""
    return np.exp((a - 1) * np.log(x) - x - _special.gammaln(a))


def gammainc_tangent(dargs, y, a, x):
    """``gamma_density(a, x) dx`` (a tangent of ``a`` is refused)."""
    if dargs[0] is not None:
        order_grad("scipy.special.gammainc", "a", a)
    return gamma_density(a, x) * dargs[1] if dargs[1] is not None else np.zeros(np.shape(y))


def gammaincc_tangent(dargs, y, a, x):
    """``-gamma_density(a, x) dx`` (a tangent of ``a`` is refused)."""
    if dargs[0] is not None:
        order_grad("scipy.special.gammaincc", "a", a)
    return -gamma_density(a, x) * dargs[1] if dargs[1] is not None else np.zeros(np.shape(y))


def j0(dy, y, x):
    """``-j1(x)``."""
    return (-dy * _special.j1(x),)


def j1(dy, y, x):
    """``(j0(x) - jv(2, x)) / 2``."""
    return (dy * (_special.j0(x) - _special.jv(2, x)) / 2,)


def jv(dy, y, v, x):
    """``(jv(v - 1, x) - jv(v + 1, x)) / 2``; a real order ``v`` is refused."""
    return (order_grad("scipy.special.jv", "v", v), dy * (_special.jv(v - 1, x) - _special.jv(v + 1, x)) / 2)


def y0(dy, y, x):
    """``-y1(x)``."""
    return (-dy * _special.y1(x),)


def y1(dy, y, x):
    """``(y0(x) - yn(2, x)) / 2``."""
    return (dy * (_special.y0(x) - _special.yn(2, x)) / 2,)


def yn(dy, y, n, x):
    """``(yn(n - 1, x) - yn(n + 1, x)) / 2``; ``n`` is an integer."""
    return (None, dy * (_special.yn(n - 1, x) - _special.yn(n + 1, x)) / 2)


def i0(dy, y, x):
    """``i1(x)``."""
    return (dy * _special.i1(x),)


def i1(dy, y, x):
    """``(i0(x) + iv(2, x)) / 2``."""
    return (dy * (_special.i0(x) + _special.iv(2, x)) / 2,)


def iv(dy, y, v, x):
    """``(iv(v - 1, x) + iv(v + 1, x)) / 2``; a real order ``v`` is refused."""
    return (order_grad("scipy.special.iv", "v", v), dy * (_special.iv(v - 1, x) + _special.iv(v + 1, x)) / 2)


def i0e(dy, y, x):
    """``i0e = exp(-|x|) i0``: ``i1e(x) - sign(x) y``."""
    return (dy * (_special.i1e(x) - np.sign(x) * y),)


def i1e(dy, y, x):
    """``i1e = exp(-|x|) i1``: ``(i0e(x) + ive(2, x)) / 2 - sign(x) y``."""
    return (dy * ((_special.i0e(x) + _special.ive(2, x)) / 2 - np.sign(x) * y),)


def ive(dy, y, v, x):
    """``ive = exp(-|x|) iv``: ``(ive(v - 1, x) + ive(v + 1, x)) / 2 - sign(x) y``; a real ``v`` is refused."""
    return (order_grad("scipy.special.ive", "v", v),
            dy * ((_special.ive(v - 1, x) + _special.ive(v + 1, x)) / 2 - np.sign(x) * y))


def xlogy(dy, y, x, z):
    """``xlogy(x, z) = x log(z)``: ``log(z)``, ``x / z``."""
    return (dy * np.log(z), dy * x / z)


def xlog1py(dy, y, x, z):
    """``xlog1py(x, z) = x log(1 + z)``: ``log1p(z)``, ``x / (1 + z)``."""
    return (dy * np.log1p(z), dy * x / (1 + z))


def _register():
    """The table: each SciPy function and its rule."""
    global _special
    _special = sys.modules["scipy.special"]
    s = _special
    shaped(s.logsumexp, forward=logsumexp_tangent)(logsumexp)
    shaped(s.softmax, forward=softmax_tangent)(softmax)
    shaped(s.log_softmax, forward=log_softmax_tangent)(log_softmax)
    shaped(s.multigammaln, forward="diagonal")(multigammaln)
    for fn, reverse in [(s.expit, expit), (s.logit, logit), (s.erf, erf), (s.erfc, erfc), (s.erfcx, erfcx),
                        (s.erfinv, erfinv), (s.erfcinv, erfcinv), (s.ndtr, ndtr), (s.log_ndtr, log_ndtr),
                        (s.ndtri, ndtri), (s.gammaln, gammaln), (s.gamma, gamma), (s.rgamma, rgamma),
                        (s.digamma, digamma), (s.j0, j0), (s.j1, j1), (s.y0, y0), (s.y1, y1), (s.i0, i0),
                        (s.i1, i1), (s.i0e, i0e), (s.i1e, i1e)]:
        unary(fn)(reverse)
    for fn, reverse in [(s.polygamma, polygamma), (s.beta, beta), (s.betaln, betaln), (s.jv, jv), (s.yn, yn),
                        (s.iv, iv), (s.ive, ive), (s.xlogy, xlogy), (s.xlog1py, xlog1py)]:
        rule(fn)(reverse)
    rule(s.betainc, forward=betainc_tangent)(betainc)
    rule(s.gammainc, forward=gammainc_tangent)(gammainc)
    rule(s.gammaincc, forward=gammaincc_tangent)(gammaincc)
    nograd(s.gammasgn)


when_imported("scipy.special", _register)
