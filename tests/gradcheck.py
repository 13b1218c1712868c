"""Checking gradients against central finite differences, in float64.

``check_gradient(f, *args)`` differentiates ``f`` with srcgrad and compares
every float argument's gradient (arrays, floats, and floats inside
tuples/lists/dicts) with central differences. Tests use it instead of
hand-derived formulas.
"""

from __future__ import annotations

import copy

import numpy as np

import srcgrad

__all__ = ["numerical_gradient", "check_gradient", "leaves", "replace_leaf"]


def leaves(x, path=()):
    """Paths to every float leaf of a nested argument (arrays count as one leaf)."""
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        yield path
    elif isinstance(x, float):
        yield path
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from leaves(v, path + (i,))
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, path + (k,))


def get_leaf(x, path):
    for p in path:
        x = x[p]
    return x


def replace_leaf(x, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(x, tuple):
        return tuple(replace_leaf(v, rest, value) if i == head else v for i, v in enumerate(x))
    if isinstance(x, list):
        return [replace_leaf(v, rest, value) if i == head else v for i, v in enumerate(x)]
    if isinstance(x, dict):
        return {k: replace_leaf(v, rest, value) if k == head else v for k, v in x.items()}
    raise TypeError(type(x))


def numerical_gradient(f, args, index, path=(), eps=1e-6, get=None, put=None, keep_dtype=False):
    """Central differences of the scalar ``f(*args)`` with respect to one float leaf.

    ``get(x, path)`` / ``put(x, path, value)`` read and replace the leaf (containers by
    default; tests/programs passes versions that also reach object fields). Every call gets
    its own deep copy of the arguments, so a function that changes them cannot skew the next.
    """
    get = get or get_leaf
    put = put or replace_leaf
    leaf = get(args[index], path)
    scalar = not isinstance(leaf, np.ndarray)
    base = np.array(leaf, dtype=float)
    grad = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        values = []
        for sign in (1, -1):
            bumped = base.copy()
            bumped[i] += sign * eps
            new = float(bumped) if scalar else (bumped.astype(np.asarray(leaf).dtype) if keep_dtype else bumped)
            call = list(args)
            call[index] = put(args[index], path, new)
            values.append(float(np.real(f(*copy.deepcopy(call)))))
        grad[i] = (values[0] - values[1]) / (2 * eps)
    return float(grad) if scalar else grad


def check_gradient(f, *args, rtol=1e-5, atol=1e-6, wrt=None):
    """Assert srcgrad's gradient of ``f`` matches finite differences for every float leaf.

    Returns srcgrad's gradients so a test can check more.
    """
    grads = srcgrad.gradient(f, *args)
    assert len(grads) == len(args)
    for index, arg in enumerate(args):
        if wrt is not None and index not in wrt:
            continue
        for path in leaves(arg):
            expected = numerical_gradient(f, args, index, path)
            got = get_leaf(grads[index], path) if path else grads[index]
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of argument {index} at {path}")
    return grads
