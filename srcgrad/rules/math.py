"""Rules for the ``math`` module (scalars only)."""

import functools
import math

from .registry import defrule, nograd

rule = functools.partial(defrule, _builtin=True, broadcast=False, scalar=True)


def log_base_grad(dy, y, base):
    """The gradient of ``y = log(x, base)`` with respect to ``base`` (none when no base was given)."""
    if base is None:
        return None
    return -dy * y / (base * math.log(base))


@rule(math.sin)
def sin(dy, y, x):
    return (dy * math.cos(x),)


@rule(math.cos)
def cos(dy, y, x):
    return (-dy * math.sin(x),)


@rule(math.tan)
def tan(dy, y, x):
    return (dy * (1 + y ** 2),)


@rule(math.exp)
def exp(dy, y, x):
    return (dy * y,)


@rule(math.expm1)
def expm1(dy, y, x):
    return (dy * (y + 1),)


@rule(math.log)
def log(dy, y, x, base=None):
    return (dy / x if base is None else dy / (x * math.log(base)), log_base_grad(dy, y, base))


@rule(math.log1p)
def log1p(dy, y, x):
    return (dy / (1 + x),)


@rule(math.log2)
def log2(dy, y, x):
    return (dy / (x * math.log(2)),)


@rule(math.log10)
def log10(dy, y, x):
    return (dy / (x * math.log(10)),)


@rule(math.sqrt)
def sqrt(dy, y, x):
    return (dy / (2 * y),)


@rule(math.tanh)
def tanh(dy, y, x):
    return (dy * (1 - y ** 2),)


@rule(math.sinh)
def sinh(dy, y, x):
    return (dy * math.cosh(x),)


@rule(math.cosh)
def cosh(dy, y, x):
    return (dy * math.sinh(x),)


@rule(math.asin)
def asin(dy, y, x):
    return (dy / math.sqrt(1 - x ** 2),)


@rule(math.acos)
def acos(dy, y, x):
    return (-dy / math.sqrt(1 - x ** 2),)


@rule(math.atan)
def atan(dy, y, x):
    return (dy / (1 + x ** 2),)


@rule(math.atan2)
def atan2(dy, y, a, b):
    return (dy * b / (a ** 2 + b ** 2), -dy * a / (a ** 2 + b ** 2))


@rule(math.hypot)
def hypot(dy, y, a, b):
    return (dy * a / y, dy * b / y)


def pow_slope(a, b):
    """``d math.pow(a, b)/da = b * a ** (b - 1)``, 0 where ``b == 0`` (``0.0 ** -1`` would raise)."""
    if b == 0:
        return 0.0
    return b * a ** (b - 1)


def pow_log_times(v, a):
    """``v * math.log(a)``, 0 where ``a == 0`` (``math.pow(0, b)``, ``b > 0``, is flat in ``b``, as
    ``power_log``) or ``v == 0`` (a zero tangent of the exponent: no log of a negative ``a``)."""
    if a == 0 or v == 0:
        return 0.0
    return v * math.log(a)


@rule(math.pow)
def pow(dy, y, a, b):
    return (dy * pow_slope(a, b), pow_log_times(dy * y, a))


@rule(math.fabs)
def fabs(dy, y, x):
    return (dy * math.copysign(1.0, x),)


@rule(math.copysign)
def copysign(dy, y, x, sign):
    return (dy * math.copysign(1.0, x) * math.copysign(1.0, y), None)


@rule(math.erf)
def erf(dy, y, x):
    return (dy * 2 / math.sqrt(math.pi) * math.exp(-x ** 2),)


@rule(math.erfc)
def erfc(dy, y, x):
    """``-2 exp(-x^2) / sqrt(pi)``."""
    return (-dy * 2 / math.sqrt(math.pi) * math.exp(-x ** 2),)


@rule(math.asinh)
def asinh(dy, y, x):
    """``1 / sqrt(x^2 + 1)``."""
    return (dy / math.sqrt(x ** 2 + 1),)


@rule(math.acosh)
def acosh(dy, y, x):
    """``1 / sqrt(x^2 - 1)``."""
    return (dy / math.sqrt(x ** 2 - 1),)


@rule(math.atanh)
def atanh(dy, y, x):
    """``1 / (1 - x^2)``."""
    return (dy / (1 - x ** 2),)


#: Bernoulli numbers B2, B4, ..., B16: the asymptotic series of the polygamma functions.
BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def polygamma(n, x):
    """The ``n``-th derivative of ``digamma`` at the float ``x > 0`` (``math`` has none): ``lgamma``'s derivatives.

    Shifts ``x`` past 10 by ``psi_n(x) = psi_n(x + 1) - (-1)^n n! / x^(n+1)``, then sums the asymptotic series.

    >>> round(polygamma(0, 1.0), 12)  # -Euler's constant
    -0.577215664902
    """
    shift = 0.0
    while x < 10:
        shift -= (-1) ** n * math.factorial(n) / x ** (n + 1)
        x += 1
    if n == 0:
        series = math.log(x) - 1 / (2 * x) - sum(b / (2 * k * x ** (2 * k)) for k, b in enumerate(BERNOULLI, 1))
    else:
        series = math.factorial(n - 1) / x ** n + math.factorial(n) / (2 * x ** (n + 1)) + sum(
            b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * x ** (2 * k + n))
            for k, b in enumerate(BERNOULLI, 1))
        series *= (-1) ** (n + 1)
    return shift + series


@rule(polygamma)
def polygamma_rule(dy, y, n, x):
    """``d/dx polygamma(n, x) = polygamma(n + 1, x)``; ``n`` is an integer."""
    return (None, dy * polygamma(n + 1, x))


@rule(math.lgamma)
def lgamma(dy, y, x):
    """``digamma(x)``."""
    return (dy * polygamma(0, x),)


@rule(math.gamma)
def gamma(dy, y, x):
    """``gamma(x) digamma(x)``."""
    return (dy * y * polygamma(0, x),)


for _fn in (math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.factorial, math.gcd,
            math.isclose):
    nograd(_fn)
