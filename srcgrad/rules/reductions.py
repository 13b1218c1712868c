"""Rules for NumPy's reductions: ``sum mean prod max min var std cumsum cumprod trace linalg.norm``.

A reduction's gradient spreads ``dy`` back over the reduced axes
(:func:`~.shaping.unreduce`) and weighs it by each element's slope. The
linear ones (``sum``, ``mean``, ``cumsum``, ``trace``) are their own
tangents; the others have a forward rule beside them, several derived from
the reverse rule (:func:`reduction_tangent`). Each row answers to the array
method of the same name too (``x.sum(axis)`` is ``np.sum(x, axis)``).
"""

import functools
import inspect

import numpy as np

from ..errors import NoRuleError
from .registry import defrule, nograd
from .shaping import is_complex, kept_axes, reduced_size, sum_to_shape, unreduce

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def extremum_grad(dy, y, x, axis=None, keepdims=False):
    """The gradient of ``max``/``min`` over ``axis``: shared equally among tied extrema."""
    return kept_axes(dy, x, axis, keepdims) * extremum_share(dy, y, x, axis, keepdims)


@nograd
def extremum_share(dy, y, x, axis, keepdims):
    """Each element's share of the gradient of ``y``, the max (or min) of ``x``: ``1/k`` at a ``k``-way tie, else 0.

    In the gradient's float type: float32 for a float32 ``x`` and ``dy`` (an int64 count would give
    float64), float64 for a Python float ``dy`` (``np.asarray`` makes it a float64 array, not a weak scalar).
    """
    x = np.asarray(x)  # (np.max takes a list too, which np.result_type would read as a dtype)
    dtype = np.result_type(np.asarray(dy), x, np.float32)
    winners = x == kept_axes(y, x, axis, keepdims)
    # One winner in each reduction, the usual case, needs no count along the axis (slow for short axes).
    # (A NaN extremum has no winner at all: its count of 0 must give NaN, as below.)
    if np.count_nonzero(winners) == np.size(y) and not np.count_nonzero(np.isnan(y)):  # (.any(): slow on a scalar)
        return winners.astype(dtype)
    return winners / np.sum(winners, axis=axis, keepdims=True, dtype=dtype)


def std_grad(dy, y, x, axis=None, ddof=0, keepdims=False):
    """The gradient of ``y = np.std(x, axis, ddof)``: zero where all the values are equal (``y == 0``)."""
    return var_grad(dy / (2 * np.where(y == 0, 1, y)), x, axis, ddof, keepdims)


def var_grad(dy, x, axis=None, ddof=0, keepdims=False):
    """The gradient of ``np.var(x, axis, ddof)`` (for complex ``x``, the variance of ``|x - mean|``: real)."""
    centred = x - np.mean(x, axis=axis, keepdims=True)
    n = np.size(x) // max(np.size(np.mean(x, axis=axis)), 1)
    if is_complex(x):  # (a function from complex to real: docs/complex.md)
        dy = np.real(dy)
        centred = np.conj(centred)
    return unreduce(dy, x, axis, keepdims) * 2 * centred / (n - ddof)


def cumsum_grad(dy, x, axis=None):
    """The gradient of ``np.cumsum``: a cumulative sum from the other end."""
    if axis is None:
        g = np.reshape(np.flip(np.cumsum(np.flip(np.ravel(dy)))), np.shape(x))
    else:
        g = np.flip(np.cumsum(np.flip(dy, axis), axis), axis)
    return g


def cumprod_grad(dy, y, x, axis=None):
    """The gradient of ``y = np.cumprod(x)``: ``y_j / x_i`` summed over ``j >= i``, a cumulative sum from the end."""
    if axis is None:
        return np.reshape(cumsum_grad(np.ravel(dy) * np.ravel(y), np.ravel(x), 0) / np.ravel(x), np.shape(x))
    return cumsum_grad(dy * y, x, axis) / x


def cumprod_tangent(dargs, y, a, axis=None, dtype=None, out=None):
    """d cumprod(a) = cumprod(a) * cumsum(da / a)."""
    if axis is None:
        return y * np.cumsum(np.ravel(dargs[0] / a))
    return y * np.cumsum(dargs[0] / a, axis)


def trace_grad(dy, x, offset=0, axis1=0, axis2=1):
    """The gradient of ``np.trace``: ``dy`` on the diagonal of the ``axis1, axis2`` plane (the others batch)."""
    eye = np.eye(np.shape(x)[axis1], np.shape(x)[axis2], offset)
    return np.moveaxis(np.expand_dims(dy, (-2, -1)) * eye, (-2, -1), (axis1, axis2))


def norm_grad(dy, y, x, ord=None, axis=None, keepdims=False):
    """The gradient of ``np.linalg.norm``: vector norms, or matrix norms over two axes.

    For complex ``x`` (a function from complex to real: docs/complex.md), the conjugate of the
    real formula's slope (``conj(x) / |x|`` for the 2-norm) times the real part of ``dy``.
    """
    matrix_axes = (axis is None and np.ndim(x) == 2) or (np.ndim(axis) == 1 and len(axis) == 2)
    if is_complex(x):
        dy = np.real(dy)
    if matrix_axes and ord not in (None, "fro"):
        g = matrix_norm_grad(dy, x, ord, (0, 1) if axis is None else axis)
    else:
        g = vector_norm_grad(dy, y, x, ord, axis, keepdims)
    if is_complex(x):
        g = np.conj(g)
    return g


def vector_norm_grad(dy, y, x, ord, axis, keepdims):
    """The gradient of the vector ``ord``-norm (the 2-norm of all of ``x`` when ``ord`` is None or 'fro')."""
    dys, norms = unreduce(dy, x, axis, keepdims), unreduce(y, x, axis, keepdims)  # shaped like x
    if ord is None or ord == 2 or ord == "fro":
        g = dys * x / np.where(norms == 0, 1, norms)
    elif ord == np.inf or ord == -np.inf:
        ties = np.abs(x) == norms
        g = dys * np.sign(x) * ties / np.sum(ties, axis=axis, keepdims=True)
    elif ord == 0:  # the number of non-zeros
        g = 0 * dys * x
    else:
        g = dys * np.sign(x) * (np.abs(x) / norms) ** (ord - 1)
    return g


def matrix_norm_grad(dy, x, ord, axis):
    """The gradient of the matrix norm of ``x`` over the axes ``axis = (rows, columns)``."""
    m = np.moveaxis(x, axis, (-2, -1))
    dys = np.reshape(dy, np.shape(m)[:-2] + (1, 1))
    if ord in ("nuc", 2, -2):
        g = singular_grad(m, ord)
    elif ord == 1 or ord == -1:  # the largest (smallest) column sum of |x|
        g = np.sign(m) * extreme_share(np.sum(np.abs(m), axis=-2, keepdims=True), ord > 0, axis=-1)
    elif ord == np.inf or ord == -np.inf:  # the largest (smallest) row sum of |x|
        g = np.sign(m) * extreme_share(np.sum(np.abs(m), axis=-1, keepdims=True), ord > 0, axis=-2)
    else:
        raise NoRuleError(f"srcgrad has no rule for the matrix norm np.linalg.norm with ord={ord!r}")
    return np.moveaxis(dys * g, (-2, -1), axis)


def singular_grad(m, ord):
    """The gradient of the nuclear norm (``U @ Vt``) or of the largest (smallest) singular value (``u v^T``)."""
    u, _, vt = np.linalg.svd(m, full_matrices=False)
    if ord == "nuc":
        g = u @ vt
    else:
        k = 0 if ord == 2 else -1
        g = u[..., :, k, None] @ vt[..., None, k, :]
    return g


def extreme_share(values, largest, axis):
    """``1/k`` at the ``k`` places along ``axis`` where ``values`` is largest (smallest), 0 elsewhere."""
    best = np.max(values, axis, keepdims=True) if largest else np.min(values, axis, keepdims=True)
    winners = values == best
    return winners / np.sum(winners, axis, keepdims=True)


def logsumexp_grad(dy, y, a, axis=None, b=None, keepdims=False):
    """The gradient of ``logsumexp(a, axis, b)`` for ``a``: ``dy`` times the (weighted) softmax of ``a``."""
    weights = 1 if b is None else np.asarray(b)  # (an array: a list would be differentiated as a list)
    return unreduce(dy, a, axis, keepdims) * weights * np.exp(a - unreduce(y, a, axis, keepdims))


def logsumexp_weight_grad(dy, y, a, axis=None, b=None, keepdims=False):
    """The gradient of ``logsumexp(a, axis, b)`` for the weights ``b`` (none when there are none)."""
    return None if b is None else sum_to_shape(logsumexp_grad(dy, y, a, axis, None, keepdims), np.shape(b))


# ------------------------------------------------------------------ forward rules

def prod_tangent(dargs, y, a, axis=None, dtype=None, out=None, keepdims=False):
    """d prod(a) = sum(prod(a) / a * da)."""
    return np.sum(unreduce(y, a, axis, keepdims) / a * dargs[0], axis=axis, keepdims=keepdims)


def extremum_tangent(dargs, y, a, axis=None, out=None, keepdims=False):
    """d max(a): the tangent at the maximum (shared among ties)."""
    mask = a == unreduce(y, a, axis, keepdims)
    return np.sum(dargs[0] * mask, axis=axis, keepdims=keepdims) / np.sum(mask, axis=axis, keepdims=keepdims)


def var_tangent(dargs, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """d var(a) = 2 * mean-like sum of (a - mean) * da."""
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = np.size(a) // max(np.size(np.mean(a, axis=axis)), 1)
    if is_complex(a):  # (the variance of |a - mean|, real: its tangent is real too)
        return 2 * np.real(np.sum(np.conj(centred) * dargs[0], axis=axis, keepdims=keepdims)) / (n - ddof)
    return 2 * np.sum(centred * dargs[0], axis=axis, keepdims=keepdims) / (n - ddof)


def reduction_tangent(grad):
    """The forward rule of a reduction from its reverse rule: ``dy = sum(grad(1) * da)`` over the reduced axes.

    ``grad(dy, y, a, ...)`` is the reverse rule's gradient for ``a``; at ``dy = 1`` it is the
    slope of each output element with respect to the elements of ``a`` that went into it.
    """

    def tangent(dargs, y, a, *args, **kwargs):
        names = list(inspect.signature(grad).parameters)[3:]
        bound = dict(zip(names, args), **kwargs)
        axis, keepdims = bound.get("axis"), bound.get("keepdims", False)
        slope = grad(np.ones_like(y), y, a, *args, **kwargs)
        if is_complex(a):  # (std and norm are real: Re(slope da), as docs/complex.md says)
            return np.real(np.sum(slope * dargs[0], axis=axis, keepdims=keepdims))
        return np.sum(slope * dargs[0], axis=axis, keepdims=keepdims)

    tangent.__name__ = tangent.__qualname__ = grad.__name__.replace("_slope", "_tangent")
    return tangent


def std_slope(dy, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """The reverse rule of ``np.std`` for ``a``."""
    return std_grad(dy, y, a, axis, ddof, keepdims)


def norm_slope(dy, y, x, ord=None, axis=None, keepdims=False):
    """The reverse rule of ``np.linalg.norm`` (every ``ord``)."""
    return norm_grad(dy, y, x, ord, axis, keepdims)


std_tangent = reduction_tangent(std_slope)
norm_tangent = reduction_tangent(norm_slope)


# ------------------------------------------------------------------ the rules

def array_sum(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.sum(a)`` (``axis``, ``dtype``, ``out`` by position): what generated forwards call for it.

    For an array, the reduction ``np.sum`` itself ends in, ``np.add.reduce``:
    the same value, bit for bit, without the two layers of Python dispatch in
    front of it, with which a small array's sum takes three times as long.
    Anything else (a list, a number, an array subclass, an object with a
    ``sum`` method) goes to ``np.sum``, as it was called.
    """
    if type(a) is np.ndarray:
        return _add_reduce(a, axis, dtype, out, keepdims=keepdims)
    if keepdims:
        return np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=True)
    # (as np.sum: keepdims only when given; by keyword, as Dask's sum takes keepdims before out)
    return np.sum(a, axis=axis, dtype=dtype, out=out)


_add_reduce = np.add.reduce


@shaped(np.sum, array_sum, methods=("sum",), forward="linear", computed_by=array_sum)
def sum_(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, a, axis, keepdims),)


@shaped(np.mean, methods=("mean",), forward="linear")
def mean(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, a, axis, keepdims) / reduced_size(a, y),)


@shaped(np.prod, methods=("prod",), forward=prod_tangent)
def prod(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy * y, a, axis, keepdims) / a,)


@shaped(np.max, np.amax, methods=("max",), forward=extremum_tangent)
def max_(dy, y, a, axis=None, out=None, keepdims=False):
    return (extremum_grad(dy, y, a, axis, keepdims),)


@shaped(np.min, np.amin, methods=("min",), forward=extremum_tangent)
def min_(dy, y, a, axis=None, out=None, keepdims=False):
    return (extremum_grad(dy, y, a, axis, keepdims),)


@shaped(np.var, methods=("var",), forward=var_tangent)
def var(dy, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return (var_grad(dy, a, axis, ddof, keepdims),)


@shaped(np.std, methods=("std",), forward=std_tangent)
def std(dy, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return (std_grad(dy, y, a, axis, ddof, keepdims),)


@shaped(np.cumsum, methods=("cumsum",), forward="linear")
def cumsum(dy, y, a, axis=None, dtype=None, out=None):
    return (cumsum_grad(dy, a, axis),)


@shaped(np.cumprod, methods=("cumprod",), forward=cumprod_tangent)
def cumprod(dy, y, a, axis=None, dtype=None, out=None):
    return (cumprod_grad(dy, y, a, axis), None, None, None)


@shaped(np.trace, methods=("trace",), forward="linear")
def trace(dy, y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return (trace_grad(dy, a, offset, axis1, axis2), None, None, None, None, None)


@shaped(np.linalg.norm, forward=norm_tangent)
def norm(dy, y, x, ord=None, axis=None, keepdims=False):
    return (norm_grad(dy, y, x, ord, axis, keepdims),)

