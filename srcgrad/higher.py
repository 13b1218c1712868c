"""Higher order: differentiating code that itself computes gradients.

``df = lambda x: gradient(f, x)[0]`` is ordinary code to srcgrad, so
``gradient(df, x)`` differentiates through the call to ``gradient``, and
through the generated code that call runs. Library functions are
differentiated through stand-ins written here, in the subset srcgrad
reads, instead of their own source:

- :func:`srcgrad.gradient` through :func:`gradient` (one pullback, seeded with 1),
  and :func:`srcgrad.withgradient` and :func:`srcgrad.pullback` likewise;
- :func:`srcgrad.jacobian` (a backward pass per output element), :func:`srcgrad.hessian`
  (the Jacobian of the gradient), :func:`srcgrad.jvp` and :func:`srcgrad.derivative`
  (``J t`` from reverse mode), so every mode can be nested in every other;
- the dispatcher :func:`srcgrad.runtime.dispatch.pullback`, which generated
  code calls for every user function, through :func:`pullback`; a function
  with a rule (``np.sin`` passed as a value) gets its pullback from
  :func:`rule_back`, a closure over the rule, so it too is differentiated again.

Pullback objects (:class:`~srcgrad.runtime.dispatch.Back`) have traceable
``__call__`` methods, so a call to one inside generated code is
differentiated like any callable object. What is left are small rules for
the glue: :func:`make_back`, :func:`bound_object` and ``arrange``, one for
:func:`user_grads` (the gradients as users see them), and the transpose
pairs :func:`fit_grads`/:func:`spread_grads` and :func:`stack_rows`/:func:`unstack_rows`.

A helper marked ``nograd`` here returns nothing that carries a gradient
(seeds, zeros, checks): whatever it returns is a constant to every order.
"""

from __future__ import annotations

import types

import numpy as np

from .errors import NonScalarOutputError, NoRuleError, UnsupportedSyntaxError, origin_of
from .rules import registry
from .rules.registry import defrule, nograd
from .rules.runtime import spread
from .runtime.dispatch import ConstantBack, RuleBack, TracedBack, back_traced_as, mutate, rule_grads
from .runtime.dispatch import pullback as runtime_pullback
from .runtime.accumulate import accum
from .runtime.located import call_site
from .runtime.structure import index_grad, item, real_for, to_user, zero_like

__all__ = ["gradient", "pullback", "pullback_wrt", "index_add", "seed", "user_pullback", "withgradient",
           "jacobian", "hessian", "jvp", "derivative"]


@nograd
def where(fn):
    """``dict(filename=..., lineno=...)`` of the user's function ``fn`` (or of what generated code derives from)."""
    from .compiler.parse import unwrap_callable

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
    arguments gathered into ``*args`` start. For a function with a rule,
    ``how`` is ``"rule"``, ``backward`` the rule and ``layout`` whether it
    broadcasts; for a non-differentiable one, ``how`` is ``"constant"``.

    The generated forward reads ``fn``'s globals, so its gradient (a dict of
    them) is ``fn``'s: that is this function's rule, and how implicit
    parameters read inside a nested gradient get their gradient.
    """
    from .compiler.cache import adjoint_of
    from .runtime.dispatch import refuse_untraced_back, stand_in_for

    fn = stand_in_for(fn)
    refuse_untraced_back(fn)
    if fn is mutate:
        filename, lineno, context = call_site()
        raise UnsupportedSyntaxError(
            f"a second derivative through a method called for its effect on its object (a.add(v)) is not "
            f"supported yet{context}", filename=filename, lineno=lineno,
            fix="have the method return the new value and assign it (a = a.added(v)), or take one derivative")
    rule = registry.lookup(fn) if not isinstance(fn, types.MethodType) else None
    if rule is not None:  # a NumPy function with a rule, passed as a value (pullback(np.sin, x))
        return None, rule.reverse, "rule", rule.broadcast and len(args) > 1, False, None, ()
    if registry.is_nondiff(fn):
        return None, None, "constant", None, False, None, ()
    if isinstance(fn, types.FunctionType):
        entry, callee, bound = adjoint_of(fn), fn, None
        how = "closure" if entry.takes_closure else "plain"
    elif isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        entry, callee, bound, how = adjoint_of(fn.__func__), fn.__func__, fn.__self__, "bound"
    elif isinstance(getattr(type(fn), "__call__", None), types.FunctionType) and not isinstance(fn, type):
        entry, callee, bound, how = adjoint_of(type(fn).__call__), type(fn).__call__, fn, "object"
    elif isinstance(fn, type):
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through making a {fn.__qualname__} object "
            "inside the differentiated function",
            fix=f"make the {fn.__qualname__} outside and pass it in as an argument, or take one derivative")
    else:
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through {name!r} passed around as a value: "
            "it has neither Python source nor a derivative rule srcgrad could differentiate again",
            fix=f"wrap it in a def of your own (def g(x): return {name}(x)), or register a rule with "
            f"@srcgrad.defrule({name})",
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
    """The dispatcher as differentiated code sees it (plain, closure, bound and object calls, rules)."""
    forward, backward, how, layout, has_self, split, defaults = plan(fn, args)
    if how == "rule":  # backward is the rule; layout says whether it broadcasts
        y = fn(*args)
        return y, rule_back(backward, y, args, layout)
    if how == "constant":
        return fn(*args), constant_back(args)
    if split is not None:  # the forward takes the extra arguments as one tuple
        values = tuple(args[:split]) + defaults + (args[split:],)
    else:
        values = tuple(args) + defaults
    if how in ("plain", "plain+tuple"):
        y, saved = forward(*values)
    elif how in ("closure", "closure+tuple", "object"):
        y, saved = forward(fn, *values)
    else:  # "bound"
        y, saved = forward(bound_object(fn), *values)
    back = make_back(backward, saved, args, layout, has_self)
    return y, back


def rule_back(reverse, y, args, broadcast):
    """The pullback of ``y = fn(*args)`` for an ``fn`` with the rule ``reverse``: what
    :class:`~srcgrad.runtime.dispatch.RuleBack` does, written as a closure so that its
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
    """:class:`~srcgrad.runtime.dispatch.ConstantBack`, made outside differentiated code, as a closure."""
    return constant_back((None,) * (back.n - 1))


def constant_back(args):
    """The pullback of a call to a non-differentiable function: no gradients, at any order."""

    def back(dy):
        return constant_grads(args)

    return back


@nograd
def constant_grads(args):
    """A call's gradients when no cotangent reached it."""
    return (None,) * (1 + len(args))


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


@defrule(fit_grads, broadcast=False, _builtin=True)
def fit_grads_rule(dy, y, raw, args, broadcast):
    return (spread_grads(dy, raw, broadcast), None, None)


@defrule(spread_grads, broadcast=False, _builtin=True)
def spread_grads_rule(dy, y, dgrads, raw, broadcast):
    return (None if dy is None else fit_grads(dy, dgrads, broadcast), None, None)


def pullback_wrt(wrt, fn, *args):
    """:func:`srcgrad.runtime.dispatch.pullback_wrt` as differentiated code sees it: every gradient."""
    return pullback(fn, *args)


def index_add(dx, dy, x, idx):
    """:func:`srcgrad.runtime.structure.index_add` as differentiated code sees it: without the in-place add."""
    return accum(dx, index_grad(dy, x, idx))


def make_back(backward, saved, args, layout, has_self):
    """A pullback object; its gradient (a dict of its fields) reaches ``saved``."""
    return TracedBack(backward, saved, args, layout, has_self)


@defrule(make_back, broadcast=False, _builtin=True)
def make_back_rule(dy, y, backward, saved, args, layout, has_self):
    return (None, item(dy, "saved"), None, None, None)


def bound_object(method):
    """The object a bound method is bound to (applied to its tangent too: None for a class's method)."""
    return None if method is None else method.__self__


@defrule(bound_object, broadcast=False, _builtin=True)
def bound_object_rule(dy, y, method):
    return (dy,)


# ---------------------------------------------------------------- jacobian, hessian and jvp inside differentiated code

def jacobian(f, *args):
    """``srcgrad.jacobian`` as differentiated code sees it: one pullback, one backward pass per output element."""
    y, back = user_pullback(f, *args)
    rows = [back(s) for s in basis_seeds(y, f)]
    return stack_rows(rows, np.shape(y), args)


def stack_rows(rows, shape, args):
    """The Jacobians from their rows (one gradient per argument, per output element of ``shape``)."""
    out = []
    for j, x in enumerate(args):
        parts = [np.zeros(np.shape(x)) if row[j] is None else np.asarray(row[j], dtype=float) for row in rows]
        out.append(np.reshape(np.stack(parts), shape + np.shape(x)))
    return tuple(out)


def unstack_rows(douts, shape, args):
    """The transpose of :func:`stack_rows`: each Jacobian's cotangent back to its rows."""
    if douts is None:
        return None
    n = int(np.prod(shape, dtype=int))
    flat = [None if d is None else np.reshape(d, (n,) + np.shape(x)) for d, x in zip(douts, args)]
    return [tuple(None if d is None else d[k] for d in flat) for k in range(n)]


@defrule(stack_rows, broadcast=False, _builtin=True)
def stack_rows_rule(dy, y, rows, shape, args):
    return (unstack_rows(dy, shape, args), None, None)


@defrule(unstack_rows, broadcast=False, _builtin=True)
def unstack_rows_rule(dy, y, douts, shape, args):
    return (None if dy is None else stack_rows(dy, shape, args), None, None)


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


def hessian(f, x):
    """``srcgrad.hessian`` as differentiated code sees it: the Jacobian of the gradient (reverse over reverse)."""

    def grad(z):
        return gradient(f, z)[0]

    return jacobian(grad, x)[0]


def jvp(f, primals, tangents):
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
    y, back = user_pullback(f, *primals)
    if np.ndim(y) == 0:  # a scalar output: J t is the gradient dotted with t, one reverse pass
        return y, inner_product(back(seed(y)), tangents)

    def along(u):
        return inner_product(back(u), tangents)

    u0 = zero_cotangent(y, f)
    du = gradient(along, u0)
    return y, user_grads(du, (u0,))[0]


def derivative(f, x):
    """``srcgrad.derivative`` as differentiated code sees it."""
    y, dy = jvp(f, (x,), (1.0,))
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
