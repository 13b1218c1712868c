"""Rules for NumPy's joins and splits beyond ``concatenate stack split``: ``array_split hsplit vsplit dsplit
column_stack row_stack dstack append``.

Each moves elements without changing them, so it is its own tangent (the
join or split of the tangents), and its gradient undoes the move: the
gradients of the pieces joined back (zeros for a piece not used), or
``dy`` split into pieces shaped like what was joined.
"""

import functools

import numpy as np

from .registry import defrule
from .shapes import concatenate_grad, joined_grad
from .shaping import tangent_or_zero, zeros_for

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def pieces_grad(dy, x, split, axis, *args):
    """Join the gradients of ``split(x, *args)``'s pieces back along ``axis`` (zeros for a piece not used)."""
    zeros = split(zeros_for(x), *args)
    return np.concatenate([z if g is None else g for g, z in zip(dy, zeros)], axis=axis)


def column(a):
    """``a`` as ``np.column_stack`` places it: a 1-d (or 0-d) array as a column."""
    return np.reshape(a, (-1, 1)) if np.ndim(a) < 2 else a


def column_stack_grad(dy, tup):
    """``dy`` split into the columns ``np.column_stack`` joined, each shaped like its array."""
    pieces = concatenate_grad(dy, [column(a) for a in tup], 1)
    return [np.reshape(g, np.shape(a)) for g, a in zip(pieces, tup)]


def append_part(dy, arr, values, axis, which):
    """The part of ``dy`` that came from ``arr`` (``which == 0``) or ``values`` (1), shaped like it.

    (Flattened first when ``axis`` is None, as ``np.append`` does.)
    """
    if axis is None:
        return np.reshape(np.split(np.ravel(dy), [np.size(arr)])[which], np.shape((arr, values)[which]))
    return concatenate_grad(dy, [arr, values], axis)[which]


@shaped(np.array_split, structured=True, forward="jointly-linear", operands=(0,))
def array_split(dy, y, ary, indices_or_sections, axis=0):
    return (pieces_grad(dy, ary, np.array_split, axis, indices_or_sections, axis), None, None)


@shaped(np.hsplit, structured=True, forward="jointly-linear", operands=(0,))
def hsplit(dy, y, ary, indices_or_sections):
    return (pieces_grad(dy, ary, np.hsplit, 1 if np.ndim(ary) > 1 else 0, indices_or_sections), None)


@shaped(np.vsplit, structured=True, forward="jointly-linear", operands=(0,))
def vsplit(dy, y, ary, indices_or_sections):
    return (pieces_grad(dy, ary, np.vsplit, 0, indices_or_sections), None)


@shaped(np.dsplit, structured=True, forward="jointly-linear", operands=(0,))
def dsplit(dy, y, ary, indices_or_sections):
    return (pieces_grad(dy, ary, np.dsplit, 2, indices_or_sections), None)


@shaped(np.column_stack, forward="jointly-linear", operands=(0,))
def column_stack(dy, y, tup):
    return (column_stack_grad(dy, tup),)


@shaped(np.dstack, forward="jointly-linear", operands=(0,))
def dstack(dy, y, tup):
    return (joined_grad(dy, tup, 2, np.atleast_3d),)


def append_tangent(dargs, y, arr, values, axis=None):
    """The tangents appended (zeros for a constant)."""
    return np.append(tangent_or_zero(dargs, 0, arr), tangent_or_zero(dargs, 1, values), axis)


@shaped(np.append, forward=append_tangent)
def append(dy, y, arr, values, axis=None):
    return (append_part(dy, arr, values, axis, 0), append_part(dy, arr, values, axis, 1), None)
