"""Layers: plain Python callables with array fields.

srcgrad differentiates a layer's ``__call__`` through its source like any
user code, so a layer is a few readable lines and has no backward pass.
Its parameters are its floating-point array fields (see ``functor``).
Inputs are one sample ``(features,)`` or a batch ``(batch, features)``.

>>> import numpy as np
>>> from srcgrad.models import Chain, Dense, relu
>>> model = Chain(Dense(2, 16, relu, rng=0), Dense(16, 1, rng=0))
>>> model(np.ones((5, 2))).shape
(5, 1)
>>> model
Chain(
  Dense(2, 16, relu),  # 48 parameters
  Dense(16, 1),        # 17 parameters
)                      # Total: 4 arrays, 65 parameters, 520 bytes.
"""

from __future__ import annotations

import numpy as np

from .activations import identity
from .functor import leaves
from .init import glorot_uniform

__all__ = ["Dense", "Chain", "compose", "show"]


class Dense:
    """A fully connected layer: ``activation(x @ W.T + b)``.

    ``W`` has shape ``(out_features, in_features)`` and starts Glorot-uniform
    (from ``rng``, a Generator or seed, else the generator ``init.seed``
    resets); ``b`` has shape ``(out_features,)`` and starts at zero.

    >>> import numpy as np
    >>> from srcgrad.models import sigmoid
    >>> layer = Dense(10, 5, sigmoid, rng=0)
    >>> layer.W.shape, layer.b.shape, layer(np.ones(10)).shape
    ((5, 10), (5,), (5,))
    """

    def __init__(self, in_features, out_features, activation=identity, *, init=glorot_uniform, rng=None):
        self.W = init(out_features, in_features, rng=rng)
        self.b = np.zeros(out_features)
        self.activation = activation

    def __call__(self, x):
        return self.activation(x @ self.W.T + self.b)

    def signature(self):
        """How the layer was built, e.g. ``'Dense(2, 16, relu)'``."""
        out_features, in_features = self.W.shape
        act = "" if self.activation is identity else f", {_name(self.activation)}"
        return f"Dense({in_features}, {out_features}{act})"

    def __repr__(self):
        return show(self)


class Chain:
    """Layers (any callables) applied in order: ``Chain(f, g)(x) == g(f(x))``.

    Indexing gives a layer, slicing a shorter ``Chain``; ``len`` and
    iteration work as for a list.

    >>> from srcgrad.models import Dense, sigmoid, softmax
    >>> Chain(lambda x: x ** 2, lambda x: x + 1)(5)
    26
    >>> model = Chain(Dense(10, 5, sigmoid), Dense(5, 2), softmax)
    >>> len(model), model[-1] is softmax, len(model[:2])
    (3, True, 2)
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], list):
            layers = layers[0]
        self.layers = list(layers)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Chain(*self.layers[index])
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        return show(self)


def compose(*fns):
    """Function composition, right to left: ``compose(f, g)(x) == f(g(x))`` (Julia's ``f ∘ g``).

    The result is the ``Chain`` of the functions in calling order, so it
    prints, trains and saves like one.

    >>> from srcgrad.models import Dense, sigmoid
    >>> m = compose(Dense(5, 2), Dense(10, 5, sigmoid))
    >>> m
    Chain(
      Dense(10, 5, sigmoid),  # 55 parameters
      Dense(5, 2),            # 12 parameters
    )                         # Total: 4 arrays, 67 parameters, 536 bytes.
    >>> compose(lambda x: x + 1, lambda x: 2 * x)(3)
    7
    """
    return Chain(*reversed(fns))


def show(model) -> str:
    """The text ``repr`` gives a model: its layers, each with its parameter count, and a total.

    >>> print(show(Dense(3, 2)))
    Dense(3, 2)  # 8 parameters
    """
    lines = _lines(model, "")
    if isinstance(model, Chain):
        arrays = [array for _, array in leaves(model)]
        size = sum(a.size for a in arrays)
        lines[-1] = (lines[-1][0], f"# Total: {len(arrays)} arrays, {size:,} parameters, "
                                   f"{sum(a.nbytes for a in arrays):,} bytes.")
    width = max(len(text) for text, _ in lines) + 2
    return "\n".join((text.ljust(width) + comment) if comment else text for text, comment in lines)


def _lines(layer, indent):
    """``[(text, comment)]`` to print ``layer``, with nested Chains opened up."""
    if isinstance(layer, Chain):
        out = [(indent + "Chain(", "")]
        for sub in layer.layers:
            sublines = _lines(sub, indent + "  ")
            text, comment = sublines[-1]
            sublines[-1] = (text + ",", comment)
            out += sublines
        return out + [(indent + ")", "")]
    size = sum(array.size for _, array in leaves(layer))
    return [(indent + _signature(layer), f"# {size:,} parameters" if size else "")]


def _signature(layer):
    if hasattr(type(layer), "signature"):
        return layer.signature()
    if callable(layer) and hasattr(layer, "__name__"):
        return _name(layer)
    return repr(layer)


def _name(fn):
    return getattr(fn, "__name__", None) or repr(fn)
