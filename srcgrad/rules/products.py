"""Rules for NumPy's products that are neither elementwise nor contractions: ``np.kron np.cross``.

Each is linear in each argument (bilinear), so its tangent is the sum of the
product with one argument replaced by its tangent; each gradient is the
other argument multiplied into ``dy`` in the transposed way.
"""

import functools

import numpy as np

from ..errors import NoRuleError
from .registry import defrule, nograd
from .shaping import real_part_for, sum_to_shape

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


@nograd
def kron_shapes(a, b):
    """The shapes of ``a`` and ``b`` padded to one length with leading 1s, as ``np.kron`` pads them."""
    n = max(np.ndim(a), np.ndim(b))
    return (1,) * (n - np.ndim(a)) + np.shape(a), (1,) * (n - np.ndim(b)) + np.shape(b)


@nograd
def interleaved(sa, sb):
    """``(sa[0], sb[0], sa[1], sb[1], ...)``: ``kron(a, b)``'s axes split into block and position."""
    return tuple(k for pair in zip(sa, sb) for k in pair)


def kron_grad(dy, a, b, first):
    """The gradient of ``np.kron(a, b)`` for ``a`` (``first``) or ``b``: ``dy``'s blocks weighed by the other."""
    sa, sb = kron_shapes(a, b)
    blocks = np.reshape(dy, interleaved(sa, sb))
    if first:
        g = np.sum(blocks * np.reshape(b, interleaved((1,) * len(sa), sb)), axis=tuple(range(1, 2 * len(sa), 2)))
    else:
        g = np.sum(blocks * np.reshape(a, interleaved(sa, (1,) * len(sb))), axis=tuple(range(0, 2 * len(sa), 2)))
    return real_part_for(np.reshape(g, np.shape(a if first else b)), a if first else b)


@nograd
def cross_axes(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``np.cross``'s vector axes ``(axisa, axisb, axisc)``, checked to hold 3-vectors."""
    if axis is not None:
        axisa = axisb = axisc = axis
    if np.shape(a)[axisa] != 3 or np.shape(b)[axisb] != 3:
        raise NoRuleError("srcgrad's rule for np.cross takes 3-vectors (NumPy 2 deprecates 2-vectors)",
                          fix="append a zero component to each 2-vector, np.append(v, 0.0)")
    return axisa, axisb, axisc


def cross_grad(dy, a, b, first, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The gradient of ``c = a x b``: ``b x dc`` for ``a``, ``dc x a`` for ``b`` (summed back where they broadcast)."""
    axisa, axisb, axisc = cross_axes(a, b, axisa, axisb, axisc, axis)
    dc, u, v = np.moveaxis(dy, axisc, -1), np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    g = np.cross(v, dc) if first else np.cross(dc, u)
    x, at = (a, axisa) if first else (b, axisb)
    return real_part_for(np.moveaxis(sum_to_shape(g, np.shape(np.moveaxis(x, at, -1))), -1, at), x)


@shaped(np.kron, forward="linear")
def kron(dy, y, a, b):
    return (kron_grad(dy, a, b, True), kron_grad(dy, a, b, False))


@shaped(np.cross, forward="linear")
def cross(dy, y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return (cross_grad(dy, a, b, True, axisa, axisb, axisc, axis),
            cross_grad(dy, a, b, False, axisa, axisb, axisc, axis), None, None, None, None)
