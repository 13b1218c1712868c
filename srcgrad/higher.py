"""Higher order: differentiating code that itself computes gradients.

``df = lambda x: gradient(f, x)[0]`` is ordinary code to srcgrad, so
``gradient(df, x)`` differentiates through the call to ``gradient``, and
through the generated code that call runs. Two library functions are
differentiated through stand-ins written here, in the subset srcgrad
reads, instead of their own source:

- :func:`srcgrad.gradient` through :func:`gradient` (one pullback, seeded with 1),
  and :func:`srcgrad.withgradient` and :func:`srcgrad.pullback` likewise;
- the dispatcher :func:`srcgrad.runtime.dispatch.pullback`, which generated
  code calls for every user function, through :func:`pullback`.

Pullback objects (:class:`~srcgrad.runtime.dispatch.Back`) have traceable
``__call__`` methods, so a call to one inside generated code is
differentiated like any callable object. What is left are three small
rules for the glue: :func:`make_back`, :func:`bound_object` and ``arrange``,
and one for :func:`user_grads`, the gradients as users see them.
"""

from __future__ import annotations

import types

import numpy as np

from .errors import NonScalarOutputError, NoRuleError
from .rules.registry import defrule, nograd
from .runtime.dispatch import Back, pullback as runtime_pullback
from .runtime.accumulate import accum
from .runtime.structure import index_grad, item, real_for, to_user

__all__ = ["gradient", "pullback", "pullback_wrt", "index_add", "seed", "user_pullback", "withgradient"]


@nograd
def seed(y):
    """The cotangent 1 of a scalar output, in its dtype."""
    if isinstance(y, (np.ndarray, np.generic)) and np.ndim(y) == 0 and np.issubdtype(y.dtype, np.inexact):
        return np.ones((), y.dtype)[()]
    if np.ndim(y) != 0:
        raise NonScalarOutputError(
            f"gradient needs a function that returns a scalar, but it returned shape {np.shape(y)}",
            fix="reduce the output to a scalar (e.g. np.sum), or use srcgrad.pullback or srcgrad.jacobian",
        )
    return 1.0


def gradient(f, *args):
    """``srcgrad.gradient`` as differentiated code sees it: one pullback, seeded with 1."""
    y, back = runtime_pullback(f, *args)
    grads = back(seed(y))
    return real_grads(grads[1:], args)


def withgradient(f, *args):
    """``srcgrad.withgradient`` as differentiated code sees it."""
    y, back = runtime_pullback(f, *args)
    grads = back(seed(y))
    return y, user_grads(grads[1:], args)


def user_pullback(f, *args):
    """``srcgrad.pullback`` as differentiated code sees it: ``back`` gives the users' gradients."""
    y, back = runtime_pullback(f, *args)

    def user_back(dy):
        grads = back(dy)
        return user_grads(grads[1:], args)

    return y, user_back


def user_grads(grads, args):
    """The gradients as ``srcgrad.pullback`` returns them to users: zeros where srcgrad has ``None``."""
    return tuple(to_user(g, a) for g, a in zip(grads, args))


@defrule(user_grads, broadcast=False, _builtin=True)
def user_grads_rule(dy, y, grads, args):
    return (real_grads(dy, args), None)


def real_grads(grads, args):
    """The gradients of real arguments without the imaginary parts complex intermediates leave (docs/complex.md).

    As ``srcgrad.gradient`` returns them; differentiated again, what the
    outer pass sends back through a real argument's gradient is real too.
    """
    return tuple(real_for(g, a) for g, a in zip(grads, args))


@defrule(real_grads, broadcast=False, _builtin=True)
def real_grads_rule(dy, y, grads, args):
    return (real_grads(dy, args), None)


def plan(fn, args):
    """How a call ``fn(*args)`` reaches compiled code: ``(forward, backward, how, layout, has_self, split, defaults)``.

    ``defaults`` are the values of the parameters the call leaves to their
    defaults (constants: they get no gradient); ``split`` is where the
    arguments gathered into ``*args`` start.

    The generated forward reads ``fn``'s globals, so its gradient (a dict of
    them) is ``fn``'s: that is this function's rule, and how implicit
    parameters read inside a nested gradient get their gradient.
    """
    from .compiler.cache import adjoint_of
    from .runtime.dispatch import stand_in_for

    fn = stand_in_for(fn)
    if isinstance(fn, types.FunctionType):
        entry, callee, bound = adjoint_of(fn), fn, None
        how = "closure" if entry.takes_closure else "plain"
    elif isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        entry, callee, bound, how = adjoint_of(fn.__func__), fn.__func__, fn.__self__, "bound"
    elif isinstance(getattr(type(fn), "__call__", None), types.FunctionType) and not isinstance(fn, type):
        entry, callee, bound, how = adjoint_of(type(fn).__call__), type(fn).__call__, fn, "object"
    else:
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through {getattr(fn, '__name__', fn)!r} "
            "passed around as a value (a NumPy function held in a variable or a field)",
            fix="call it by its name inside the function (np.tanh(x)), or wrap it: def act(x): return np.tanh(x)",
        )
    values, layout, _ = entry.plan(callee, bound, args, {})
    given = len(args) + (0 if bound is None else 1)
    named = len(entry.params) - (entry.vararg is not None)
    defaults = tuple(values[given:named])
    split = None
    if entry.vararg is not None:  # the forward takes the extra arguments as one tuple
        split = entry.params.index(entry.vararg) - (0 if bound is None else 1)
        how += "+tuple"
    return entry.forward, entry.backward, how, layout, entry.has_self_grad, split, defaults


@defrule(plan, broadcast=False, _builtin=True)
def plan_rule(dy, y, fn, args):
    return (item(dy, 0), None)


def pullback(fn, *args):
    """The dispatcher as differentiated code sees it (plain, closure, bound and object calls)."""
    forward, backward, how, layout, has_self, split, defaults = plan(fn, args)
    if split is not None:  # the forward takes the extra arguments as one tuple
        values = tuple(args[:split]) + defaults + (args[split:],)
    else:
        values = tuple(args) + defaults
    if how in ("plain", "plain+tuple"):
        y, saved = forward(*values)
    elif how in ("closure", "closure+tuple", "object"):
        y, saved = forward(fn, *values)
    elif how == "bound":
        y, saved = forward(bound_object(fn), *values)
    else:
        y, back = runtime_pullback(fn, *args)
    if how != "other":
        back = make_back(backward, saved, args, layout, has_self)
    return y, back


def pullback_wrt(wrt, fn, *args):
    """:func:`srcgrad.runtime.dispatch.pullback_wrt` as differentiated code sees it: every gradient."""
    return pullback(fn, *args)


def index_add(dx, dy, x, idx):
    """:func:`srcgrad.runtime.structure.index_add` as differentiated code sees it: without the in-place add."""
    return accum(dx, index_grad(dy, x, idx))


def make_back(backward, saved, args, layout, has_self):
    """A pullback object; its gradient (a dict of its fields) reaches ``saved``."""
    return Back(backward, saved, args, layout, has_self)


@defrule(make_back, broadcast=False, _builtin=True)
def make_back_rule(dy, y, backward, saved, args, layout, has_self):
    return (None, item(dy, "saved"), None, None, None)


def bound_object(method):
    """The object a bound method is bound to."""
    return method.__self__


@defrule(bound_object, broadcast=False, _builtin=True)
def bound_object_rule(dy, y, method):
    return (dy,)
