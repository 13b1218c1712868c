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

import functools
import types

import numpy as np

from .activations import identity
from .functor import children, leaves, trainable
from .init import glorot_uniform

__all__ = ["Dense", "Chain", "SkipConnection", "Parallel", "compose", "show"]


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


class SkipConnection:
    """A block with a shortcut: ``connection(layers(x), x)`` (Flux's; ResNet's is ``connection=np.add``).

    ``layers`` is any callable, often a ``Chain``; ``connection`` any
    callable of two arguments: ``np.add`` for a residual block,
    ``lambda y, x: np.concatenate([y, x], axis=1)`` to stack the block's
    output on its input (DenseNet's).

    >>> import numpy as np
    >>> from srcgrad.models import Dense, relu
    >>> block = SkipConnection(Chain(Dense(4, 8, relu, rng=0), Dense(8, 4, rng=1)), np.add)
    >>> block(np.ones((2, 4))).shape
    (2, 4)
    >>> block
    SkipConnection(
      Chain(
        Dense(4, 8, relu),  # 40 parameters
        Dense(8, 4),        # 36 parameters
      ),
      add,
    )                       # Total: 4 arrays, 76 parameters, 608 bytes.
    """

    def __init__(self, layers, connection):
        _check_callable("SkipConnection(layers, connection)", "layers", layers)
        _check_callable("SkipConnection(layers, connection)", "connection", connection,
                        " of two arguments, such as np.add")
        self.layers = layers
        self.connection = connection

    def __call__(self, x):
        return self.connection(self.layers(x), x)

    def signature(self):
        """How the block was built, on one line, e.g. ``'SkipConnection(Dense(2, 2), add)'``."""
        return f"SkipConnection({_inline(self.layers)}, {_name(self.connection)})"

    def __repr__(self):
        return show(self)


class Parallel:
    """Branches side by side, joined: ``connection(l1(x), l2(x), ...)`` (Flux's ``Parallel``).

    Called with one input, every branch gets it. Called with a tuple of
    inputs, the tuple is spread over the branches as Flux spreads several
    arguments: ``Parallel(c, f, g)((x, y)) == c(f(x), g(y))``; one branch
    takes each input in turn, ``Parallel(c, f)((x, y)) == c(f(x), f(y))``.
    (Pass several inputs as one tuple, so that a ``Chain`` can hand them on
    from the layer before.) Indexing gives a branch, slicing a ``Parallel``
    of fewer branches; ``len`` and iteration go over the branches.

    >>> import numpy as np
    >>> from srcgrad.models import Dense
    >>> join = lambda a, b: np.concatenate([a, b], axis=-1)
    >>> model = Parallel(join, Dense(3, 2, rng=0), Chain(Dense(3, 4, rng=1), Dense(4, 1, rng=2)))
    >>> model(np.ones((5, 3))).shape
    (5, 3)
    >>> Parallel(np.add, Dense(3, 2, rng=0), Dense(1, 2, rng=1))((np.ones(3), np.ones(1))).shape
    (2,)
    >>> model
    Parallel(
      <lambda>,
      Dense(3, 2),    # 8 parameters
      Chain(
        Dense(3, 4),  # 16 parameters
        Dense(4, 1),  # 5 parameters
      ),
    )                 # Total: 6 arrays, 29 parameters, 232 bytes.
    """

    def __init__(self, connection, *layers):
        _check_callable("Parallel(connection, *layers)", "connection", connection,
                        f" of {len(layers)} argument{'' if len(layers) == 1 else 's'}")
        if not layers:
            raise ValueError("Parallel(connection, *layers) needs at least one layer after the connection")
        for i, layer in enumerate(layers):
            _check_callable("Parallel(connection, *layers)", f"layer {i}", layer)
        self.connection = connection
        self.layers = list(layers)

    def __call__(self, x):
        connection, layers = self.connection, self.layers
        if not isinstance(x, tuple):
            return connection(*[layer(x) for layer in layers])
        if len(layers) == 1:
            layer = layers[0]
            return connection(*[layer(xi) for xi in x])
        if len(x) == 1:
            return connection(*[layer(x[0]) for layer in layers])
        if len(x) != len(layers):
            raise ValueError(f"{self.signature()} has {len(layers)} branches: it takes one input for all "
                             f"of them or a tuple of {len(layers)} inputs, one per branch, not a tuple of {len(x)}")
        return connection(*[layer(xi) for layer, xi in zip(layers, x)])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Parallel(self.connection, *self.layers[index])
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def signature(self):
        """How the layer was built, on one line, e.g. ``'Parallel(add, Dense(2, 3), Dense(2, 3))'``."""
        return f"Parallel({', '.join([_name(self.connection)] + [_inline(layer) for layer in self.layers])})"

    def __repr__(self):
        return show(self)


def _check_callable(call, what, value, kind=""):
    if not callable(value):
        raise TypeError(f"{call}: the {what} should be a callable{kind}, not {type(value).__name__} {value!r}")


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

    Containers (``Chain``, ``SkipConnection``, ``Parallel``, and objects of
    your own classes, lists and dicts that hold layers) are opened up, one
    layer a line, as Flux prints them; a layer prints its ``signature()``,
    or its class name. Arrays that are not parameters (BatchNorm's running
    statistics, integer arrays) are counted apart in the total.

    >>> print(show(Dense(3, 2)))
    Dense(3, 2)  # 8 parameters
    >>> class Block:
    ...     def __init__(self):
    ...         self.dense = Dense(2, 2)
    ...         self.scale = np.ones(2)
    >>> print(show(Block()))
    Block(
      dense = Dense(2, 2),           # 6 parameters
      scale = array((2,), float64),  # 2 parameters
    )                                # Total: 3 arrays, 8 parameters, 64 bytes.
    """
    lines = _lines(model, "", "", False)
    if len(lines) > 1:  # an opened container: the total on its closing line
        lines[-1:] = _total(model, lines[-1][0])
    width = max(len(text) for text, _ in lines) + 2
    return "\n".join((text.ljust(width) + comment) if comment else text for text, comment in lines)


def _total(model, text):
    params = [array for _, array in leaves(model)]
    trained = {id(array) for array in params}
    others = [array for _, array in leaves(model, trainable_only=False) if id(array) not in trained]
    size, nbytes = sum(a.size for a in params), sum(a.nbytes for a in params)
    if not others:
        return [(text, f"# Total: {len(params)} arrays, {size:,} parameters, {nbytes:,} bytes.")]
    return [(text, f"# Total: {len(params)} trainable arrays, {size:,} parameters, {nbytes:,} bytes,"),
            ("", f"# plus {len(others)} non-trainable, {sum(a.size for a in others):,} numbers, "
                 f"{sum(a.nbytes for a in others):,} bytes.")]


def _lines(layer, indent, label, frozen):
    """``[(text, comment)]`` to print ``layer`` after ``label`` (``'name = '`` or ``''``), containers opened up.

    ``frozen``: the layer sits under a field its owner's ``@functor`` leaves out, so it holds no parameters.
    """
    head = indent + label
    if isinstance(layer, Chain):
        return _opened(head + "Chain(", [("", sub, frozen) for sub in layer.layers], indent, ")")
    if isinstance(layer, SkipConnection) and _opens([layer.layers]):
        return _opened(head + "SkipConnection(", [("", layer.layers, frozen), ("", layer.connection, frozen)],
                       indent, ")")
    if isinstance(layer, Parallel) and _opens(layer.layers):
        return _opened(head + "Parallel(", [("", part, frozen) for part in [layer.connection] + layer.layers],
                       indent, ")")
    parts = _shown_parts(layer)
    if parts is not None:
        opening, closing, parts = parts
        kept = trainable(layer)
        return _opened(head + opening, [(name, part, frozen or key not in kept) for key, name, part in parts],
                       indent, closing)
    text = _array_text(layer) if isinstance(layer, np.ndarray) else _signature(layer)
    return [(head + text, _count(layer, frozen))]


def _opened(opening, parts, indent, closing):
    out = [(opening, "")]
    for label, part, frozen in parts:
        sublines = _lines(part, indent + "  ", label, frozen)
        text, comment = sublines[-1]
        sublines[-1] = (text + ",", comment)
        out += sublines
    return out + [(indent + closing, "")]


def _opens(layers):
    """Whether a container of ``layers`` prints them one a line: when one holds arrays or is a container."""
    return any(isinstance(layer, (Chain, SkipConnection, Parallel)) or _arrays_in(layer) for layer in layers)


def _shown_parts(layer):
    """``(opening, closing, [(key, label, part)])`` for a list, tuple, dict or object of a class without
    ``signature()`` holding layers (values other than arrays that hold arrays); else None."""
    if isinstance(layer, np.ndarray) or isinstance(layer, types.FunctionType) or _has_signature(layer):
        return None
    kids = children(layer)
    if not any(not isinstance(part, np.ndarray) and _arrays_in(part) for part in kids.values()):
        return None
    shown = [(key, part) for key, part in kids.items()
             if isinstance(part, np.ndarray) or callable(part) or _arrays_in(part)]
    if isinstance(layer, dict):
        return "{", "}", [(key, f"{key!r}: ", part) for key, part in shown]
    if isinstance(layer, (list, tuple)) and not hasattr(type(layer), "_fields"):
        opening, closing = ("[", "]") if isinstance(layer, list) else ("(", ")")
        return opening, closing, [(key, "", part) for key, part in shown]
    return f"{type(layer).__name__}(", ")", [(key, f"{key} = ", part) for key, part in shown]


def _arrays_in(value):
    return next(iter(leaves(value, trainable_only=False)), None) is not None


def _count(layer, frozen):
    size = 0 if frozen else sum(array.size for _, array in leaves(layer))
    if size:
        return f"# {size:,} parameters"
    others = sum(array.size for _, array in leaves(layer, trainable_only=False))
    return f"# {others:,} non-trainable" if others else ""


def _array_text(array):
    return f"array({array.shape}, {array.dtype})"


def _inline(layer):
    """A layer on one line: its signature, a Chain as ``Chain(a, b)``."""
    if isinstance(layer, Chain):
        return f"Chain({', '.join(_inline(sub) for sub in layer.layers)})"
    return _signature(layer)


def _has_signature(layer):
    # (a NumPy ufunc has a ``signature`` attribute of its own: None or a string such as '(n),(n)->()')
    return callable(getattr(type(layer), "signature", None)) and not isinstance(layer, np.ufunc)


def _signature(layer):
    if _has_signature(layer):
        return layer.signature()
    if isinstance(layer, np.ndarray):
        return _array_text(layer)
    if isinstance(layer, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or isinstance(layer, type):
        return _name(layer)
    if isinstance(layer, types.MethodType):
        return f"{_signature(layer.__self__)}.{layer.__func__.__name__}"
    if isinstance(layer, functools.partial):
        return repr(layer)
    return type(layer).__name__


def _name(fn):
    return getattr(fn, "__name__", None) or repr(fn)
