"""Higher order: the stand-ins differentiated code is differentiated through.

``df = lambda x: gradient(f, x)[0]`` is ordinary code to srcgrad, so
``gradient(df, x)`` differentiates through the call to ``gradient``, and
through the generated code that call runs. Library functions are
differentiated through stand-ins written here, in the subset srcgrad
reads, instead of their own source (:func:`~.stand_ins.traced_as` pairs them):

- :func:`srcgrad.gradient` through :func:`traced_gradient` (one pullback, seeded with 1),
  :func:`srcgrad.withgradient` through :func:`traced_withgradient`, :func:`srcgrad.pullback`
  through :func:`traced_pullback`;
- :func:`srcgrad.jacobian` (a backward pass per output element), :func:`srcgrad.hessian`
  (the Jacobian of the gradient), :func:`srcgrad.jvp` and :func:`srcgrad.derivative`
  (``J t`` from reverse mode) through ``traced_jacobian``, ``traced_hessian``,
  ``traced_jvp``, ``traced_derivative``, so every mode can be nested in every other;
- the dispatcher :func:`srcgrad.calls.dispatch.pullback`, which generated
  code calls for every user function, through :func:`traced_dispatch`; a function
  with a rule (``np.sin`` passed as a value) gets its pullback from
  :func:`rule_back`, a closure over the rule, so it too is differentiated again.

Pullback objects (:class:`~srcgrad.runtime.backs.Back`) have traceable
``__call__`` methods, so a call to one inside generated code is
differentiated like any callable object. What is left are small rules for
the glue: :func:`plan` here, and in the runtime ``make_back``,
``bound_object``, ``arrange``, ``user_grads`` and the transpose pairs
(:mod:`srcgrad.runtime.backs`, :mod:`srcgrad.runtime.as_user`).

A helper marked ``nograd`` here returns nothing that carries a gradient
(seeds, zeros, checks): whatever it returns is a constant to every order.
"""

from __future__ import annotations

import types

import numpy as np

from ..compiler.parse import unwrap_callable
from ..errors import NonScalarOutputError, NoRuleError, UnsupportedSyntaxError, origin_of
from ..rules import registry
from ..rules.registry import defrule, nograd
from ..runtime import structure
from ..runtime.accumulate import accum
from ..runtime.as_user import real_grads, stack_rows, user_grads
from ..runtime.backs import ConstantBack, RuleBack, bound_object, fit_grads, make_back
from ..runtime.located import call_site
from ..runtime.structure import index_grad, item, zero_like
from .cache import adjoint_of
from .dispatch import is_constant_method, mutate, pullback, pullback_wrt, refuse_active_draw, refuse_untraced_back
from .entry import varkw as varkw_name
from .stand_ins import back_traced_as, stand_in_for, traced_as

__all__ = ["traced_gradient", "traced_withgradient", "traced_pullback", "traced_dispatch", "traced_dispatch_wrt",
           "traced_index_add", "traced_jacobian", "traced_hessian", "traced_jvp", "traced_derivative", "seed"]


@nograd
def where(fn):
    """``dict(filename=..., lineno=...)`` of the user's function ``fn`` (or of what generated code derives from)."""
    plain, _ = unwrap_callable(fn)
    code = getattr(plain, "__code__", None)
    if code is None:
        return {}
    origin = origin_of(code.co_filename)
    if origin is not None:  # "file.py:12 (f)"
        filename, _, rest = origin.rpartition(":")
        line = rest.split(" ", 1)[0]
        return {"filename": filename, "lineno": int(line)} if line.isdigit() else {}
    return {"filename": code.co_filename, "lineno": code.co_firstlineno}


@nograd
def seed(y):
    """The cotangent 1 of a scalar output, in its dtype."""
    if isinstance(y, (np.ndarray, np.generic)) and np.ndim(y) == 0 and np.issubdtype(y.dtype, np.inexact):
        return np.ones((), y.dtype)[()]
    if isinstance(y, np.ndarray) and y.size == 1:  # (as PyTorch and autograd accept: SPEC)
        return np.ones(y.shape, y.dtype if y.dtype.kind in "fc" else np.float64)
    if np.ndim(y) != 0:
        raise NonScalarOutputError(
            f"gradient needs a function that returns a scalar, but it returned shape {np.shape(y)}",
            fix="reduce the output to a scalar (e.g. np.sum), or use srcgrad.pullback or srcgrad.jacobian",
        )
    return 1.0


def traced_gradient(f, *args):
    """``srcgrad.gradient`` as differentiated code sees it: one pullback, seeded with 1."""
    y, back = pullback(f, *args)
    grads = back(seed(y))
    return real_grads(grads[1:], args)


def traced_withgradient(f, *args):
    """``srcgrad.withgradient`` as differentiated code sees it."""
    y, back = pullback(f, *args)
    grads = back(seed(y))
    return y, user_grads(grads[1:], args)


def traced_pullback(f, *args):
    """``srcgrad.pullback`` as differentiated code sees it: ``back`` gives the users' gradients."""
    y, back = pullback(f, *args)

    def user_back(dy):
        grads = back(dy)
        return user_grads(grads[1:], args)

    return y, user_back


def plan(fn, args, kwargs):
    """How a call ``fn(*args, **kwargs)`` reaches compiled code:
    ``(forward, backward, how, layout, has_self, split, defaults)``.

    ``defaults`` are the values of the parameters the call leaves to their
    defaults (constants: they get no gradient); ``split`` is where the
    arguments gathered into ``*args`` start (``defaults`` is then those before
    and those after it, keyword-only). A call with keywords has
    ``split`` None and ``defaults`` the forward's parameters after ``args``
    (see :func:`keyword_values`). For a function with a rule,
    ``how`` is ``"rule"``, ``backward`` the rule and ``layout`` whether it
    broadcasts; for a non-differentiable one, ``how`` is ``"constant"``.

    The generated forward reads ``fn``'s globals, so its gradient (a dict of
    them) is ``fn``'s: that is this function's rule, and how implicit
    parameters read inside a nested gradient get their gradient.
    """
    if isinstance(fn, type):  # (a namedtuple class called by its name is a rule's call, namedtuple_of)
        filename, lineno, context = call_site()
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through making a {fn.__qualname__} object "
            f"inside the differentiated function{context}", filename=filename, lineno=lineno,
            fix=f"make the {fn.__qualname__} outside and pass it in as an argument, or take one derivative"
            + (f"; a namedtuple class works when called by its name, {fn.__qualname__}(...)"
               if structure.is_plain_namedtuple_class(fn) else ""))
    fn = stand_in_for(fn)
    refuse_untraced_back(fn)
    if fn is mutate:
        filename, lineno, context = call_site()
        raise UnsupportedSyntaxError(
            f"a second derivative through a method called for its effect on its object (a.add(v)) is not "
            f"supported yet{context}", filename=filename, lineno=lineno,
            fix="have the method return the new value and assign it (a = a.added(v)), or take one derivative")
    rule = registry.lookup(fn) if not isinstance(fn, types.MethodType) else None
    if rule is not None and kwargs:
        refuse_keywords(fn, kwargs)
    if rule is not None:  # a NumPy function with a rule, passed as a value (pullback(np.sin, x))
        return None, rule.reverse, "rule", rule.broadcast and len(args) > 1, False, None, ()
    owner = getattr(fn, "__self__", None)  # (rng.normal(size=3): as the dispatcher)
    if registry.is_nondiff(fn) or owner is not None and is_constant_method(owner, fn):
        return None, None, "constant", None, False, None, ()
    if isinstance(fn, types.FunctionType):
        entry, callee, bound = adjoint_of(fn), fn, None
        how = "closure" if entry.takes_closure else "plain"
    elif isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        entry, callee, bound, how = adjoint_of(fn.__func__), fn.__func__, fn.__self__, "bound"
    elif isinstance(getattr(type(fn), "__call__", None), types.FunctionType) and not isinstance(fn, type):
        entry, callee, bound, how = adjoint_of(type(fn).__call__), type(fn).__call__, fn, "object"
    else:
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through {name!r} passed around as a value: "
            "it has neither Python source nor a derivative rule srcgrad could differentiate again",
            fix=f"wrap it in a def of your own (def g(x): return {name}(x)), or register a rule with "
            f"@srcgrad.defrule({name})",
        )
    values, layout = entry.plan(callee, bound, args, kwargs)
    if kwargs:
        if entry.vararg is not None:
            refuse_keywords(fn, kwargs)
        return entry.forward, entry.backward, how, layout, entry.has_self_grad, None, \
            keyword_sources(entry, callee, len(args) + (0 if bound is None else 1), values, kwargs)
    given = len(args) + (0 if bound is None else 1)
    named = len(entry.params) - (entry.vararg is not None)
    defaults = tuple(values[given:named])
    split = None
    if entry.vararg is not None:  # the forward takes the extra arguments as one tuple, then keyword-only ones
        at = entry.params.index(entry.vararg)
        split = at - (0 if bound is None else 1)
        defaults = (tuple(values[min(given, at):at]), tuple(values[at + 1:]))
        how += "+tuple"
    return entry.forward, entry.backward, how, layout, entry.has_self_grad, split, defaults


@nograd
def keyword_sources(entry, callee, given, values, kwargs):
    """Where each of the forward's parameters after the ``given`` positional ones comes from:
    a keyword's name, the names gathered into ``**kwargs`` (a tuple), or ``[default]``."""
    varkw = varkw_name(callee)
    sources = []
    for p, value in zip(entry.params[given:], values[given:]):
        if p == varkw:
            sources.append(tuple(k for k in kwargs if k not in entry.params))
        elif p in kwargs:
            sources.append(p)
        else:
            sources.append([value])
    return tuple(sources)


def keyword_values(kwargs, sources):
    """The forward's parameters after the positional ones, from the call's keywords (see :func:`keyword_sources`)."""
    out = []
    for source in sources:
        if isinstance(source, str):
            out.append(kwargs[source])
        elif isinstance(source, tuple):
            out.append({k: kwargs[k] for k in source})
        else:
            out.append(source[0])
    return tuple(out)


def keyword_values_grads(dy, kwargs, sources):
    """The gradient of :func:`keyword_values`'s ``kwargs`` (a dict by keyword) from its output's ``dy``."""
    grads = {k: None for k in kwargs}
    if dy is None:
        return grads
    for d, source in zip(dy, sources):
        if isinstance(source, str):
            grads[source] = accum(grads[source], d)
        elif isinstance(source, tuple) and d is not None:
            for k in source:
                grads[k] = accum(grads[k], d.get(k))
    return grads


@defrule(keyword_values, broadcast=False, forward="linear-in-first", _builtin=True)
def keyword_values_rule(dy, y, kwargs, sources):
    return (keyword_values_grads(dy, kwargs, sources), None)


@defrule(keyword_values_grads, broadcast=False, forward="linear-in-first", _builtin=True)
def keyword_values_grads_rule(dy, y, dvalues, kwargs, sources):
    return (keyword_values(dy, sources) if dy is not None else None, None, None)


@nograd
def refuse_keywords(fn, kwargs):
    """Keywords the higher-order stand-in cannot bind: to a rule's function passed as a value, or with ``*args``."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    filename, lineno, context = call_site()
    raise NoRuleError(
        f"srcgrad cannot yet take a higher-order derivative through a call to {name} with keyword arguments "
        f"({', '.join(k + '=' for k in kwargs)}) when it is a library function passed as a value or takes "
        f"*args{context}", filename=filename, lineno=lineno,
        fix=f"pass them to {name} positionally inside the function being differentiated twice")


def plan_tangent(dargs, y, fn, args, kwargs):
    """The compiled forward ``plan`` picks reads ``fn``'s globals and closure: it has ``fn``'s tangent."""
    return (dargs[0], None, None, None, None, None, None)  # (forward, backward, how, layout, has_self, split, defaults)


@defrule(plan, broadcast=False, forward=plan_tangent, _builtin=True)
def plan_rule(dy, y, fn, args, kwargs):
    return (item(dy, 0), None, None)


def traced_dispatch(fn, *args, **kwargs):
    """The dispatcher as differentiated code sees it (plain, closure, bound and object calls, rules)."""
    check_draw(None, fn, args, kwargs)
    return dispatch(fn, args, kwargs)


def dispatch(fn, args, kwargs):
    """:func:`traced_dispatch`, its arguments taken as they came."""
    forward, backward, how, layout, has_self, split, defaults = plan(fn, args, kwargs)
    if how == "rule":  # backward is the rule; layout says whether it broadcasts
        y = fn(*args)
        return y, rule_back(backward, y, args, layout)
    if how == "constant":
        return call_constant(fn, args, kwargs), constant_back(call_slots(args, kwargs))
    if kwargs:  # (defaults: where each later parameter comes from)
        values = tuple(args) + keyword_values(kwargs, defaults)
    elif split is not None:  # the forward takes the extra arguments as one tuple
        values = tuple(args[:split]) + defaults[0] + (args[split:],) + defaults[1]
    else:
        values = tuple(args) + defaults
    if how in ("plain", "plain+tuple"):
        y, saved = forward(*values)
    elif how in ("closure", "closure+tuple", "object", "object+tuple"):
        y, saved = forward(fn, *values)
    else:  # "bound"
        y, saved = forward(bound_object(fn), *values)
    back = make_back(backward, saved, args, layout, has_self)
    return y, back


def rule_back(reverse, y, args, broadcast):
    """The pullback of ``y = fn(*args)`` for an ``fn`` with the rule ``reverse``: what
    :class:`~srcgrad.runtime.backs.RuleBack` does, written as a closure so that its
    gradients (through ``y`` and ``args``, its captured values) are differentiated again."""

    def back(dy):
        if dy is None:
            return constant_grads(args)
        raw = reverse(dy, y, *args)
        return (None,) + fit_grads(raw, args, broadcast)

    return back


def traceable_back(back):
    """A rule's pullback made outside differentiated code (``pullback(np.sin, x)`` at the top), as a
    :func:`rule_back` closure, which is differentiated again (its ``**kwargs`` call is not)."""
    if back.kwargs:
        return back
    return rule_back(back.reverse, back.y, back.args, back.broadcast)


def traceable_constant_back(back):
    """:class:`~srcgrad.runtime.backs.ConstantBack`, made outside differentiated code, as a closure."""
    return constant_back((None,) * (back.n - 1))


def constant_back(args):
    """The pullback of a call to a non-differentiable function: no gradients, at any order."""

    def back(dy):
        return constant_grads(args)

    return back


@nograd
def call_constant(fn, args, kwargs):
    """``fn(*args, **kwargs)`` for a non-differentiable ``fn`` (keywords included, as the user wrote them)."""
    return fn(*args, **kwargs)


@nograd
def check_draw(wrt, fn, args, kwargs):
    """Refuse a random draw whose arguments in ``wrt`` (``None``: all) carry a gradient, as at first order."""
    refuse_active_draw(wrt, fn, args, kwargs)


@nograd
def call_slots(args, kwargs):
    """One place per argument of a call, keywords included (what its pullback gives gradients for)."""
    return (None,) * (len(args) + len(kwargs))


@nograd
def constant_grads(args):
    """A call's gradients when no cotangent reached it."""
    return (None,) * (1 + len(args))


def traced_dispatch_wrt(wrt, fn, *args, **kwargs):
    """:func:`srcgrad.calls.dispatch.pullback_wrt` as differentiated code sees it: every gradient."""
    check_draw(wrt, fn, args, kwargs)
    return dispatch(fn, args, kwargs)


def traced_index_add(dx, dy, x, idx):
    """:func:`srcgrad.runtime.structure.index_add` as differentiated code sees it: without the in-place add."""
    return accum(dx, index_grad(dy, x, idx))


# ---------------------------------------------------------------- jacobian, hessian and jvp inside differentiated code

def traced_jacobian(f, *args):
    """``srcgrad.jacobian`` as differentiated code sees it: one pullback, one backward pass per output element."""
    y, back = traced_pullback(f, *args)
    rows = [back(s) for s in basis_seeds(y, f)]
    return stack_rows(rows, np.shape(y), args)


@nograd
def basis_seeds(y, f):
    """The cotangents ``jacobian`` seeds its backward passes with: each basis element of ``y``'s shape."""
    if not isinstance(y, (int, float, np.ndarray, np.generic)) or isinstance(y, bool):
        raise NoRuleError(
            f"srcgrad.jacobian inside a differentiated function needs a function that returns a number or "
            f"an array, and {getattr(f, '__name__', 'it')} returned a {type(y).__name__}",
            fix="return np.array([...]) of the outputs from the function whose Jacobian you take", **where(f))
    if np.ndim(y) == 0:
        return [1.0]
    seeds = []
    for i in range(np.size(y)):
        s = np.zeros(np.shape(y))
        s.flat[i] = 1.0
        seeds.append(s)
    return seeds


def traced_hessian(f, x):
    """``srcgrad.hessian`` as differentiated code sees it: the Jacobian of the gradient (reverse over reverse)."""

    def grad(z):
        return traced_gradient(f, z)[0]

    return traced_jacobian(grad, x)[0]


def traced_jvp(f, primals, tangents):
    """``srcgrad.jvp`` as differentiated code sees it: ``J t`` from reverse mode.

    For a scalar output ``J t`` is the gradient dotted with ``t``. Otherwise ``back(u)`` is
    ``J^T u``, linear in ``u``, so ``<back(u), t> = <u, J t>``, and its gradient with respect
    to ``u`` is ``J t``.
    Reverse (or forward) mode over this is then reverse over reverse over reverse, which
    srcgrad differentiates as it does any other nested gradient: so ``gradient`` of code
    that calls ``jvp`` (reverse over forward) and ``jvp`` of it (forward over forward) work.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    check_jvp(f, primals, tangents)
    y, back = traced_pullback(f, *primals)
    if np.ndim(y) == 0:  # a scalar output: J t is the gradient dotted with t, one reverse pass
        return y, inner_product(back(seed(y)), tangents)

    def along(u):
        return inner_product(back(u), tangents)

    u0 = zero_cotangent(y, f)
    du = traced_gradient(along, u0)
    return y, user_grads(du, (u0,))[0]


def traced_derivative(f, x):
    """``srcgrad.derivative`` as differentiated code sees it."""
    y, dy = traced_jvp(f, (x,), (1.0,))
    return dy


@nograd
def check_jvp(f, primals, tangents):
    """Refuse what :func:`jvp` cannot take: primals that are not numbers or arrays, or a tangent short.

    (It returns nothing: a non-differentiable function's result carries no gradient.)
    """
    if len(primals) != len(tangents):
        raise ValueError(f"jvp needs one tangent per primal: got {len(primals)} primals and {len(tangents)} tangents")
    for p in primals:
        if not isinstance(p, (int, float, np.ndarray, np.generic)) or isinstance(p, bool):
            raise NoRuleError(
                f"srcgrad.jvp inside a differentiated function takes numbers and arrays as primals, "
                f"not a {type(p).__name__}",
                fix="pass the arrays themselves (flatten a structure into several primals)", **where(f))


def inner_product(grads, tangents):
    """``<g, t>`` summed over the arguments: the gradients ``grads`` with the tangents."""
    total = 0.0
    for g, t in zip(grads, tangents):
        total = total + np.sum(g * t)
    return total


@nograd
def zero_cotangent(y, f):
    """The zero cotangent of the output ``y``, where :func:`jvp` evaluates ``<J^T u, t>``'s gradient."""
    if isinstance(y, (int, float, np.ndarray, np.generic)) and not isinstance(y, bool):
        return zero_like(y)
    raise NoRuleError(
        f"srcgrad.jvp inside a differentiated function needs a function that returns a number or an array, "
        f"and {getattr(f, '__name__', 'it')} returned a {type(y).__name__}",
        fix="return np.array([...]) of the outputs from the function you take the jvp of", **where(f))


back_traced_as(RuleBack, traceable_back)
back_traced_as(ConstantBack, traceable_constant_back)
traced_as(pullback, traced_dispatch)
traced_as(pullback_wrt, traced_dispatch_wrt)
traced_as(structure.index_add, traced_index_add)
