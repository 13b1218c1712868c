"""Rules for Python's builtins, and the builtins that pass no gradient."""

import builtins
import functools

import numpy as np

from ..runtime.structure import gather
from .operators import power_slope, sum_to_shape
from .registry import defrule, nograd

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


@rule(builtins.abs, broadcast=False, elementwise=True)
def abs(dy, y, x):
    return (dy * np.sign(x),)


@rule(builtins.float, broadcast=False)
def float(dy, y, x):
    return (dy,)


@rule(builtins.pow)
def pow(dy, y, a, b):
    return (dy * power_slope(a, b), dy * y * np.log(a))


@rule(builtins.sum, broadcast=False)
def sum(dy, y, xs, start=0):
    return (sum_grad(dy, xs), sum_to_shape(dy, np.shape(start)))


@rule(builtins.list, broadcast=False, structured=True)
def list_(dy, y, iterable=()):
    return (gather(dy, iterable),)


@rule(builtins.tuple, broadcast=False, structured=True)
def tuple_(dy, y, iterable=()):
    return (gather(dy, iterable),)


@rule(builtins.max, broadcast=False)
def max(dy, y, a, *rest):
    return extremum_pair(dy, y, a, rest)


@rule(builtins.min, broadcast=False)
def min(dy, y, a, *rest):
    return extremum_pair(dy, y, a, rest)


def unsort(dy, xs, key=None, reverse=False):
    """The gradient of ``sorted(xs)``: each element gets the gradient of its sorted position."""
    order = sorted(range(len(xs)), key=(lambda i: key(xs[i])) if key else (lambda i: xs[i]), reverse=reverse)
    grads = [None] * len(xs)
    for position, index in enumerate(order):
        grads[index] = dy[position]
    return grads


@rule(builtins.sorted, broadcast=False, structured=True)
def sorted_rule(dy, y, xs, key=None, reverse=False):
    return (unsort(dy, xs, key, reverse),)


def extremum_pair(dy, y, a, rest):
    """``max(xs)`` or ``max(a, b, ...)``: the arguments equal to the result share the gradient."""
    if not rest:
        return (extremum_grad(dy, y, a),)
    return tuple(extremum_grad(dy, y, (a,) + tuple(rest)))


for _fn in (
    builtins.len, builtins.int, builtins.bool, builtins.round, builtins.range, builtins.isinstance,
    builtins.issubclass, builtins.type, builtins.print, builtins.str, builtins.repr, builtins.id,
    builtins.hash, builtins.callable, builtins.hasattr, builtins.any, builtins.all, builtins.format,
    builtins.divmod, builtins.ord, builtins.chr, builtins.slice, builtins.set, builtins.frozenset,
    list.index, list.count, tuple.index, tuple.count,  # (positions and counts: integers)
):
    nograd(_fn)
