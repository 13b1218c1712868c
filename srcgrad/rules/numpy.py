"""Rules for NumPy: ufuncs, reductions, shape functions, linear algebra, array methods.

A rule is one line of maths. Where the maths needs more than a line (a
reduction's gradient must be broadcast back over the reduced axes), the
line calls a named helper defined here, which is ordinary NumPy code and
can itself be differentiated for higher-order derivatives.
"""

import functools
import itertools
import math
import string

import numpy as np

from ..errors import NoRuleError
from ..runtime.accumulate import unbroadcast
from ..runtime.structure import zero_like
from . import registry
from .operators import matmul_grad_a, matmul_grad_b, power_log, power_slope, sum_to_shape
from .registry import (defattribute, defmethod, defrule, keyword_aliases, nograd, nondiff_attributes, nondiff_methods,
                       when_imported)

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False, elementwise=True)
shaped = functools.partial(defrule, _builtin=True, broadcast=False)  # reductions, shapes, products


# ------------------------------------------------------------------ helpers

@nograd
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim for a in axis)
    return (axis % ndim,)


def zeros_for(x):
    """A zero gradient for the array ``x``: its shape, its float dtype (float64 for integers)."""
    return np.zeros(np.shape(x), np.result_type(x, np.float32))


def winner_grad(dy, a, b):
    """The part of ``dy`` that goes to ``a`` in ``max(a, b)``: all where ``a > b``, half at a tie."""
    ties = a == b
    if np.count_nonzero(ties):  # (cheaper than np.any, which goes through two layers of Python)
        return dy * (a > b) + 0.5 * dy * ties
    return dy * (a > b)  # (ReLU's usual case: one pass fewer than with the halves)


def nan_winner_grad(dy, a, b):
    """Like :func:`winner_grad` for ``np.fmax``, which picks ``a`` where ``b`` is NaN."""
    return winner_grad(dy, a, b) + dy * (np.isnan(b) & ~np.isnan(a))


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
    if np.size(x) <= 4096:  # (small: a filled array costs less to make than a broadcast view)
        return np.full(shape, dy)
    return np.broadcast_to(dy, shape)


@shaped(unreduce)
def unreduce_rule(g, y, dy, x, axis=None, keepdims=False):
    """``unreduce`` spreads ``dy``; its transpose sums back (its own rule: ``np.full`` has none for its value)."""
    return (np.reshape(np.sum(g, axis=axis, keepdims=keepdims), np.shape(dy)), None, None, None)


def reduced_size(x, y):
    """How many elements of ``x`` went into each element of the reduction ``y``."""
    return np.size(x) // max(np.size(y), 1)


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


def transpose_grad(dy, axes=None):
    """The gradient of ``np.transpose(x, axes)``: transpose back."""
    return np.transpose(dy) if axes is None else np.transpose(dy, np.argsort(axes))


def clip_grad(dy, x, lo, hi):
    """The gradient passes where ``x`` was not clipped."""
    inside = np.ones(np.shape(x), bool)
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return dy * inside


def bound_grad(dy, x, bound, beyond):
    """The gradient of a clip bound: ``dy`` where ``beyond(x, bound)``, that is where ``x`` was clipped to it."""
    return None if bound is None else dy * beyond(x, bound)


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


def trace_grad(dy, x, offset=0):
    """The gradient of ``np.trace``: ``dy`` on the diagonal."""
    return dy * np.eye(np.shape(x)[0], np.shape(x)[1], offset)


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


def det_grad(dy, y, a):
    """The gradient of ``det(a)``: ``dy * det(a) * inv(a).T``."""
    return np.expand_dims(dy * y, (-1, -2)) * np.swapaxes(np.linalg.inv(a), -1, -2)


def solve_grad_a(dy, x, a):
    """The gradient of ``x = solve(a, b)`` with respect to ``a``."""
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), dy)
    if np.ndim(x) == np.ndim(a) - 1:  # b, and so x, is a vector
        g = -np.expand_dims(gb, -1) * np.expand_dims(x, -2)
    else:
        g = -gb @ np.swapaxes(x, -1, -2)
    return g


def dot_grad_a(dy, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``a``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        g = sum_to_shape(dy * b, np.shape(a))
    elif np.ndim(b) <= 2:  # np.dot is a @ b
        g = matmul_grad_a(dy, a, b)
    else:  # contract dy with all of b's axes but the summed one, its second-to-last
        b_free = list(range(np.ndim(b) - 2)) + [np.ndim(b) - 1]
        g = np.tensordot(dy, b, axes=(list(range(np.ndim(a) - 1, np.ndim(dy))), b_free))
    return g


def dot_grad_b(dy, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``b``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        g = sum_to_shape(dy * a, np.shape(b))
    elif np.ndim(b) <= 2:
        g = matmul_grad_b(dy, a, b)
    else:
        a_free = list(range(np.ndim(a) - 1))
        g = np.moveaxis(np.tensordot(a, dy, axes=(a_free, a_free)), 0, -2)
    return g


def inner_grad_a(dy, a, b):
    """The gradient of ``np.inner(a, b)`` (a sum over both last axes) with respect to ``a``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0 or np.ndim(a) == np.ndim(b) == 1:
        g = sum_to_shape(dy * b, np.shape(a))
    else:
        g = np.tensordot(dy, b, axes=(list(range(np.ndim(a) - 1, np.ndim(dy))), list(range(np.ndim(b) - 1))))
    return g


def inner_grad_b(dy, a, b):
    """The gradient of ``np.inner(a, b)`` with respect to ``b``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0 or np.ndim(a) == np.ndim(b) == 1:
        g = sum_to_shape(dy * a, np.shape(b))
    else:
        g = np.tensordot(dy, a, axes=(list(range(np.ndim(a) - 1)), list(range(np.ndim(a) - 1))))
    return g


def tensordot_axes(a, b, axes):
    """``np.tensordot``'s ``axes`` as two lists: the summed axes of ``a`` and, paired with them, of ``b``."""
    if np.ndim(axes) == 0:
        pairs = (list(range(np.ndim(a) - axes, np.ndim(a))), list(range(axes)))
    else:
        pairs = ([i % np.ndim(a) for i in np.atleast_1d(axes[0])], [i % np.ndim(b) for i in np.atleast_1d(axes[1])])
    return pairs


def tensordot_grad_a(dy, a, b, axes):
    """The gradient of ``np.tensordot(a, b, axes)`` with respect to ``a``: ``dy`` contracted with ``b``."""
    a_axes, b_axes = tensordot_axes(a, b, axes)
    a_free = [i for i in range(np.ndim(a)) if i not in a_axes]
    b_free = [i for i in range(np.ndim(b)) if i not in b_axes]
    g = np.tensordot(dy, b, axes=(list(range(len(a_free), np.ndim(dy))), b_free))
    # g has a's free axes, then b's summed axes in increasing order: put each where a has it.
    holds = a_free + [a_axes[b_axes.index(j)] for j in sorted(b_axes)]
    return np.transpose(g, np.argsort(holds))


def tensordot_grad_b(dy, a, b, axes):
    """The gradient of ``np.tensordot(a, b, axes)`` with respect to ``b``."""
    a_axes, b_axes = tensordot_axes(a, b, axes)
    a_free = [i for i in range(np.ndim(a)) if i not in a_axes]
    b_free = [i for i in range(np.ndim(b)) if i not in b_axes]
    g = np.tensordot(a, dy, axes=(a_free, list(range(len(a_free)))))
    # g has a's summed axes in increasing order (so b's partners of them), then b's free axes.
    holds = [b_axes[a_axes.index(i)] for i in sorted(a_axes)] + b_free
    return np.transpose(g, np.argsort(holds))


def _einsum_parts(subscripts, count):
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        raise NoRuleError("srcgrad's einsum rule does not handle '...' yet", fix="write the axes out")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
    else:
        inputs = subscripts
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(",")
    if len(inputs) != count:
        raise ValueError("einsum: subscripts and operands do not match")
    return inputs, output


def einsum_grad(dy, subscripts, operands, i):
    """The gradient of ``np.einsum(subscripts, *operands)`` with respect to operand ``i``."""
    spec, others, kept_shape = einsum_grad_plan(subscripts, tuple(np.shape(op) for op in operands), i)
    if len(others) == 1:
        summed = contract(spec, dy, operands[others[0]])
    else:  # (optimize: a contraction order and BLAS where they help; the plain loop is up to 20x slower here)
        summed = np.einsum(spec, dy, *[operands[j] for j in others], optimize=True)
    shape = np.shape(operands[i])
    if kept_shape is None and np.shape(summed) == shape:
        return summed
    # Along axes summed within this operand alone the gradient is constant.
    return np.broadcast_to(np.reshape(summed, kept_shape if kept_shape is not None else shape), shape)


@nograd
def einsum_grad_plan(subscripts, shapes, i):
    """What :func:`einsum_grad` contracts, from the subscripts alone (text, so differentiated never):
    the spec of ``dy`` with the other operands, their positions, and the shape the result has before
    it is spread over the axes summed within operand ``i`` alone (``None``: there are none)."""
    inputs, output = _einsum_parts(subscripts, len(shapes))
    target = inputs[i]
    if len(set(target)) != len(target):
        raise NoRuleError("srcgrad's einsum rule does not handle a repeated index in one operand",
                          fix="take the diagonal first with np.diagonal, then use einsum")
    others = [j for j in range(len(shapes)) if j != i]
    available = set(output).union(*[set(inputs[j]) for j in others])
    kept = "".join(c for c in target if c in available)
    spec = ",".join([output] + [inputs[j] for j in others]) + "->" + kept
    kept_shape = None if kept == target else [n if c in kept else 1 for c, n in zip(target, shapes[i])]
    return spec, others, kept_shape


def contract(spec, a, b):
    """``np.einsum(spec, a, b)`` as one batched matrix product, where the subscripts allow it.

    ``np.einsum(..., optimize=True)`` reaches the same BLAS call through
    about 50 us of Python planning on every call; the plan here is made
    once per subscripts and shapes (:func:`contraction_plan`).
    """
    plan = contraction_plan(spec, np.shape(a), np.shape(b))
    if plan is None:
        return np.einsum(spec, a, b, optimize=True)
    a_alone, a_order, a_matrix, b_alone, b_order, b_matrix, b_first, product_shape, out_order = plan
    if a_alone:
        a = np.sum(a, axis=a_alone)
    if b_alone:
        b = np.sum(b, axis=b_alone)
    a = np.reshape(np.transpose(a, a_order), a_matrix)
    b = np.reshape(np.transpose(b, b_order), b_matrix)
    product = np.reshape(b @ a if b_first else a @ b, product_shape)
    return product if out_order is None else np.transpose(product, out_order)


@nograd
@functools.lru_cache(maxsize=256)
def contraction_plan(spec, a_shape, b_shape):
    """How :func:`contract` computes ``np.einsum(spec, a, b)``: ``None`` where it cannot (einsum does).

    The letters fall into four groups: ``batch`` (in ``a``, ``b`` and the
    output), ``summed`` (in ``a`` and ``b`` only), and each operand's
    ``free`` ones (in it and the output). Letters in one operand alone are
    summed away first. Then ``a`` becomes a stack of ``free_a x summed``
    matrices, ``b`` one of ``summed x free_b``, and their product is
    reshaped and its axes put in the output's order (``None``: they are).

    ``b @ a`` (the transposed product) instead where ``a @ b`` would need
    its axes moved: a gradient's free letters, ``a``'s, are then the ones
    that run along memory, so the sum that unbroadcasts it over them (a
    data axis, typically) reads memory in order, as after einsum.
    """
    a_letters, rest = spec.split(",")
    b_letters, out = rest.split("->")
    if any(len(set(s)) != len(s) for s in (a_letters, b_letters, out)) or set(out) - set(a_letters + b_letters):
        return None
    if len(a_letters) != len(a_shape) or len(b_letters) != len(b_shape):
        return None
    size = dict(zip(a_letters, a_shape))
    if any(size.setdefault(c, n) != n for c, n in zip(b_letters, b_shape)):
        return None  # (a length-1 axis broadcast against a longer one: einsum's business)
    a_alone = tuple(i for i, c in enumerate(a_letters) if c not in b_letters and c not in out)
    b_alone = tuple(i for i, c in enumerate(b_letters) if c not in a_letters and c not in out)
    a_kept = [c for i, c in enumerate(a_letters) if i not in a_alone]
    b_kept = [c for i, c in enumerate(b_letters) if i not in b_alone]
    batch = [c for c in a_kept if c in b_kept and c in out]
    summed = [c for c in a_kept if c in b_kept and c not in out]
    free_a = [c for c in a_kept if c not in b_kept]
    free_b = [c for c in b_kept if c not in a_kept]

    def count(letters):
        return math.prod(size[c] for c in letters)

    def matrices(letters, rows, columns):  # (the axes' order that makes batch x rows x columns, and its shape)
        return tuple(letters.index(c) for c in batch + rows + columns), (count(batch), count(rows), count(columns))

    b_first = batch + free_a + free_b != list(out)
    if b_first:
        a_order, a_matrix = matrices(a_kept, summed, free_a)
        b_order, b_matrix = matrices(b_kept, free_b, summed)
        result = batch + free_b + free_a
    else:
        a_order, a_matrix = matrices(a_kept, free_a, summed)
        b_order, b_matrix = matrices(b_kept, summed, free_b)
        result = batch + free_a + free_b
    out_order = None if result == list(out) else tuple(result.index(c) for c in out)
    return a_alone, a_order, a_matrix, b_alone, b_order, b_matrix, b_first, tuple(size[c] for c in result), out_order


def array_grad(dy, x):
    """The gradient of ``np.array(x)`` for nested lists of scalars or arrays."""
    if isinstance(x, (list, tuple)):
        return [array_grad(dy[i], xi) for i, xi in enumerate(x)]
    return dy


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


def logsumexp_grad(dy, y, a, axis=None, b=None, keepdims=False):
    """The gradient of ``logsumexp(a, axis, b)`` for ``a``: ``dy`` times the (weighted) softmax of ``a``."""
    weights = 1 if b is None else np.asarray(b)  # (an array: a list would be differentiated as a list)
    return unreduce(dy, a, axis, keepdims) * weights * np.exp(a - unreduce(y, a, axis, keepdims))


def logsumexp_weight_grad(dy, y, a, axis=None, b=None, keepdims=False):
    """The gradient of ``logsumexp(a, axis, b)`` for the weights ``b`` (none when there are none)."""
    return None if b is None else sum_to_shape(logsumexp_grad(dy, y, a, axis, None, keepdims), np.shape(b))


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


def transpose_axes(axes):
    """The ``axes`` of ``x.transpose(*axes)`` as ``np.transpose`` takes them (``x.transpose((1, 0))`` too)."""
    given_as_one = len(axes) == 1 and not isinstance(axes[0], (int, np.integer))
    return axes[0] if given_as_one else (axes or None)


# ------------------------------------------------------------------ elementwise

@rule(np.add)
def add(dy, y, a, b):
    return (dy, dy)


@rule(np.subtract)
def subtract(dy, y, a, b):
    return (dy, -dy)


@rule(np.multiply)
def multiply(dy, y, a, b):
    return (dy * b, a * dy)


@rule(np.divide)
def divide(dy, y, a, b):
    return (dy / b, -dy * a / b ** 2)


@rule(np.power)
def power(dy, y, a, b):
    return (dy * power_slope(a, b), dy * y * power_log(a))


@rule(np.maximum)
def maximum(dy, y, a, b):
    return (winner_grad(dy, a, b), winner_grad(dy, b, a))


@rule(np.minimum)
def minimum(dy, y, a, b):
    return (winner_grad(dy, -a, -b), winner_grad(dy, -b, -a))


@rule(np.fmax)
def fmax(dy, y, a, b):
    return (nan_winner_grad(dy, a, b), nan_winner_grad(dy, b, a))


@rule(np.fmin)
def fmin(dy, y, a, b):
    return (nan_winner_grad(dy, -a, -b), nan_winner_grad(dy, -b, -a))


@rule(np.arctan2)
def arctan2(dy, y, a, b):
    return (dy * b / (a ** 2 + b ** 2), -dy * a / (a ** 2 + b ** 2))


@rule(np.hypot)
def hypot(dy, y, a, b):
    return (dy * a / y, dy * b / y)


@rule(np.logaddexp)
def logaddexp(dy, y, a, b):
    return (dy * np.exp(a - y), dy * np.exp(b - y))


@rule(np.where)
def where(dy, y, condition, a, b):
    return (None, np.where(condition, dy, 0), np.where(condition, 0, dy))


@unary(np.negative)
def negative(dy, y, x):
    return (-dy,)


@unary(np.positive)
def positive(dy, y, x):
    return (dy,)


@unary(np.exp)
def exp(dy, y, x):
    return (dy * y,)


@unary(np.exp2)
def exp2(dy, y, x):
    return (dy * y * np.log(2),)


@unary(np.expm1)
def expm1(dy, y, x):
    return (dy * (y + 1),)


@unary(np.log)
def log(dy, y, x):
    return (dy / x,)


@unary(np.log2)
def log2(dy, y, x):
    return (dy / (x * np.log(2)),)


@unary(np.log10)
def log10(dy, y, x):
    return (dy / (x * np.log(10)),)


@unary(np.log1p)
def log1p(dy, y, x):
    return (dy / (1 + x),)


@unary(np.sqrt)
def sqrt(dy, y, x):
    return (dy / (2 * y),)


@unary(np.cbrt)
def cbrt(dy, y, x):
    return (dy / (3 * y ** 2),)


@unary(np.square)
def square(dy, y, x):
    return (2 * x * dy,)


@unary(np.reciprocal)
def reciprocal(dy, y, x):
    return (-dy * y ** 2,)


@unary(np.sin)
def sin(dy, y, x):
    return (dy * np.cos(x),)


@unary(np.cos)
def cos(dy, y, x):
    return (-dy * np.sin(x),)


@unary(np.tan)
def tan(dy, y, x):
    return (dy * (1 + y ** 2),)


@unary(np.tanh)
def tanh(dy, y, x):
    return (dy * (1 - y ** 2),)


@unary(np.sinh)
def sinh(dy, y, x):
    return (dy * np.cosh(x),)


@unary(np.cosh)
def cosh(dy, y, x):
    return (dy * np.sinh(x),)


@unary(np.arcsin)
def arcsin(dy, y, x):
    return (dy / np.sqrt(1 - x ** 2),)


@unary(np.arccos)
def arccos(dy, y, x):
    return (-dy / np.sqrt(1 - x ** 2),)


@unary(np.arctan)
def arctan(dy, y, x):
    return (dy / (1 + x ** 2),)


@unary(np.arcsinh)
def arcsinh(dy, y, x):
    return (dy / np.sqrt(x ** 2 + 1),)


@unary(np.arctanh)
def arctanh(dy, y, x):
    return (dy / (1 - x ** 2),)


@unary(np.abs)
def absolute(dy, y, x):
    return (abs_grad(dy, y, x),)


@unary(np.fabs)
def fabs(dy, y, x):
    return (dy * np.sign(x),)


# ------------------------------------------------------------------ complex numbers
#
# autograd's convention (docs/complex.md): the gradient of a real f of z = x + iy is
# df/dx - i df/dy, and a holomorphic function's rule is dy * f'(z), as for reals. A function
# from complex to real (abs, real, imag, angle) reads only the real part of its dy: the
# gradient of a real value may carry an imaginary part, which means nothing and is dropped
# where it could start to mean something: here, where it is written into a real array
# (real_part_for, structure.index_grad) and where it reaches a real argument (structure.real_for).

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


def abs_grad(dy, y, x):
    """The gradient of ``y = |x|``: ``dy sign(x)`` for real ``x``; ``Re(dy) conj(x) / |x|`` (0 at 0) for complex."""
    if is_complex(x):
        return np.real(dy) * np.conj(x) / np.where(y == 0, 1, y)
    return dy * np.sign(x)


def abs_tangent(dargs, y, x):
    """The tangent of ``y = |x|``: ``Re(conj(x) dx) / |x|`` (0 at 0), ``sign(x) dx`` for real ``x``."""
    if is_complex(x):
        return np.real(np.conj(x) * dargs[0]) / np.where(y == 0, 1, y)
    return dargs[0] * np.sign(x)


def imag_grad(dy, x):
    """The gradient of ``np.imag(x)``: ``-i Re(dy)``; a zero for real ``x``, whose imaginary part is constant."""
    if is_complex(x):
        return -1j * np.real(dy)
    return real_zeros(dy)


def angle_slope(x, deg=False):
    """The gradient of ``np.angle(x)`` at ``dy = 1``: ``-i conj(x) / |x|^2``; 0 for real ``x`` (0 or pi)."""
    if is_complex(x):
        slope = -1j * np.conj(x) / (np.real(x) ** 2 + np.imag(x) ** 2)
    else:
        slope = real_zeros(x)
    if deg:
        slope = slope * (180 / np.pi)
    return slope


def angle_tangent(dargs, y, z, deg=False):
    """The tangent of ``np.angle(z)``: ``Re(slope dz)``, real as the angle is."""
    return np.real(angle_slope(z, deg) * dargs[0])


def part_grad(dy, x, name):
    """The gradient of ``x.real`` (``name == "real"``) or ``x.imag``: as ``np.real`` and ``np.imag``'s.

    Refused for any other object (a class of the user's with a field ``real``): generated code adds
    the gradients of ``.real`` and ``.imag`` as numbers, which a field's gradient is not.
    """
    if isinstance(x, (np.ndarray, np.generic, complex, float, int)):
        if name == "real":
            return np.real(dy)
        return imag_grad(dy, x)
    raise NoRuleError(
        f"srcgrad reads .{name} as the {name} part of a number or an array, and cannot differentiate "
        f"the field .{name} of a {type(x).__name__} object",
        fix=f"give the field another name (e.g. .{name}_part)")


def part_tangent(dx, x, name):
    """The tangent of ``x.real`` or ``x.imag``: the same part of the tangent (a field's for an object)."""
    if isinstance(x, (np.ndarray, np.generic, complex, float, int)):
        if name == "real":
            return np.real(dx)
        return np.imag(dx)
    return dx[name]


def imag_tangent(dargs, y, val):
    """The tangent of ``np.imag(val)``: the imaginary part of the tangent."""
    return np.imag(dargs[0])


def real_attribute_tangent(dargs, y, self):
    """The tangent of ``x.real``."""
    return part_tangent(dargs[0], self, "real")


def imag_attribute_tangent(dargs, y, self):
    """The tangent of ``x.imag``."""
    return part_tangent(dargs[0], self, "imag")


def conj_tangent(dargs, y, self):
    """The tangent of ``x.conj()``: the conjugate of the tangent (a Python float has no ``conj`` method)."""
    return np.conj(dargs[0])


@unary(np.real)
def real(dy, y, val):
    return (np.real(dy),)


@unary(np.imag)
def imag(dy, y, val):
    return (imag_grad(dy, val),)


@unary(np.conj)
def conj(dy, y, x):
    return (np.conj(dy),)


@unary(np.angle)
def angle(dy, y, z, deg=False):
    return (np.real(dy) * angle_slope(z, deg), None)


@defmethod("conj")
def method_conj(dy, y, self):
    return (np.conj(dy),)


@defmethod("conjugate")
def method_conjugate(dy, y, self):
    return (np.conj(dy),)


@defattribute("real")
def attribute_real(dy, y, self):
    return (part_grad(dy, self, "real"),)


@defattribute("imag")
def attribute_imag(dy, y, self):
    return (part_grad(dy, self, "imag"),)


# ------------------------------------------------------------------ reductions

@shaped(np.sum)
def sum_(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, a, axis, keepdims),)


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
        return np.sum(a, axis, dtype, out, keepdims=True)
    return np.sum(a, axis, dtype, out)  # (as np.sum: keepdims only when given)


_add_reduce = np.add.reduce
shaped(array_sum)(sum_)  # (np.sum's own rule)
registry.rules[np.sum].computed_by = array_sum


@shaped(np.mean)
def mean(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, a, axis, keepdims) / reduced_size(a, y),)


@shaped(np.prod)
def prod(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy * y, a, axis, keepdims) / a,)


@shaped(np.max)
def max_(dy, y, a, axis=None, out=None, keepdims=False):
    return (extremum_grad(dy, y, a, axis, keepdims),)


@shaped(np.min)
def min_(dy, y, a, axis=None, out=None, keepdims=False):
    return (extremum_grad(dy, y, a, axis, keepdims),)


@shaped(np.var)
def var(dy, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return (var_grad(dy, a, axis, ddof, keepdims),)


@shaped(np.std)
def std(dy, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return (std_grad(dy, y, a, axis, ddof, keepdims),)


@shaped(np.cumsum)
def cumsum(dy, y, a, axis=None, dtype=None, out=None):
    return (cumsum_grad(dy, a, axis),)


@shaped(np.trace)
def trace(dy, y, a, offset=0):
    return (trace_grad(dy, a, offset),)


# ------------------------------------------------------------------ products

@shaped(np.matmul)
def matmul(dy, y, a, b):
    return (matmul_grad_a(dy, a, b), matmul_grad_b(dy, a, b))


@shaped(np.dot)
def dot(dy, y, a, b):
    return (dot_grad_a(dy, a, b), dot_grad_b(dy, a, b))


@shaped(np.outer)
def outer(dy, y, a, b):
    return (np.reshape(dy @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ dy, np.shape(b)))


@shaped(np.inner)
def inner(dy, y, a, b):
    return (inner_grad_a(dy, a, b), inner_grad_b(dy, a, b))


@shaped(np.tensordot)
def tensordot(dy, y, a, b, axes=2):
    return (tensordot_grad_a(dy, a, b, axes), tensordot_grad_b(dy, a, b, axes))


@shaped(np.einsum)
def einsum(dy, y, subscripts, *operands, optimize=False):
    return einsum_grads(dy, subscripts, operands)


def einsum_grads(dy, subscripts, operands):
    """One gradient per positional argument of ``np.einsum``, in either of its forms.

    ``einsum("ij,jk->ik", a, b)``: none for the subscripts, then one per
    operand; the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``: one
    per operand, none for the sublists.
    """
    if isinstance(subscripts, str):
        return (None,) + tuple(einsum_grad(dy, subscripts, operands, i) for i in range(len(operands)))
    args = (subscripts,) + tuple(operands)
    arrays = args[:len(args) - len(args) % 2:2]
    spec = sublist_spec(args)
    grads = [None] * len(args)
    for i in range(len(arrays)):
        grads[2 * i] = einsum_grad(dy, spec, arrays, i)
    return tuple(grads)


@nograd
def sublist_spec(args):
    """The subscripts string that ``np.einsum(a, [0, 1], b, [1, 2], [0, 2])``'s sublists spell: ``"ab,bc->ac"``."""
    def letters(sublist):
        return "".join(string.ascii_letters[int(s)] for s in sublist)

    sublists = list(args[1::2])
    if any(s is Ellipsis for sub in sublists for s in sub):
        raise NoRuleError("srcgrad's einsum rule does not handle '...' yet", fix="write the axes out")
    if len(args) % 2:
        output = list(args[-1])
    else:  # (implicit: the labels used once, in increasing order, as NumPy does)
        used = [int(s) for sub in sublists for s in sub]
        output = sorted(s for s in set(used) if used.count(s) == 1)
    return ",".join(letters(sub) for sub in sublists) + "->" + letters(output)


def einsum_by_matmul(subscripts, *operands, **options):
    """``np.einsum(subscripts, *operands, **options)``, two float arrays by :func:`contract`'s planned matrix
    product: what generated forwards call for ``np.einsum``.

    NumPy's einsum, unless told ``optimize=True``, loops over every index
    itself (a contraction over k x d x d: ten times a BLAS product); with
    it, it plans the same product anew on each call. The value is
    einsum's up to rounding (the sums run in another order). Anything
    else (one or three operands, implicit output, ``...``, integers,
    small arrays, keywords) goes to ``np.einsum`` as written.
    """
    if len(operands) == 2 and not options and type(subscripts) is str and "->" in subscripts \
            and "." not in subscripts:
        a, b = operands
        if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind in "fc" and b.dtype.kind in "fc" \
                and a.size + b.size > 256 \
                and contraction_plan(subscripts.replace(" ", ""), a.shape, b.shape) is not None:
            return contract(subscripts.replace(" ", ""), a, b)
    return np.einsum(subscripts, *operands, **options)


shaped(einsum_by_matmul)(einsum)  # (np.einsum's own rule: the same maths)
registry.rules[np.einsum].computed_by = einsum_by_matmul


# ------------------------------------------------------------------ shapes

@shaped(np.reshape)
def reshape(dy, y, a, shape=None, order="C", *, newshape=None, copy=None):
    return (np.reshape(dy, np.shape(a), order=order),)


@shaped(np.ravel)
def ravel(dy, y, a, order="C"):
    return (np.reshape(dy, np.shape(a), order=order),)


@shaped(np.squeeze)
def squeeze(dy, y, a, axis=None):
    return (np.reshape(dy, np.shape(a)),)


@shaped(np.expand_dims)
def expand_dims(dy, y, a, axis):
    return (np.reshape(dy, np.shape(a)),)


@shaped(np.transpose)
def transpose(dy, y, a, axes=None):
    return (transpose_grad(dy, axes),)


@shaped(np.swapaxes)
def swapaxes(dy, y, a, axis1, axis2):
    return (np.swapaxes(dy, axis1, axis2),)


@shaped(np.moveaxis)
def moveaxis(dy, y, a, source, destination):
    return (np.moveaxis(dy, destination, source),)


@shaped(np.broadcast_to)
def broadcast_to(dy, y, array, shape):
    return (sum_to_shape(dy, np.shape(array)),)


@shaped(np.flip)
def flip(dy, y, m, axis=None):
    return (np.flip(dy, axis),)


@shaped(np.concatenate)
def concatenate(dy, y, arrays, axis=0):
    return (concatenate_grad(dy, arrays, axis),)


@shaped(np.stack)
def stack(dy, y, arrays, axis=0):
    return (stack_grad(dy, arrays, axis),)


@shaped(np.atleast_1d, structured=True)  # a list for several arrays
def atleast_1d(dy, y, *arys):
    return atleast_grad(dy, arys)


@shaped(np.atleast_2d, structured=True)  # a list for several arrays
def atleast_2d(dy, y, *arys):
    return atleast_grad(dy, arys)


@shaped(np.atleast_3d, structured=True)  # a list for several arrays
def atleast_3d(dy, y, *arys):
    return atleast_grad(dy, arys)


@shaped(np.vstack)
def vstack(dy, y, tup):
    return (joined_grad(dy, tup, 0, np.atleast_2d),)


@shaped(np.hstack)
def hstack(dy, y, tup):
    return (joined_grad(dy, tup, 0 if np.ndim(tup[0]) <= 1 else 1, np.atleast_1d),)


@shaped(np.split, structured=True)
def split(dy, y, ary, indices_or_sections, axis=0):
    return (split_grad(dy, ary, indices_or_sections, axis), None)


@shaped(np.tile)
def tile(dy, y, A, reps):
    return (tile_grad(dy, A, reps), None)


@shaped(np.repeat)
def repeat(dy, y, a, repeats, axis=None):
    return (repeat_grad(dy, a, repeats, axis), None)


@shaped(np.take)
def take(dy, y, a, indices, axis=None):
    return (take_grad(dy, a, indices, axis), None)


@shaped(np.diag)
def diag(dy, y, v, k=0):
    return (diag_grad(dy, v, k),)


@shaped(np.sort)
def sort(dy, y, a, axis=-1):
    return (sort_grad(dy, a, axis),)


@shaped(np.array)
def array(dy, y, object, dtype=None):
    return (array_grad(dy, object),)


@shaped(np.asarray)
def asarray(dy, y, a, dtype=None):
    return (array_grad(dy, a),)


@rule(np.clip)
def clip(dy, y, a, a_min=None, a_max=None):
    return (clip_grad(dy, a, a_min, a_max), bound_grad(dy, a, a_min, np.less), bound_grad(dy, a, a_max, np.greater))


keyword_aliases[np.clip] = {"min": "a_min", "max": "a_max"}  # NumPy 2.1's np.clip(x, min=..., max=...)


# ------------------------------------------------------------------ linear algebra

@shaped(np.linalg.norm)
def norm(dy, y, x, ord=None, axis=None, keepdims=False):
    return (norm_grad(dy, y, x, ord, axis, keepdims),)


@shaped(np.linalg.inv)
def inv(dy, y, a):
    return (-np.swapaxes(y, -1, -2) @ dy @ np.swapaxes(y, -1, -2),)


@shaped(np.linalg.det)
def det(dy, y, a):
    return (det_grad(dy, y, a),)


@shaped(np.linalg.solve)
def solve(dy, y, a, b):
    return (solve_grad_a(dy, y, a), np.linalg.solve(np.swapaxes(a, -1, -2), dy))


# ------------------------------------------------------------------ array methods and properties

@defmethod("sum")
def method_sum(dy, y, self, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, self, axis, keepdims),)


@defmethod("mean")
def method_mean(dy, y, self, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, self, axis, keepdims) / reduced_size(self, y),)


@defmethod("prod")
def method_prod(dy, y, self, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy * y, self, axis, keepdims) / self,)


@defmethod("max")
def method_max(dy, y, self, axis=None, out=None, keepdims=False):
    return (extremum_grad(dy, y, self, axis, keepdims),)


@defmethod("min")
def method_min(dy, y, self, axis=None, out=None, keepdims=False):
    return (extremum_grad(dy, y, self, axis, keepdims),)


@defmethod("var")
def method_var(dy, y, self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return (var_grad(dy, self, axis, ddof, keepdims),)


@defmethod("std")
def method_std(dy, y, self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return (std_grad(dy, y, self, axis, ddof, keepdims),)


@defmethod("cumsum")
def method_cumsum(dy, y, self, axis=None, dtype=None, out=None):
    return (cumsum_grad(dy, self, axis),)


@defmethod("reshape")
def method_reshape(dy, y, self, *shape, order="C"):
    return (np.reshape(dy, np.shape(self), order=order),)


@defmethod("ravel")
def method_ravel(dy, y, self, order="C"):
    return (np.reshape(dy, np.shape(self), order=order),)


@defmethod("flatten")
def method_flatten(dy, y, self, order="C"):
    return (np.reshape(dy, np.shape(self), order=order),)


@defmethod("squeeze")
def method_squeeze(dy, y, self, axis=None):
    return (np.reshape(dy, np.shape(self)),)


@defmethod("transpose")
def method_transpose(dy, y, self, *axes):
    return (transpose_grad(dy, transpose_axes(axes)),)


@defmethod("swapaxes")
def method_swapaxes(dy, y, self, axis1, axis2):
    return (np.swapaxes(dy, axis1, axis2),)


@defmethod("dot")
def method_dot(dy, y, self, b):
    return (dot_grad_a(dy, self, b), dot_grad_b(dy, self, b))


@defmethod("clip", broadcast=True)
def method_clip(dy, y, self, min=None, max=None):
    return (clip_grad(dy, self, min, max), bound_grad(dy, self, min, np.less), bound_grad(dy, self, max, np.greater))


@defmethod("take")
def method_take(dy, y, self, indices, axis=None):
    return (take_grad(dy, self, indices, axis), None)


@defmethod("repeat")
def method_repeat(dy, y, self, repeats, axis=None):
    return (repeat_grad(dy, self, repeats, axis), None)


@defmethod("trace")
def method_trace(dy, y, self, offset=0):
    return (trace_grad(dy, self, offset),)


@defmethod("copy")
def method_copy(dy, y, self, order="C"):
    return (dy,)


@defmethod("astype")
def method_astype(dy, y, self, dtype, copy=True):
    return (astype_grad(dy, self, dtype), None)


@defmethod("item")
def method_item(dy, y, self, *args):
    return (item_grad(dy, self, args),)


@defattribute("T")
def attribute_T(dy, y, self):
    return (np.transpose(dy),)


# ------------------------------------------------------------------ arrays made from values

def sample_weights(y, num, endpoint, axis, retstep=False, dtype=None):
    """Where each of ``np.linspace``'s samples sits between start (0) and stop (1), shaped to broadcast with ``y``.

    ``None`` for integer samples (rounded: flat in both ends).
    """
    if retstep:
        raise NoRuleError("srcgrad's rule for np.linspace does not take retstep=True",
                          fix="compute the step as (stop - start) / (num - 1) next to np.linspace(start, stop, num)")
    if dtype is not None and not np.issubdtype(dtype, np.inexact):
        return None
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    shape = [1] * np.ndim(y)
    shape[axis] = num
    return np.reshape(t, shape)


nograd(sample_weights)


@shaped(np.linspace)
def linspace(dy, y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``y = start + (stop - start) * t``: linear in ``start`` and ``stop``, whatever ``num``."""
    return (linspace_grad(dy, y, start, False, num, endpoint, retstep, dtype, axis),
            linspace_grad(dy, y, stop, True, num, endpoint, retstep, dtype, axis))


def linspace_grad(dy, y, end, is_stop, num, endpoint, retstep, dtype, axis):
    """The gradient of one end of ``np.linspace`` (``None`` for integer samples, which are rounded: flat)."""
    t = sample_weights(y, num, endpoint, axis, retstep, dtype)
    if t is None:
        return zero_like(end)
    return unbroadcast(np.sum(dy * (t if is_stop else 1 - t), axis=axis), end)


@shaped(np.full)
def full(dy, y, shape, fill_value, dtype=None, order="C"):
    return (None, fill_grad(dy, y, fill_value))


@shaped(np.full_like)
def full_like(dy, y, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return (None, fill_grad(dy, y, fill_value))


def fill_grad(dy, y, fill_value):
    """Every element of ``y`` is ``fill_value``: its gradient sums them (none through integers, rounded)."""
    if not inexact_result(y):
        return zero_like(fill_value)
    return unbroadcast(dy, fill_value)


@nograd
def inexact_result(y):
    """Whether an array made from a value carries its slope (integer arrays round it away)."""
    return np.issubdtype(np.result_type(y), np.inexact)


@rule(np.heaviside)
def heaviside(dy, y, x1, x2):
    """Flat in ``x1`` (a step); ``x2`` is the value where ``x1 == 0``."""
    return (None, dy * (x1 == 0))


@shaped(np.arange)
def arange(dy, y, start, stop=None, step=None, dtype=None):
    """``start + i * step`` for ``i < len(y)``; the count is a step function of ``stop``, so flat in it."""
    return (arange_start_grad(dy, y, stop), None, arange_step_grad(dy, y, step))


def arange_start_grad(dy, y, stop):
    """Every sample moves with ``start``; ``np.arange(n)`` alone names the stop (no gradient)."""
    if stop is None or not inexact_result(y):
        return zero_like(stop)
    return np.sum(dy)


def arange_step_grad(dy, y, step):
    """Sample ``i`` moves ``i`` times as fast as ``step``."""
    if step is None or not inexact_result(y):
        return zero_like(step)
    return np.sum(dy * np.arange(len(y)))


@shaped(np.meshgrid, structured=True)
def meshgrid(dy, y, *xi, copy=True, sparse=False, indexing="xy"):
    """Each grid repeats one input along the other axes: its gradient sums them away."""
    return tuple(meshgrid_grad(g, x, i, len(xi), indexing) for i, (g, x) in enumerate(zip(dy, xi)))


def meshgrid_grad(g, x, i, n, indexing):
    """The gradient of ``x``, the ``i``-th of ``n`` inputs of ``np.meshgrid``, from its grid's ``g``."""
    if g is None:
        return zero_like(x)
    axis = meshgrid_axis(i, n, indexing)
    others = tuple(a for a in range(np.ndim(g)) if a != axis)
    return np.reshape(np.sum(g, axis=others), np.shape(x))


@nograd
def meshgrid_axis(i, n, indexing):
    """The axis of its grid along which ``np.meshgrid``'s ``i``-th input runs (``'xy'`` swaps the first two)."""
    if indexing == "xy" and n >= 2 and i < 2:
        return 1 - i
    return i


@shaped(np.unique, structured=True)  # (a tuple when asked for indices or counts)
def unique(dy, y, ar, return_index=False, return_inverse=False, return_counts=False, axis=None, **options):
    """The sorted distinct values of ``ar``: each comes from its copies in ``ar``, which share its gradient."""
    return (unique_grad(dy, ar, return_index or return_inverse or return_counts, axis),)


def unique_grad(dy, ar, several, axis):
    """``np.unique``'s gradient: the values' (the first output when ``several`` are returned) taken back to ``ar``."""
    if several:
        dy = dy[0]
    if dy is None:
        return zero_like(ar)
    return np.take(dy, unique_inverse(ar, axis)) / unique_counts(ar, axis)


@nograd
def unique_inverse(ar, axis):
    """Which distinct value each element of ``ar`` is, shaped like ``ar``."""
    if axis is not None:
        raise NoRuleError("srcgrad's rule for np.unique does not take axis=",
                          fix="take np.unique of the flattened array, or stop_gradient of the argument")
    return np.reshape(np.unique(ar, return_inverse=True)[1], np.shape(ar))


@nograd
def unique_counts(ar, axis):
    """How many copies of its value each element of ``ar`` has (ties share the value's gradient equally)."""
    _, inverse, counts = np.unique(ar, return_inverse=True, return_counts=True)
    return np.reshape(counts[inverse], np.shape(ar))


def unique_tangent(dargs, y, ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
                   **options):
    """Each distinct value moves as the mean of its copies."""
    d = tangent_or_zero(dargs, 0, ar)
    values = np.bincount(np.ravel(unique_inverse(ar, axis)), np.ravel(d) / np.ravel(unique_counts(ar, axis)))
    if return_index or return_inverse or return_counts:
        return (values,) + tuple(np.zeros(np.shape(part)) for part in y[1:])
    return values


#: ``np.r_`` and ``np.c_``: objects whose ``[...]`` concatenates (NumPy's "index tricks").
INDEX_TRICKS = (type(np.r_), type(np.c_))


def index_trick(trick, *items):
    """``trick[items]`` (``np.r_[a, b]``), called as a function so its items can receive gradients."""
    return trick[items if len(items) != 1 else items[0]]


@shaped(index_trick)
def index_trick_rule(dy, y, trick, *items):
    return (None,) + tuple(trick_item_grad(dy, trick, items, k) if placed(v) else None for k, v in enumerate(items))


def trick_item_grad(dy, trick, items, k):
    """The gradient of ``items[k]`` in ``trick[items]``: the entries of ``dy`` where its elements were put."""
    return np.reshape(np.take(np.ravel(dy), trick_positions(trick, items, k)), np.shape(items[k]))


@nograd
def placed(v) -> bool:
    """An item of ``np.r_[...]`` whose values are copied into the result (not a directive string)."""
    return isinstance(v, (int, float, complex, np.number, np.ndarray)) and not isinstance(v, bool)


@nograd
def trick_positions(trick, items, k):
    """Where in ``trick[items]`` (flattened) each element of ``items[k]`` lands, in the item's order.

    The trick is run twice, with every item zero and with ``items[k]``
    numbered 1, 2, ...; the difference marks its elements and their order.
    An element copied twice (or not at all) is refused: then the result is
    no longer a placement of the items, and its gradient is not read so.
    """
    blank = [np.zeros(np.shape(v)) if placed(v) else v for v in items]
    marked = list(blank)
    size = int(np.size(items[k]))
    marked[k] = np.reshape(np.arange(1.0, size + 1.0), np.shape(items[k]))
    where = np.ravel(np.asarray(index_trick(trick, *marked), float) - np.asarray(index_trick(trick, *blank), float))
    hits = np.flatnonzero(where)
    if len(hits) != size:
        raise NoRuleError("srcgrad's rule for np.r_/np.c_ needs each element of an item copied once into the result",
                          fix="build the array with np.concatenate, np.stack or np.column_stack")
    positions = np.empty(size, np.intp)
    positions[where[hits].astype(np.intp) - 1] = hits
    return positions


def index_trick_tangent(dargs, y, trick, *items):
    """``trick[...]`` places its items' values, so its tangent places their tangents (zeros for constants)."""
    tangents = [tangent_or_zero(dargs, k + 1, v) if placed(v) else v for k, v in enumerate(items)]
    return index_trick(trick, *tangents)


def tangent_or_zero(dargs, i, value):
    """The tangent at position ``i`` of a forward rule's ``dargs``, or a float zero shaped like ``value``."""
    d = dargs[i] if i < len(dargs) else None
    return np.zeros(np.shape(value)) if d is None else d


# Forward rules: each of these is linear in the values it is made from, so its tangent is the
# same construction applied to their tangents (zeros where the result is integer: rounded, flat).

def linspace_tangent(dargs, y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if sample_weights(y, num, endpoint, axis, retstep, dtype) is None:
        return np.zeros(np.shape(y))
    return np.linspace(tangent_or_zero(dargs, 0, start), tangent_or_zero(dargs, 1, stop), num, endpoint=endpoint,
                       axis=axis)


def full_tangent(dargs, y, shape, fill_value, dtype=None, order="C"):
    if not inexact_result(y):
        return np.zeros(np.shape(y))
    return np.full(np.shape(y), tangent_or_zero(dargs, 1, fill_value), dtype=np.result_type(y, np.float32))


def full_like_tangent(dargs, y, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return full_tangent(dargs, y, None, fill_value)


def arange_tangent(dargs, y, start, stop=None, step=None, dtype=None):
    total = np.zeros(np.shape(y))
    if not inexact_result(y):
        return total
    if stop is not None:
        total = total + tangent_or_zero(dargs, 0, start)
    if step is not None:
        total = total + tangent_or_zero(dargs, 2, step) * np.arange(len(y))
    return total


def meshgrid_tangent(dargs, y, *xi, copy=True, sparse=False, indexing="xy"):
    grids = np.meshgrid(*[tangent_or_zero(dargs, i, x) for i, x in enumerate(xi)], sparse=sparse, indexing=indexing)
    return type(y)(grids)


for _primal, _tangent in ((index_trick, index_trick_tangent), (np.linspace, linspace_tangent), (np.full, full_tangent),
                          (np.full_like, full_like_tangent), (np.arange, arange_tangent),
                          (np.meshgrid, meshgrid_tangent), (np.unique, unique_tangent)):
    registry.lookup(_primal).forward = _tangent


# ------------------------------------------------------------------ no gradient

for _fn in (
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.sign, np.floor, np.ceil, np.round,
    np.rint, np.trunc, np.fix, np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.shape, np.ndim, np.size, np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like,
    np.empty_like, np.eye, np.identity,
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal, np.logical_and,
    np.logical_or, np.logical_not, np.logical_xor, np.any, np.all, np.count_nonzero,
    np.searchsorted, np.digitize, np.floor_divide, np.result_type, np.broadcast_shapes, np.unravel_index,
    np.ravel_multi_index, np.tril_indices, np.triu_indices, np.diag_indices, np.indices,
    np.issubdtype, np.iscomplexobj, np.isscalar, np.signbit, np.dtype,
):
    nograd(_fn)


def _random_is_constant():
    """Random numbers are constants: ``np.random.normal(size=3)``, ``rng.normal(size=3)``."""
    for fn in (np.random.rand, np.random.randn, np.random.normal, np.random.uniform, np.random.randint,
               np.random.default_rng, np.random.seed, np.random.permutation, np.random.choice,
               np.random.shuffle):
        nograd(fn)
    for name in dir(np.random.Generator):
        if not name.startswith("_"):
            nograd(getattr(np.random.Generator, name))


when_imported("numpy.random", _random_is_constant)  # NumPy imports numpy.random on first use too

nondiff_methods.update({"argmax", "argmin", "argsort", "nonzero", "any", "all", "tolist", "fill", "sort"})
nondiff_attributes.update({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides", "flags"})
