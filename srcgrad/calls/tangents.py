"""Forward mode at run time: calls to other functions' tangent functions, and tangents from rules.

:func:`tangent_call` runs a callee's own tangent function (compiled through
the cache, :func:`~.cache.tangent_of`) or its rule; :func:`rule_tangent`
makes the same choice for a rule at run time that the compiler makes for a
call it can see (:func:`srcgrad.compiler.forward.forward_kind`). Generated
tangent code reaches these through :mod:`srcgrad.compiler.provided`; the
zeros it needs are :mod:`srcgrad.runtime.zeros`.
"""

from __future__ import annotations

import functools
import inspect
import types
import weakref

import gast
import numpy as np

from ..compiler.forward import explicit_forward
from ..compiler.inline import template_of
from ..errors import NoRuleError, UnsupportedSyntaxError
from ..rules import registry
from ..runtime.located import call_site, callable_name
from ..runtime.structure import is_numeric, item, own_getitem
from ..runtime.zeros import diagonal_tangent, or_zero, zero_tangent
from .cache import tangent_of
from .dispatch import (check_rule_keywords, is_constant_method, mutate, no_rule_error, pullback,
                       refuse_nested_keywords, refuse_untraced_back)
from .stand_ins import stand_in_for

__all__ = ["tangent_call", "index_tangent", "rule_tangent", "transposed_tangent"]


def tangent_call(fn, dfn, args, dargs, keywords=(), dkeywords=()):
    """``(fn(*args), its tangent)`` given the arguments' tangents ``dargs``."""
    if fn is mutate:  # (reached through the generated backward, forward over reverse)
        filename, lineno, context = call_site()
        raise UnsupportedSyntaxError(
            f"forward mode does not follow a method called for its effect on its object (a.add(v)) yet{context}",
            filename=filename, lineno=lineno,
            fix="use reverse mode (srcgrad.gradient), or have the method return the new value and assign it")
    kwargs = dict(keywords)
    if kwargs:
        refuse_nested_keywords(fn, args, kwargs)
    fn = stand_in_for(fn)
    if isinstance(fn, functools.partial):
        return _partial_tangent(fn, dfn, args, dargs, kwargs, dict(zip(kwargs, dkeywords)))
    refuse_untraced_back(fn)
    rule = registry.lookup(fn) if not isinstance(fn, types.MethodType) else None
    if rule is not None:
        y = fn(*args, **kwargs)
        return y, rule_tangent(fn, rule, tuple(dargs), y, args, kwargs, dict(zip(kwargs, dkeywords)))
    owner = getattr(fn, "__self__", None)  # (subscripts.replace(" ", ""), rng.normal(size=3): as reverse mode)
    if registry.is_nondiff(fn) or _nondiff_method(fn) or owner is not None and is_constant_method(owner, fn):
        if registry.is_random_draw(fn) and any(d is not None for d in tuple(dargs) + tuple(dkeywords)):
            filename, lineno, context = call_site()
            raise registry.random_draw_error(callable_name(fn), filename, lineno, context)
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
        if isinstance(fn, type):
            raise NoRuleError(f"forward mode cannot construct {fn.__qualname__} inside a differentiated function yet",
                              fix="build the object outside the differentiated function, or use reverse mode")
        raise no_rule_error(fn)
    entry = tangent_of(plain)
    values = list(args)
    # (a tuple or list argument gets a structure of zeros too: the callee's tangent code indexes into it)
    tangents = [or_zero(d, a) if is_numeric(a) or isinstance(a, (tuple, list)) else d for d, a in zip(dargs, args)]
    if bound is not None:
        values = [bound] + values
        tangents = [dfn] + tangents
    if kwargs or entry.vararg is not None or len(values) != len(entry.params):
        values, tangents = _bind(plain, entry, values, tangents, kwargs, dict(zip(kwargs, dkeywords)))
    prefix = (plain, dfn) if entry.takes_closure else ()
    return entry.tangent(*prefix, *values, *tangents)


_signatures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _bind(plain, entry, values, tangents, kwargs, dkwargs):
    """The tangent function's arguments for a call with keywords, defaults or ``*args``: values, then tangents."""
    signature = _signatures.get(plain)
    if signature is None:
        signature = _signatures[plain] = inspect.signature(plain)
    arguments = signature.bind(*values, **kwargs)
    arguments.apply_defaults()
    given = signature.bind_partial(*tangents, **dkwargs).arguments
    out_values, out_tangents = [], []
    for p in entry.params:
        value = arguments.arguments[p] if p in arguments.arguments else ()
        out_values.append(value)
        d = given.get(p)
        if p == entry.vararg:
            d = tuple(or_zero(t, v) if is_numeric(v) else t for t, v in zip(d or (None,) * len(value), value))
        elif d is None and is_numeric(value):
            d = zero_tangent(value)
        out_tangents.append(d)
    return out_values, out_tangents


def _nondiff_method(fn):
    """A built-in method declared non-differentiable on its type (``axes.index``: ``list.index``)."""
    owner = getattr(fn, "__self__", None)
    if not isinstance(fn, types.BuiltinMethodType) or owner is None or isinstance(owner, types.ModuleType):
        return False
    return registry.is_nondiff(getattr(type(owner), getattr(fn, "__name__", ""), None))


def index_tangent(d, x, index):
    """The tangent of ``x[index]`` from ``x``'s tangent ``d``: through the ``__getitem__`` of ``x``'s
    class where it has its own (``m[0]`` of a Chain), else the same item of ``d``."""
    getitem = own_getitem(x)
    if getitem is not None:
        return tangent_call(getitem, None, (x, index), (d, None))[1]
    return item(d, index)


def _partial_tangent(fn, dfn, args, dargs, kwargs, dkwargs):
    """A call of ``functools.partial(g, *bound, **keywords)``: ``g``'s, with the partial's fields' tangents.

    The partial's tangent, if any, is a dict of its fields (``func``,
    ``args``, ``keywords``), as its gradient is in reverse mode.
    """
    given = dfn if isinstance(dfn, dict) else {}
    bound = tuple(fn.args)
    dbound = tuple(given.get("args") or (None,) * len(bound))
    held = {k: v for k, v in fn.keywords.items() if k not in kwargs}
    dheld = dict(given.get("keywords") or {})
    merged = {**held, **kwargs}
    dmerged = {k: dkwargs.get(k) if k in kwargs else dheld.get(k) for k in merged}
    return tangent_call(fn.func, given.get("func"), bound + tuple(args), dbound + tuple(dargs),
                        tuple(merged.items()), tuple(dmerged.values()))


# ---------------------------------------------------------------- tangents from reverse rules

def transposed_tangent(reverse, dargs, y, *args, **kwargs):
    """The tangent of ``y = f(*args)`` from nothing but its reverse rule, by transposing it.

    ``reverse(dy)`` is ``J^T dy``, linear in ``dy``, so ``<reverse(dy), t> = <dy, J t>`` and
    ``J t`` is the gradient of the left side with respect to ``dy``: reverse mode applied to
    the rule itself. Any rule srcgrad can differentiate again (which higher order needs
    anyway) works in forward mode this way, at the cost of a reverse pass per call.
    """
    if all(d is None for d in dargs):
        return zero_tangent(y)
    grads, back = pullback(reverse, zero_tangent(y), y, *args, **kwargs)
    cotangents = tuple(_cotangent(d, g) for d, g in zip(dargs, grads))
    cotangents += (None,) * (len(grads) - len(cotangents))
    dy = back(cotangents)[1]
    return zero_tangent(y) if dy is None else dy


def _cotangent(d, g):
    """The tangent ``d`` of an argument as the cotangent of its gradient ``g`` (broadcast where ``g`` was)."""
    if d is None or g is None:
        return None
    if isinstance(g, np.ndarray) and np.shape(d) != g.shape:
        return np.broadcast_to(d, g.shape)
    return d


def _constant_tangent(a):
    """In ``f(d_1, d_2, ...)``: a zero for a constant float, and a size or index (an int) as it is."""
    if isinstance(a, float) or (isinstance(a, (np.ndarray, np.generic)) and np.issubdtype(a.dtype, np.inexact)):
        return zero_tangent(a)
    return a


def _zero_operand(a):
    """The tangent of a constant operand: zeros of its shape (an integer array's too), or ``a`` if not numeric."""
    return zero_tangent(a) if is_numeric(a) or isinstance(a, (tuple, list)) else a


def rule_tangent(fn, rule, dargs, y, args, kwargs, dkwargs=None):
    """The tangent of ``y = fn(*args, **kwargs)``, a call to a function with a rule, at run time.

    The same choice the compiler makes for a call it can see: an explicit forward rule,
    the reverse rule of an elementwise function, the function itself for a linear one,
    else the transposed reverse rule. A keyword that fills a positional parameter
    (``fn(x, a_max=b)``) has its tangent (from ``dkwargs``) at that position.
    """
    rule_args, rule_kwargs, at = registry.rule_arguments(rule, args, kwargs)
    if kwargs:
        dkwargs = dkwargs or {}
        check_rule_keywords(rule, fn, args, kwargs, {k for k, d in dkwargs.items() if d is not None})
        dargs = tuple(dargs) + (None,) * (max(at.values(), default=-1) + 1 - len(dargs))
        by_position = {p: dkwargs.get(k) for k, p in at.items()}
        dargs = tuple(by_position.get(i, d) for i, d in enumerate(dargs))
    if all(d is None for d in dargs):
        return zero_tangent(y)
    explicit = explicit_forward(rule)
    if explicit is not None:
        return explicit(dargs, y, *rule_args, **rule_kwargs)
    if rule.elementwise or rule.scalar or rule.linearity == "diagonal":
        return diagonal_tangent(rule.reverse, dargs, y, *rule_args, **rule_kwargs)
    if rule.linearity == "linear-in-first":
        return zero_tangent(y) if dargs[0] is None else _call_with(fn, args, kwargs, at, {0: dargs[0]})
    if rule.linearity == "jointly-linear":
        values = {**dict(enumerate(args)), **{p: kwargs[k] for k, p in at.items()}}
        operands = rule.operands
        # (where the operands are known, an integer array among them is a constant like any other)
        constant = _constant_tangent if operands is None else _zero_operand
        tangents = {i: d if i < len(dargs) and (d := dargs[i]) is not None else constant(a)
                    for i, a in values.items() if operands is None or i in operands}
        return _call_with(fn, args, kwargs, at, tangents)
    if rule.linearity == "linear":
        values = {**dict(enumerate(args)), **{p: kwargs[k] for k, p in at.items()}}
        total = None
        for i, d in enumerate(dargs):
            if not _carries_gradient(rule, i):  # (what a call the compiler sees leaves out too)
                continue
            if d is not None and not isinstance(values.get(i), (int, np.integer)):  # an axis, not an operand
                term = _call_with(fn, args, kwargs, at, {i: d})
                total = term if total is None else total + term
        return zero_tangent(y) if total is None else total
    return transposed_tangent(rule.reverse, dargs, y, *rule_args, **rule_kwargs)


def _carries_gradient(rule, i):
    """Whether argument ``i`` of a linear rule has a gradient: not where the reverse rule, one ``return`` of a
    tuple, gives ``None`` (or nothing) for it, as the compiler reads it for a call it can see."""
    outputs = template_of(rule).outputs
    if outputs is None:
        return True
    return i < len(outputs) and not (isinstance(outputs[i], gast.Constant) and outputs[i].value is None)


def _call_with(fn, args, kwargs, at, replaced):
    """``fn(*args, **kwargs)`` with the arguments at the positions in ``replaced`` swapped.

    ``at`` says which keyword fills which position (:func:`~srcgrad.rules.registry.keyword_positions`).
    """
    args, kwargs = list(args), dict(kwargs)
    names = {p: k for k, p in at.items()}
    for i, value in replaced.items():
        if i < len(args):
            args[i] = value
        elif i in names:
            kwargs[names[i]] = value
    return fn(*args, **kwargs)
