"""Implicit parameters, the style of the Flux tutorials: ``gradient(() -> loss(x, y), params(W, b))``.

:func:`params` collects arrays, by identity, from whatever it is given
(arrays, lists, dicts, objects, models, closures). The gradient of a
zero-argument function is its *structural* gradient: a dict over the
globals and captured variables it read, nested through the functions and
objects it called. :func:`collect` walks that dict alongside the objects
it describes and picks out the gradient of every array in the ``Params``,
so no global state is needed and threads do not interfere.
"""

from __future__ import annotations

import sys
import types
import warnings

import numpy as np

from .runtime.accumulate import accum
from .runtime.structure import float_dtype

__all__ = ["Params", "Grads", "params", "collect"]


class Params:
    """An ordered set of arrays, keyed by identity (two equal arrays are two parameters)."""

    def __init__(self, arrays=(), _names=None):
        self._arrays: dict[int, np.ndarray] = {}
        for a in arrays:
            self._arrays.setdefault(id(a), a)
        #: (globals dict, name, array) for arrays that were module globals when collected.
        self._names = _names or []

    def __iter__(self):
        return iter(self._arrays.values())

    def __len__(self):
        return len(self._arrays)

    def __contains__(self, x):
        return id(x) in self._arrays and self._arrays[id(x)] is x

    def __repr__(self):
        shapes = ", ".join(str(a.shape) for a in self)
        return f"Params([{shapes}])"

    def check_bindings(self):
        """Warn when a global collected here now names a different array (``W = W - ...``)."""
        for namespace, name, array in self._names:
            current = namespace.get(name)
            if current is not array and isinstance(current, np.ndarray):
                warnings.warn(
                    f"the global {name!r} was rebound to a new array after params(...) collected it, "
                    f"so its gradient is no longer tracked; update it in place ({name} -= lr * g) "
                    f"or call params(...) again",
                    stacklevel=_user_stacklevel(),
                )


def _user_stacklevel() -> int:
    """How many frames up the first one outside srcgrad is (where the warning belongs)."""
    frame, level = sys._getframe(1), 1
    package = __name__.rsplit(".", 1)[0]
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame, level = frame.f_back, level + 1
    return level


class Grads:
    """Gradients of implicit parameters, indexed by the array itself: ``gs[W]``."""

    def __init__(self, params: Params, grads: dict[int, object]):
        self.params = params
        self._grads = grads

    def get(self, x, default=None):
        """The gradient of ``x``, or ``default`` when it had none (an optimiser can skip it)."""
        if x not in self.params:
            return default
        g = self._grads.get(id(x))
        return default if g is None else g

    def __getitem__(self, x):
        if x not in self.params:
            raise KeyError("this array is not one of the parameters passed to gradient (see params(...))")
        g = self._grads.get(id(x))
        if g is None:
            return np.zeros(np.shape(x), float_dtype(x))
        return g

    def __contains__(self, x):
        return x in self.params

    def __len__(self):
        return len(self.params)

    def __iter__(self):
        return iter(self.params)

    def keys(self):
        return list(self.params)

    def values(self):
        return [self[p] for p in self.params]

    def items(self):
        """``(parameter, gradient)`` pairs, in the order of the parameters."""
        return [(p, self[p]) for p in self.params]

    def __add__(self, other):
        if not isinstance(other, Grads):
            return NotImplemented
        merged = Params(list(self.params) + [p for p in other.params if p not in self.params])
        grads = {id(p): accum(self._grads.get(id(p)), other._grads.get(id(p))) for p in merged}
        return Grads(merged, grads)

    def __repr__(self):
        return f"Grads({len(self)} parameters)"


def params(*objs) -> Params:
    """Collect the arrays in ``objs`` (recursively) as implicit parameters.

    Arrays are found in lists, tuples, dicts, objects' fields (narrowed by
    ``@functor`` or a ``trainable()`` method) and closures' captured variables.

    >>> import numpy as np, srcgrad
    >>> W, b = np.array(2.0), np.array(3.0)
    >>> f = lambda x: W * x + b
    >>> gs = srcgrad.gradient(lambda: f(4.0), srcgrad.params(W, b))
    >>> float(gs[W]), float(gs[b])
    (4.0, 1.0)
    """
    from .models.functor import leaves  # the one walker params, save/load and optimisers share

    arrays: list = []
    for obj in objs:
        if isinstance(obj, np.ndarray) and not np.issubdtype(obj.dtype, np.inexact):
            raise TypeError(f"an array of {obj.dtype} cannot be a parameter (its values cannot move by a "
                            "gradient step); make it float first: x = x.astype(float)")
        arrays.extend(obj if isinstance(obj, Params) else (array for _, array in leaves(obj)))
    names = []
    caller = sys._getframe(1).f_globals
    for name, value in list(caller.items()):
        if isinstance(value, np.ndarray) and any(value is a for a in arrays):
            names.append((caller, name, value))
    return Params(arrays, names)


def collect(ps: Params, root, grad) -> dict[int, object]:
    """Gradients of the arrays in ``ps``, found by walking ``grad`` alongside ``root``."""
    found: dict[int, object] = {}
    _walk(root, grad, ps, found, set())
    return found


def _walk(obj, grad, ps, found, seen):
    if grad is None:
        return
    if isinstance(obj, np.ndarray):
        if obj in ps:
            found[id(obj)] = accum(found.get(id(obj)), grad)
        return
    key = (id(obj), id(grad))
    if key in seen:
        return
    seen.add(key)
    if isinstance(obj, (list, tuple)) and isinstance(grad, (list, tuple)):
        for v, g in zip(obj, grad):
            _walk(v, g, ps, found, seen)
        return
    if isinstance(obj, dict) and isinstance(grad, dict):
        for k, g in grad.items():
            if k in obj:
                _walk(obj[k], g, ps, found, seen)
        return
    if not isinstance(grad, dict):
        return
    if isinstance(obj, types.MethodType):
        _walk(obj.__self__, grad, ps, found, seen)
        return
    if isinstance(obj, types.FunctionType):
        cells = dict(zip(obj.__code__.co_freevars, obj.__closure__ or ()))
        for name, g in grad.items():
            if name in cells:
                try:
                    value = cells[name].cell_contents
                except ValueError:
                    continue
            elif name in obj.__globals__:
                value = obj.__globals__[name]
            else:
                continue
            _walk(value, g, ps, found, seen)
        return
    for name, g in grad.items():
        if hasattr(obj, name) if isinstance(name, str) else False:
            _walk(getattr(obj, name), g, ps, found, seen)
