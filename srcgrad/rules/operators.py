"""Rules for Python's operators: ``+ - * / ** @ %``, unary ``-`` and ``+``.

Each rule is one line of maths; broadcasting is undone by the compiler.
Bitwise operators, ``//`` and ``not`` pass no gradient.
"""

import functools
import operator

import numpy as np

from .registry import defrule, nograd

rule = functools.partial(defrule, _builtin=True)


def matmul_grad_a(dy, a, b):
    """The gradient of ``a @ b`` with respect to ``a`` (any of 1-D, 2-D, batched)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2:  # (the usual cases, first)
        if b.ndim == 2:
            return dy @ b.T
        if b.ndim == 1:
            return dy[:, None] * b
    na = np.ndim(a)
    nb = np.ndim(b)
    if na == 1 and nb == 1:
        g = dy * b
    elif nb == 1:  # (an index, not np.expand_dims: the cheaper in this hot path)
        g = sum_to_shape(dy[..., None] * b, np.shape(a))
    elif na == 1:
        g = sum_to_shape(np.squeeze(b @ np.reshape(dy, np.shape(dy) + (1,)), -1), np.shape(a))
    else:
        g = sum_to_shape(dy @ np.swapaxes(b, -1, -2), np.shape(a))
    return g


def matmul_grad_b(dy, a, b):
    """The gradient of ``a @ b`` with respect to ``b`` (any of 1-D, 2-D, batched)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim <= 2:  # (the usual cases)
        return a.T @ dy
    na = np.ndim(a)
    nb = np.ndim(b)
    if na == 1 and nb == 1:
        g = dy * a
    elif na == 1:
        column = np.reshape(a, np.shape(a) + (1,))
        row = np.reshape(dy, np.shape(dy)[:-1] + (1,) + np.shape(dy)[-1:])
        g = sum_to_shape(column * row, np.shape(b))
    elif nb == 1:
        g = sum_to_shape(np.squeeze(np.swapaxes(a, -1, -2) @ np.reshape(dy, np.shape(dy) + (1,)), -1), np.shape(b))
    else:
        g = sum_to_shape(np.swapaxes(a, -1, -2) @ dy, np.shape(b))
    return g


def power_slope(a, b):
    """``d(a ** b)/da = b * a ** (b - 1)``, taken as 0 where ``b == 0`` (``x ** 0`` is flat, even at 0)."""
    return b * (a * 1.0) ** np.where(b == 0, 1, b - 1)


def power_log(a):
    """``log(a)``, taken as 0 where ``a == 0``: ``d(a ** b)/db = a ** b * log(a)``, and ``0 ** b`` (``b > 0``) is flat in ``b``.

    (autograd's convention: at ``a == 0`` the slope is ``0 ** b * log(1)``, never ``0 * -inf``.)
    """
    return np.log(np.where(a == 0, 1, a))


def sum_to_shape(g, shape):
    """Sum the leading (batch) axes of ``g`` away until it has ``shape``."""
    if np.shape(g) == shape:
        summed = g
    else:  # (a new name, not ``g =``: the adjoint of the sum needs the old ``g``)
        summed = np.reshape(np.sum(g, axis=batch_axes(np.shape(g), shape), keepdims=True), shape)
    return summed


@nograd
def batch_axes(gshape, shape):
    """The axes of a ``gshape`` gradient that were broadcast onto a ``shape`` value."""
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)


@rule(operator.add)
def add(dy, y, a, b):
    return (dy, dy)


@rule(operator.sub)
def sub(dy, y, a, b):
    return (dy, -dy)


@rule(operator.mul)
def mul(dy, y, a, b):
    return (dy * b, a * dy)


@rule(operator.truediv)
def truediv(dy, y, a, b):
    return (dy / b, -dy * a / b ** 2)


@rule(operator.pow)
def pow(dy, y, a, b):
    return (dy * power_slope(a, b), dy * y * power_log(a))


@rule(operator.mod)
def mod(dy, y, a, b):
    return (dy, -dy * np.floor_divide(a, b))


@rule(operator.matmul, broadcast=False)
def matmul(dy, y, a, b):
    return (matmul_grad_a(dy, a, b), matmul_grad_b(dy, a, b))


@rule(operator.neg, broadcast=False, elementwise=True)
def neg(dy, y, a):
    return (-dy,)


@rule(operator.pos, broadcast=False, elementwise=True)
def pos(dy, y, a):
    return (dy,)


for _fn in (
    operator.floordiv, operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift,
    operator.not_, operator.invert, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
    operator.ne, operator.is_, operator.is_not, operator.contains, operator.truth,
):
    nograd(_fn)
