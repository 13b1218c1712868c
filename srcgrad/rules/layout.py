"""Rules for NumPy's functions that move, mask or difference elements: ``roll rollaxis rot90 flipud diagonal
tril triu pad diff partition``.

Each is linear in its array: its tangent is the function of the tangent,
and its gradient moves ``dy`` back (rolled back, rotated back, masked the
same way, scattered to where the padding copied from). ``np.diff`` is the
one that combines elements: its gradient is a difference of ``dy`` too.
"""

import functools

import numpy as np

from ..errors import NoRuleError
from .registry import defrule, nograd
from .shapes import take_grad
from .shaping import real_part_for, sum_to_shape, tangent_or_zero

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


@nograd
def rollaxis_destination(ndim, axis, start=0):
    """Where ``np.rollaxis(a, axis, start)`` puts ``axis``: it is ``np.moveaxis(a, axis, destination)``."""
    axis, start = axis % ndim, start + ndim if start < 0 else start
    return start - 1 if axis < start else start


def diagonal_grad(dy, x, offset=0, axis1=0, axis2=1):
    """The gradient of ``np.diagonal``: ``dy[..., i]`` put back at ``(i, i + offset)`` of the ``axis1, axis2`` plane."""
    dy = real_part_for(dy, x)
    rows, cols = diagonal_places(np.shape(x)[axis1], np.shape(x)[axis2], offset)
    plane = (np.expand_dims(dy, -2) * rows) @ cols  # (..., n, k) @ (k, m)
    return np.moveaxis(plane, (-2, -1), (axis1, axis2))


@nograd
def diagonal_places(n, m, offset):
    """0/1 matrices ``(n, k)`` and ``(k, m)`` saying which row and column the ``k`` diagonal elements sit in."""
    k = max(0, min(n + min(offset, 0), m - max(offset, 0)))
    rows = np.arange(n)[:, None] == np.arange(k) + max(-offset, 0)
    cols = np.arange(k)[:, None] + max(offset, 0) == np.arange(m)
    return rows.astype(float), cols.astype(float)


@nograd
def padded_sources(shape, pad_width, mode, reflect_type="even"):
    """For a ``mode`` that copies elements, the flat index in the array that each padded element copies."""
    if mode not in ("edge", "reflect", "symmetric", "wrap") or reflect_type != "even":
        raise NoRuleError(f"srcgrad's rule for np.pad takes the modes that copy elements (constant, edge, reflect, "
                          f"symmetric, wrap), not mode={mode!r}" + (", reflect_type='odd'" if reflect_type != "even" else ""),
                          fix="pad with np.concatenate of the pieces you mean, or stop_gradient of the argument")
    return np.pad(np.reshape(np.arange(int(np.prod(shape))), shape), pad_width, mode)


@nograd
def unpadded(shape, pad_width):
    """The index of the original array inside its padding with ``pad_width``."""
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (len(shape), 2))
    return tuple(slice(int(before), int(before) + n) for (before, _), n in zip(widths, shape))


def pad_grad(dy, array, pad_width, mode="constant", reflect_type="even"):
    """The gradient of ``np.pad``: the middle of ``dy`` (constant padding), or every copy added back to its source."""
    if mode == "constant":
        return dy[unpadded(np.shape(array), pad_width)]
    return take_grad(dy, array, padded_sources(np.shape(array), pad_width, mode, reflect_type))


def pad_tangent(dargs, y, array, pad_width, mode="constant", constant_values=0, end_values=0, reflect_type="even",
                stat_length=None):
    """The tangent pads with zeros (the constant values are constants) or copies as the values do."""
    if mode == "constant":
        return np.pad(dargs[0], pad_width)
    padded_sources(np.shape(array), pad_width, mode, reflect_type)  # (refuses the modes that do not copy)
    return np.pad(dargs[0], pad_width, mode)


def diff_grad(dy, n, axis):
    """The gradient of ``np.diff(x, n, axis)`` for all of ``x`` (``prepend`` and ``append`` included): ``(-1)^n``
    times the ``n``-th difference of ``dy`` padded with ``n`` zeros on each side."""
    zeros = np.zeros(tuple(n if i == axis % np.ndim(dy) else k for i, k in enumerate(np.shape(dy))))
    return alternating(n) * np.diff(np.concatenate([zeros, dy, zeros], axis), n, axis)


@nograd
def alternating(n):
    """``(-1) ** n``."""
    return (-1) ** n


@nograd
def diff_parts(x, n, axis, prepend, append):
    """Where ``x``, ``prepend`` and ``append`` sit along ``axis`` in what ``np.diff`` differences: three slices."""
    before = 0 if prepend is None else (1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis])
    after = 0 if append is None else (1 if np.ndim(append) == 0 else np.shape(append)[axis])
    whole = before + np.shape(x)[axis] + after
    cuts = (slice(0, before), slice(before, whole - after), slice(whole - after, whole))
    axis = axis % np.ndim(x)
    return tuple((slice(None),) * axis + (cut,) for cut in cuts)


def diff_part(dy, x, n, axis, prepend, append, which):
    """The gradient of ``np.diff(x, n, axis, prepend, append)`` for ``x`` (``which == 1``), ``prepend`` (0) or
    ``append`` (2); ``None`` for one not given, and summed back where a scalar was spread along the axis."""
    if n == 0:  # (np.diff returns ``x`` itself, without prepend or append)
        return dy if which == 1 else None
    value = (prepend, x, append)[which]
    if value is None:
        return None
    return sum_to_shape(diff_grad(dy, n, axis)[diff_parts(x, n, axis, prepend, append)[which]], np.shape(value))


def diff_tangent(dargs, y, a, n=1, axis=-1, prepend=None, append=None):
    """The difference of the tangents (zeros for a constant ``prepend``/``append``)."""
    edges = [np._NoValue if v is None else np.broadcast_to(tangent_or_zero(dargs, i, v), np.shape(v))
             for i, v in ((3, prepend), (4, append))]
    return np.diff(tangent_or_zero(dargs, 0, a), n, axis, prepend=edges[0], append=edges[1])


@nograd
def partition_sources(x, y, axis):
    """For each place of ``y = np.partition(x, ...)`` along ``axis``, the index of the element of ``x`` it holds.

    (Matched by rank: the ``r``-th smallest of ``y`` is the ``r``-th smallest of ``x``; equal values are
    interchangeable, so which of a tie goes where does not change the gradient.)
    """
    ranked_x, ranked_y = np.argsort(x, axis=axis, kind="stable"), np.argsort(y, axis=axis, kind="stable")
    return np.take_along_axis(ranked_x, np.argsort(ranked_y, axis=axis, kind="stable"), axis=axis)


def partition_grad(dy, x, y, axis=-1):
    """The gradient of ``np.partition``: each ``dy`` back to the element of ``x`` its place holds."""
    dy = real_part_for(dy, x)
    if axis is None:
        return np.reshape(partition_grad(dy, np.ravel(x), y, 0), np.shape(x))
    axis = axis % np.ndim(x)
    targets = np.argsort(partition_sources(x, y, axis), axis=axis)  # where each element of x went
    grids = np.indices(np.shape(x), sparse=True)
    return dy[tuple(targets if i == axis else grid for i, grid in enumerate(grids))]


def partition_tangent(dargs, y, a, kth, axis=-1, kind="introselect", order=None):
    """The tangents follow their elements."""
    if axis is None:
        return partition_tangent((np.ravel(dargs[0]),), y, np.ravel(a), kth, 0)
    return np.take_along_axis(dargs[0], partition_sources(a, y, axis), axis=axis)


# ------------------------------------------------------------------ the rules

@shaped(np.roll, forward="linear")
def roll(dy, y, a, shift, axis=None):
    return (np.roll(dy, np.negative(shift), axis), None, None)


@shaped(np.rollaxis, forward="linear")
def rollaxis(dy, y, a, axis, start=0):
    return (np.moveaxis(dy, rollaxis_destination(np.ndim(a), axis, start), axis), None, None)


@nograd
def rotation_plane(axes):
    """``np.rot90``'s ``axes``: the first two unless given (None is never a plane, so it stands for the default)."""
    return (0, 1) if axes is None else axes


@shaped(np.rot90, forward="linear")
def rot90(dy, y, m, k=1, axes=None):
    return (np.rot90(dy, -k, rotation_plane(axes)), None, None)


@shaped(np.flipud, forward="linear")
def flipud(dy, y, m):
    return (np.flipud(dy),)


@shaped(np.diagonal, methods=("diagonal",), forward="linear")
def diagonal(dy, y, a, offset=0, axis1=0, axis2=1):
    return (diagonal_grad(dy, a, offset, axis1, axis2), None, None, None)


@shaped(np.tril, forward="linear")
def tril(dy, y, m, k=0):
    return (np.tril(dy, k), None)


@shaped(np.triu, forward="linear")
def triu(dy, y, m, k=0):
    return (np.triu(dy, k), None)


@shaped(np.pad, forward=pad_tangent)
def pad(dy, y, array, pad_width, mode="constant", constant_values=0, end_values=0, reflect_type="even",
        stat_length=None):
    return (pad_grad(dy, array, pad_width, mode, reflect_type), None, None)


@shaped(np.diff, forward=diff_tangent)  # (None for prepend, append: not given, which np.diff spells np._NoValue)
def diff(dy, y, a, n=1, axis=-1, prepend=None, append=None):
    return (diff_part(dy, a, n, axis, prepend, append, 1), None, None, diff_part(dy, a, n, axis, prepend, append, 0),
            diff_part(dy, a, n, axis, prepend, append, 2))


@shaped(np.partition, forward=partition_tangent)
def partition(dy, y, a, kth, axis=-1, kind="introselect", order=None):
    return (partition_grad(dy, a, y, axis), None, None, None, None)
