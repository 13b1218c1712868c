"""Pullback objects and their layouts: what a call's ``back`` is, built without the cache.

:class:`Back` is the pullback of one call of compiled code, :class:`RuleBack`
of a call to a function with a rule, and the others of the calls the
dispatcher (:mod:`srcgrad.calls.dispatch`) takes apart: constants, NumPy
methods, ``dict.get``, partials, constructors and mutating methods. A
:class:`Layout` says where each of a call's gradients comes from in what the
backward returns. Their ``__call__`` methods are written in the subset
srcgrad reads, so a pullback called inside generated code is differentiated
again (higher order); the glue they call (:func:`arrange`, :func:`make_back`,
:func:`bound_object`, :func:`fit_grads`...) has one-line rules, in transpose
pairs.

Nothing here reaches the cache or the compiler: generated code and the
calling layer build these objects from what they already hold.
"""

from __future__ import annotations

import numpy as np

from ..rules import registry
from ..rules.registry import defrule
from ..rules.runtime import spread
from .accumulate import accum, unbroadcast
from .structure import is_numeric, item, zero_like

__all__ = ["Layout", "Back", "TracedBack", "RuleBack", "ConstantBack", "MethodBack", "DictGetBack", "PartialBack",
           "ConstructBack", "DataclassBack", "MutateBack", "no_gradients", "arrange", "transpose_layout",
           "apply_layout", "rule_grads", "carries_gradient", "make_back", "bound_object", "fit_grads", "spread_grads"]


class Layout:
    """Where each gradient of a call (callee first, then arguments) comes from.

    The backward function returns ``full = (dself, *dparams)``; slot ``i``
    of the call's gradients is ``full[j]`` for ``sources[i] = (j, None)``,
    or ``full[j][k]`` for an argument gathered into ``*args``, or nothing
    for ``None``. Being data, a layout can be transposed (second order).
    """

    __slots__ = ("sources", "nfull", "identity")

    def __init__(self, sources, nfull):
        self.sources = sources
        self.nfull = nfull
        self.identity = len(sources) == nfull and all(s == (i, None) for i, s in enumerate(sources))

    def apply(self, full):
        if self.identity:
            return list(full)
        out = []
        for src in self.sources:
            if src is None:
                out.append(None)
            else:
                j, k = src
                g = full[j]
                out.append(g if k is None or g is None else g.get(k) if isinstance(k, str) else g[k])
        return out

    def transpose(self, douts, vararg_sizes):
        dfull = [None] * self.nfull
        for d, src in zip(douts, self.sources):
            if src is None or d is None:
                continue
            j, k = src
            if k is None:
                dfull[j] = accum(dfull[j], d)
            elif j in vararg_sizes:  # (a *args slot whose gradient was None had a constant zero)
                parts = list(dfull[j]) if dfull[j] is not None else [None] * vararg_sizes[j]
                parts[k] = accum(parts[k], d)
                dfull[j] = tuple(parts)
            elif isinstance(k, str):  # a keyword gathered into **kwargs: its dict's gradient, by key
                dfull[j] = {**(dfull[j] or {}), k: accum((dfull[j] or {}).get(k), d)}
        return dfull


class Back:
    """The pullback of one call of compiled code: ``back(dy) -> (dfn, *dargs)``.

    ``__call__`` is written in the subset srcgrad differentiates, so a
    pullback called inside generated code can itself be differentiated
    (higher order); :func:`arrange` is its one rule-backed step.
    """

    __slots__ = ("backward", "saved", "args", "layout", "has_self")

    def __init__(self, backward, saved, args, layout, has_self):
        self.backward = backward
        self.saved = saved
        self.args = args
        self.layout = layout
        self.has_self = has_self

    def __call__(self, dy):
        if dy is None:
            grads = no_gradients(self.layout)
        else:
            raw = self.backward(self.saved, dy)
            grads = arrange(raw, self.layout, self.args, self.has_self)
        return grads


class TracedBack(Back):
    """A :class:`Back` made inside differentiated code (:func:`make_back`): its saved
    values come from the traceable twin of the forward, which the twin of the backward reads."""

    __slots__ = ()


@registry.nograd
def no_gradients(layout):
    """The call's gradients when no cotangent reached it."""
    return (None,) * len(layout.sources)


def arrange(raw, layout, args, has_self):
    """The backward's raw gradients laid out as the call's: callee, then arguments.

    A numeric argument whose gradient is ``None`` gets a real zero, so the
    caller can add to it without testing.
    """
    full = tuple(raw) if has_self else (None,) + tuple(raw)
    out = layout.apply(full)
    sources = layout.sources
    for i, arg in enumerate(args):
        if out[i + 1] is None and sources[i + 1] is not None and is_numeric(arg):
            out[i + 1] = zero_like(arg)
    return tuple(out)


@registry.defrule(arrange, broadcast=False, forward="linear-in-first", _builtin=True)
def arrange_rule(dy, y, raw, layout, args, has_self):
    return (transpose_layout(dy, raw, layout, has_self), None, None, None)


def transpose_layout(douts, raw, layout, has_self):
    """The transpose of :func:`arrange`: each call gradient's cotangent back to its raw slot."""
    if douts is None:
        return None
    sizes = {j + (0 if has_self else 1): len(g) for j, g in enumerate(raw) if isinstance(g, tuple)}
    dfull = layout.transpose(douts, sizes)
    return tuple(dfull) if has_self else tuple(dfull[1:])


def apply_layout(raw, layout, has_self):
    """:func:`arrange` without the zeros: the transpose of :func:`transpose_layout`."""
    if raw is None:
        return None
    full = tuple(raw) if has_self else (None,) + tuple(raw)
    return tuple(layout.apply(full))


@registry.defrule(transpose_layout, broadcast=False, forward="linear-in-first", _builtin=True)
def transpose_layout_rule(dy, y, douts, raw, layout, has_self):
    return (apply_layout(dy, layout, has_self), None, None, None)


@registry.defrule(apply_layout, broadcast=False, forward="linear-in-first", _builtin=True)
def apply_layout_rule(dy, y, raw, layout, has_self):
    return (transpose_layout(dy, raw, layout, has_self), None, None)


class RuleBack:
    """The pullback of a call to a callable with a rule: ``back(dy) -> (None, *dargs, *dkwargs)``."""

    __slots__ = ("reverse", "y", "args", "kwargs", "broadcast", "positions", "rule_args", "rule_kwargs")

    def __init__(self, rule, y, args, kwargs):
        self.reverse = rule.reverse
        self.y = y
        self.args = args
        self.kwargs = kwargs
        # fn(x, a_max=b) with fn = np.clip: b is the rule's third argument (see registry.keyword_positions).
        self.rule_args, self.rule_kwargs, positions = registry.rule_arguments(rule, args, kwargs)
        self.positions = tuple(positions.get(k) for k in kwargs)
        self.broadcast = rule.broadcast and len(args) + len(positions) > 1

    def __call__(self, dy):
        if dy is None:
            grads = (None,) * (1 + len(self.args) + len(self.kwargs))
        else:
            raw = self.reverse(dy, self.y, *self.rule_args, **self.rule_kwargs)
            grads = rule_grads(raw, self.args, self.broadcast, self.kwargs, self.positions)
        return grads


def rule_grads(raw, args, broadcast, kwargs=None, positions=()):
    """A rule's gradients as a call's: none for the callee, one per argument, then one per keyword.

    A keyword gets the gradient at the position it fills (``positions``,
    in the keywords' order; ``None`` for a keyword-only one, which has none).
    """
    out = [None]
    values = list(args) + list((kwargs or {}).values())
    slots = list(range(len(args))) + list(positions)
    for position, a in zip(slots, values):
        g = raw[position] if position is not None and position < len(raw) else None
        if g is not None and broadcast:
            g = unbroadcast(g, a)
        if g is None and is_numeric(a) and position is not None:
            g = zero_like(a)
        out.append(g)
    return tuple(out)


def carries_gradient(value) -> bool:
    """A float or a float array (or a tuple or list holding one): a value a gradient could be wanted for."""
    if isinstance(value, (list, tuple)):
        return any(carries_gradient(v) for v in value)
    if isinstance(value, (np.ndarray, np.generic)):
        return np.issubdtype(value.dtype, np.inexact)
    return isinstance(value, (float, complex))


class MethodBack:
    """A NumPy method's pullback, ``a.sum``: the method's gradient is its array's."""

    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, dy):
        return self.inner(dy)[1:]


class DictGetBack:
    """The pullback of ``d.get(key, default)``: to the entry if present, else to the default."""

    __slots__ = ("found", "key", "nargs")

    def __init__(self, d, args):
        self.found = args[0] in d
        self.key = args[0]
        self.nargs = len(args)

    def __call__(self, dy):
        if self.found:
            return ({self.key: dy},) + (None,) * self.nargs
        return (None, None) + ((dy,) if self.nargs > 1 else ())


class ConstantBack:
    """The pullback of a call that passes no gradient."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __call__(self, dy):
        return (None,) * self.n


class PartialBack:
    """The pullback of a call of a ``functools.partial``: its fields' gradients first, then the call's."""

    __slots__ = ("inner", "nbound", "nargs", "merged", "held", "given")

    def __init__(self, inner, nbound, nargs, merged, held, given):
        self.inner = inner
        self.nbound = nbound
        self.nargs = nargs
        self.merged = merged
        self.held = held
        self.given = given

    def __call__(self, dy):
        grads = self.inner(dy)
        dkw = dict(zip(self.merged, grads[1 + self.nbound + self.nargs:]))
        dargs = grads[1:1 + self.nbound]
        dheld = {k: dkw[k] for k in self.held if dkw.get(k) is not None}
        dfn = None
        if grads[0] is not None or any(g is not None for g in dargs) or dheld:
            dfn = {"func": grads[0], "args": tuple(dargs), "keywords": dheld}
        return (dfn,) + tuple(grads[1 + self.nbound:1 + self.nbound + self.nargs]) + tuple(dkw.get(k) for k in self.given)


class ConstructBack:
    """The pullback of ``cls(*args)``: the new object's gradient flows into the arguments."""

    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, dy):
        grads = self.inner(dy)
        return (None,) + tuple(grads[1:])


class DataclassBack:
    """The pullback of a dataclass's generated ``__init__``: each field's gradient to its argument."""

    __slots__ = ("names", "args")

    def __init__(self, names, args):
        self.names = names
        self.args = args

    def __call__(self, dy):
        out = [None]
        for name, arg in zip(self.names, self.args):
            g = item(dy, name)
            out.append(zero_like(arg) if g is None and is_numeric(arg) else g)
        return tuple(out)


class MutateBack:
    """The pullback of :func:`mutate`: the object's gradient, then the arguments'."""

    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, dy):
        grads = self.inner(dy)
        return (None, grads[0], None) + tuple(grads[1:])


def make_back(backward, saved, args, layout, has_self):
    """A pullback object; its gradient (a dict of its fields) reaches ``saved``."""
    return TracedBack(backward, saved, args, layout, has_self)


def make_back_tangent(dargs, y, backward, saved, args, layout, has_self):
    """A pullback object's tangent: that of what it saved (a dict of its fields, like any object's)."""
    return {"saved": dargs[1]}


@defrule(make_back, broadcast=False, forward=make_back_tangent, _builtin=True)
def make_back_rule(dy, y, backward, saved, args, layout, has_self):
    return (None, item(dy, "saved"), None, None, None)


def bound_object(method):
    """The object a bound method is bound to."""
    return method.__self__


def bound_object_tangent(dargs, y, method):
    """A bound method's tangent is its object's (as its gradient is), so this is that tangent."""
    return dargs[0] if dargs else None


@defrule(bound_object, broadcast=False, forward=bound_object_tangent, _builtin=True)
def bound_object_rule(dy, y, method):
    return (dy,)


def fit_grads(raw, args, broadcast):
    """A rule's gradients as a call's (after the callee's): summed back to each argument's shape
    when the rule broadcasts, and a real zero for a numeric argument the rule gave none."""
    return rule_grads(raw, args, broadcast)[1:]


def spread_grads(dgrads, raw, broadcast):
    """The transpose of :func:`fit_grads`: each cotangent back to the shape of the rule's gradient."""
    if dgrads is None:
        return None
    out = []
    for i, r in enumerate(raw):
        d = dgrads[i] if i < len(dgrads) else None
        out.append(None if d is None or r is None else spread(d, r) if broadcast else d)
    return tuple(out)


@defrule(fit_grads, broadcast=False, forward="linear-in-first", _builtin=True)
def fit_grads_rule(dy, y, raw, args, broadcast):
    return (spread_grads(dy, raw, broadcast), None, None)


@defrule(spread_grads, broadcast=False, forward="linear-in-first", _builtin=True)
def spread_grads_rule(dy, y, dgrads, raw, broadcast):
    return (None if dy is None else fit_grads(dy, dgrads, broadcast), None, None)
