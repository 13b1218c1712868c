"""Rules for ``scipy.special``, registered once the program has imported it.

SciPy is optional and slow to import, so ``import srcgrad`` does not import
it: this module only asks the registry (:func:`~.registry.when_imported`)
to register the rows below before its first use after ``scipy.special`` is
imported. A program can only hold a SciPy function once it is, so every
SciPy function finds its rule, whichever is met first.
"""

import functools
import sys

import numpy as np

from .reductions import logsumexp_grad, logsumexp_weight_grad
from .registry import defrule, when_imported
from .shaping import unreduce

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False, elementwise=True)
shaped = functools.partial(defrule, _builtin=True, broadcast=False)

#: ``scipy.special``, once imported (the rules below read it, as generated code that inlines them does).
_special = None


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


def expit(dy, y, x):
    return (dy * y * (1 - y),)


def erf(dy, y, x):
    return (dy * 2 / np.sqrt(np.pi) * np.exp(-x ** 2),)


def gammaln(dy, y, x):
    return (dy * _special.digamma(x),)


def digamma(dy, y, x):
    return (dy * _special.polygamma(1, x),)


def polygamma(dy, y, n, x):
    return (None, dy * _special.polygamma(n + 1, x))


def _register():
    """The table: each SciPy function and its rule."""
    global _special
    _special = sys.modules["scipy.special"]
    shaped(_special.logsumexp, forward=logsumexp_tangent)(logsumexp)
    unary(_special.expit)(expit)
    unary(_special.erf)(erf)
    unary(_special.gammaln)(gammaln)
    unary(_special.digamma)(digamma)
    rule(_special.polygamma)(polygamma)


when_imported("scipy.special", _register)
