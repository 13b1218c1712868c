"""Calls inside generated code: ``y, back = pullback(f, *args)``, Zygote-style.

:func:`pullback` decides at run time what ``f`` is: a callable with a
derivative rule (the rule runs), a non-differentiable one (no gradient),
or Python code (its compiled adjoint, from the cache, runs). ``back(dy)``
returns the gradient of ``f`` itself first (a dict of its captured or
global variables, or of a bound object's fields; ``None`` for none), then
one gradient per argument in call order. ``back(None)`` is all ``None``.

A ``None`` gradient for a numeric argument is replaced by a real zero, so
the caller can add to it without testing; structures keep ``None``.
"""

from __future__ import annotations

import types

from ..errors import NoRuleError
from ..rules import registry
from .accumulate import unbroadcast
from .structure import is_numeric, zero_like

__all__ = ["pullback", "Back"]


class Back:
    """The pullback of one call: ``back(dy) -> (dfn, *dargs)``."""

    __slots__ = ("backward", "saved", "args", "nkw", "layout")

    def __init__(self, backward, saved, args, nkw, layout):
        self.backward = backward
        self.saved = saved
        self.args = args
        self.nkw = nkw
        #: How the backward's outputs map onto (fn, *args, *kwargs).
        self.layout = layout

    def __call__(self, dy):
        n = 1 + len(self.args) + self.nkw
        if dy is None:
            return (None,) * n
        grads = self.backward(self.saved, dy)
        out = self.layout(grads)
        for i, arg in enumerate(self.args):
            if out[i + 1] is None and is_numeric(arg):
                out[i + 1] = zero_like(arg)
        return tuple(out)


def _rule_back(rule, y, args, kwargs, nkw):
    def back(dy):
        if dy is None:
            return (None,) * (1 + len(args) + nkw)
        grads = rule.reverse(dy, y, *args, **kwargs)
        out = [None]
        for g, a in zip(grads, args):
            if g is not None and rule.broadcast and len(args) > 1:
                g = unbroadcast(g, a)
            if g is None and is_numeric(a):
                g = zero_like(a)
            out.append(g)
        out.extend([None] * (len(args) - len(grads)))
        out.extend([None] * nkw)
        return tuple(out)

    return back


def _constant_back(n):
    nones = (None,) * n

    def back(dy):
        return nones

    return back


def pullback(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` and return ``(y, back)``."""
    from ..compiler.cache import adjoint_of

    nkw = len(kwargs)
    rule = registry.lookup(fn) if not isinstance(fn, types.MethodType) else None
    if rule is not None:
        y = fn(*args, **kwargs)
        return y, _rule_back(rule, y, args, kwargs, nkw)
    if registry.is_nondiff(fn):
        return fn(*args, **kwargs), _constant_back(1 + len(args) + nkw)
    if isinstance(fn, types.FunctionType):
        entry = adjoint_of(fn)
        return entry.call(fn, None, args, kwargs)
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        entry = adjoint_of(fn.__func__)
        return entry.call(fn.__func__, fn.__self__, args, kwargs)
    if isinstance(fn, type):
        return _construct(fn, args, kwargs)
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        entry = adjoint_of(call)
        return entry.call(call, fn, args, kwargs)
    owner = getattr(fn, "__self__", None)
    if isinstance(fn, types.BuiltinMethodType) and owner is not None and not isinstance(owner, types.ModuleType):
        rule = registry.method_rules.get(fn.__name__)  # a NumPy method held in a variable: a.sum
        if rule is not None:
            y = fn(*args, **kwargs)
            back = _rule_back(rule, y, (owner,) + args, kwargs, nkw)
            return y, lambda dy: _method_grads(back(dy))
    if isinstance(fn, (types.BuiltinFunctionType, types.BuiltinMethodType, types.MethodWrapperType)) or callable(fn):
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        raise NoRuleError(
            f"no derivative rule for {name}, and it has no Python source to differentiate",
            fix=f"register one with @srcgrad.defrule({name}), or srcgrad.nograd({name}) if it passes no gradient",
        )
    raise TypeError(f"{fn!r} is not callable")


def _method_grads(grads):
    # (None, dself, *dargs) -> (dself, *dargs): the bound method's gradient is its object's.
    return grads[1:]


def _construct(cls, args, kwargs):
    """``cls(*args)`` for a class whose ``__init__`` is Python: differentiate through ``__init__``."""
    init = cls.__init__
    if not isinstance(init, types.FunctionType):
        raise NoRuleError(
            f"no derivative rule for constructing {cls.__qualname__}",
            fix=f"register one with @srcgrad.defrule({cls.__qualname__})",
        )
    from ..compiler.cache import adjoint_of

    obj = cls.__new__(cls)
    entry = adjoint_of(init)
    _, back = entry.call(init, obj, args, kwargs)

    def construct_back(dy):
        grads = back(dy)
        return (None,) + tuple(grads[1:])

    return obj, construct_back
