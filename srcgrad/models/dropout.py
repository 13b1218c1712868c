"""Dropout: zeroing random inputs while training (Srivastava et al., 2014).

>>> import numpy as np
>>> layer = Dropout(0.5, rng=0)
>>> layer(np.ones(6))
array([2., 0., 0., 0., 2., 2.])
>>> from srcgrad.models.modes import testmode
>>> testmode(layer)(np.ones(6))
array([1., 1., 1., 1., 1., 1.])
"""

from __future__ import annotations

import numbers

import numpy as np

from ..rules.registry import nograd
from .init import default_rng
from .layers import show

__all__ = ["Dropout"]


class Dropout:
    """In train mode, each number of the input zeroed with probability ``p`` and the rest scaled
    by ``1 / (1 - p)``, so the expected output is the input; in test mode, the identity.

    As ``torch.nn.Dropout(p)``: every number is dropped on its own, ``p=0``
    keeps all of them (and draws nothing) and ``p=1`` drops all of them (the
    output is zeros, and so is the gradient). The mask is a constant of the
    pass: the gradient is the mask times ``1 / (1 - p)`` (and the gradient
    in ``p``, for the same mask, is ``x * mask / (1 - p) ** 2``). Draws come
    from ``rng`` (a Generator, or a seed for one), else, at each call, from
    the generator ``srcgrad.models.init.seed`` resets. Fields: ``p``, ``rng`` and
    ``training`` (``True`` from the start; see ``testmode``/``trainmode``).

    >>> import numpy as np
    >>> x = np.ones((1000, 10))
    >>> float(np.mean(Dropout(0.25, rng=1)(x) == 0).round(2))
    0.25
    >>> Dropout(0.25)
    Dropout(0.25)
    """

    def __init__(self, p, *, rng=None):
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p is the probability of dropping each number, from 0 to 1, not {p!r}")
        self.p = float(p)
        self.rng = _generator(rng)
        self.training = True

    def __call__(self, x):
        # The scale is written here, not in the mask, so that the gradient in p is right too
        # (for the mask drawn: at p = 0 that is x / (1 - p) ** 2, at p = 1 zero).
        if not self.training:
            return x
        if self.p == 0:
            return x / (1 - self.p)  # (x itself, with no draws)
        if self.p == 1:
            return x * 0.0
        return x * _kept(self, x) / (1 - self.p)

    def signature(self):
        """How the layer was built, e.g. ``'Dropout(0.5)'``."""
        return f"Dropout({self.p:g})"

    def __repr__(self):
        return show(self)


@nograd
def _generator(rng):
    """``rng`` as a Generator (``None`` stays ``None``: the module's generator, looked up at each call).

    A ``nograd`` function, so that a ``Dropout`` built inside differentiated code needs no source
    for ``init.default_rng``.
    """
    return None if rng is None else default_rng(rng)


@nograd
def _kept(layer, x):
    """The mask of one training pass, 1 where a number of ``x`` is kept and 0 where it is dropped,
    in ``x``'s float dtype (float64 for other inputs). As ``bernoulli(1 - p)``: kept where a
    uniform draw from ``[0, 1)`` is at least ``p``."""
    if not isinstance(x, (np.ndarray, np.generic, numbers.Number)):
        raise TypeError(f"{layer.signature()} expected a NumPy array, got {type(x).__name__}")
    dtype = np.result_type(x)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return (default_rng(layer.rng).random(np.shape(x)) >= layer.p).astype(dtype)
