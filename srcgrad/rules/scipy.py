"""Rules for ``scipy.special``, loaded the first time a SciPy function is looked up.

SciPy is optional and slow to import, so ``import srcgrad`` does not
import it; :func:`srcgrad.rules.registry.lookup` loads this module when it
meets a function from SciPy.
"""

import functools

import numpy as np

from . import registry
from .numpy import logsumexp_grad, logsumexp_weight_grad, unreduce
from .registry import defrule

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False, elementwise=True)
shaped = functools.partial(defrule, _builtin=True, broadcast=False)


try:  # pragma: no cover - depends on the environment
    import scipy.special as _special
except ImportError:  # pragma: no cover
    _special = None

if _special is not None:

    @shaped(_special.logsumexp)
    def logsumexp(dy, y, a, axis=None, b=None, keepdims=False):
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

    registry.lookup(_special.logsumexp).forward = logsumexp_tangent

    @unary(_special.expit)
    def expit(dy, y, x):
        return (dy * y * (1 - y),)

    @unary(_special.erf)
    def erf(dy, y, x):
        return (dy * 2 / np.sqrt(np.pi) * np.exp(-x ** 2),)

    @unary(_special.gammaln)
    def gammaln(dy, y, x):
        return (dy * _special.digamma(x),)

    @unary(_special.digamma)
    def digamma(dy, y, x):
        return (dy * _special.polygamma(1, x),)

    @rule(_special.polygamma)
    def polygamma(dy, y, n, x):
        return (None, dy * _special.polygamma(n + 1, x))

