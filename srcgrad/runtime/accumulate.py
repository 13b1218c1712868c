"""Gradient values inside generated code: one zero, one way to add.

``None`` is the zero gradient everywhere inside the compiler and the
runtime; :func:`accum` adds two gradients of any structure treating
``None`` as zero, and :func:`unbroadcast` sums a gradient back to the
shape of the value it belongs to. Users only ever see real zeros: the API
boundary (:func:`srcgrad.runtime.structure.to_user`) makes them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["accum", "unbroadcast"]


def accum(a, b):
    """``a + b`` for gradients, where ``None`` is zero and structures add leafwise."""
    if a is None:
        return b
    if b is None:
        return a
    if type(a) is dict:
        out = dict(a)
        for key, value in b.items():
            out[key] = accum(out.get(key), value)
        return out
    if type(a) is tuple or type(a) is list:
        # (A slot that is None on either side is the other side's: one call per slot that adds, not per slot.
        # A list's gradient read at one index is all None but there.)
        added = [x if y is None else y if x is None else accum(x, y) for x, y in zip(a, b)]
        return added if type(a) is list else tuple(added)
    return a + b


def unbroadcast(g, x):
    """Sum the gradient ``g`` back to the shape of ``x`` after broadcasting."""
    if g is None:
        return None
    if type(g) is np.ndarray and type(x) is np.ndarray and g.shape == x.shape:
        return g  # (the usual case, first)
    if isinstance(x, (list, tuple)):
        if isinstance(g, (list, tuple)) and len(g) == len(x):
            return g
        if isinstance(g, (list, tuple)) and all(v is None for v in g):
            # (lists of names or labels joined with +: nothing to differentiate; as Nones, not None,
            # so that a gradient that is not None never becomes None: generated code counts on it)
            return type(x)([None] * len(x))
        raise TypeError(
            "srcgrad: '+' joining lists or tuples is not supported inside a differentiated function; "
            "use xs.extend(ys) (or xs.append(y)) to build the longer list")
    shape = getattr(x, "shape", ())
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    if type(g) is np.ndarray and len(gshape) >= len(shape):
        return _sum_to(g, gshape, shape)
    if not shape:  # (NumPy scalars and array subclasses: np.sum and np.reshape take anything)
        return np.sum(g)
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if lead:
        g = np.reshape(g, shape)
    return g


def _sum_to(g, gshape, shape):
    """The array ``g`` summed to ``shape``, by ``np.add.reduce`` itself (``np.sum`` adds a layer or two of Python)."""
    if not shape:
        return np.add.reduce(g, axis=None)
    lead = len(gshape) - len(shape)
    inner = tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if not inner:  # (only leading axes, as for a bias: summed without keepdims, they leave x's shape)
        return np.add.reduce(g, axis=tuple(range(lead)))
    g = np.add.reduce(g, axis=tuple(range(lead)) + inner, keepdims=True)
    return g.reshape(shape) if lead else g
