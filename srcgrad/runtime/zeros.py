"""Zero tangents and the shape helpers generated tangent code calls.

In a tangent function every active value's tangent is a number or array,
never ``None``: :func:`zero_tangent` makes the zero of a value's shape and
float dtype, :func:`or_zero` fills one in where a structure held none;
:func:`diagonal_tangent` is an elementwise rule's tangent, from its reverse rule. The
calls to other functions' tangent functions, which reach the cache, are
:mod:`srcgrad.calls.tangents`.
"""

from __future__ import annotations

import numpy as np

from .structure import float_dtype, is_other_array

__all__ = ["zero_tangent", "or_zero", "spread_to", "cell_tangents", "struct_tangent", "unreduce_like",
           "diagonal_tangent"]


def zero_tangent(x):
    """The zero tangent of ``x`` (``None`` for values that are not numbers or arrays)."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, float_dtype(x))
    if isinstance(x, np.generic):
        return float_dtype(x).type(0)
    if isinstance(x, (int, float, complex)) and not isinstance(x, bool):
        return 0.0
    if isinstance(x, tuple):
        return tuple(zero_tangent(v) for v in x)
    if isinstance(x, list):
        return [zero_tangent(v) for v in x]
    if isinstance(x, dict):  # (a dict built item by item: its tangent is built alongside)
        return {k: zero_tangent(v) for k, v in x.items()}
    if is_other_array(x):  # (Dask, CuPy: that library's zeros, through NEP 18)
        return np.zeros_like(x, dtype=float_dtype(x))
    return None


def or_zero(d, x):
    """``d``, or the zero tangent of ``x`` when ``d`` is ``None``."""
    return zero_tangent(x) if d is None else d


def spread_to(d, y):
    """The tangent ``d`` broadcast to the shape of the value ``y`` it belongs to."""
    if np.shape(d) == np.shape(y):
        return d
    return np.broadcast_to(d, np.shape(y)) + zero_tangent(y)


def cell_tangents(dclosure, closure):
    """The tangents of a closure's captured values: from its tangent dict, else zeros."""
    names = closure.__code__.co_freevars
    values = [cell.cell_contents for cell in closure.__closure__]
    given = dclosure or {}
    return tuple(given.get(n) if given.get(n) is not None else zero_tangent(v) for n, v in zip(names, values))


def struct_tangent(d):
    """The tangent of an object, as a dict of its fields' tangents."""
    return {} if d is None else d


def unreduce_like(y, a, axis, keepdims):
    """``y``, a reduction of ``a`` over ``axis``, broadcast back to ``a``'s shape."""
    if axis is not None and not keepdims and np.ndim(a):
        y = np.expand_dims(y, axis)
    return np.broadcast_to(y, np.shape(a))


def diagonal_tangent(reverse, dargs, y, *args, **kwargs):
    """The tangent of an elementwise ``y = f(*args)``: its reverse rule with each tangent in place of ``dy``."""
    total = None
    for i, d in enumerate(dargs):
        if d is None:
            continue
        g = reverse(d, y, *args, **kwargs)[i]
        if g is not None:
            total = g if total is None else total + g
    if total is None:
        return zero_tangent(y)
    return total if np.shape(total) == np.shape(y) else spread_to(total, y)
