"""Rules for NumPy: ufuncs, reductions, shape functions, linear algebra, array methods.

A rule is one line of maths. Where the maths needs more than a line (a
reduction's gradient must be broadcast back over the reduced axes), the
line calls a named helper defined here, which is ordinary NumPy code and
can itself be differentiated for higher-order derivatives.
"""

import functools

import numpy as np

from .operators import matmul_grad_a, matmul_grad_b, power_slope, sum_to_shape
from .registry import defattribute, defmethod, defrule, nograd, nondiff_attributes, nondiff_methods

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False)
shaped = unary  # rules whose gradients already have their argument's shape


# ------------------------------------------------------------------ helpers

def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim for a in axis)
    return (axis % ndim,)


def unreduce(dy, x, axis=None, keepdims=False):
    """Broadcast the gradient ``dy`` of a reduction over ``axis`` back to the shape of ``x``."""
    shape = np.shape(x)
    if not keepdims and axis is not None and len(shape):
        dy = np.expand_dims(dy, _axes(axis, len(shape)))
    return np.broadcast_to(dy, shape)


def reduced_size(x, y):
    """How many elements of ``x`` went into each element of the reduction ``y``."""
    return np.size(x) // max(np.size(y), 1)


def extremum_grad(dy, y, x, axis=None, keepdims=False):
    """The gradient of ``max``/``min`` over ``axis``: shared equally among tied extrema."""
    mask = x == unreduce(y, x, axis, keepdims)
    count = np.sum(mask, axis=axis, keepdims=True)
    return unreduce(dy, x, axis, keepdims) * mask / count


def var_grad(dy, x, axis=None, ddof=0, keepdims=False):
    """The gradient of ``np.var(x, axis, ddof)``."""
    centred = x - np.mean(x, axis=axis, keepdims=True)
    n = np.size(x) // max(np.size(np.mean(x, axis=axis)), 1)
    return unreduce(dy, x, axis, keepdims) * 2 * centred / (n - ddof)


def cumsum_grad(dy, x, axis=None):
    """The gradient of ``np.cumsum``: a cumulative sum from the other end."""
    if axis is None:
        flat = np.ravel(dy)
        return np.reshape(np.cumsum(flat[::-1])[::-1], np.shape(x))
    return np.flip(np.cumsum(np.flip(dy, axis), axis), axis)


def transpose_grad(dy, axes=None):
    """The gradient of ``np.transpose(x, axes)``: transpose back."""
    if axes is None:
        return np.transpose(dy)
    return np.transpose(dy, np.argsort(axes))


def clip_grad(dy, x, lo, hi):
    """The gradient passes where ``x`` was not clipped."""
    inside = np.ones(np.shape(x), bool)
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return dy * inside


def concatenate_grad(dy, arrays, axis=0):
    """Split ``dy`` back into pieces shaped like ``arrays``."""
    if axis is None:
        sizes = np.cumsum([np.size(a) for a in arrays])[:-1]
        return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(np.ravel(dy), sizes), arrays)]
    sizes = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return list(np.split(dy, sizes, axis=axis))


def stack_grad(dy, arrays, axis=0):
    """Take ``dy`` apart along the stacking axis."""
    return [np.take(dy, i, axis=axis) for i in range(len(arrays))]


def split_grad(dy, x, axis=0):
    """Join the gradients of the pieces (``None`` for an unused piece) back into one array."""
    reference = next(g for g in dy if g is not None)
    pieces = np.array_split(np.zeros(np.shape(x)), len(dy), axis=axis)
    return np.concatenate([g if g is not None else np.zeros_like(p, dtype=np.result_type(reference))
                           for g, p in zip(dy, pieces)], axis=axis)


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
    """Add up the copies ``np.repeat`` made."""
    if axis is None:
        flat = np.ravel(x)
        counts = np.broadcast_to(repeats, flat.shape)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return np.reshape(np.add.reduceat(np.ravel(dy), starts) * (counts > 0), np.shape(x))
    n = np.shape(x)[axis]
    counts = np.broadcast_to(repeats, (n,))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.add.reduceat(dy, starts, axis=axis) * np.reshape(counts > 0, [-1 if i == axis % np.ndim(x) else 1 for i in range(np.ndim(x))])


def take_grad(dy, x, indices, axis=None):
    """Scatter ``dy`` back to the positions ``np.take`` read, adding repeats."""
    g = np.zeros(np.shape(x))
    if axis is None:
        np.add.at(g.reshape(-1), indices, dy)
        return g
    index = [slice(None)] * np.ndim(x)
    index[axis] = indices
    moved = np.moveaxis(g, axis, 0)
    np.add.at(moved, indices, np.moveaxis(dy, axis, 0) if np.ndim(indices) else dy)
    return g


def diag_grad(dy, v, k=0):
    """The gradient of ``np.diag``: build or read the diagonal back."""
    if np.ndim(v) == 1:
        return np.diag(dy, k)
    g = np.zeros(np.shape(v))
    n = len(dy)
    rows = np.arange(n) + max(-k, 0)
    cols = np.arange(n) + max(k, 0)
    g[rows, cols] = dy
    return g


def trace_grad(dy, x, offset=0):
    """The gradient of ``np.trace``: ``dy`` on the diagonal."""
    return dy * np.eye(np.shape(x)[0], np.shape(x)[1], offset)


def norm_grad(dy, y, x, ord=None, axis=None, keepdims=False):
    """The gradient of ``np.linalg.norm`` for the 2-norm/Frobenius, 1-norm and max-norm."""
    if ord is None or ord == 2 or ord == "fro":
        safe = np.where(y == 0, 1, y)
        return unreduce(dy / safe, x, axis, keepdims) * x
    if ord == 1:
        return unreduce(dy, x, axis, keepdims) * np.sign(x)
    if ord == np.inf:
        return extremum_grad(dy, y, np.abs(x), axis, keepdims) * np.sign(x)
    raise NotImplementedError(f"srcgrad has no rule for np.linalg.norm with ord={ord!r}")


def det_grad(dy, y, a):
    """The gradient of ``det(a)``: ``dy * det(a) * inv(a).T``."""
    return np.expand_dims(dy * y, (-1, -2)) * np.swapaxes(np.linalg.inv(a), -1, -2)


def solve_grad_a(dy, x, a):
    """The gradient of ``x = solve(a, b)`` with respect to ``a``."""
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), dy)
    if np.ndim(x) == np.ndim(a) - 1:
        return -np.expand_dims(gb, -1) * np.expand_dims(x, -2)
    return -gb @ np.swapaxes(x, -1, -2)


def dot_grad_a(dy, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``a``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to_shape(dy * b, np.shape(a)) if np.ndim(a) else np.sum(dy * b)
    return matmul_grad_a(dy, a, b)


def dot_grad_b(dy, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``b``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to_shape(dy * a, np.shape(b)) if np.ndim(b) else np.sum(dy * a)
    return matmul_grad_b(dy, a, b)


def _einsum_parts(subscripts, count):
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        raise NotImplementedError("srcgrad's einsum rule does not handle '...' yet; write the axes out")
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
    inputs, output = _einsum_parts(subscripts, len(operands))
    target = inputs[i]
    if len(set(target)) != len(target):
        raise NotImplementedError("srcgrad's einsum rule does not handle a repeated index in one operand")
    others = [(s, op) for j, (s, op) in enumerate(zip(inputs, operands)) if j != i]
    available = set(output).union(*[set(s) for s, _ in others])
    kept = "".join(c for c in target if c in available)
    spec = ",".join([output] + [s for s, _ in others]) + "->" + kept
    g = np.einsum(spec, dy, *[op for _, op in others])
    if kept != target:
        shape = [np.shape(operands[i])[target.index(c)] if c in kept else 1 for c in target]
        g = np.reshape(np.moveaxis(g, range(len(kept)), [target.index(c) for c in kept]) if kept else g,
                       [s if c in kept else 1 for s, c in zip(shape, target)])
        g = np.broadcast_to(g, np.shape(operands[i]))
    return g


def array_grad(dy, x):
    """The gradient of ``np.array(x)`` for nested lists of scalars or arrays."""
    if isinstance(x, (list, tuple)):
        return [array_grad(dy[i], xi) for i, xi in enumerate(x)]
    return dy


def sort_grad(dy, x, axis=-1):
    """The gradient of ``np.sort``: put each gradient back where its element came from."""
    order = np.argsort(x, axis=axis)
    g = np.zeros(np.shape(x))
    np.put_along_axis(g, order, dy, axis=axis)
    return g


def logsumexp_grad(dy, y, a, axis=None, keepdims=False):
    """The gradient of ``logsumexp``: the softmax of ``a`` times ``dy``."""
    return unreduce(dy, a, axis, keepdims) * np.exp(a - unreduce(y, a, axis, keepdims))


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
    return (dy * power_slope(a, b), dy * y * np.log(a))


@rule(np.maximum)
def maximum(dy, y, a, b):
    return (dy * (a >= b), dy * (a < b))


@rule(np.minimum)
def minimum(dy, y, a, b):
    return (dy * (a <= b), dy * (a > b))


@rule(np.fmax)
def fmax(dy, y, a, b):
    return (dy * (a >= b), dy * (a < b))


@rule(np.fmin)
def fmin(dy, y, a, b):
    return (dy * (a <= b), dy * (a > b))


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
    return (dy * np.sign(x),)


@unary(np.fabs)
def fabs(dy, y, x):
    return (dy * np.sign(x),)


# ------------------------------------------------------------------ reductions

@shaped(np.sum)
def sum_(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return (unreduce(dy, a, axis, keepdims),)


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
    return (var_grad(dy / (2 * y), a, axis, ddof, keepdims),)


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
    return (dy * b, dy * a)


@shaped(np.einsum)
def einsum(dy, y, subscripts, *operands):
    return (None,) + tuple(einsum_grad(dy, subscripts, operands, i) for i in range(len(operands)))


# ------------------------------------------------------------------ shapes

@shaped(np.reshape)
def reshape(dy, y, a, *shape, **kwargs):
    return (np.reshape(dy, np.shape(a)),)


@shaped(np.ravel)
def ravel(dy, y, a, order="C"):
    return (np.reshape(dy, np.shape(a)),)


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


@shaped(np.vstack)
def vstack(dy, y, tup):
    return (concatenate_grad(dy, [np.atleast_2d(t) for t in tup], 0),)


@shaped(np.hstack)
def hstack(dy, y, tup):
    return (concatenate_grad(dy, tup, 0 if np.ndim(tup[0]) == 1 else 1),)


@shaped(np.split)
def split(dy, y, ary, indices_or_sections, axis=0):
    return (split_grad(dy, ary, axis), None)


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


@shaped(np.clip)
def clip(dy, y, a, a_min, a_max):
    return (clip_grad(dy, a, a_min, a_max), None, None)


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
    return (var_grad(dy / (2 * y), self, axis, ddof, keepdims),)


@defmethod("cumsum")
def method_cumsum(dy, y, self, axis=None, dtype=None, out=None):
    return (cumsum_grad(dy, self, axis),)


@defmethod("reshape")
def method_reshape(dy, y, self, *shape, order="C"):
    return (np.reshape(dy, np.shape(self)),)


@defmethod("ravel")
def method_ravel(dy, y, self, order="C"):
    return (np.reshape(dy, np.shape(self)),)


@defmethod("flatten")
def method_flatten(dy, y, self, order="C"):
    return (np.reshape(dy, np.shape(self)),)


@defmethod("squeeze")
def method_squeeze(dy, y, self, axis=None):
    return (np.reshape(dy, np.shape(self)),)


@defmethod("transpose")
def method_transpose(dy, y, self, *axes):
    return (transpose_grad(dy, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None)),)


@defmethod("swapaxes")
def method_swapaxes(dy, y, self, axis1, axis2):
    return (np.swapaxes(dy, axis1, axis2),)


@defmethod("dot")
def method_dot(dy, y, self, b):
    return (dot_grad_a(dy, self, b), dot_grad_b(dy, self, b))


@defmethod("clip")
def method_clip(dy, y, self, min=None, max=None):
    return (clip_grad(dy, self, min, max), None, None)


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
    return (np.asarray(dy).astype(np.result_type(self, np.float32)), None)


@defmethod("item")
def method_item(dy, y, self, *args):
    return (np.reshape(dy, np.shape(self)) if np.size(self) == 1 else np.zeros(np.shape(self)),)


@defattribute("T")
def attribute_T(dy, y, self):
    return (np.transpose(dy),)


# ------------------------------------------------------------------ no gradient

for _fn in (
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.sign, np.floor, np.ceil, np.round,
    np.rint, np.trunc, np.fix, np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.shape, np.ndim, np.size, np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like,
    np.empty_like, np.full_like, np.eye, np.identity, np.arange, np.linspace, np.logspace, np.meshgrid,
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal, np.logical_and,
    np.logical_or, np.logical_not, np.logical_xor, np.any, np.all, np.count_nonzero, np.unique,
    np.searchsorted, np.digitize, np.floor_divide, np.result_type, np.broadcast_shapes, np.unravel_index,
    np.ravel_multi_index, np.tril_indices, np.triu_indices, np.diag_indices, np.indices, np.heaviside,
    np.random.rand, np.random.randn, np.random.normal, np.random.uniform, np.random.randint,
    np.random.default_rng, np.random.seed, np.random.permutation, np.random.choice, np.random.shuffle,
    np.issubdtype, np.iscomplexobj, np.isscalar, np.signbit,
):
    nograd(_fn)

nondiff_methods.update({"argmax", "argmin", "argsort", "nonzero", "any", "all", "tolist", "fill", "sort"})
nondiff_attributes.update({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides", "flags"})


# ------------------------------------------------------------------ scipy.special, if installed

try:  # pragma: no cover - depends on the environment
    import scipy.special as _special
except ImportError:  # pragma: no cover
    _special = None

if _special is not None:

    @shaped(_special.logsumexp)
    def logsumexp(dy, y, a, axis=None, b=None, keepdims=False):
        return (logsumexp_grad(dy, y, a, axis, keepdims),)

    @unary(_special.expit)
    def expit(dy, y, x):
        return (dy * y * (1 - y),)

    @unary(_special.erf)
    def erf(dy, y, x):
        return (dy * 2 / np.sqrt(np.pi) * np.exp(-x ** 2),)

    @unary(_special.gammaln)
    def gammaln(dy, y, x):
        return (dy * _special.digamma(x),)

    nograd(_special.digamma)

