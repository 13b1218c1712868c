"""Pooling layers and flattening: ``MaxPool``, ``MeanPool``, ``GlobalMaxPool``, ``GlobalMeanPool``, ``Flatten``
and the function ``flatten``.

Batch first, as PyTorch: ``window=(k,)`` pools ``(batch, channels, length)``, ``window=(kh, kw)``
pools ``(batch, channels, H, W)``. The maths is in :mod:`srcgrad.rules.conv`. ``MaxPool``'s
gradient goes to one element of each window, the first largest (row-major within the window), as
PyTorch's does; ``GlobalMaxPool`` is a ``MaxPool`` over the whole image, so it picks the same way.

>>> import numpy as np
>>> from srcgrad.models import Chain
>>> model = Chain(MaxPool((2, 2)), Flatten())
>>> model(np.ones((5, 3, 8, 8))).shape
(5, 48)
>>> model
Chain(
  MaxPool((2, 2)),
  Flatten(),
)                   # Total: 0 arrays, 0 parameters, 0 bytes.
"""

from __future__ import annotations

import numpy as np

from ..rules.conv import _key, _pool_plan, max_pool, mean_pool
from ..rules.registry import nograd
from .layers import show

__all__ = ["MaxPool", "MeanPool", "GlobalMaxPool", "GlobalMeanPool", "Flatten", "flatten"]


class MaxPool:
    """The largest element of each window (PyTorch's ``nn.MaxPool1d``/``2d``), padded with ``-inf``.

    ``stride`` defaults to the window; ``pad`` (an int or one per axis) is at most half the window.

    >>> MaxPool((2,))(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]))
    array([[[3., 5.]]])
    """

    def __init__(self, window, *, stride=None, pad=0):
        self.window, self.stride, self.pad = _window(window, "MaxPool"), _key(stride), _key(pad)
        _pool_plan((1, 1) + (10 ** 9,) * len(self.window), self.window, self.stride, self.pad, self.signature())

    def __call__(self, x):
        _check(self, x)
        return max_pool(x, self.window, self.stride, self.pad)

    def signature(self):
        """How the layer was built, e.g. ``'MaxPool((2, 2))'``."""
        return _signature("MaxPool", self)

    def __repr__(self):
        return show(self)


class MeanPool:
    """The mean of each window (PyTorch's ``nn.AvgPool1d``/``2d``, whose zero padding counts in the mean).

    >>> MeanPool((2,))(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]))
    array([[[2. , 3.5]]])
    """

    def __init__(self, window, *, stride=None, pad=0):
        self.window, self.stride, self.pad = _window(window, "MeanPool"), _key(stride), _key(pad)
        _pool_plan((1, 1) + (10 ** 9,) * len(self.window), self.window, self.stride, self.pad, self.signature())

    def __call__(self, x):
        _check(self, x)
        return mean_pool(x, self.window, self.stride, self.pad)

    def signature(self):
        """How the layer was built, e.g. ``'MeanPool((2, 2), stride=1)'``."""
        return _signature("MeanPool", self)

    def __repr__(self):
        return show(self)


class GlobalMaxPool:
    """The largest element of each channel, keeping the spatial axes at size 1: ``(batch, C, 1, 1)`` (as Flux's).

    >>> GlobalMaxPool()(np.arange(8.0).reshape(1, 2, 2, 2))[:, :, 0, 0]
    array([[3., 7.]])
    """

    def __call__(self, x):
        return max_pool(x, _spatial_shape(x, "GlobalMaxPool()"))

    def signature(self):
        return "GlobalMaxPool()"

    def __repr__(self):
        return show(self)


class GlobalMeanPool:
    """The mean of each channel, keeping the spatial axes at size 1: ``(batch, C, 1, 1)`` (as Flux's).

    >>> GlobalMeanPool()(np.arange(8.0).reshape(1, 2, 4))
    array([[[1.5],
            [5.5]]])
    """

    def __call__(self, x):
        return np.mean(x, axis=_spatial_axes(x, "GlobalMeanPool()"), keepdims=True)

    def signature(self):
        return "GlobalMeanPool()"

    def __repr__(self):
        return show(self)


def flatten(x):
    """``x`` ``(batch, ...)`` as ``(batch, features)``: every axis but the first in one.

    >>> flatten(np.zeros((5, 3, 2, 2))).shape
    (5, 12)
    """
    return np.reshape(x, (_batch_size(x), -1))


class Flatten:
    """The layer of :func:`flatten`: ``(batch, ...)`` to ``(batch, features)``, for a ``Chain`` between
    convolutions and ``Dense`` layers.

    >>> Flatten()(np.zeros((2, 16, 4, 4))).shape
    (2, 256)
    """

    def __call__(self, x):
        return flatten(x)

    def signature(self):
        return "Flatten()"

    def __repr__(self):
        return show(self)


@nograd
def _check(layer, x):
    """A ``ValueError`` naming the layer unless ``x`` is ``(batch, channels, *spatial)`` for its window."""
    shape = np.shape(x)
    n = len(layer.window)
    if len(shape) != n + 2:
        axes = ("length",) if n == 1 else ("H", "W") if n == 2 else tuple(f"d{i}" for i in range(n))
        raise ValueError(f"{layer.signature()} expected (batch, channels, {', '.join(axes)}), got {shape}")
    _pool_plan(shape, layer.window, layer.stride, layer.pad, layer.signature())


@nograd
def _spatial_axes(x, what):
    if np.ndim(x) < 3:
        raise ValueError(f"{what} expected (batch, channels, *spatial), got {np.shape(x)}")
    return tuple(range(2, np.ndim(x)))


@nograd
def _spatial_shape(x, what):
    _spatial_axes(x, what)
    return tuple(np.shape(x)[2:])


@nograd
def _batch_size(x):
    if np.ndim(x) < 1:
        raise ValueError(f"flatten expected (batch, ...), got a scalar of shape {np.shape(x)}")
    return np.shape(x)[0]


def _window(window, what):
    if not isinstance(window, (tuple, list)):
        raise ValueError(f"{what}: window should be a tuple, ({window},) for 1-d or ({window}, {window}) for 2-d, "
                         f"got {window!r}")
    return _key(window)


def _signature(kind, layer):
    parts = [str(layer.window)]
    if layer.stride is not None:
        parts.append(f"stride={layer.stride!r}")
    if layer.pad != 0:
        parts.append(f"pad={layer.pad!r}")
    return f"{kind}({', '.join(parts)})"
