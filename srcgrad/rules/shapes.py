"""Rules for NumPy's shape functions: ``reshape transpose .T squeeze concatenate stack split tile repeat take sort``.

Each moves elements without changing them, so it is its own tangent and its
gradient moves ``dy`` back: reshaped, transposed back, split where the
pieces were joined, added up where an element was copied. An array method
with the function's signature (``x.take(i)``) shares its row; those whose
signatures differ (``x.reshape(2, 3)``, ``x.transpose(1, 0)``) have a row of
their own beside it.
"""

import functools
import itertools

import numpy as np

from .registry import defrule, nograd
from .shaping import is_complex, real_part_for, sum_to_shape, zeros_for

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def transpose_grad(dy, axes=None):
    """The gradient of ``np.transpose(x, axes)``: transpose back."""
    return np.transpose(dy) if axes is None else np.transpose(dy, np.argsort(axes))


def transpose_axes(axes):
    """The ``axes`` of ``x.transpose(*axes)`` as ``np.transpose`` takes them (``x.transpose((1, 0))`` too)."""
    given_as_one = len(axes) == 1 and not isinstance(axes[0], (int, np.integer))
    return axes[0] if given_as_one else (axes or None)


def concatenate_grad(dy, arrays, axis=0):
    """Split ``dy`` back into pieces shaped like ``arrays``."""
    if axis is None:
        sizes = np.cumsum([np.size(a) for a in arrays])[:-1]
        return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(np.ravel(dy), sizes), arrays)]
    return [dy[index] for index in piece_indices(arrays, axis)]


@nograd
def piece_indices(arrays, axis):
    """The index of each of ``arrays`` in their concatenation along ``axis``: slices, so views.

    (``np.split`` gives the same views through a dozen Python calls; the
    slices are worked out once per shapes, as an LSTM concatenates the same
    shapes at every step.)
    """
    return _piece_slices(tuple(a.shape if type(a) is np.ndarray else np.shape(a) for a in arrays), axis)


@functools.lru_cache(maxsize=256)
def _piece_slices(shapes, axis):
    before = (slice(None),) * (axis % len(shapes[0]))
    stops = list(itertools.accumulate(shape[axis] for shape in shapes))
    return tuple(before + (slice(stop - shape[axis], stop),) for shape, stop in zip(shapes, stops))


def stack_grad(dy, arrays, axis=0):
    """Take ``dy`` apart along the stacking axis."""
    return [np.take(dy, i, axis=axis) for i in range(len(arrays))]


def atleast_grad(dy, arys):
    """The gradients of ``np.atleast_2d(*arys)`` (and 1d, 3d): each reshaped back to its array's shape."""
    if len(arys) == 1:
        g = (np.reshape(dy, np.shape(arys[0])),)
    else:
        g = tuple(None if d is None else np.reshape(d, np.shape(a)) for d, a in zip(dy, arys))
    return g


def joined_grad(dy, arrays, axis, at_least):
    """The gradient of ``np.vstack``/``np.hstack``: of concatenating ``at_least(array)``, shaped like each array."""
    pieces = concatenate_grad(dy, [at_least(a) for a in arrays], axis)
    return [np.reshape(g, np.shape(a)) for g, a in zip(pieces, arrays)]


def split_grad(dy, x, indices_or_sections, axis=0):
    """Join the gradients of the pieces back into one array (zeros for a piece not used, ``None``)."""
    zeros = np.split(zeros_for(x), indices_or_sections, axis=axis)
    return np.concatenate([z if g is None else g for g, z in zip(dy, zeros)], axis=axis)


def tile_grad(dy, x, reps):
    """Sum the tiles of ``dy`` back onto ``x``."""
    shape = np.shape(x)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    ndim = max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + tuple(shape)
    reps = (1,) * (ndim - len(reps)) + reps
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    g = np.reshape(dy, split).sum(axis=tuple(range(0, 2 * ndim, 2)))
    return np.reshape(g, np.shape(x))


def repeat_grad(dy, x, repeats, axis=None):
    """Add up the copies ``np.repeat`` made of each element."""
    if axis is None:
        g = np.reshape(repeat_grad(dy, np.ravel(x), repeats, 0), np.shape(x))
    else:
        n = np.shape(x)[axis]
        copied_from = np.repeat(np.arange(n), repeats) == np.arange(n)[:, None]  # [i, j]: copy j is of element i
        copies = np.moveaxis(dy, axis, 0)
        summed = copied_from @ np.reshape(copies, (np.shape(copies)[0], -1))
        g = np.moveaxis(np.reshape(summed, (n,) + np.shape(copies)[1:]), 0, axis)
    return g


def take_grad(dy, x, indices, axis=None):
    """Scatter ``dy`` back to the positions ``np.take`` read, adding up repeated indices.

    By a product with a 0/1 matrix of which index reads which position, rather than
    ``np.add.at``, which writes in place: this way the gradient is ordinary code that is
    differentiated again, for second derivatives.
    """
    dy = real_part_for(dy, x)
    if axis is None:
        read = np.ravel(indices) % np.size(x) == np.arange(np.size(x))[:, None]
        return np.reshape(read @ np.ravel(dy), np.shape(x))
    axis = axis % np.ndim(x)
    n, k = np.shape(x)[axis], np.ndim(indices)  # the axes of the indices replace ``axis`` in the result
    read = np.arange(n)[:, None] == np.ravel(indices) % n
    copies = np.moveaxis(dy, range(axis, axis + k), range(k))
    summed = read @ np.reshape(copies, (np.size(indices), -1))
    rest = np.shape(copies)[k:]
    return np.moveaxis(np.reshape(summed, (n,) + rest), 0, axis)


def diag_grad(dy, v, k=0):
    """The gradient of ``np.diag``: build or read the diagonal back."""
    if np.ndim(v) == 1:
        return np.diag(dy, k)
    g = zeros_for(v)
    dy = real_part_for(dy, v)
    n = len(dy)
    rows = np.arange(n) + max(-k, 0)
    cols = np.arange(n) + max(k, 0)
    g[rows, cols] = dy
    return g


def sort_grad(dy, x, axis=-1):
    """The gradient of ``np.sort``: put each gradient back where its element came from.

    By indexing (``dy`` read at the rank each element of ``x`` got) rather than writing into an
    array in place, so that the gradient is differentiated again, for second derivatives.
    """
    shape = np.shape(x)
    dy = real_part_for(dy, x)
    if axis is None:
        x, axis = np.ravel(x), 0
    axis = axis % np.ndim(x)
    rank = np.argsort(np.argsort(x, axis=axis), axis=axis)
    index = tuple(rank if i == axis else grid for i, grid in enumerate(np.indices(np.shape(x), sparse=True)))
    return np.reshape(dy[index], shape)


def sort_tangent(dargs, y, a, axis=-1):
    """The tangents follow their elements."""
    return np.take_along_axis(dargs[0], np.argsort(a, axis=axis), axis=axis)


def astype_grad(dy, x, dtype):
    """``dy`` in ``x``'s float dtype; nothing passes a cast to integers or booleans."""
    # (np.issubdtype reads a dtype-like itself; np.dtype(...) here would need a rule at second order)
    if np.issubdtype(dtype, np.inexact):
        if crosses_complex(x, dtype):
            dy = np.real(dy)  # (to or from complex, one side is real: docs/complex.md)
        g = np.asarray(dy).astype(np.result_type(x, np.float32))
    else:
        g = zeros_for(x)
    return g


@nograd
def crosses_complex(x, dtype):
    """Casting ``x`` to ``dtype`` goes from real to complex or back (one side is real)."""
    return not (is_complex(x) and np.issubdtype(np.dtype(dtype), np.complexfloating))


def astype_tangent(dargs, y, a, dtype, copy=True):
    """A cast to floats carries the tangent along; a cast to integers or booleans does not."""
    if np.issubdtype(np.dtype(dtype), np.inexact):
        if not np.issubdtype(np.dtype(dtype), np.complexfloating):
            return np.real(np.asarray(dargs[0])).astype(dtype)  # (complex to real keeps the real part)
        return np.asarray(dargs[0]).astype(dtype)
    return np.zeros(np.shape(y))


def item_grad(dy, x, index):
    """The gradient of ``x.item(*index)``: ``dy`` at the element it read (a flat or a full index).

    (``index`` is the tuple of ``item``'s arguments, not ``*index``: forward mode over a call with a
    starred argument fails today, and this rule is differentiated again for second derivatives.)
    """
    g = zeros_for(x)
    dy = real_part_for(dy, x)
    if len(index) == 1 and isinstance(index[0], tuple):
        index = index[0]
    if np.ndim(x) == 0:  # (the only element; an assignment into a 0-d array is not differentiated again)
        return np.asarray(g + dy)
    if len(index) <= 1:  # a flat index, as a full one (g.flat[i] = dy could not be differentiated again)
        index = np.unravel_index((index[0] if index else 0) % max(np.size(x), 1), np.shape(x))
    g[index] = dy
    return g


# ------------------------------------------------------------------ the same elements, another shape

@shaped(np.reshape, forward="linear")
def reshape(dy, y, a, shape=None, order="C", *, newshape=None, copy=None):
    return (np.reshape(dy, np.shape(a), order=order),)


@shaped(methods=("reshape",), forward="linear")  # (x.reshape(2, 3): the shape as varargs)
def method_reshape(dy, y, self, *shape, order="C"):
    return (np.reshape(dy, np.shape(self), order=order),)


@shaped(np.ravel, methods=("ravel", "flatten"), forward="linear")
def ravel(dy, y, a, order="C"):
    return (np.reshape(dy, np.shape(a), order=order),)


@shaped(np.squeeze, methods=("squeeze",), forward="linear")
def squeeze(dy, y, a, axis=None):
    return (np.reshape(dy, np.shape(a)),)


@shaped(np.expand_dims, forward="linear")
def expand_dims(dy, y, a, axis):
    return (np.reshape(dy, np.shape(a)),)


@shaped(np.transpose, attributes=("T",), forward="linear")
def transpose(dy, y, a, axes=None):
    return (transpose_grad(dy, axes),)


@shaped(methods=("transpose",), forward="linear")  # (x.transpose(1, 0): the axes as varargs)
def method_transpose(dy, y, self, *axes):
    return (transpose_grad(dy, transpose_axes(axes)),)


@shaped(np.swapaxes, methods=("swapaxes",), forward="linear")
def swapaxes(dy, y, a, axis1, axis2):
    return (np.swapaxes(dy, axis1, axis2),)


@shaped(np.moveaxis, forward="linear")
def moveaxis(dy, y, a, source, destination):
    return (np.moveaxis(dy, destination, source),)


@shaped(np.broadcast_to, forward="linear")
def broadcast_to(dy, y, array, shape):
    return (sum_to_shape(dy, np.shape(array)),)


@shaped(np.flip, forward="linear")
def flip(dy, y, m, axis=None):
    return (np.flip(dy, axis),)


@shaped(np.fliplr, forward="linear")
def fliplr(dy, y, m):
    return (np.fliplr(dy),)


@shaped(methods=("copy",), forward="linear")  # (np.copy has no rule: np.array(x) is the same)
def method_copy(dy, y, self, order="C"):
    return (dy,)


@shaped(methods=("astype",), forward=astype_tangent)
def method_astype(dy, y, self, dtype, copy=True):
    return (astype_grad(dy, self, dtype), None)


@shaped(methods=("item",), forward="linear")
def method_item(dy, y, self, *args):
    return (item_grad(dy, self, args),)


# ------------------------------------------------------------------ joined and split

@shaped(np.concatenate, forward="jointly-linear", operands=(0,))
def concatenate(dy, y, arrays, axis=0):
    return (concatenate_grad(dy, arrays, axis),)


@shaped(np.stack, forward="jointly-linear", operands=(0,))
def stack(dy, y, arrays, axis=0):
    return (stack_grad(dy, arrays, axis),)


@shaped(np.atleast_1d, structured=True, forward="jointly-linear")  # a list for several arrays
def atleast_1d(dy, y, *arys):
    return atleast_grad(dy, arys)


@shaped(np.atleast_2d, structured=True, forward="jointly-linear")  # a list for several arrays
def atleast_2d(dy, y, *arys):
    return atleast_grad(dy, arys)


@shaped(np.atleast_3d, structured=True, forward="jointly-linear")  # a list for several arrays
def atleast_3d(dy, y, *arys):
    return atleast_grad(dy, arys)


@shaped(np.vstack, np.row_stack, forward="jointly-linear", operands=(0,))  # (row_stack: vstack's alias)
def vstack(dy, y, tup, *, dtype=None, casting="same_kind"):
    return (joined_grad(dy, tup, 0, np.atleast_2d),)


@shaped(np.hstack, forward="jointly-linear", operands=(0,))
def hstack(dy, y, tup, *, dtype=None, casting="same_kind"):
    return (joined_grad(dy, tup, 0 if np.ndim(tup[0]) <= 1 else 1, np.atleast_1d),)


@shaped(np.split, structured=True, forward="jointly-linear", operands=(0,))
def split(dy, y, ary, indices_or_sections, axis=0):
    return (split_grad(dy, ary, indices_or_sections, axis), None)


# ------------------------------------------------------------------ copied, picked, reordered

@shaped(np.tile, forward="linear")
def tile(dy, y, A, reps):
    return (tile_grad(dy, A, reps), None)


@shaped(np.repeat, methods=("repeat",), forward="linear")
def repeat(dy, y, a, repeats, axis=None):
    return (repeat_grad(dy, a, repeats, axis), None)


@shaped(np.take, methods=("take",), forward="linear")
def take(dy, y, a, indices, axis=None):
    return (take_grad(dy, a, indices, axis), None)


@shaped(np.diag, forward="linear")
def diag(dy, y, v, k=0):
    return (diag_grad(dy, v, k),)


@shaped(np.sort, forward=sort_tangent)
def sort(dy, y, a, axis=-1):
    return (sort_grad(dy, a, axis),)

