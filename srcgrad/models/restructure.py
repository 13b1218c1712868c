"""A model's parameters as one flat vector, and the function that puts them back (Optimisers.jl's ``destructure``).

``flat, rebuild = destructure(model)`` gives every trainable parameter of
``model`` (the arrays :func:`~srcgrad.models.functor.named_arrays` lists,
in its order) laid end to end in one vector, and ``rebuild(v)`` a *new*
model of the same structure holding the numbers of ``v`` instead. The
original model is never changed; what is not a parameter (activation
functions, BatchNorm's running statistics, ``training`` flags, integer
arrays) is carried over into the new model as a copy.

>>> import numpy as np
>>> import srcgrad
>>> from srcgrad.models import Chain, Dense, relu
>>> model = Chain(Dense(2, 3, relu, rng=0), Dense(3, 1, rng=1))
>>> flat, rebuild = destructure(model)
>>> flat.shape
(13,)
>>> again = rebuild(flat)
>>> again is model, bool((again(np.ones(2)) == model(np.ones(2))).all())
(False, True)
>>> loss = lambda v: np.sum(rebuild(v)(np.ones(2)) ** 2)
>>> srcgrad.gradient(loss, flat)[0].shape
(13,)

How ``rebuild`` is differentiated. Making an object inside differentiated
code is something srcgrad supports only to first order in reverse mode, and
copying a model (``copy.deepcopy``) has no source to read. So ``rebuild`` is
one call of :func:`restructure`, which has a derivative rule of its own,
written in the subset srcgrad differentiates (so second derivatives work):

- reverse: the gradient arriving for the new model is its structural
  gradient, a dict of its fields (section 1 of the spec); the gradient of
  ``v`` is that gradient read at every parameter's path, flattened and laid
  end to end in the same order. An array reached by several paths (weights
  shared by two layers) sums what each path received; a path that received
  nothing gives zeros;
- forward: the tangent of the new model is the same structure (dicts for
  objects and dicts, lists, tuples) holding the slices of ``v``'s tangent.
"""

from __future__ import annotations

import copy
import types

import numpy as np

from ..rules.registry import defrule
from .functor import _OPAQUE, _is_param, children, trainable

__all__ = ["destructure"]


def destructure(model):
    """``(flat, rebuild)``: the parameters of ``model`` as one vector, and ``rebuild(v)``, a new model holding ``v``.

    ``flat`` has the common float dtype of the parameters (float64 for a
    model without any); ``rebuild`` casts each slice back to its array's
    dtype. ``rebuild`` of a vector of another length, or not 1-D, raises a
    ``ValueError``.

    >>> import numpy as np
    >>> flat, rebuild = destructure({"w": np.ones((2, 2)), "b": np.zeros(2), "name": "affine"})
    >>> flat
    array([1., 1., 1., 1., 0., 0.])
    >>> rebuild(np.arange(6.0))
    {'w': array([[0., 1.],
           [2., 3.]]), 'b': array([4., 5.]), 'name': 'affine'}
    """
    spec = Restructure(model)
    pieces = [np.ravel(array) for array in spec.arrays]
    dtype = np.result_type(*spec.arrays) if spec.arrays else np.dtype(float)
    flat = np.concatenate(pieces).astype(dtype) if pieces else np.zeros(0)

    def rebuild(v):
        return restructure(spec, v)

    rebuild.__doc__ = f"A new model like the one destructured, holding the {spec.size} numbers of a vector."
    return flat, rebuild


class Restructure:
    """What ``rebuild`` needs: the model to copy, and where each parameter sits in it and in the flat vector.

    ``arrays`` are the parameters, each once, in :func:`functor.leaves`' order;
    ``paths[i]`` every path to ``arrays[i]`` (one unless it is shared), each a
    tuple of keys into the structural gradient; ``starts[i]`` where it begins
    in the vector.
    """

    def __init__(self, model):
        self.model = model
        self.arrays, self.paths = _parameters(model)
        self.shapes = [array.shape for array in self.arrays]
        self.dtypes = [array.dtype for array in self.arrays]
        self.sizes = [array.size for array in self.arrays]
        self.starts = [int(start) for start in np.cumsum([0] + self.sizes[:-1])] if self.arrays else []
        self.size = sum(self.sizes)
        self.skeleton = _skeleton(model, {id(a): i for i, a in enumerate(self.arrays)}, set())

    def check(self, v):
        """Refuse a ``v`` that is not a vector of ``size`` numbers."""
        shape = np.shape(v)
        if len(shape) != 1 or shape[0] != self.size:
            raise ValueError(f"rebuild expects a vector of {self.size} parameters, got an array of shape {shape}; "
                             f"pass the flat vector destructure gave (or one of its length)")
        if not (np.issubdtype(np.asarray(v).dtype, np.number) or np.asarray(v).dtype == bool):
            raise TypeError(f"rebuild expects a numeric vector, got dtype {np.asarray(v).dtype}")

    def build(self, v):
        """The new model: a deep copy of ``model`` with ``v``'s slices in place of its parameters."""
        self.check(v)
        v = np.asarray(v)
        memo = {}
        for array, start, size, shape, dtype in zip(self.arrays, self.starts, self.sizes, self.shapes, self.dtypes):
            memo[id(array)] = v[start:start + size].reshape(shape).astype(dtype, copy=True)
        memo[id(memo)] = list(self.arrays)  # (deepcopy's own rule: keep what the memo's ids name alive)
        closures = _new_closures(self.model, memo)
        new = copy.deepcopy(self.model, memo)
        for old, fresh in closures:
            for cell, new_cell in zip(old.__closure__ or (), fresh.__closure__ or ()):
                try:
                    contents = cell.cell_contents
                except ValueError:  # a cell not yet filled
                    continue
                new_cell.cell_contents = copy.deepcopy(contents, memo)
        return new


def restructure(spec, v):
    """A new model shaped as ``spec.model``, holding the numbers of the vector ``v`` (what ``rebuild`` calls).

    >>> import numpy as np
    >>> restructure(Restructure([np.zeros(2)]), np.array([1.0, 2.0]))
    [array([1., 2.])]
    """
    return spec.build(v)


def restructure_tangent(dargs, y, spec, v):
    """The tangent of the new model: its structure (dicts for objects), holding the slices of ``v``'s tangent."""
    dv = dargs[1]
    if dv is None:
        return None
    return _tangent_tree(spec.skeleton, dv, spec.starts, spec.sizes, spec.shapes, spec.dtypes)


@defrule(restructure, broadcast=False, forward=restructure_tangent)
def restructure_rule(dy, y, spec, v):
    return (None, flat_gradient(dy, spec.paths, spec.sizes, v))


def flat_gradient(dy, paths, sizes, v):
    """The structural gradient ``dy`` of a rebuilt model, read at each parameter's paths and laid end to end."""
    pieces = []
    for array_paths, size in zip(paths, sizes):
        total = np.zeros(size, dtype=v.dtype)
        for path in array_paths:
            g = dy
            for key, field in path:
                g = _part(g, key, field)
            if g is not None:
                total = total + np.reshape(g, size)
        pieces.append(total)
    if not pieces:
        return np.zeros(0, dtype=v.dtype)
    return np.concatenate(pieces)


def _part(g, key, field):
    """The part of the gradient ``g`` at ``key``: ``None`` for no gradient or a missing key;
    a namedtuple's gradient may come as a dict by ``field`` name."""
    if g is None:
        return None
    if isinstance(g, dict):
        if key in g:
            return g[key]
        if field is not None and field in g:
            return g[field]
        return None
    return g[key]


def _tangent_tree(node, dv, starts, sizes, shapes, dtypes):
    """The tangent for ``node`` of a :func:`_skeleton`: dicts, lists, tuples; ``None`` where nothing moves."""
    kind = node[0]
    if kind == "array":
        i = node[1]
        return dv[starts[i]:starts[i] + sizes[i]].reshape(shapes[i]).astype(dtypes[i])
    if kind == "none":
        return None
    parts = [_tangent_tree(sub, dv, starts, sizes, shapes, dtypes) for sub in node[2]]
    if kind == "list":
        return parts
    if kind == "tuple":
        return tuple(parts)
    return {key: part for key, part in zip(node[1], parts)}


def _skeleton(value, index_of, visiting):
    """The trainable structure of ``value`` as nested ``(kind, keys, subs)``, a parameter as ``("array", i)``."""
    if _is_param(value, True):
        return ("array", index_of[id(value)])
    if id(value) in visiting:
        return ("none",)
    parts = trainable(value)
    if not parts:
        return ("none",)
    visiting.add(id(value))
    keys = list(parts)
    subs = [_skeleton(parts[key], index_of, visiting) for key in keys]
    visiting.discard(id(value))
    if all(sub[0] == "none" for sub in subs):
        return ("none",)
    if isinstance(value, tuple) and not _is_namedtuple(value):
        return ("tuple", keys, subs)
    if isinstance(value, list):
        return ("list", keys, subs)
    if _is_namedtuple(value):  # (its gradient and tangent are dicts by field name)
        return ("dict", list(value._fields), subs)
    return ("dict", keys, subs)


def _parameters(model):
    """``(arrays, paths)``: each parameter once, in ``leaves``' order, and every path that reaches it.

    A path is a tuple of ``(key, field)`` steps: ``key`` indexes the structural
    gradient, ``field`` is a namedtuple's field name for the same step (else None).
    """
    arrays, paths, where = [], [], {}
    visiting = set()

    def walk(value, path):
        if _is_param(value, True):
            if id(value) not in where:
                where[id(value)] = len(arrays)
                arrays.append(value)
                paths.append([])
            paths[where[id(value)]].append(path)
            return
        if id(value) in visiting:
            return
        visiting.add(id(value))
        fields = value._fields if _is_namedtuple(value) else None
        for key, part in trainable(value).items():
            walk(part, path + ((key, fields[key] if fields is not None else None),))
        visiting.discard(id(value))

    walk(model, ())
    return arrays, [tuple(p) for p in paths]


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _new_closures(model, memo):
    """For each function in ``model`` with a closure, a new function with empty cells, put in ``memo``
    (``deepcopy`` keeps functions as they are, so their captured arrays would be shared otherwise);
    modules, which ``deepcopy`` refuses, are put in ``memo`` as themselves.
    Returns ``[(old, new)]``; the cells are filled after the copy, with the same memo."""
    pairs, seen = [], set()

    def walk(value):
        if isinstance(value, types.ModuleType):  # (which deepcopy refuses): kept as it is
            memo[id(value)] = value
        if id(value) in seen or isinstance(value, np.ndarray) or isinstance(value, _OPAQUE):
            return
        seen.add(id(value))
        if isinstance(value, types.FunctionType) and value.__closure__:
            cells = tuple(types.CellType() for _ in value.__closure__)
            fresh = types.FunctionType(value.__code__, value.__globals__, value.__name__, value.__defaults__, cells)
            fresh.__kwdefaults__ = copy.copy(value.__kwdefaults__)
            fresh.__dict__.update(value.__dict__)
            fresh.__qualname__ = value.__qualname__
            memo[id(value)] = fresh
            pairs.append((value, fresh))
        for part in children(value).values():
            walk(part)

    walk(model)
    return pairs
