"""Calls inside generated code: ``y, back = pullback(f, *args)``, Zygote-style.

:func:`pullback` decides at run time what ``f`` is: a callable with a
derivative rule (the rule runs), a non-differentiable one (no gradient),
or Python code (its compiled adjoint, from the cache, runs). ``back(dy)``
returns the gradient of ``f`` itself first (a dict of its captured or
global variables, or of a bound object's fields; ``None`` for none), then
one gradient per argument in call order. ``back(None)`` is all ``None``.

A ``None`` gradient for a numeric argument is replaced by a real zero, so
the caller can add to it without testing; structures keep ``None``.

Higher order: generated code is itself differentiated. A call to a
pullback object runs :meth:`Back.__call__`, which is ordinary traceable
Python; a call to :func:`pullback` is differentiated through a stand-in
written in the traceable subset (:func:`srcgrad.higher.pullback`).
"""

from __future__ import annotations

import functools
import types

import numpy as np

from ..errors import NoRuleError, origin_of
from ..rules import registry
from .accumulate import accum, unbroadcast
from .located import call_site, callable_name
from . import structure
from .structure import is_numeric, item, zero_like

__all__ = ["pullback", "pullback_wrt", "direct", "DirectCall", "Back", "Layout", "arrange", "traced_as", "mutate"]


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
                out.append(g if k is None or g is None else g[k])
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
        return dfull


class Back:
    """The pullback of one call of compiled code: ``back(dy) -> (dfn, *dargs)``.

    ``__call__`` is written in the subset srcgrad differentiates, so a
    pullback called inside generated code can itself be differentiated
    (higher order); :func:`arrange` is its one rule-backed step.
    """

    __slots__ = ("backward", "saved", "args", "layout", "has_self", "vararg_sizes")

    def __init__(self, backward, saved, args, layout, has_self, vararg_sizes=None):
        self.backward = backward
        self.saved = saved
        self.args = args
        self.layout = layout
        self.has_self = has_self
        self.vararg_sizes = vararg_sizes or {}

    def __call__(self, dy):
        if dy is None:
            grads = no_gradients(self.layout)
        else:
            raw = self.backward(self.saved, dy)
            grads = arrange(raw, self.layout, self.args, self.has_self)
        return grads


class TracedBack(Back):
    """A :class:`Back` made inside differentiated code (:func:`srcgrad.higher.make_back`): its saved
    values come from the traceable twin of the forward, which the twin of the backward reads."""

    __slots__ = ()


def refuse_untraced_back(fn):
    """Refuse to differentiate a call to a pullback whose saved tapes the traceable twin cannot read.

    A pullback made outside the differentiated code, of a function with a loop, saved its
    tapes as lists; differentiating its backward again reads its twin, which takes tapes.
    """
    if type(fn) is Back and fn.backward in _twins:
        origin = origin_of(fn.backward.__code__.co_filename) or getattr(fn.backward, "__name__", "a function")
        raise NoRuleError(
            f"srcgrad cannot differentiate a call to the pullback of {origin} (a function with a loop) that "
            "was made outside the function being differentiated",
            fix="call srcgrad.pullback inside the function you differentiate, so that srcgrad sees both passes")


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


@registry.defrule(arrange, broadcast=False, _builtin=True)
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


@registry.defrule(transpose_layout, broadcast=False, _builtin=True)
def transpose_layout_rule(dy, y, douts, raw, layout, has_self):
    return (apply_layout(dy, layout, has_self), None, None, None)


@registry.defrule(apply_layout, broadcast=False, _builtin=True)
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


def check_rule_keywords(rule, fn, args, kwargs, wanted=None):
    """Refuse a keyword the rule gives no gradient for, when the caller wants one (``wanted``: names, None for all)."""
    positions = registry.keyword_positions(rule, len(args), tuple(kwargs))
    for k, value in kwargs.items():
        if k in positions or k in registry.nondiff_keywords or not carries_gradient(value) \
                or wanted is not None and k not in wanted:
            continue
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        raise NoRuleError(
            f"the gradient of keyword argument {k}= of {name} is unknown: its derivative rule gives one "
            "gradient per positional argument, and this keyword does not fill a positional parameter",
            fix=f"pass that argument positionally if {name} takes it by position; if it carries no gradient, "
            "pass srcgrad.stop_gradient(...) of it")


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


def _forward_of(fn, args, kwargs, wrt):
    """``(entry, callee, bound_self)`` for Python code, or None for rules and constants."""
    from ..compiler.cache import adjoint_of

    if isinstance(fn, types.FunctionType):
        return adjoint_of(fn, False, wants_of(fn, args, kwargs, wrt, False)), fn, None
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return adjoint_of(fn.__func__, False, wants_of(fn.__func__, args, kwargs, wrt, True)), fn.__func__, fn.__self__
    call = getattr(type(fn), "__call__", None)
    if not isinstance(fn, type) and isinstance(call, types.FunctionType):
        return adjoint_of(call, False, wants_of(call, args, kwargs, wrt, True)), call, fn
    return None


_STAR_ARGS = 0x04 | 0x08  # CO_VARARGS | CO_VARKEYWORDS
_wants_of: dict = {}


def binds_in_order(code, nargs, bound):
    """Whether ``nargs`` positional arguments (after a bound object) fill exactly ``code``'s parameters."""
    return not code.co_flags & _STAR_ARGS and not code.co_kwonlyargcount and code.co_argcount == nargs + bound


def wants_of(fn, args, kwargs, wrt, bound):
    """Which gradients the compiled code must compute, for a call that binds every parameter in order.

    ``(free variables, *parameters)`` flags from the call's used slots
    ``wrt``; ``None`` (every gradient) when ``wrt`` is, or when the call
    binds its parameters in some other way (:meth:`Entry.narrowed` then
    picks the variant from the call's layout).
    """
    if wrt is None or kwargs or not binds_in_order(fn.__code__, len(args), bound):
        return None
    key = (wrt, len(args), bound)
    wants = _wants_of.get(key, False)
    if wants is False:
        slots = tuple(i in wrt for i in range(len(args) + 1))
        wants = ((False,) + slots) if bound else None if all(slots) else slots
        _wants_of[key] = wants
    return wants


def pullback(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` and return ``(y, back)``."""
    if not kwargs and type(fn) is types.FunctionType:
        known = direct.get((id(fn.__code__), None, len(args)))
        if known is not None and (known.guard is None or known.guard(fn)):
            # (DirectCall.call written out: one Python frame less for each level of a recursion)
            stats["direct hits"] += 1
            y, saved = known.forward(fn, *args) if known.takes_closure else known.forward(*args)
            return y, Back(known.backward, saved, args, known.layout, known.has_self_grad)
    return _pullback(None, fn, args, kwargs)


def pullback_wrt(wrt, fn, *args, **kwargs):
    """:func:`pullback` for a caller that uses only some gradients of the call.

    ``wrt`` lists the slots it uses (0 the callee, then the arguments, then
    the keywords); compiled code then computes only those, and ``back``
    gives ``None`` for the rest.
    """
    if not kwargs and type(fn) is types.FunctionType:
        key = (id(fn.__code__), wrt, len(args))
        known = direct.get(key)
        if known is not None and (known.guard is None or known.guard(fn)):
            stats["direct hits"] += 1  # (DirectCall.call written out, as in pullback)
            y, saved = known.forward(fn, *args) if known.takes_closure else known.forward(*args)
            return y, Back(known.backward, saved, args, known.layout, known.has_self_grad)
        known = direct_loops.get(key)
        if known is not None and (known.guard is None or known.guard(fn)):
            return known.call(fn, args)
    return _pullback(wrt, fn, args, kwargs)


#: Calls taken through :data:`direct` (counted as cache hits by ``srcgrad.cache_info``).
stats = {"direct hits": 0}

#: ``(id(code), wrt, nargs)`` -> :class:`DirectCall`, for calls of plain functions seen
#: before: no rule, no stand-in, positional arguments filling the parameters in order.
#: Filled by :meth:`srcgrad.compiler.Entry.call`; emptied with the cache and on any rule change.
#: One per key: each is checked with the guard of the entry it came from (another closure of the
#: same code may need another entry), and dropped with its code's entries.
direct: dict = {}


class DirectCall:
    """A plain function's compiled variant and layout, for :func:`pullback` to call directly."""

    __slots__ = ("forward", "backward", "takes_closure", "has_self_grad", "layout", "nparams", "code", "guard")

    def __init__(self, entry, layout, guard=None):
        self.code = entry.fn.__code__  # (alive while its id is a key)
        self.forward = entry.forward
        self.backward = entry.backward
        self.takes_closure = entry.takes_closure
        self.has_self_grad = entry.has_self_grad
        self.nparams = entry.nparams
        self.layout = layout
        #: ``guard(fn)``: whether ``fn`` holds what the code was compiled to (:mod:`srcgrad.compiler.guard`).
        self.guard = guard

    def call(self, fn, args):
        stats["direct hits"] += 1
        y, saved = self.forward(fn, *args) if self.takes_closure else self.forward(*args)
        return y, Back(self.backward, saved, args, self.layout, self.has_self_grad)


#: Like :data:`direct`, for functions with a loop: each call picks the variant for its arguments' kinds.
direct_loops: dict = {}


class LoopDirectCall:
    """A function with a loop, seen before: the variant for each call's kinds of arguments
    (:meth:`srcgrad.compiler.Entry.specialised`), without the way through the cache."""

    __slots__ = ("entry", "layout", "code", "guard")

    def __init__(self, entry, layout, guard=None):
        self.entry = entry
        self.layout = layout
        self.code = entry.fn.__code__  # (alive while its id is a key)
        self.guard = guard

    def call(self, fn, args):
        stats["direct hits"] += 1
        entry = self.entry.specialised(args, fn)
        y, saved = entry.forward(fn, *args) if entry.takes_closure else entry.forward(*args)
        return y, Back(entry.backward, saved, args, self.layout, entry.has_self_grad)


def _pullback(wrt, fn, args, kwargs):
    nkw = len(kwargs)
    if kwargs:
        refuse_nested_keywords(fn, args, kwargs)
    fn = stand_in_for(fn)
    if fn is mutate:
        return _mutate(args[0], args[1], args[2:], kwargs)
    rule = registry.lookup(fn) if not isinstance(fn, types.MethodType) else None
    if rule is not None:
        if kwargs:
            check_rule_keywords(rule, fn, args, kwargs,
                                None if wrt is None else {k for i, k in enumerate(kwargs, 1 + len(args)) if i in wrt})
        y = fn(*args, **kwargs)
        return y, RuleBack(rule, y, args, kwargs)
    if registry.is_nondiff(fn):
        return fn(*args, **kwargs), ConstantBack(1 + len(args) + nkw)
    if type(fn) is Back:
        refuse_untraced_back(fn)
    found = _forward_of(fn, args, kwargs, wrt)
    if found is not None:
        entry, callee, bound_self = found
        return entry.call(callee, bound_self, args, kwargs, wrt)
    if isinstance(fn, type):
        return _construct(fn, args, kwargs)
    if isinstance(fn, functools.partial):
        return _partial(wrt, fn, args, kwargs)
    # A method bound to an object (a builtin function's __self__ is its module, a ufunc has none).
    owner = getattr(fn, "__self__", _UNBOUND)
    if isinstance(owner, dict) and getattr(fn, "__name__", "") == "get" and not kwargs:
        return owner.get(*args), DictGetBack(owner, args)
    if is_constant_method(owner, fn):  # "ij,jk".split(","), rng.normal(size=3)
        return fn(*args, **kwargs), ConstantBack(1 + len(args) + nkw)
    if isinstance(fn, types.BuiltinMethodType) and owner is not _UNBOUND and not isinstance(owner, types.ModuleType):
        rule = registry.method_rules.get(fn.__name__)  # a NumPy method held in a variable: a.sum
        if rule is not None:
            y = fn(*args, **kwargs)
            return y, MethodBack(RuleBack(rule, y, (owner,) + args, kwargs))
    if callable(fn):
        raise no_rule_error(fn)
    raise TypeError(f"{fn!r} is not callable")


def _partial(wrt, fn, args, kwargs):
    """``functools.partial(g, *bound, **keywords)(*args, **kwargs)``: the call ``g`` makes, differentiated.

    The partial's own gradient is a dict of its fields (``func``, ``args``,
    ``keywords``), as for any object holding values; ``None`` if it has none.
    """
    bound, keywords = tuple(fn.args), dict(fn.keywords)
    merged = {**keywords, **kwargs}
    y, inner = _pullback(None, fn.func, bound + tuple(args), merged)
    return y, PartialBack(inner, len(bound), len(args), tuple(merged), tuple(k for k in keywords if k not in kwargs),
                          tuple(kwargs))


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


_UNBOUND = object()
#: Receivers none of whose methods carry a gradient: text, flags, ranges, None.
_CONSTANT_OWNERS = (str, bytes, bool, range, type(None))
#: Methods of Python numbers that answer a question about the number, never a differentiable value.
_CONSTANT_NUMBER_METHODS = {"is_integer", "hex", "bit_length", "bit_count", "as_integer_ratio", "to_bytes",
                            "__index__", "__bool__", "__hash__", "__repr__", "__str__", "__format__"}


def is_constant_method(owner, fn) -> bool:
    """Whether the bound method ``fn`` of ``owner`` passes no gradient, by an explicit list.

    Only methods of text, booleans, ranges and ``None``, questions asked of
    a number (``x.is_integer()``) and methods on the nograd list (a random
    generator's draws) qualify; any other method without a rule is refused.
    """
    if owner is _UNBOUND or isinstance(owner, types.ModuleType):
        return False
    if isinstance(owner, _CONSTANT_OWNERS):
        return True
    name = getattr(fn, "__name__", "")
    if isinstance(owner, (int, float, complex)):
        return name in _CONSTANT_NUMBER_METHODS
    return registry.is_nondiff(getattr(type(owner), name, None))


def no_rule_error(fn) -> NoRuleError:
    """The error for a call, met at run time, of ``fn``: no rule, no Python source, not on the nograd list.

    It names the user's line the call came from (see :func:`call_site`).
    """
    name = callable_name(fn)
    filename, lineno, context = call_site()
    return NoRuleError(
        f"no derivative rule for {name}, and it has no Python source to differentiate{context}",
        filename=filename, lineno=lineno,
        fix=f"register one: @srcgrad.defrule({name})\n"
        f"     def {name.rsplit('.', 1)[-1]}_rule(dy, y, *args): return (<gradient for each argument>,)\n"
        f"     or mark it constant with srcgrad.nograd({name}) if it passes no gradient")


def refuse_nested_keywords(fn, args, kwargs):
    """Generated code's ``pullback(g, x, k=v)``, differentiated again: its stand-in takes no keywords (yet)."""
    if fn is pullback or fn is pullback_wrt:
        callee = args[1 if fn is pullback_wrt else 0]
        name = getattr(callee, "__qualname__", None) or getattr(callee, "__name__", repr(callee))
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through a call to {name} with keyword "
            f"arguments ({', '.join(k + '=' for k in kwargs)})",
            fix=f"pass them to {name} positionally inside the function being differentiated twice")


#: Library functions differentiated through a stand-in written in the traceable subset.
_TRACED_AS: dict = {}


def stand_in_for(fn):
    """What to differentiate for a call to ``fn``: its stand-in, or ``fn`` itself."""
    if type(fn) is not types.FunctionType:
        make = _BACKS_TRACED_AS.get(type(fn))
        return fn if make is None else make(fn)
    found = _TRACED_AS.get(fn)
    if found is None:
        found = _twins.get(fn)
        return fn if found is None else found.function(fn)
    return found


class _Twin:
    """Generated functions' traceable twins, compiled when higher order first needs them."""

    __slots__ = ("functions", "make", "twins")

    def __init__(self, functions, make):
        self.functions = functions
        self.make = make
        self.twins = None

    def function(self, fn):
        if self.twins is None:
            self.twins = self.make()
        return self.twins[self.functions.index(fn)]


#: Generated function -> its :class:`_Twin` (emptied with the cache).
_twins: dict = {}


def traced_as_twin(functions, make) -> None:
    """Differentiate calls to the generated ``functions`` through ``make()``'s, same order (compiled lazily)."""
    twin = _Twin(tuple(functions), make)
    for fn in functions:
        _twins[fn] = twin


def traced_as(fn, stand_in) -> None:
    """Differentiate calls to ``fn`` by reading ``stand_in``'s source instead."""
    _TRACED_AS[fn] = stand_in


#: Pullback classes whose ``__call__`` is not in the traceable subset -> a traceable equivalent of one.
_BACKS_TRACED_AS: dict = {}


def back_traced_as(cls, make) -> None:
    """Differentiate calls to a pullback of class ``cls`` (made outside differentiated code) through ``make(back)``."""
    _BACKS_TRACED_AS[cls] = make


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


def mutate(obj, name, *args, **kwargs):
    """``obj.name(*args)`` called for its effect on ``obj``; returns ``obj``.

    Differentiated code calls this for a method call used as a statement,
    so the method is differentiated as if it ended with ``return self`` and
    the object's gradient flows through the change it made. ``name`` is
    ``(cls, name)`` for ``super(cls, obj).name(*args)`` (a parent's
    ``__init__`` setting the object's fields).
    """
    _bound(obj, name)(*args, **kwargs)
    return obj


def _bound(obj, name):
    return getattr(obj, name) if isinstance(name, str) else getattr(super(name[0], obj), name[1])


def _mutate(obj, name, args, kwargs):
    from ..compiler.cache import adjoint_of

    method = getattr(type(obj), name, None) if isinstance(name, str) else getattr(_bound(obj, name), "__func__", None)
    if not isinstance(method, types.FunctionType):
        _bound(obj, name)(*args, **kwargs)  # a builtin method: run it, no gradient through the change
        return obj, ConstantBack(3 + len(args) + len(kwargs))
    entry = adjoint_of(method, constructor=True)
    changed, back = entry.call(method, obj, args, kwargs)  # (a copy, if the method changed an attribute)
    return changed, MutateBack(back)


class MutateBack:
    """The pullback of :func:`mutate`: the object's gradient, then the arguments'."""

    __slots__ = ("inner",)

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, dy):
        grads = self.inner(dy)
        return (None, grads[0], None) + tuple(grads[1:])


def _construct(cls, args, kwargs):
    """``cls(*args)`` inside differentiated code: ``__init__`` is differentiated, returning ``self``."""
    import dataclasses

    from ..compiler.cache import adjoint_of

    init = cls.__init__
    if dataclasses.is_dataclass(cls) and getattr(init, "__qualname__", "").endswith("__init__") \
            and init.__code__.co_filename.startswith("<"):
        obj = cls(*args, **kwargs)
        fields = [f.name for f in dataclasses.fields(cls) if f.init]
        names = fields[:len(args)] + list(kwargs)
        return obj, DataclassBack(names, args + tuple(kwargs.values()))
    if not isinstance(init, types.FunctionType):
        raise NoRuleError(
            f"no derivative rule for constructing {cls.__qualname__} (its __init__ has no Python source)",
            fix=f"register one with @srcgrad.defrule({cls.__qualname__}), or build the object outside "
            "the differentiated function",
        )
    entry = adjoint_of(init, constructor=True)
    obj, back = entry.call(init, cls.__new__(cls), args, kwargs)
    return obj, ConstructBack(back)


def _user_index_grad(dy, x, idx):
    """The gradient of ``x[idx]`` through the ``__getitem__`` of ``x``'s class (``m[0]`` of a Chain)."""
    _, back = pullback(structure.own_getitem(x), x, idx)
    return back(dy)[1]


structure.user_index_grad = _user_index_grad

from ..compiler import provided  # noqa: E402  (until srcgrad/calls hands these over: see compiler/provided.py)

provided.provide(pullback=pullback, pullback_wrt=pullback_wrt, mutate=mutate, carries_gradient=carries_gradient,
                 stand_in_for=stand_in_for, traced_as_twin=traced_as_twin)
