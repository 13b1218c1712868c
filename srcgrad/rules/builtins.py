"""Rules for Python's builtins, and the builtins that pass no gradient."""

import builtins
import functools

import numpy as np

from .operators import power_slope
from .registry import defrule, nograd

rule = functools.partial(defrule, _builtin=True)


def sum_grad(dy, xs):
    """The gradient of ``sum(xs)`` for a list, tuple or array ``xs``."""
    if isinstance(xs, np.ndarray):
        return np.broadcast_to(dy, xs.shape)
    return [dy for _ in xs]


def extremum_grad(dy, y, xs):
    """The gradient of ``max(xs)``/``min(xs)``: all of it to the first element equal to the result."""
    if isinstance(xs, np.ndarray):
        g = np.zeros(xs.shape, float)
        g[np.unravel_index(np.argmax(xs == y), xs.shape)] = dy
        return g
    first = [x is y or x == y for x in xs].index(True)
    return [dy if i == first else None for i in range(len(xs))]


@rule(builtins.abs, broadcast=False)
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
    return (sum_grad(dy, xs), dy)


@rule(builtins.max, broadcast=False)
def max(dy, y, a, *rest):
    return extremum_pair(dy, y, a, rest)


@rule(builtins.min, broadcast=False)
def min(dy, y, a, *rest):
    return extremum_pair(dy, y, a, rest)


def extremum_pair(dy, y, a, rest):
    """``max(a, b, ...)`` gives its gradient to the first argument equal to the result."""
    if not rest:
        return (extremum_grad(dy, y, a),)
    args = (a,) + tuple(rest)
    first = [x is y or x == y for x in args].index(True)
    return tuple(dy if i == first else None for i in range(len(args)))


for _fn in (
    builtins.len, builtins.int, builtins.bool, builtins.round, builtins.range, builtins.isinstance,
    builtins.issubclass, builtins.type, builtins.print, builtins.str, builtins.repr, builtins.id,
    builtins.hash, builtins.callable, builtins.hasattr, builtins.any, builtins.all, builtins.format,
    builtins.divmod, builtins.ord, builtins.chr, builtins.sorted,
):
    nograd(_fn)
