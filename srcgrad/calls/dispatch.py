"""Calls inside generated code: ``y, back = pullback(f, *args)``, Zygote-style.

:func:`pullback` decides at run time what ``f`` is: a callable with a
derivative rule (the rule runs), a non-differentiable one (no gradient),
or Python code (its compiled adjoint, from the cache, runs; a library's
Python is never compiled: :func:`~.cache.library_error`). ``back(dy)``
returns the gradient of ``f`` itself first (a dict of its captured or
global variables, or of a bound object's fields; ``None`` for none), then
one gradient per argument in call order. ``back(None)`` is all ``None``.

A ``None`` gradient for a numeric argument is replaced by a real zero, so
the caller can add to it without testing; structures keep ``None``.

The fast path is :func:`known_call`: a plain function called before, with
its arguments in order, goes from the call to its compiled forward through
one dictionary lookup and its guard. :func:`pullback`, :func:`pullback_wrt`
and ``srcgrad.gradient`` all take it; everything else goes through
:func:`call_entry`, which picks the variant (:func:`narrowed`,
:func:`specialised`) and remembers the call for next time.

Higher order: generated code is itself differentiated. A call to a
pullback object runs :meth:`~srcgrad.runtime.backs.Back.__call__`, which is
ordinary traceable Python; a call to :func:`pullback` is differentiated
through a stand-in written in the traceable subset
(:func:`srcgrad.calls.traced.traced_pullback`).
"""

from __future__ import annotations

import dataclasses
import functools
import types

import numpy as np

from ..errors import NoRuleError, origin_of
from ..rules import registry
from ..runtime.backs import (Back, ConstantBack, ConstructBack, DataclassBack, DictGetBack, Layout, MethodBack,
                             MutateBack, PartialBack, RuleBack, carries_gradient)
from ..runtime.located import call_site, callable_name
from ..runtime.structure import locked_call
from .cache import adjoint_of, direct, direct_loops, stats, twins
from .entry import DirectCall, LoopDirectCall
from .stand_ins import stand_in_for

__all__ = ["pullback", "pullback_wrt", "known_call", "call_entry", "narrowed", "specialised", "mutate",
           "is_constant_method", "no_rule_error", "refuse_nested_keywords", "refuse_untraced_back",
           "check_rule_keywords"]

_FunctionType = types.FunctionType  # (read on each call: a global, not a module's attribute)


def pullback(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` and return ``(y, back)``."""
    if not kwargs and type(fn) is _FunctionType:
        known = known_call(fn, None, len(args))
        if known is not None:  # (the forward called here: one Python frame less for each level of a recursion)
            y, saved = known.forward(fn, *args) if known.takes_closure else known.forward(*args)
            return y, Back(known.backward, saved, args, known.layout, known.has_self_grad)
    return _pullback(None, fn, args, kwargs)


def pullback_wrt(wrt, fn, *args, **kwargs):
    """:func:`pullback` for a caller that uses only some gradients of the call.

    ``wrt`` lists the slots it uses (0 the callee, then the arguments, then
    the keywords); compiled code then computes only those, and ``back``
    gives ``None`` for the rest.
    """
    if not kwargs and type(fn) is _FunctionType:
        known = known_call(fn, wrt, len(args))
        if known is not None:
            y, saved = known.forward(fn, *args) if known.takes_closure else known.forward(*args)
            return y, Back(known.backward, saved, args, known.layout, known.has_self_grad)
        known = direct_loops.get((id(fn.__code__), wrt, len(args)))
        if known is not None and (known.guard is None or known.guard(fn)):
            stats["direct hits"] += 1
            entry = specialised(known.entry, args, fn)
            y, saved = entry.forward(fn, *args) if entry.takes_closure else entry.forward(*args)
            return y, Back(entry.backward, saved, args, known.layout, entry.has_self_grad)
    return _pullback(wrt, fn, args, kwargs)


def known_call(fn, wrt, nargs):
    """The :class:`~.entry.DirectCall` for ``fn(*args)`` with ``nargs`` positional arguments, if seen before.

    The one fast path: for a plain function whose compiled variant for the
    slots ``wrt`` was called before with its arguments in order, and which
    still holds what it was compiled to (its guard), the caller runs
    ``forward(*args)`` (``forward(fn, *args)`` if it ``takes_closure``) and
    then ``backward(saved, dy)``. None otherwise: take :func:`pullback_wrt`.
    """
    known = direct.get((id(fn.__code__), wrt, nargs))
    if known is not None and (known.guard is None or known.guard(fn)):
        stats["direct hits"] += 1
        return known
    return None


def call_entry(entry, fn, bound_self, args, kwargs, wrt=None):
    """Run ``entry``'s forward on a call ``fn(*args, **kwargs)``; return ``(y, Back)``.

    ``wrt``: the call's slots (0 the callee, then arguments, then
    keywords) whose gradients the caller uses; ``None`` for all. A plain
    call is remembered in :data:`~srcgrad.calls.cache.direct`, for :func:`known_call`.
    """
    values, layout = entry.plan(fn, bound_self, args, kwargs)
    if wrt is not None:
        entry, layout = narrowed(entry, wrt, layout, fn)
    plain = bound_self is None and not kwargs and entry.vararg is None and len(args) == entry.nparams
    # (A direct call checks the guard of the entry it runs; a loop's variants are guarded relative to it.)
    if entry.loops:
        if plain:
            direct_loops[(id(fn.__code__), wrt, len(args))] = LoopDirectCall(entry, layout, entry.guard)
        entry = specialised(entry, values, fn)
    elif plain:
        direct[(id(fn.__code__), wrt, len(args))] = DirectCall(entry, layout, entry.guard)  # next time, there
    if entry.takes_closure:
        y, saved = entry.forward(fn, *values)
    else:
        y, saved = entry.forward(*values)
    return y, Back(entry.backward, saved, args, layout, entry.has_self_grad)


def specialised(entry, values, fn=None):
    """The variant of ``entry`` for these arguments' kinds (numbers and arrays by ``ndim``), for a call of ``fn``."""
    kinds = tuple(_ndim(v) for v in values)
    if entry.kinds is not None or all(k is None for k in kinds):
        return entry
    found = entry.specialised_variants.get(kinds)
    if found is None:
        found = adjoint_of(fn or entry.fn, entry.returns_self, entry.wants, kinds)
        if found.guard_key == entry.guard_key:  # (kept only if this entry's guard vouches for it)
            entry.specialised_variants[kinds] = found
    return found


def narrowed(entry, wrt, layout, fn=None):
    """The variant of ``entry`` computing only the gradients of the slots ``wrt``, and the call's layout for it."""
    key = (wrt, id(layout))
    found = entry.narrowed_variants.get(key)
    if found is not None and found[2] is layout:
        return found[0], found[1]
    wants = [False] * layout.nfull
    for slot in wrt:
        source = layout.sources[slot]
        if source is not None:
            wants[source[0]] = True
    wanted = set(wrt)
    narrow = Layout([s if i in wanted else None for i, s in enumerate(layout.sources)], layout.nfull)
    wants = tuple(wants)
    everything = entry.wants is None and all(wants[1:]) and (wants[0] or not entry.has_self_grad)
    found = entry if everything or wants == entry.wants else adjoint_of(fn or entry.fn, entry.returns_self, wants)
    if found.guard_key == entry.guard_key and any(layout is d for d in entry.plain_layouts.values()):
        # (only the per-entry layouts are worth keeping, and only variants this guard vouches for)
        entry.narrowed_variants[key] = (found, narrow, layout)
    return found, narrow


def _ndim(value):
    """``ndim`` of a number (0) or an array; None for anything else."""
    if isinstance(value, np.ndarray):
        return value.ndim
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return 0
    return None


def _pullback(wrt, fn, args, kwargs):
    nkw = len(kwargs)
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
        refuse_active_draw(wrt, fn, args, kwargs)
        return fn(*args, **kwargs), ConstantBack(1 + len(args) + nkw)
    if type(fn) is Back:
        refuse_untraced_back(fn)
    found = _forward_of(fn, args, kwargs, wrt)
    if found is not None:
        entry, callee, bound_self = found
        return call_entry(entry, callee, bound_self, args, kwargs, wrt)
    if isinstance(fn, type):
        return _construct(fn, args, kwargs)
    if isinstance(fn, functools.partial):
        return _partial(wrt, fn, args, kwargs)
    # A method bound to an object (a builtin function's __self__ is its module, a ufunc has none).
    owner = getattr(fn, "__self__", _UNBOUND)
    if isinstance(owner, dict) and getattr(fn, "__name__", "") == "get" and not kwargs:
        return owner.get(*args), DictGetBack(owner, args)
    if is_constant_method(owner, fn):  # "ij,jk".split(","), rng.normal(size=3)
        refuse_active_draw(wrt, fn, args, kwargs)
        return fn(*args, **kwargs), ConstantBack(1 + len(args) + nkw)
    if isinstance(fn, types.BuiltinMethodType) and owner is not _UNBOUND and not isinstance(owner, types.ModuleType):
        rule = registry.method_rules.get(fn.__name__)  # a NumPy method held in a variable: a.sum
        if rule is not None:
            y = fn(*args, **kwargs)
            return y, MethodBack(RuleBack(rule, y, (owner,) + args, kwargs))
    if callable(fn):
        raise no_rule_error(fn)
    raise TypeError(f"{fn!r} is not callable")


def refuse_active_draw(wrt, fn, args, kwargs):
    """Refuse a random draw ``fn(*args, **kwargs)`` if an argument the caller wants a gradient for
    (``wrt``: its slots, ``None`` for all) carries one."""
    if not registry.is_random_draw(fn):
        return
    values = list(args) + list(kwargs.values())
    if any(carries_gradient(v) for i, v in enumerate(values, 1) if wrt is None or i in wrt):
        filename, lineno, context = call_site()
        raise registry.random_draw_error(callable_name(fn), filename, lineno, context)


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
    if registry.is_in_place_draw(fn):  # (rng.shuffle(a): refused for what it writes, not for a missing rule)
        return registry.in_place_draw_error(name, filename, lineno, context)
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


def refuse_untraced_back(fn):
    """Refuse to differentiate a call to a pullback whose saved tapes the traceable twin cannot read.

    A pullback made outside the differentiated code, of a function with a loop, saved its
    tapes as lists; differentiating its backward again reads its twin, which takes tapes.
    """
    if type(fn) is Back and fn.backward in twins:
        origin = origin_of(fn.backward.__code__.co_filename) or getattr(fn.backward, "__name__", "a function")
        raise NoRuleError(
            f"srcgrad cannot differentiate a call to the pullback of {origin} (a function with a loop) that "
            "was made outside the function being differentiated",
            fix="call srcgrad.pullback inside the function you differentiate, so that srcgrad sees both passes")


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


def _forward_of(fn, args, kwargs, wrt):
    """``(entry, callee, bound_self)`` for Python code, or None for rules and constants."""
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
    binds its parameters in some other way (:func:`narrowed` then
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


def mutate(obj, name, *args, **kwargs):
    """``obj.name(*args)`` called for its effect on ``obj``; returns ``obj``.

    Differentiated code calls this for a method call used as a statement,
    so the method is differentiated as if it ended with ``return self`` and
    the object's gradient flows through the change it made. ``name`` is
    ``(cls, name)`` for ``super(cls, obj).name(*args)`` (a parent's
    ``__init__`` setting the object's fields).
    """
    method = _bound(obj, name)
    if isinstance(getattr(method, "__func__", None), types.FunctionType):
        method(*args, **kwargs)
    else:
        run_locked(method, args, kwargs)
    return obj


def run_locked(method, args, kwargs):
    """``method(*args, **kwargs)``, a builtin method called for its effect on its object, with the arrays it
    is given read-only (:func:`~srcgrad.runtime.structure.locked_call`): a shuffle in place is refused by
    name, any other write into an argument when it is made."""
    if registry.is_in_place_draw(method):
        owner = getattr(method, "__self__", None)
        filename, lineno, context = call_site()
        raise registry.in_place_draw_error(f"{type(owner).__name__}.{method.__name__}", filename, lineno, context)
    return locked_call(method, *args, **kwargs)


def _bound(obj, name):
    return getattr(obj, name) if isinstance(name, str) else getattr(super(name[0], obj), name[1])


def _mutate(obj, name, args, kwargs):
    method = getattr(type(obj), name, None) if isinstance(name, str) else getattr(_bound(obj, name), "__func__", None)
    if not isinstance(method, types.FunctionType):
        run_locked(_bound(obj, name), args, kwargs)  # a builtin method: run it, no gradient through the change
        return obj, ConstantBack(3 + len(args) + len(kwargs))
    entry = adjoint_of(method, constructor=True)
    changed, back = call_entry(entry, method, obj, args, kwargs)  # (a copy, if the method changed an attribute)
    return changed, MutateBack(back)


def _construct(cls, args, kwargs):
    """``cls(*args)`` inside differentiated code: ``__init__`` is differentiated, returning ``self``."""
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
    obj, back = call_entry(entry, init, cls.__new__(cls), args, kwargs)
    return obj, ConstructBack(back)

