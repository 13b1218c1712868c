"""The compiler: from a Python function to the source and code of its adjoint.

The whole pipeline, one pass per module, stages numbered as in their docstrings::

    1 parse  ->  2 fence  ->  3 resolve  ->  4 normalise (anf)  ->  5 splice  ->  6 transform (reverse)
             ->  7 simplify  ->  8 tapes as lists  ->  9 emit  ->  10 cache (srcgrad.calls.cache)

(The code before "tapes as lists" is compiled too, lazily: it is the twin
that higher order differentiates; see :mod:`srcgrad.compiler.tapes`.)

:func:`compile_adjoint` runs stages 1 to 9 top to bottom and returns plain
data, a :class:`Compiled`; :func:`stages` returns what each stage produced,
for debugging (``python -m srcgrad show --stages``). The calling layer
(:mod:`srcgrad.calls`) caches what the compiler returns and calls it; the
compiler imports nothing from it, and reads the run-time functions
generated code calls back into from :mod:`.provided`.
"""

from __future__ import annotations

import gast

from ..errors import origin_of
from . import build
from .anf import normalise
from .emit import compile_functions, to_source
from .forward import tangent_transform
from .guard import build_guard
from .prepare import foldable, prepare
from .reverse import transform
from .simplify import simplify
from .splice import splice
from .tapes import as_lists

__all__ = ["Compiled", "CompiledTangent", "compile_adjoint", "compile_tangent", "stages"]


class Compiled:
    """What :func:`compile_adjoint` returns: a function's forward and backward, and how to call them.

    Plain data. ``done`` holds what the last stages produced (``forward``,
    ``backward``, ``source``, ``has_self_grad``, ``takes_closure``,
    ``depends_on``, and ``twin``: None, or what compiles the traceable twin
    of the two functions); for a function with a loop compiled for any
    arguments, those stages run only when ``finish()`` is called, which
    returns that dict complete, with the guard that then holds (``guard``,
    ``guard_key``); ``finish`` is None otherwise.
    """

    __slots__ = ("fn", "params", "name", "vararg", "returns_self", "wants", "kinds", "loops", "spliced",
                 "guard", "guard_key", "done", "finish")

    def __init__(self, fn, params, name, vararg, returns_self, wants, kinds, loops, spliced, guard, guard_key,
                 done, finish=None):
        self.fn = fn
        self.params: list = params
        self.name: str = name
        self.vararg: str | None = vararg
        #: Compiled as ``__init__``/a mutating method: the forward returns the object.
        self.returns_self = returns_self
        #: Which gradients the backward computes (see :func:`~srcgrad.compiler.reverse.transform`).
        self.wants: tuple | None = wants
        #: The ``ndim`` of each argument this variant was compiled for (None: any value).
        self.kinds: tuple | None = kinds
        #: The function has a loop: its variants for number arguments need no unbroadcast.
        self.loops = loops
        #: The helpers pasted into this code (:mod:`.splice`), or None: stale once their names are rebound.
        self.spliced = spliced
        #: ``guard(fn)``: whether ``fn`` (of this code) still holds what this was compiled to
        #: (:mod:`.guard`); None when nothing can change. ``guard_key`` is equal for equal guards.
        self.guard = guard
        self.guard_key = guard_key
        self.done: dict = done
        self.finish = finish


class CompiledTangent:
    """What :func:`compile_tangent` returns: ``tangent(*params, *tangents) -> (y, dy)`` and how to call it."""

    __slots__ = ("fn", "tangent", "source", "params", "takes_closure", "vararg", "guard")

    def __init__(self, fn, tangent, source, params, takes_closure, vararg, guard):
        self.fn = fn
        self.tangent = tangent
        self.source: str = source
        self.params: list = params
        self.takes_closure: bool = takes_closure
        self.vararg: str | None = vararg
        #: As :attr:`Compiled.guard`.
        self.guard = guard


def compile_adjoint(fn, returns_self=False, wants=None, kinds=None) -> Compiled:
    """Transform ``fn`` into its forward and backward functions and compile them.

    ``wants``: which gradients to compute (free variables first, then each
    parameter); ``None`` for all. ``kinds``: each argument's ``ndim``, for
    a variant specialised to numbers and arrays (``None``: any value).
    """
    parsed, scope, namer, user_names = prepare(fn)
    anf = normalise(parsed, scope, namer, returns_self=returns_self)
    spliced = splice(anf, parsed, scope, namer)
    loops = any(isinstance(node, (gast.For, gast.While)) for node in build.walk(anf))
    # A loop's general variant runs only for arguments that are not numbers or arrays: finished when
    # used. (Transformed now, so unsupported code fails at once, unless a caller asked for some of its
    # gradients: then the variant for the call's numbers and arrays is compiled next, and fails alike.)
    unfinished = loops and kinds is None
    result = transform(parsed, scope, namer, anf, wants, kinds) if not unfinished or wants is None else None
    pasted = [helper for _, helper in spliced.helpers]

    def finish():
        nonlocal result
        result = result or transform(parsed, scope, namer, anf, wants, kinds)
        invented, adjoints = foldable(namer, user_names)
        simplify([result.forward, result.backward], invented, adjoints, result.injected)
        names = [result.forward.name, result.backward.name]
        lists = as_lists(result.forward, result.backward, result.injected, result.tapes)
        source = to_source(list(lists) if lists is not None else [result.forward, result.backward])
        forward, backward = compile_functions(source, names, result.injected, fn.__globals__, parsed.name,
                                              origin=_origin(fn))
        # Higher order differentiates the push/pop twin (see compiler/tapes.py), compiled when it first does.
        twin = None if lists is None else lambda: compile_functions(
            to_source([result.forward, result.backward]), names, result.injected, fn.__globals__,
            parsed.name + " traceable", origin=_origin(fn))
        guarded = build_guard(fn, scope.resolved, spliced)
        return {"forward": forward, "backward": backward, "source": source, "has_self_grad": result.has_self_grad,
                "takes_closure": result.takes_closure, "depends_on": result.depends_on + pasted, "twin": twin,
                "guard": guarded and guarded.check, "guard_key": guarded and guarded.key}

    if unfinished:
        done = {} if result is None else {"has_self_grad": result.has_self_grad,
                                           "takes_closure": result.takes_closure,
                                           "depends_on": result.depends_on + pasted}
        # Not yet transformed, it has not resolved everything: it serves ``fn`` alone until finished.
        guarded = build_guard(fn, scope.resolved, spliced, exact=result is None)
        guard, guard_key = (guarded.check, guarded.key) if guarded is not None else (None, None)
    else:
        done = finish()
        guard, guard_key = done.pop("guard"), done.pop("guard_key")
    return Compiled(fn, list(scope.params), parsed.name, scope_vararg(anf), returns_self, wants, kinds, loops,
                    spliced if spliced.helpers else None, guard, guard_key, done, finish if unfinished else None)


def compile_tangent(fn) -> CompiledTangent:
    """Transform ``fn`` into its tangent (forward-mode) function and compile it."""
    parsed, scope, namer, user_names = prepare(fn)
    anf = normalise(parsed, scope, namer)
    fdef, injected, params, takes_closure, _ = tangent_transform(parsed, scope, namer, anf)
    invented, adjoints = foldable(namer, user_names)
    simplify([fdef], invented, adjoints, injected)
    source = to_source([fdef])
    (tangent,) = compile_functions(source, [fdef.name], injected, fn.__globals__, parsed.name + " tangent",
                                   origin=_origin(fn))
    guarded = build_guard(fn, scope.resolved)
    return CompiledTangent(fn, tangent, source, params, takes_closure, scope_vararg(anf), guarded and guarded.check)


def _origin(fn) -> str:
    """``file.py:12 (f)``: the user's function ``fn`` is, or (for generated code) derives from."""
    code = fn.__code__
    return origin_of(code.co_filename) or f"{code.co_filename}:{code.co_firstlineno} ({fn.__qualname__})"


def scope_vararg(fdef):
    return fdef.args.vararg.id if fdef.args.vararg is not None else None


def stages(fn) -> dict[str, str]:
    """The function after each stage of the pipeline, as source text."""
    parsed, scope, namer, user_names = prepare(fn)
    out = {"parse": to_source([parsed.node])}
    anf = normalise(parsed, scope, namer)
    out["normalise"] = to_source([anf])
    if splice(anf, parsed, scope, namer).helpers:
        out["splice"] = to_source([anf])
    result = transform(parsed, scope, namer, anf)
    out["transform"] = to_source([result.forward, result.backward])
    invented, adjoints = foldable(namer, user_names)
    simplify([result.forward, result.backward], invented, adjoints, result.injected)
    out["simplify"] = to_source([result.forward, result.backward])
    lists = as_lists(result.forward, result.backward, result.injected, result.tapes)
    if lists is not None:  # what runs; the simplify stage is the twin higher order reads
        out["tapes as lists"] = to_source(list(lists))
    return out
