"""Rules for Python's builtins, and the builtins that pass no gradient.

``abs`` shares ``np.abs``'s row (in :mod:`.elementwise`), ``pow`` that of ``**`` (in :mod:`.operators`).
"""

import builtins
import functools

import numpy as np

from ..runtime.accumulate import unbroadcast
from ..runtime.structure import gather, zero_like
from ..runtime.zeros import or_zero, zero_tangent
from .registry import defrule, nograd
from .shaping import sum_to_shape

rule = functools.partial(defrule, _builtin=True)


def sum_grad(dy, xs):
    """The gradient of ``sum(xs)`` for a list, tuple or array ``xs``.

    Each element gets ``dy``, summed back to its own shape where the
    addition broadcast it (``sum([matrix, row, 1.0])``).
    """
    if isinstance(xs, np.ndarray):
        return np.broadcast_to(dy, xs.shape)
    return [sum_to_shape(dy, np.shape(x)) for x in xs]


def extremum_grad(dy, y, xs):
    """The gradient of ``max(xs)``/``min(xs)``: shared equally by the elements equal to the result.

    At a tie that is what central differences give (and what ``np.max`` does).
    """
    if isinstance(xs, np.ndarray):
        winners = xs == y
        return dy * winners / np.sum(winners)
    winners = [x is y or x == y for x in xs]
    share = dy / builtins.sum(winners)
    return [share if won else None for won in winners]


@rule(builtins.float, broadcast=False, forward="jointly-linear", operands=(0,))
def float(dy, y, x):
    return (dy,)


@rule(builtins.sum, broadcast=False, forward="jointly-linear")
def sum(dy, y, xs, start=0):
    return (sum_grad(dy, xs), sum_to_shape(dy, np.shape(start)))


@rule(builtins.list, broadcast=False, structured=True, forward="jointly-linear", operands=(0,))
def list_(dy, y, iterable=()):
    return (gather(dy, iterable),)


@rule(builtins.tuple, broadcast=False, structured=True, forward="jointly-linear", operands=(0,))
def tuple_(dy, y, iterable=()):
    return (gather(dy, iterable),)


def extremum_of_tangent(dargs, y, a, *rest, key=None, default=None):
    """d max(a, b, ...) (or of a list or array): the tangent of the winner, shared equally among ties."""
    if not rest:
        values, tangents = a, dargs[0]
    else:
        values, tangents = (a,) + rest, dargs
    if isinstance(values, np.ndarray):
        winners = values == y
        return np.sum(tangents * winners) / np.sum(winners)
    winners = [i for i, v in enumerate(values) if v is y or v == y]
    shares = [tangents[i] for i in winners if tangents is not None and tangents[i] is not None]
    return builtins.sum(shares) / len(winners) if shares else zero_tangent(y)


@rule(builtins.max, broadcast=False, forward=extremum_of_tangent)
def max(dy, y, a, *rest):
    return extremum_pair(dy, y, a, rest)


@rule(builtins.min, broadcast=False, forward=extremum_of_tangent)
def min(dy, y, a, *rest):
    return extremum_pair(dy, y, a, rest)


def unsort(dy, xs, key=None, reverse=False):
    """The gradient of ``sorted(xs)``: each element gets the gradient of its sorted position."""
    order = sorted(range(len(xs)), key=(lambda i: key(xs[i])) if key else (lambda i: xs[i]), reverse=reverse)
    grads = [None] * len(xs)
    for position, index in enumerate(order):
        grads[index] = dy[position]
    return grads


def sorted_tangent(dargs, y, xs, key=None, reverse=False):
    """The tangents follow their elements into sorted order."""
    order = sorted(range(len(xs)), key=(lambda i: key(xs[i])) if key else (lambda i: xs[i]), reverse=reverse)
    tangents = dargs[0] if dargs[0] is not None else [None] * len(xs)  # (None: xs carries no gradient)
    return [or_zero(tangents[i], xs[i]) for i in order]


@rule(builtins.sorted, broadcast=False, structured=True, forward=sorted_tangent)
def sorted_rule(dy, y, xs, key=None, reverse=False):
    return (unsort(dy, xs, key, reverse),)


def divmod_tangent(dargs, y, a, b):
    """The quotient is flat; the remainder moves as ``da - db * (a // b)``."""
    da = dargs[0] if dargs and dargs[0] is not None else 0.0
    db = dargs[1] if len(dargs) > 1 and dargs[1] is not None else 0.0
    return (0.0 * y[0], da - db * (a // b))


@rule(builtins.divmod, broadcast=False, structured=True, forward=divmod_tangent)
def divmod_rule(dy, y, a, b):
    """``(a // b, a % b)``: the quotient is a step function; the remainder is ``a - b * (a // b)``."""
    return (unbroadcast(dividend_grad(dy, a), a), unbroadcast(divisor_grad(dy, a, b), b))


def dividend_grad(dy, a):
    """``d(a % b)/da = 1``, times the remainder's cotangent."""
    dr = remainder_part(dy)
    return zero_like(a) if dr is None else dr


def remainder_part(dy):
    """The cotangent of ``divmod``'s remainder (its quotient passes none): ``None`` if it reached none."""
    return dy[1]


def divisor_grad(dy, a, b):
    """``d(a % b)/db = -(a // b)``, times the remainder's cotangent."""
    dr = remainder_part(dy)
    return zero_like(b) if dr is None else -dr * (a // b)


def partial_tangent(dargs, y, func, *args, **keywords):
    """A partial's tangent has the shape of its gradient: a dict of its fields' tangents."""
    dargs = tuple(dargs) + (None,) * (1 + len(args) - len(dargs))
    return {"func": dargs[0], "args": tuple(dargs[1:1 + len(args)]), "keywords": {}}


@rule(functools.partial, broadcast=False, structured=True, forward=partial_tangent)
def partial_rule(dy, y, func, *args):
    """``functools.partial(func, *args)``: the object's gradient, a dict of its fields, back to them."""
    return partial_grads(dy, len(args))


def partial_grads(dy, nargs):
    """``(dfunc, *dargs)`` from a partial's gradient ``{"func": ..., "args": (...), "keywords": {...}}``."""
    if not isinstance(dy, dict):
        return (None,) * (1 + nargs)
    args = tuple(dy.get("args") or ())
    return (dy.get("func"),) + args + (None,) * (nargs - len(args))


def extremum_pair(dy, y, a, rest):
    """``max(xs)`` or ``max(a, b, ...)``: the arguments equal to the result share the gradient."""
    if not rest:
        return (extremum_grad(dy, y, a),)
    return tuple(extremum_grad(dy, y, (a,) + tuple(rest)))


for _fn in (
    builtins.len, builtins.int, builtins.bool, builtins.round, builtins.range, builtins.isinstance,
    builtins.issubclass, builtins.type, builtins.print, builtins.str, builtins.repr, builtins.id,
    builtins.hash, builtins.callable, builtins.hasattr, builtins.any, builtins.all, builtins.format,
    builtins.ord, builtins.chr, builtins.slice, builtins.set, builtins.frozenset,
    list.index, list.count, tuple.index, tuple.count,  # (positions and counts: integers)
):
    nograd(_fn)
