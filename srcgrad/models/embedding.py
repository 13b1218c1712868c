"""Embedding: a table of vectors looked up by integer index.

>>> import numpy as np
>>> table = Embedding(10, 4, rng=0)
>>> table(np.array([[1, 2, 3], [3, 2, 1]])).shape
(2, 3, 4)
>>> table
Embedding(10, 4)  # 40 parameters
"""

from __future__ import annotations

import numbers

import numpy as np

from ..rules.registry import nograd
from .init import default_rng
from .layers import show

__all__ = ["Embedding"]


class Embedding:
    """Row ``i`` of the table ``W`` for each index ``i``: indices of any shape give
    ``indices.shape + (dim,)``, as ``torch.nn.Embedding(vocab, dim)``.

    ``W`` has shape ``(vocab, dim)`` and starts standard normal (as
    PyTorch's), drawn from ``rng`` (a Generator or seed), else from the
    generator ``srcgrad.models.init.seed`` resets. The indices are ints
    (a Python int, a list of them, or an integer array) from ``0`` to
    ``vocab - 1``; anything else is refused at the call. An index used
    several times gets the sum of its rows' gradients.

    >>> import numpy as np, srcgrad
    >>> table = Embedding(3, 2, rng=0)
    >>> srcgrad.gradient(lambda e: np.sum(e(np.array([2, 0, 2]))), table)[0]["W"]
    array([[1., 1.],
           [0., 0.],
           [2., 2.]])
    """

    def __init__(self, vocab, dim, *, rng=None):
        for name, n in (("vocab", vocab), ("dim", dim)):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, not {n!r}")
        self.W = default_rng(rng).standard_normal((int(vocab), int(dim)))

    def __call__(self, indices):
        return self.W[_checked(self, indices)]

    def signature(self):
        """How the layer was built, e.g. ``'Embedding(10, 4)'``."""
        return "Embedding({}, {})".format(*self.W.shape)

    def __repr__(self):
        return show(self)


@nograd
def _checked(layer, indices):
    """``indices`` as an integer array, once each is known to be a row of ``layer.W``."""
    vocab = layer.W.shape[0]
    if isinstance(indices, (bool, np.bool_)):
        raise TypeError(f"{layer.signature()} takes integer indices, got the bool {indices!r}")
    array = np.asarray(indices)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise TypeError(f"{layer.signature()} takes integer indices from 0 to {vocab - 1}, got "
                        f"{_kind(indices, array)}; convert them with .astype(int) if they are whole numbers")
    if array.size == 0:
        return array.astype(np.intp)
    bad = (array < 0) | (array >= vocab)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        at = f" (at {where[0] if len(where) == 1 else where})" if where else ""
        raise IndexError(f"{layer.signature()}: index {int(array[where])}{at} is out of range "
                         f"for a vocabulary of size {vocab}; indices go from 0 to {vocab - 1}")
    return array


def _kind(indices, array):
    if isinstance(indices, np.ndarray):
        return f"an array of {array.dtype}"
    return f"{type(indices).__name__} {indices!r}" if array.ndim == 0 else f"values of {array.dtype}"
