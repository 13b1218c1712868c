"""Finding a model's arrays by walking its structure.

A model is any Python value: a layer object, a list or dict of layers, a
closure over arrays, an array. Its *children* are its fields (for an
object), its elements (lists, tuples, dicts) or its captured variables (a
closure); its *parameters* are the floating-point arrays reached through
the trainable children, recursively. A layer narrows which fields are
trainable with the :func:`functor` decorator or a ``trainable()`` method,
as in Flux and Optimisers.jl; nothing is needed otherwise.

Everything that needs a model's arrays walks them here: ``params``,
``save``/``load`` and the optimisers' ``setup``/``update``.

>>> import numpy as np
>>> class Affine:
...     def __init__(self):
...         self.W, self.b = np.ones((2, 3)), np.zeros(2)
>>> [name for name, _ in named_arrays([Affine(), Affine()])]
['0.W', '0.b', '1.W', '1.b']
"""

from __future__ import annotations

import types

import numpy as np

__all__ = ["functor", "children", "trainable", "child", "leaves", "named_arrays", "mirror", "count"]

# Values with no parameters inside, however they look (modules have a __dict__).
_OPAQUE = (type, types.ModuleType, types.BuiltinFunctionType, np.ufunc, np.generic,
           str, bytes, int, float, complex, bool, type(None))


def functor(*args):
    """Mark a class as a layer; with field names, only those fields are trainable.

    ``@functor`` alone changes nothing (every field is searched for
    parameters anyway) but says what the class is; ``@functor("W")``
    makes ``W`` the only parameter, as ``Flux.@functor Affine (W,)`` does.
    Other fields are still saved by ``save``.

    >>> import numpy as np
    >>> @functor("W")
    ... class Scale:
    ...     def __init__(self):
    ...         self.W, self.offset = np.ones(2), np.zeros(2)
    ...     def __call__(self, x):
    ...         return self.W * x + self.offset
    >>> [name for name, _ in named_arrays(Scale())]
    ['W']
    """
    if len(args) == 1 and isinstance(args[0], type):
        args[0].__trainable__ = None
        return args[0]
    if not all(isinstance(name, str) for name in args):
        raise TypeError("use @functor or @functor('field', ...), with field names as strings")

    def mark(cls):
        cls.__trainable__ = tuple(args)
        return cls

    return mark


def children(x) -> dict:
    """The parts of ``x`` that may hold arrays, by name (``{}`` for arrays and plain values).

    >>> children([10, 20])
    {0: 10, 1: 20}
    """
    if isinstance(x, types.MethodType):  # a bound method stands for its object, as in its gradient
        x = x.__self__
    if isinstance(x, np.ndarray) or isinstance(x, _OPAQUE):
        return {}
    if isinstance(x, (list, tuple)):
        return dict(enumerate(x))
    if isinstance(x, dict):
        return dict(x)
    if isinstance(x, types.FunctionType):
        out = {}
        for name, cell in zip(x.__code__.co_freevars, x.__closure__ or ()):
            try:
                out[name] = cell.cell_contents
            except ValueError:  # a cell not yet filled
                pass
        return out
    fields = getattr(x, "__dict__", None)
    if fields is None:
        fields = {name: getattr(x, name) for name in getattr(type(x), "__slots__", ()) if hasattr(x, name)}
    return {name: value for name, value in fields.items() if not name.startswith("__")}


def trainable(x) -> dict:
    """The children of ``x`` that are searched for parameters.

    A class's ``trainable()`` method wins (it returns a dict of the fields
    that are parameters, as Optimisers.jl's returns a NamedTuple), then the
    names given to :func:`functor`, then all children.

    >>> import numpy as np
    >>> class Frozen:
    ...     def __init__(self):
    ...         self.W, self.mask = np.ones(2), np.ones(2)
    ...     def trainable(self):
    ...         return {"W": self.W}
    >>> list(trainable(Frozen()))
    ['W']
    """
    if isinstance(x, types.MethodType):
        x = x.__self__
    kids = children(x)
    method = getattr(type(x), "trainable", None)
    if callable(method) and not isinstance(x, _OPAQUE):
        chosen = x.trainable()
        if not isinstance(chosen, dict):
            raise TypeError(f"{type(x).__name__}.trainable() should return a dict of fields, "
                            f"such as {{'W': self.W}}, not a {type(chosen).__name__}")
        return chosen
    names = getattr(type(x), "__trainable__", None)
    if names is not None and not isinstance(x, _OPAQUE):
        return {name: kids[name] for name in names if name in kids}
    return kids


def child(x, key):
    """The child of ``x`` named ``key`` (a field, an index, a key or a captured variable).

    >>> child({"a": 1}, "a"), child([5, 6], 1)
    (1, 6)
    """
    if isinstance(x, types.MethodType):
        x = x.__self__
    if isinstance(x, (list, tuple, dict)):
        return x[key]
    if isinstance(x, types.FunctionType):
        return x.__closure__[x.__code__.co_freevars.index(key)].cell_contents
    return getattr(x, key)


def _is_param(x, only_trainable):
    if not isinstance(x, np.ndarray):
        return False
    if only_trainable:
        return np.issubdtype(x.dtype, np.inexact)
    return x.dtype.kind in "biufc"


def leaves(x, trainable_only=True):
    """Each array of ``x`` once, as ``(path, array)``, in field order; shared arrays at their first path.

    With ``trainable_only`` (the default) these are the parameters: the
    floating-point arrays under trainable children. Otherwise every numeric
    array under every child (what ``save`` writes).

    >>> import numpy as np
    >>> [path for path, _ in leaves({"w": np.ones(2), "n": 3})]
    [('w',)]
    """
    seen_arrays = set()
    visiting = set()

    def walk(value, path):
        if _is_param(value, trainable_only):
            if id(value) not in seen_arrays:
                seen_arrays.add(id(value))
                yield path, value
            return
        if id(value) in visiting:  # a model that refers back to itself
            return
        visiting.add(id(value))
        parts = trainable(value) if trainable_only else children(value)
        for key, part in parts.items():
            yield from walk(part, path + (key,))
        visiting.discard(id(value))

    yield from walk(x, ())


def named_arrays(x, trainable_only=True):
    """``[(name, array)]`` for :func:`leaves`, with dotted names such as ``'layers.0.W'``.

    >>> import numpy as np
    >>> named_arrays({"b": np.zeros(1)})
    [('b', array([0.]))]
    """
    return [(".".join(str(p) for p in path), array) for path, array in leaves(x, trainable_only)]


def count(x) -> int:
    """How many numbers the parameters of ``x`` hold.

    >>> import numpy as np
    >>> count([np.ones((2, 3)), np.ones(2)])
    8
    """
    return sum(array.size for _, array in leaves(x))


def mirror(fn, x):
    """A tree shaped like ``x``'s trainable structure, with ``fn(array)`` at each parameter.

    Objects become dicts of their fields, lists and tuples stay lists and
    tuples, dicts stay dicts; a part with no parameters becomes ``None``.
    An array reached twice gets the same ``fn`` result both times.

    >>> import numpy as np
    >>> mirror(lambda a: a.shape, {"W": np.ones((2, 3)), "name": "x", "bs": [np.ones(1)]})
    {'W': (2, 3), 'name': None, 'bs': [(1,)]}
    >>> mirror(len, ["no", "arrays"]) is None
    True
    """
    done = {}
    visiting = set()

    def walk(value):
        if _is_param(value, True):
            if id(value) not in done:
                done[id(value)] = fn(value)
            return done[id(value)]
        parts = trainable(value)
        if not parts or id(value) in visiting:
            return None
        visiting.add(id(value))
        tree = {key: walk(part) for key, part in parts.items()}
        visiting.discard(id(value))
        if all(sub is None for sub in tree.values()):
            return None
        if isinstance(value, (list, tuple)):
            items = [tree[i] for i in range(len(value))]
            return tuple(items) if isinstance(value, tuple) else items
        return tree

    return walk(x)
