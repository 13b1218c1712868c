"""Rules for Python's operators ``+ - * / ** %`` and unary ``-``, ``+``, and the NumPy ufuncs that are the same maths.

``a + b`` and ``np.add(a, b)`` are one row: the same gradient for the same
values (``pow(a, b)`` shares ``**``'s). ``@`` shares ``np.matmul``'s row, in
:mod:`.linalg`. Each rule is one line of maths; broadcasting is undone by
the compiler. Bitwise operators, ``//`` and ``not`` pass no gradient.
"""

import builtins
import functools
import operator

import numpy as np

from .registry import defrule, nograd

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False, elementwise=True)


def power_slope(a, b):
    """``d(a ** b)/da = b * a ** (b - 1)``, taken as 0 where ``b == 0`` (``x ** 0`` is flat, even at 0)."""
    return b * (a * 1.0) ** np.where(b == 0, 1, b - 1)


def power_log(a):
    """``log(a)``, taken as 0 where ``a == 0``: ``d(a ** b)/db = a ** b * log(a)``, and ``0 ** b`` (``b > 0``) is flat in ``b``.

    (autograd's convention: at ``a == 0`` the slope is ``0 ** b * log(1)``, never ``0 * -inf``.)
    """
    return np.log(np.where(a == 0, 1, a))


def power_log_times(v, a):
    """``v * log(a)`` (``power_log``), 0 where ``v == 0``: a zero cotangent, or a zero tangent of the
    exponent in forward mode (``x * (-1) ** n`` with ``n`` held fixed), gives no NaN from a negative ``a``."""
    return v * power_log(np.where(v == 0, 1, a))


@rule(operator.add, np.add)
def add(dy, y, a, b):
    return (dy, dy)


@rule(operator.sub, np.subtract)
def sub(dy, y, a, b):
    return (dy, -dy)


@rule(operator.mul, np.multiply, forward="linear")
def mul(dy, y, a, b):
    return (dy * b, a * dy)


@rule(operator.truediv, np.divide)
def truediv(dy, y, a, b):
    return (dy / b, -dy * a / b ** 2)


@rule(operator.pow, np.power, builtins.pow)
def pow(dy, y, a, b):
    return (dy * power_slope(a, b), power_log_times(dy * y, a))


@rule(operator.mod)
def mod(dy, y, a, b):
    return (dy, -dy * np.floor_divide(a, b))


@unary(operator.neg, np.negative, forward="linear")
def neg(dy, y, a):
    return (-dy,)


@unary(operator.pos, np.positive, forward="linear")
def pos(dy, y, a):
    return (dy,)


for _fn in (
    operator.floordiv, operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift,
    operator.not_, operator.invert, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
    operator.ne, operator.is_, operator.is_not, operator.contains, operator.truth,
):
    nograd(_fn)

