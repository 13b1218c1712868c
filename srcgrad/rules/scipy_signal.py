"""Rules for ``scipy.signal``: ``convolve correlate`` of n-d arrays, registered once the program has imported it
(SciPy is optional, and ``import srcgrad`` does not import it: see :func:`~.registry.when_imported`).

Each output is a window of the full convolution (``'full'``, ``'same'``: the
first argument's shape, centred; ``'valid'``), and ``correlate(in1, in2)`` is
``convolve(in1, conj(in2) flipped)``. Both are linear in each argument, so
the tangent is the function of the tangent, and the gradient of one argument
is ``dy`` put back in the full convolution and convolved, in ``'valid'``
mode, with the other flipped along every axis, by the same ``method=``.
"""

import functools
import sys

import numpy as np

from .registry import defrule, nograd, when_imported
from .shaping import real_part_for

shaped = functools.partial(defrule, _builtin=True, broadcast=False)

#: ``scipy.signal``, once imported (the rules below read it, as generated code that inlines them does).
_signal = None


@nograd
def full_pads(in1, in2, mode):
    """Where the output of ``mode`` sits in the full convolution of ``in1`` and ``in2``: ``(before, after)`` per axis."""
    pads = []
    for m, n in zip(np.shape(in1), np.shape(in2)):
        length = {"full": m + n - 1, "same": m}.get(mode, abs(m - n) + 1)
        before = {"full": 0, "same": (n - 1) // 2}.get(mode, min(m, n) - 1)
        pads.append((before, m + n - 1 - before - length))
    return tuple(pads)


@nograd
def pads_anything(pads):
    return any(before or after for before, after in pads)


def in_full(dy, in1, in2, mode):
    """``dy`` put back where the output sits in the full convolution (zeros around it)."""
    pads = full_pads(in1, in2, mode)
    return np.pad(dy, pads) if pads_anything(pads) else dy


def convolve_grad(dy, in1, in2, mode, method, first, correlate=False):
    """The gradient of ``scipy.signal.convolve(in1, in2, mode)`` (``correlate``) for ``in1`` (``first``) or ``in2``."""
    full = in_full(dy, in1, in2, mode)
    if correlate:
        if first:
            g = _signal.convolve(full, np.conj(in2), "valid", method)
        else:
            g = np.conj(np.flip(_signal.convolve(full, np.flip(in1), "valid", method)))
    else:
        g = _signal.convolve(full, np.flip(in2 if first else in1), "valid", method)
    x = in1 if first else in2
    return real_part_for(np.reshape(g, np.shape(x)), x)


def convolve(dy, y, in1, in2, mode="full", method="auto"):
    return (convolve_grad(dy, in1, in2, mode, method, True), convolve_grad(dy, in1, in2, mode, method, False),
            None, None)


def correlate(dy, y, in1, in2, mode="full", method="auto"):
    return (convolve_grad(dy, in1, in2, mode, method, True, True),
            convolve_grad(dy, in1, in2, mode, method, False, True), None, None)


def _register():
    """The table: each scipy.signal function and its rule."""
    global _signal
    _signal = sys.modules["scipy.signal"]
    shaped(_signal.convolve, forward="linear")(convolve)
    shaped(_signal.correlate, forward="linear")(correlate)


when_imported("scipy.signal", _register)
