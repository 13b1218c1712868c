"""Checking a catalogue program: value, gradient against finite differences, untouched inputs.

:func:`check_program` differentiates ``f`` with ``srcgrad.withgradient`` and

* compares the value with a plain call of ``f`` (on a copy of the inputs),
* compares the gradient of every float leaf of every argument with central
  differences: arrays and floats, inside tuples, lists and dicts, and inside
  objects (their attributes) and closures (their captured variables), whose
  gradients are dicts of fields,
* asserts srcgrad left the caller's arguments exactly as they were.

Unlike ``tests/gradcheck.py`` it works on a fresh copy of the inputs for
every call of ``f``, so programs that mutate their arguments can be checked
too, and it walks objects and closures for the structural gradients.
"""

from __future__ import annotations

import copy
import types

import numpy as np

import srcgrad
from gradcheck import numerical_gradient

__all__ = ["check_program", "float_leaves", "get_grad", "assert_unchanged"]

EPS = 1e-6


def _is_float(x):
    return isinstance(x, (float, np.floating)) and not isinstance(x, bool)


def _is_plain_object(x):
    return (
        hasattr(x, "__dict__")
        and not isinstance(x, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                               types.MethodType, np.ufunc))
    )


def float_leaves(x, path=(), depth=0):
    """Paths to the float leaves of ``x``: ``(kind, key)`` steps, kind one of item/attr/cell."""
    if depth > 8:
        return
    if isinstance(x, np.ndarray):
        if np.issubdtype(x.dtype, np.floating):
            yield path
    elif _is_float(x):
        yield path
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from float_leaves(v, path + (("item", i),), depth + 1)
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from float_leaves(v, path + (("item", k),), depth + 1)
    elif isinstance(x, types.FunctionType):
        if x.__closure__:
            for name, cell in zip(x.__code__.co_freevars, x.__closure__):
                yield from float_leaves(cell.cell_contents, path + (("cell", name),), depth + 1)
    elif isinstance(x, types.MethodType):
        yield from float_leaves(x.__self__, path + (("self", None),), depth + 1)
    elif _is_plain_object(x):
        for k, v in vars(x).items():
            yield from float_leaves(v, path + (("attr", k),), depth + 1)


def get_value(x, path):
    for kind, key in path:
        if kind == "item":
            x = x[key]
        elif kind == "attr":
            x = getattr(x, key)
        elif kind == "cell":
            x = x.__closure__[x.__code__.co_freevars.index(key)].cell_contents
        else:
            x = x.__self__
    return x


def get_grad(g, path):
    """The gradient at ``path``: objects and closures have dicts of fields as gradients."""
    for kind, key in path:
        assert g is not None, f"gradient is None above {path}"
        if kind == "self":
            continue
        g = g[key]
    return g


def replace(x, path, value):
    """A copy of ``x`` with the leaf at ``path`` replaced (the rest shared)."""
    if not path:
        return value
    (kind, key), rest = path[0], path[1:]
    if kind == "item":
        if isinstance(x, tuple):
            return tuple(replace(v, rest, value) if i == key else v for i, v in enumerate(x))
        if isinstance(x, list):
            return [replace(v, rest, value) if i == key else v for i, v in enumerate(x)]
        out = dict(x)
        out[key] = replace(x[key], rest, value)
        return out
    if kind == "attr":
        y = copy.copy(x)
        object.__setattr__(y, key, replace(getattr(x, key), rest, value))
        return y
    if kind == "cell":
        cells = []
        for name, cell in zip(x.__code__.co_freevars, x.__closure__):
            contents = cell.cell_contents
            cells.append(types.CellType(replace(contents, rest, value) if name == key else contents))
        fn = types.FunctionType(x.__code__, x.__globals__, x.__name__, x.__defaults__, tuple(cells))
        fn.__kwdefaults__ = x.__kwdefaults__
        return fn
    return types.MethodType(x.__func__, replace(x.__self__, rest, value))


def _call(f, args):
    return f(*copy.deepcopy(args))


def numerical(f, args, index, path, eps=EPS):
    """Central differences through object fields and closure cells too (the shared helper's hooks)."""
    return numerical_gradient(f, args, index, path, eps, get=get_value, put=replace, keep_dtype=True)


def _snapshot(x, depth=0):
    """A comparable deep snapshot of arrays, numbers and structures (objects by their fields)."""
    if depth > 8:
        return None
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_snapshot(v, depth + 1) for v in x])
    if isinstance(x, dict):
        return ("dict", [(k, _snapshot(v, depth + 1)) for k, v in x.items()])
    if isinstance(x, types.FunctionType):
        cells = x.__closure__ or ()
        return ("fn", [_snapshot(c.cell_contents, depth + 1) for c in cells])
    if _is_plain_object(x):
        return ("obj", type(x).__name__, [(k, _snapshot(v, depth + 1)) for k, v in vars(x).items()])
    if isinstance(x, (int, float, complex, str, bool, type(None), np.generic)):
        return ("value", repr(x))
    return ("other", id(x))


def assert_unchanged(before, args):
    assert _snapshot(args) == before, "srcgrad modified the caller's arguments"


def check_program(f, *args, wrt=None, rtol=1e-5, atol=1e-6):
    """Check ``f``'s value and gradient at ``args``; return srcgrad's gradients."""
    before = _snapshot(args)
    expected_value = _call(f, args)
    value, grads = srcgrad.withgradient(f, *args)
    assert_unchanged(before, args)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-12,
                               err_msg="srcgrad's forward value differs from Python's")
    assert isinstance(grads, tuple) and len(grads) == len(args)
    checked = 0
    for index, arg in enumerate(args):
        if wrt is not None and index not in wrt:
            continue
        for path in float_leaves(arg):
            expected = numerical(f, args, index, path)
            got = get_grad(grads[index], path)
            assert got is not None, f"gradient of argument {index} at {path} is None"
            if isinstance(expected, np.ndarray):
                assert np.shape(got) == expected.shape, (
                    f"gradient of argument {index} at {path} has shape {np.shape(got)}, "
                    f"expected {expected.shape}")
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of argument {index} at {path}")
            checked += 1
    return grads
