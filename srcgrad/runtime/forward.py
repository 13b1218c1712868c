"""Forward mode at run time: zeros for tangents, and calls to other functions' tangent functions.

In a tangent function every active value's tangent is a number or array,
never ``None``: :func:`zero_tangent` makes the zero of a value's shape and
float dtype, :func:`or_zero` fills one in where a structure held none, and
:func:`tangent_call` runs the callee's own tangent function (or its rule).
"""

from __future__ import annotations

import types

import numpy as np

from ..errors import NoRuleError
from ..rules import registry
from .structure import float_dtype, is_numeric

__all__ = ["zero_tangent", "or_zero", "spread_to", "cell_tangents", "struct_tangent", "tangent_call",
           "unreduce_like"]


def zero_tangent(x):
    """The zero tangent of ``x`` (``None`` for values that are not numbers or arrays)."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, float_dtype(x))
    if isinstance(x, np.generic):
        return float_dtype(x).type(0)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return 0.0
    if isinstance(x, tuple):
        return tuple(zero_tangent(v) for v in x)
    if isinstance(x, list):
        return [zero_tangent(v) for v in x]
    return None


def or_zero(d, x):
    """``d``, or the zero tangent of ``x`` when ``d`` is ``None``."""
    return zero_tangent(x) if d is None else d


def spread_to(d, y):
    """The tangent ``d`` broadcast to the shape of the value ``y`` it belongs to."""
    if np.shape(d) == np.shape(y):
        return d
    return np.broadcast_to(d, np.shape(y)) + zero_tangent(y)


def cell_tangents(dclosure, closure):
    """The tangents of a closure's captured values: from its tangent dict, else zeros."""
    names = closure.__code__.co_freevars
    values = [cell.cell_contents for cell in closure.__closure__]
    given = dclosure or {}
    return tuple(given.get(n) if given.get(n) is not None else zero_tangent(v) for n, v in zip(names, values))


def struct_tangent(d):
    """The tangent of an object, as a dict of its fields' tangents."""
    return {} if d is None else d


def unreduce_like(y, a, axis, keepdims):
    """``y``, a reduction of ``a`` over ``axis``, broadcast back to ``a``'s shape."""
    if axis is not None and not keepdims and np.ndim(a):
        y = np.expand_dims(y, axis)
    return np.broadcast_to(y, np.shape(a))


def tangent_call(fn, dfn, args, dargs, keywords=(), dkeywords=()):
    """``(fn(*args), its tangent)`` given the arguments' tangents ``dargs``."""
    from ..compiler.cache import tangent_of

    kwargs = dict(keywords)
    rule = registry.lookup(fn) if not isinstance(fn, types.MethodType) else None
    if rule is not None:
        y = fn(*args, **kwargs)
        terms = []
        for i, d in enumerate(dargs):
            if d is None:
                continue
            if not (rule.elementwise or rule.scalar):
                raise NoRuleError(f"no forward-mode rule for {rule.name} called through a variable",
                                  fix="call it by its name inside the function")
            g = rule.reverse(d, y, *args, **kwargs)[i]
            if g is not None:
                terms.append(g)
        total = sum(terms[1:], terms[0]) if terms else zero_tangent(y)
        return y, total + zero_tangent(y) if np.shape(total) != np.shape(y) else total
    if registry.is_nondiff(fn):
        y = fn(*args, **kwargs)
        return y, zero_tangent(y)
    bound = None
    plain = fn
    if isinstance(fn, types.MethodType):
        plain, bound = fn.__func__, fn.__self__
    elif not isinstance(fn, types.FunctionType):
        call = getattr(type(fn), "__call__", None)
        if isinstance(call, types.FunctionType) and not isinstance(fn, type):
            plain, bound = call, fn
    if not isinstance(plain, types.FunctionType):
        raise NoRuleError(f"forward mode cannot call {fn!r} yet",
                          fix="call a Python function, or use reverse mode for this function")
    entry = tangent_of(plain)
    values = list(args)
    tangents = [or_zero(d, a) if is_numeric(a) else d for d, a in zip(dargs, args)]
    if bound is not None:
        values = [bound] + values
        tangents = [dfn] + tangents
    if kwargs:
        import inspect

        arguments = inspect.signature(plain).bind(*values, **kwargs)
        arguments.apply_defaults()
        named = dict(zip(list(kwargs), dkeywords))
        positional_names = list(arguments.arguments)
        values = [arguments.arguments[p] for p in entry.params]
        by_name = dict(zip(positional_names[:len(tangents)], tangents))
        by_name.update(named)
        tangents = [by_name.get(p, zero_tangent(arguments.arguments[p])) for p in entry.params]
    elif len(values) < len(entry.params):
        import inspect

        arguments = inspect.signature(plain).bind(*values)
        arguments.apply_defaults()
        values = [arguments.arguments[p] for p in entry.params]
        tangents = tangents + [zero_tangent(v) for v in values[len(tangents):]]
    prefix = (plain, dfn) if entry.takes_closure else ()
    return entry.tangent(*prefix, *values, *tangents)

