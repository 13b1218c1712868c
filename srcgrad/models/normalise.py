"""Normalisation layers: ``BatchNorm`` (over the batch, per channel) and ``LayerNorm`` (per sample).

Both compute what PyTorch's ``torch.nn.BatchNorm1d/2d/3d`` and
``torch.nn.LayerNorm`` compute, number for number, with their field
names, and srcgrad differentiates them through their source.

**The one state change a layer makes.** In train mode ``BatchNorm``
updates its running statistics on every forward pass, as PyTorch and Flux
do; it is the only layer that changes itself. srcgrad does not change a
caller's arguments: an assignment ``self.running_mean = ...`` in
differentiated code writes to srcgrad's own shallow copy of the layer,
which the caller never sees. So the layer hands itself to ``_track``, a
function marked ``nograd``, which srcgrad calls as it is, once, in the
forward pass, passing no gradient through it. ``_track`` gives the layer
*new* arrays for ``running_mean`` and ``running_var``:

- new arrays, not writes into the old ones, because srcgrad may have kept
  the old ones for the backward pass (a loss that reads
  ``bn.running_mean`` and then calls ``bn`` in train mode must get the
  gradient of the value it read);
- on the caller's layer: that is the object srcgrad passes, unless the
  differentiated code itself assigned a field of the layer (``bn.eps =
  ...``) and srcgrad made its own copy; ``BatchNorm.__copy__`` remembers
  which layer a shallow copy came from, and ``_track`` updates that one as
  well.

So the statistics move exactly once per training forward pass however the
layer is called: plainly, in ``gradient(loss, model, x)``,
``gradient(lambda: loss(model(x)), params(model))``, ``withgradient``,
``pullback`` (when it is called, not when ``back`` is), ``jacobian``,
``jvp``, a gradient of a gradient, ``srcgrad.checkpoint`` (whose second
run puts back the fields it binds anew) and ``srcgrad.optim.train``; the
gradient is the same as without the update. What runs a forward pass more
than once runs the update more than once: ``hessian`` (forward over
reverse) runs it once per number of its input. Use ``testmode(model)``
for passes that should leave the statistics alone. Code that keeps
``bn.running_mean`` in a variable keeps the array of that moment: read the
field again after training.

>>> import numpy as np
>>> bn = BatchNorm(2)
>>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
>>> bn(x)
array([[-0.999995  , -0.99999995],
       [ 0.999995  ,  0.99999995]])
>>> bn.running_mean, bn.running_var
(array([0.2, 2. ]), array([ 1.1, 20.9]))
"""

from __future__ import annotations

import numbers
import weakref

import numpy as np

from ..rules.registry import nograd
from .activations import identity
from .functor import functor
from .layers import _name, show

__all__ = ["BatchNorm", "LayerNorm"]


@functor("weight", "bias")
class BatchNorm:
    """Batch normalisation over every axis but the channel axis 1 (Ioffe & Szegedy, 2015).

    ``activation((x - mean) / sqrt(var + eps) * weight + bias)``, with
    ``x`` of shape ``(batch, channels)``, ``(batch, channels, length)``,
    ``(batch, channels, height, width)`` or more axes. Fields, as PyTorch's:

    - ``weight`` (γ, ones) and ``bias`` (β, zeros), shape ``(channels,)``:
      the parameters (``None`` both with ``affine=False``);
    - ``running_mean`` (zeros) and ``running_var`` (ones), shape
      ``(channels,)``: not parameters, but saved by ``save``;
    - ``training``: ``True`` from the start; see ``testmode``/``trainmode``.

    In train mode ``mean`` and ``var`` are the batch's (the biased variance,
    dividing by the ``n`` numbers per channel), and the running statistics
    move towards them: ``running = (1 - momentum) * running + momentum *
    batch``, with the unbiased variance (dividing by ``n - 1``) for
    ``running_var``. In test mode ``mean`` and ``var`` are the running
    statistics. The update is the layer's one change to itself: it gives the
    layer new ``running_mean`` and ``running_var`` arrays (the module's
    docstring says why, and how they reach the caller's layer inside
    ``gradient``). A shallow copy (``copy.copy``) that trains moves the
    statistics of the layer it was copied from too.

    The output has the input's float dtype.

    >>> import numpy as np
    >>> from srcgrad.models import relu
    >>> bn = BatchNorm(3, relu)
    >>> bn(np.ones((4, 3, 5, 5))).shape
    (4, 3, 5, 5)
    >>> bn
    BatchNorm(3, relu)  # 6 parameters
    """

    def __init__(self, channels, activation=identity, *, momentum=0.1, eps=1e-5, affine=True):
        if not isinstance(channels, numbers.Integral) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"BatchNorm: channels must be a positive int, not {channels!r}")
        if (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)
                or not 0 <= momentum <= 1):
            raise ValueError(f"BatchNorm: momentum must be a number from 0 to 1 (the weight of the "
                             f"batch's statistics in the running ones), not {momentum!r}")
        if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not eps >= 0:
            raise ValueError(f"BatchNorm: eps must be a number >= 0, not {eps!r}")
        channels = int(channels)
        self.weight = np.ones(channels) if affine else None
        self.bias = np.zeros(channels) if affine else None
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)
        self.activation = activation
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.training = True

    def __call__(self, x):
        axes, shape, count = _batch_axes(self, x)
        if self.training:
            mean = np.mean(x, axis=axes, keepdims=True)
            centred = x - mean
            var = np.mean(centred * centred, axis=axes, keepdims=True)
            _track(self, mean, var, count)
        else:
            mean = self.running_mean.reshape(shape)
            var = self.running_var.reshape(shape)
            centred = x - mean
        y = centred / np.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        # (float64 statistics and parameters must not turn a float32 input into a float64 output)
        return self.activation(y.astype(x.dtype))

    def __copy__(self):
        # srcgrad copies a layer (copy.copy) before differentiated code assigns one of its fields;
        # the copy's training passes must still move the statistics of the layer it came from.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        _copied_from[new] = _origin(self)
        return new

    def signature(self):
        """How the layer was built, e.g. ``'BatchNorm(16, relu, momentum=0.01)'``."""
        parts = [str(self.running_mean.shape[0])]
        if self.activation is not identity:
            parts.append(_name(self.activation))
        if self.momentum != 0.1:
            parts.append(f"momentum={self.momentum:g}")
        if self.eps != 1e-5:
            parts.append(f"eps={self.eps:g}")
        if self.weight is None:
            parts.append("affine=False")
        return f"BatchNorm({', '.join(parts)})"

    def __repr__(self):
        return show(self)


@nograd
def _batch_axes(layer, x):
    """``(axes, shape, count)`` for ``layer(x)``: the axes it averages over, the shape that puts a
    per-channel vector on axis 1, and how many numbers each channel has; a clear error for an
    input that does not fit."""
    channels = layer.running_mean.shape[0]
    _check_float(layer, x)
    if x.ndim < 2 or x.shape[1] != channels:
        raise ValueError(f"{layer.signature()} expected (batch, {channels}, ...) with its {channels} "
                         f"channels on axis 1, got {x.shape}")
    count = x.size // channels
    if layer.training and count < 2:
        raise ValueError(f"{layer.signature()} in train mode needs more than one value per channel to "
                         f"take the batch's statistics, got {x.shape}; use a larger batch, or testmode(...) "
                         f"to use the running statistics")
    axes = (0,) + tuple(range(2, x.ndim))
    return axes, (1, channels) + (1,) * (x.ndim - 2), count


#: A shallow copy of a BatchNorm -> the layer it was copied from (see ``BatchNorm.__copy__``).
_copied_from: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@nograd
def _track(layer, mean, var, count):
    """Move the running statistics towards the batch's: new arrays, on ``layer`` and on the layer it is a
    shallow copy of (the old arrays are left as they were, for a backward pass that kept them)."""
    momentum = layer.momentum
    unbiased = var.reshape(-1) * (count / (count - 1))
    running_mean = ((1 - momentum) * layer.running_mean + momentum * mean.reshape(-1)).astype(
        layer.running_mean.dtype)
    running_var = ((1 - momentum) * layer.running_var + momentum * unbiased).astype(layer.running_var.dtype)
    for target in {id(layer): layer, id(_origin(layer)): _origin(layer)}.values():
        target.running_mean, target.running_var = running_mean, running_var


def _origin(layer):
    return _copied_from.get(layer, layer)


@functor("weight", "bias")
class LayerNorm:
    """Layer normalisation over the trailing ``shape`` of each input (Ba, Kiros & Hinton, 2016).

    ``(x - mean) / sqrt(var + eps) * weight + bias``, where ``mean`` and
    ``var`` (biased) are taken over the last ``len(shape)`` axes of ``x``,
    which must be ``shape`` (an int for one axis, or a tuple), as
    ``torch.nn.LayerNorm(shape)`` does. Fields: ``weight`` (ones) and
    ``bias`` (zeros) of shape ``shape``, the parameters (``None`` both with
    ``affine=False``), and ``shape``. The same in train and test mode.

    >>> import numpy as np
    >>> ln = LayerNorm(4)
    >>> np.round(ln(np.array([[1.0, 2.0, 3.0, 4.0]])), 4)
    array([[-1.3416, -0.4472,  0.4472,  1.3416]])
    >>> LayerNorm((3, 4))
    LayerNorm((3, 4))  # 24 parameters
    """

    def __init__(self, shape, *, eps=1e-5, affine=True):
        sizes = (shape,) if isinstance(shape, numbers.Integral) else shape
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if (not sizes or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
                                 for n in sizes)):
            raise ValueError(f"LayerNorm: shape must be a positive int or a tuple of them, not {shape!r}")
        if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be a number >= 0, not {eps!r}")
        self.shape = tuple(int(n) for n in sizes)
        self.weight = np.ones(self.shape) if affine else None
        self.bias = np.zeros(self.shape) if affine else None
        self.eps = float(eps)

    def __call__(self, x):
        axes = _trailing_axes(self, x)
        mean = np.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=axes, keepdims=True)
        y = centred / np.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y.astype(x.dtype)  # (float64 parameters must not turn a float32 input into float64)

    def signature(self):
        """How the layer was built, e.g. ``'LayerNorm(8)'`` or ``'LayerNorm((3, 4), affine=False)'``."""
        parts = [str(self.shape[0]) if len(self.shape) == 1 else str(self.shape)]
        if self.eps != 1e-5:
            parts.append(f"eps={self.eps:g}")
        if self.weight is None:
            parts.append("affine=False")
        return f"LayerNorm({', '.join(parts)})"

    def __repr__(self):
        return show(self)


@nograd
def _trailing_axes(layer, x):
    """The axes ``layer(x)`` normalises over; a clear error for an input that does not end in its shape."""
    _check_float(layer, x)
    n = len(layer.shape)
    if x.ndim < n or tuple(x.shape[x.ndim - n:]) != layer.shape:
        raise ValueError(f"{layer.signature()} expected an input ending in {layer.shape}, i.e. (..., "
                         f"{', '.join(map(str, layer.shape))}), got {np.shape(x)}")
    return tuple(range(x.ndim - n, x.ndim))


def _check_float(layer, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer.signature()} expected a NumPy array of floats, got {type(x).__name__}; "
                        f"use np.asarray(x, dtype=float)")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer.signature()} expected an array of floats, got {x.dtype}; "
                        f"use x.astype(float)")
