"""Convolution layers: ``Conv`` and ``ConvTranspose``, over 1-d signals and 2-d images.

Batch first, as PyTorch: a 1-d layer (``kernel=(k,)``) takes ``(batch, channels, length)``,
a 2-d one (``kernel=(kh, kw)``) ``(batch, channels, H, W)``; one sample without the batch
axis (``(channels, H, W)``) gives one sample back. Weights are laid out as PyTorch's and start
as its defaults do (uniform in ``±1/sqrt(fan_in)``), so the same weights give the same numbers.
The maths is in :mod:`srcgrad.rules.conv`; a layer is the few lines that call it.

>>> import numpy as np
>>> from srcgrad.models import relu
>>> layer = Conv((3, 3), 1, 16, relu, pad=1, rng=0)
>>> layer.W.shape, layer.b.shape, layer(np.ones((2, 1, 28, 28))).shape
((16, 1, 3, 3), (16,), (2, 16, 28, 28))
>>> layer
Conv((3, 3), 1, 16, relu, pad=1)  # 160 parameters
"""

from __future__ import annotations

import numpy as np

from ..rules.conv import _conv_plan, _key, conv, conv_transpose
from ..rules.registry import nograd
from .activations import identity
from .init import default_rng
from .layers import _name, show

__all__ = ["Conv", "ConvTranspose"]


class Conv:
    """A convolution layer: ``activation(conv(x, W) + b)``, the cross-correlation of PyTorch's ``nn.Conv1d``/``Conv2d``.

    ``W`` has shape ``(out_channels, in_channels // groups, *kernel)`` and ``b`` ``(out_channels,)``
    (no ``b`` when ``bias=False``). ``stride``, ``pad`` and ``dilation`` are an int or one per
    spatial axis; ``pad`` may also be ``(before, after)`` per axis, or ``"same"`` (stride 1 only:
    the output keeps the input's size, an odd extra at the end, as PyTorch pads).

    >>> layer = Conv((5,), 2, 4, stride=2, rng=0)
    >>> layer(np.zeros((3, 2, 11))).shape
    (3, 4, 4)
    """

    def __init__(self, kernel, in_channels, out_channels, activation=identity, *, stride=1, pad=0, dilation=1,
                 groups=1, bias=True, rng=None):
        kernel = _kernel(kernel, "Conv")
        _check_groups("Conv", kernel, in_channels, out_channels, groups)
        self.stride, self.pad, self.dilation, self.groups = _key(stride), _key(pad), _key(dilation), groups
        _check_geometry(f"Conv({kernel}, {in_channels}, {out_channels})", kernel, stride, pad, dilation)
        bound = 1 / np.sqrt(in_channels // groups * int(np.prod(kernel)))
        rng = default_rng(rng)
        self.W = rng.uniform(-bound, bound, (out_channels, in_channels // groups) + kernel)
        self.bias = bool(bias)
        if bias:
            self.b = rng.uniform(-bound, bound, out_channels)
        self.activation = activation

    def __call__(self, x):
        one = _one_sample(self, x, self.W.shape[1] * self.groups)
        xs = x[None] if one else x
        y = conv(xs, self.W, self.stride, self.pad, self.dilation, self.groups)
        if self.bias:
            y = y + _per_channel(self.b, y)
        y = self.activation(y)
        return y[0] if one else y

    def signature(self):
        """How the layer was built, e.g. ``'Conv((3, 3), 1, 16, relu, pad=1)'``."""
        out_channels, per_group = self.W.shape[:2]
        return _signature("Conv", self, per_group * self.groups, out_channels)

    def __repr__(self):
        return show(self)


class ConvTranspose:
    """A transposed convolution layer (PyTorch's ``nn.ConvTranspose1d``/``2d``): the gradient of a ``Conv``
    in its input, which grows an image by the stride.

    ``W`` has shape ``(in_channels, out_channels // groups, *kernel)``; ``output_padding`` (smaller than
    the stride) adds to each output axis at its end, to reach a size a strided ``Conv`` rounds down.

    >>> layer = ConvTranspose((2, 2), 8, 4, stride=2, rng=0)
    >>> layer.W.shape, layer(np.zeros((1, 8, 7, 7))).shape
    ((8, 4, 2, 2), (1, 4, 14, 14))
    """

    def __init__(self, kernel, in_channels, out_channels, activation=identity, *, stride=1, pad=0, dilation=1,
                 groups=1, bias=True, output_padding=0, rng=None):
        kernel = _kernel(kernel, "ConvTranspose")
        _check_groups("ConvTranspose", kernel, in_channels, out_channels, groups)
        what = f"ConvTranspose({kernel}, {in_channels}, {out_channels})"
        if isinstance(pad, str):
            raise ValueError(f"{what}: pad should be an int or a tuple, not {pad!r} (PyTorch's has no 'same' either)")
        _check_geometry(what, kernel, stride, pad, dilation)
        self.stride, self.pad, self.dilation, self.groups = _key(stride), _key(pad), _key(dilation), groups
        self.output_padding = _key(output_padding)
        # PyTorch's fan-in of a transposed weight (in, out // groups, *kernel) is its second axis times the kernel.
        bound = 1 / np.sqrt(out_channels // groups * int(np.prod(kernel)))
        rng = default_rng(rng)
        self.W = rng.uniform(-bound, bound, (in_channels, out_channels // groups) + kernel)
        self.bias = bool(bias)
        if bias:
            self.b = rng.uniform(-bound, bound, out_channels)
        self.activation = activation

    def __call__(self, x):
        one = _one_sample(self, x, self.W.shape[0])
        xs = x[None] if one else x
        y = conv_transpose(xs, self.W, self.stride, self.pad, self.dilation, self.groups, self.output_padding)
        if self.bias:
            y = y + _per_channel(self.b, y)
        y = self.activation(y)
        return y[0] if one else y

    def signature(self):
        """How the layer was built, e.g. ``'ConvTranspose((2, 2), 8, 4, stride=2)'``."""
        in_channels, per_group = self.W.shape[:2]
        return _signature("ConvTranspose", self, in_channels, per_group * self.groups)

    def __repr__(self):
        return show(self)


def _per_channel(b, y):
    """The bias ``(channels,)`` shaped to add to ``y`` ``(batch, channels, *spatial)``, in ``y``'s dtype."""
    return np.reshape(b, (-1,) + (1,) * (np.ndim(y) - 2)).astype(y.dtype)


@nograd
def _one_sample(layer, x, channels):
    """Whether ``x`` is one sample ``(channels, *spatial)``; a ``ValueError`` naming the layer unless it is
    that or a batch ``(batch, channels, *spatial)``."""
    n = layer.W.ndim - 2
    shape = np.shape(x)
    if len(shape) in (n + 1, n + 2) and shape[-n - 1] == channels:
        if len(shape) == n + 2 and isinstance(layer, Conv):  # (a kernel too large is named with the layer)
            _conv_plan(shape, layer.W.shape, layer.stride, layer.pad, layer.dilation, layer.groups, layer.signature())
        return len(shape) == n + 1
    axes = ("length",) if n == 1 else ("H", "W") if n == 2 else tuple(f"d{i}" for i in range(n))
    raise ValueError(f"{layer.signature()} expected (batch, {channels}, {', '.join(axes)}), got {shape}")


def _kernel(kernel, what):
    if isinstance(kernel, (int, np.integer)):
        raise ValueError(f"{what}: kernel should be a tuple, ({kernel},) for 1-d or ({kernel}, {kernel}) for 2-d, "
                         f"got {kernel!r}")
    kernel = tuple(kernel)
    if not kernel or not all(isinstance(k, (int, np.integer)) and k >= 1 for k in kernel):
        raise ValueError(f"{what}: kernel should be a tuple of positive ints, got {kernel!r}")
    return tuple(int(k) for k in kernel)


def _check_groups(what, kernel, in_channels, out_channels, groups):
    if not isinstance(groups, (int, np.integer)) or groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"{what}({kernel}, {in_channels}, {out_channels}): groups={groups!r} should be a positive "
                         f"int dividing both the input channels ({in_channels}) and the output channels "
                         f"({out_channels})")


def _check_geometry(what, kernel, stride, pad, dilation):
    """Refuse a bad stride, pad or dilation when the layer is built (the shape of ``x`` is checked at its call)."""
    roomy = (1, 1) + (10 ** 9,) * len(kernel)  # (an input no kernel is too large for)
    _conv_plan(roomy, (1, 1) + kernel, _key(stride), _key(pad), _key(dilation), 1, what)


def _signature(kind, layer, in_channels, out_channels):
    parts = [str(tuple(layer.W.shape[2:])), str(in_channels), str(out_channels)]
    if layer.activation is not identity:
        parts.append(_name(layer.activation))
    for name, default in (("stride", 1), ("pad", 0), ("dilation", 1), ("groups", 1), ("output_padding", 0)):
        value = getattr(layer, name, default)
        if value != default:
            parts.append(f"{name}={value!r}")
    if not layer.bias:
        parts.append("bias=False")
    return f"{kind}({', '.join(parts)})"
