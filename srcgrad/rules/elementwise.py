"""Rules for NumPy's elementwise functions: ufuncs, unary maths, complex parts, ``np.clip``, ``np.where``, ``np.sinc``.

Each output element depends on the same element of each input, so each
rule is one line of maths and forward mode feeds the tangents to it in
place of ``dy`` (the Jacobian is diagonal). The arithmetic ufuncs
(``np.add``, ...) share their rows with Python's operators, in
:mod:`.operators`.
"""

import builtins
import functools

import numpy as np

from ..errors import NoRuleError
from .registry import defrule
from .shaping import is_complex, real_zeros

rule = functools.partial(defrule, _builtin=True)
unary = functools.partial(defrule, _builtin=True, broadcast=False, elementwise=True)
shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def winner_grad(dy, a, b):
    """The part of ``dy`` that goes to ``a`` in ``max(a, b)``: all where ``a > b``, half at a tie."""
    ties = a == b
    if np.count_nonzero(ties):  # (cheaper than np.any, which goes through two layers of Python)
        return dy * (a > b) + 0.5 * dy * ties
    return dy * (a > b)  # (ReLU's usual case: one pass fewer than with the halves)


def nan_winner_grad(dy, a, b):
    """Like :func:`winner_grad` for ``np.fmax``, which picks ``a`` where ``b`` is NaN."""
    return winner_grad(dy, a, b) + dy * (np.isnan(b) & ~np.isnan(a))


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


# ------------------------------------------------------------------ two or three arguments

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


@rule(np.logaddexp2)
def logaddexp2(dy, y, a, b):
    return (dy * 2.0 ** (a - y), dy * 2.0 ** (b - y))


@rule(np.remainder)  # (np.mod is the same ufunc; ``%`` has the same maths in .operators)
def remainder(dy, y, a, b):
    return (dy, -dy * np.floor_divide(a, b))


@rule(np.where)
def where(dy, y, condition, a, b):
    return (None, np.where(condition, dy, 0), np.where(condition, 0, dy))


@rule(np.heaviside)
def heaviside(dy, y, x1, x2):
    """Flat in ``x1`` (a step); ``x2`` is the value where ``x1 == 0``."""
    return (None, dy * (x1 == 0))


@rule(np.clip, aliases={"min": "a_min", "max": "a_max"}, forward="diagonal")  # (NumPy 2.1's min=, max=)
def clip(dy, y, a, a_min=None, a_max=None):
    return (clip_grad(dy, a, a_min, a_max), bound_grad(dy, a, a_min, np.less), bound_grad(dy, a, a_max, np.greater))


@rule(methods=("clip",), forward="diagonal")  # (x.clip(min, max): np.clip's a_min, a_max)
def method_clip(dy, y, self, min=None, max=None):
    return (clip_grad(dy, self, min, max), bound_grad(dy, self, min, np.less), bound_grad(dy, self, max, np.greater))


# ------------------------------------------------------------------ one argument

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


@unary(np.arccosh)
def arccosh(dy, y, x):
    return (dy / np.sqrt(x ** 2 - 1),)


@unary(np.fabs)
def fabs(dy, y, x):
    return (dy * np.sign(x),)


@unary(np.deg2rad, np.radians)
def deg2rad(dy, y, x):
    return (dy * (np.pi / 180),)


@unary(np.rad2deg, np.degrees)
def rad2deg(dy, y, x):
    return (dy * (180 / np.pi),)


def sinc_slope(x):
    """The slope of ``sinc(x) = sin(pi x) / (pi x)``: ``(cos(pi x) - sinc(x)) / x``, 0 at 0."""
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 0.0, (np.cos(np.pi * x) - np.sinc(x)) / safe)


@unary(np.sinc)
def sinc(dy, y, x):
    return (dy * sinc_slope(x),)


def finite_part(dy, x):
    """``dy`` where ``x`` is finite; 0 where ``np.nan_to_num`` put a constant in its place."""
    return dy * np.isfinite(x)


def finite_tangent(dargs, y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    """The tangent of ``np.nan_to_num``: the tangent where ``x`` is finite, 0 at the replaced values."""
    return finite_part(dargs[0], x)


@unary(np.nan_to_num, forward=finite_tangent)
def nan_to_num(dy, y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    return (finite_part(dy, x),)


def real_if_close_grad(dy, y, a):
    """Where ``np.real_if_close`` dropped ``a``'s (tiny) imaginary part, the gradient of ``np.real(a)``."""
    if is_complex(a) and not is_complex(y):
        return np.real(dy) + 0j
    return dy


def real_if_close_tangent(dargs, y, a, tol=100):
    """The tangent keeps its imaginary part only where ``y`` did."""
    return dargs[0] if is_complex(y) else np.real(dargs[0])


@unary(np.real_if_close, forward=real_if_close_tangent)
def real_if_close(dy, y, a, tol=100):
    return (real_if_close_grad(dy, y, a),)


# ------------------------------------------------------------------ complex numbers
#
# autograd's convention (docs/complex.md): the gradient of a real f of z = x + iy is
# df/dx - i df/dy, and a holomorphic function's rule is dy * f'(z), as for reals. A function
# from complex to real (abs, real, imag, angle) reads only the real part of its dy: the
# gradient of a real value may carry an imaginary part, which means nothing and is dropped
# where it could start to mean something: here, where it is written into a real array
# (real_part_for, structure.index_grad) and where it reaches a real argument (structure.real_for).

def imag_grad(dy, x):
    """The gradient of ``np.imag(x)``: ``-i Re(dy)``; a zero for real ``x``, whose imaginary part is constant."""
    if is_complex(x):
        return -1j * np.real(dy)
    return real_zeros(dy)


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


@unary(np.abs, builtins.abs, forward=abs_tangent)
def absolute(dy, y, x):
    return (abs_grad(dy, y, x),)


@unary(np.real)
def real(dy, y, val):
    return (np.real(dy),)


@unary(np.imag, forward=imag_tangent)
def imag(dy, y, val):
    return (imag_grad(dy, val),)


@unary(np.conj)
@shaped(methods=("conj", "conjugate"), forward=conj_tangent)  # (a method is never elementwise: its tangent is said)
def conj(dy, y, x):
    return (np.conj(dy),)


@unary(np.angle, forward=angle_tangent)
def angle(dy, y, z, deg=False):
    return (np.real(dy) * angle_slope(z, deg), None)


# ``x.real`` and ``x.imag`` are not ``np.real(x)`` and ``np.imag(x)``: read off any object, they are
# refused for one that is not a number or an array (part_grad).

@shaped(attributes=("real",), forward=real_attribute_tangent)
def attribute_real(dy, y, self):
    return (part_grad(dy, self, "real"),)


@shaped(attributes=("imag",), forward=imag_attribute_tangent)
def attribute_imag(dy, y, self):
    return (part_grad(dy, self, "imag"),)

