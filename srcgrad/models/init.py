"""Initial values for layer parameters, from a generator you can reseed.

Every layer that needs random numbers takes ``rng=`` (a
:class:`numpy.random.Generator`); without one it draws from the module's
generator, which :func:`seed` resets, so a whole script becomes
reproducible with one call::

    >>> from srcgrad.models import init
    >>> init.seed(0)
    >>> a = init.glorot_uniform(2, 3)
    >>> init.seed(0)
    >>> bool((init.glorot_uniform(2, 3) == a).all())
    True
"""

from __future__ import annotations

import numpy as np

from ..rules.registry import nograd

__all__ = ["seed", "default_rng", "glorot_uniform", "glorot_normal", "zeros"]

_rng = None  # made on first use: importing numpy.random costs 10-20 ms


def seed(value=None):
    """Reseed the generator layers use when they are given no ``rng``.

    >>> seed(42)
    """
    global _rng
    _rng = np.random.default_rng(value)


@nograd  # (a generator carries no gradient: a layer built inside differentiated code may ask for one)
def default_rng(rng=None):
    """``rng`` if given (a Generator, or a seed for a new one), else the module's generator.

    >>> int(default_rng(3).integers(10)) == int(default_rng(3).integers(10))
    True
    """
    global _rng
    if rng is None:
        if _rng is None:
            _rng = np.random.default_rng()
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def glorot_uniform(*shape, rng=None, gain=1.0):
    """Uniform in ``±gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010).

    ``shape`` is ``(out, in)`` for a dense weight, as in ``Dense``.

    >>> glorot_uniform(16, 2, rng=0).shape
    (16, 2)
    """
    fan_out, fan_in = _fans(shape)
    limit = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return default_rng(rng).uniform(-limit, limit, size=shape)


def glorot_normal(*shape, rng=None, gain=1.0):
    """Normal with standard deviation ``gain * sqrt(2 / (fan_in + fan_out))``.

    >>> glorot_normal(3, 4, rng=0).shape
    (3, 4)
    """
    fan_out, fan_in = _fans(shape)
    return default_rng(rng).normal(0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def zeros(*shape, rng=None):
    """Zeros; takes ``rng`` only so it can stand in for the random initialisers.

    >>> zeros(2)
    array([0., 0.])
    """
    return np.zeros(shape)


def _fans(shape):
    # A vector is its own fan-in and fan-out; a weight of shape (out, in, ...)
    # counts the trailing (receptive field) dimensions on both sides, as Flux does.
    if len(shape) == 1:
        return shape[0], shape[0]
    field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[0] * field, shape[1] * field
