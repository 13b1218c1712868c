"""What rules share: moving a gradient between shapes and dtypes.

A reduction's gradient is spread back over the reduced axes (:func:`unreduce`),
a broadcast one is summed back (:func:`sum_to_shape`), and a gradient written
into a real array drops its imaginary part (:func:`real_part_for`). Each is
ordinary NumPy code with a rule of its own where it needs one, so the rules
that call it can be differentiated again.
"""

import functools

import numpy as np

from ..runtime.structure import is_other_array, refuse_unknown_sizes, unknown_sizes
from .registry import defrule, nograd

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


@nograd
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim for a in axis)
    return (axis % ndim,)


def zeros_for(x):
    """A zero gradient for the array ``x``: its shape, its float dtype (float64 for integers)."""
    if is_other_array(x):  # (Dask, CuPy: that library's zeros, through NEP 18)
        return np.zeros_like(x, dtype=np.result_type(x, np.float32))
    return np.zeros(np.shape(x), np.result_type(x, np.float32))


def kept_axes(v, x, axis=None, keepdims=False):
    """``v``, a reduction of ``x`` over ``axis``, with the reduced axes put back as length 1."""
    if keepdims or axis is None or np.ndim(x) == 0:
        return v
    return np.expand_dims(v, _axes(axis, np.ndim(x)))


_SCALARS = frozenset((np.float64, np.float32, np.float16, np.complex128, np.complex64))


def unreduce(dy, x, axis=None, keepdims=False):
    """Broadcast the gradient ``dy`` of a reduction over ``axis`` back to the shape of ``x``."""
    if axis is None and type(x) is np.ndarray and x.size <= 4096 and (type(dy) is float or type(dy) in _SCALARS):
        filled = np.empty(x.shape, np.float64 if type(dy) is float else dy.dtype)  # (np.full, less its layers)
        filled.fill(dy)
        return filled
    shape = np.shape(x)
    dy = kept_axes(dy, x, axis, keepdims)
    if is_other_array(x):  # (Dask, CuPy: zeros of x's own library, a Dask array in x's chunks, plus dy)
        refuse_unknown_sizes(x, "the gradient of a reduction")
        return np.zeros_like(x, dtype=np.result_type(dy)) + dy
    if is_other_array(dy):  # (np.full would convert dy to NumPy: a Dask dy would be computed)
        return np.broadcast_to(dy, shape)
    if np.size(x) <= 4096:  # (small: a filled array costs less to make than a broadcast view)
        return np.full(shape, dy)
    return np.broadcast_to(dy, shape)


@shaped(unreduce, forward="linear-in-first")
def unreduce_rule(g, y, dy, x, axis=None, keepdims=False):
    """``unreduce`` spreads ``dy``; its transpose sums back (its own rule: ``np.full`` has none for its value)."""
    return (np.reshape(np.sum(g, axis=axis, keepdims=keepdims), np.shape(dy)), None, None, None)


def reduced_size(x, y):
    """How many elements of ``x`` went into each element of the reduction ``y``."""
    return _size(x) // max(_size(y), 1)


@nograd
def _size(v):
    """``np.size(v)``, but an array's own ``size`` (``np.size`` of a Dask array computes the array)."""
    if type(v) is np.ndarray:
        return v.size
    if is_other_array(v):
        refuse_unknown_sizes(v, "the number of elements in a mean or variance")  # (its size would be nan)
        return v.size
    return np.size(v)


def sum_to_shape(g, shape):
    """Sum the leading (batch) axes of ``g`` away until it has ``shape``."""
    if np.shape(g) == shape:
        summed = g
    elif type(g) is not np.ndarray and is_other_array(g) and (unknown_sizes(g) or any(n != n for n in shape)):
        # (a Dask gradient with unknown sizes: the same axes pass; to sum to a shape, its sizes are needed)
        gshape = np.shape(g)
        if len(gshape) != len(shape) or not all(m == n or (m != m and n != n) for m, n in zip(gshape, shape)):
            refuse_unknown_sizes(g, "a broadcast gradient")
            raise ValueError(f"srcgrad needs the sizes of a gradient's shape {shape}, but they are unknown (nan); "
                             "call x.compute_chunk_sizes() on the Dask argument first")
        summed = g
    else:  # (a new name, not ``g =``: the adjoint of the sum needs the old ``g``)
        summed = np.reshape(np.sum(g, axis=batch_axes(np.shape(g), shape), keepdims=True), shape)
    return summed


@nograd
def batch_axes(gshape, shape):
    """The axes of a ``gshape`` gradient that were broadcast onto a ``shape`` value."""
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)


def real_zeros(x):
    """Zeros shaped like ``x``, in its float dtype (float64 for a Python float, an integer, or complex128's parts)."""
    dtype = np.result_type(x)
    return np.zeros(np.shape(x), np.real(np.zeros((), dtype)).dtype if dtype.kind in "fc" else np.float64)


@nograd
def is_complex(x):
    """``np.iscomplexobj(x)``, with a float or an array first (without its layers of Python)."""
    if type(x) is float:
        return False
    dtype = getattr(x, "dtype", None)
    if dtype is None:  # (a Python complex, a list)
        return np.iscomplexobj(x)
    return dtype.kind == "c"


def real_part_for(dy, x):
    """``dy``, a gradient of ``x``, as real as ``x``: written into a real array, its imaginary part means nothing."""
    if is_complex(dy) and not is_complex(x):
        return np.real(dy)
    return dy


@nograd
def inexact_result(y):
    """Whether an array made from a value carries its slope (integer arrays round it away)."""
    return np.issubdtype(np.result_type(y), np.inexact)


def tangent_or_zero(dargs, i, value):
    """The tangent at position ``i`` of a forward rule's ``dargs``, or a float zero shaped like ``value``."""
    d = dargs[i] if i < len(dargs) else None
    return np.zeros(np.shape(value)) if d is None else d

