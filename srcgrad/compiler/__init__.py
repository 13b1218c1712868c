"""The compiler: from a Python function to the source and code of its adjoint.

The whole pipeline, one pass per module::

    parse  ->  fence  ->  resolve  ->  normalise (anf)  ->  splice  ->  transform (reverse)
           ->  simplify  ->  tapes as lists  ->  emit  ->  cache

(The code before "tapes as lists" is compiled too, lazily: it is the twin
that higher order differentiates; see :mod:`srcgrad.compiler.tapes`.)

:func:`compile_adjoint` runs it top to bottom; :func:`stages` returns what
each stage produced, for debugging (``python -m srcgrad show --stages``).
"""

from __future__ import annotations

import builtins
import inspect
import types

import gast
import numpy as np

from ..errors import origin_of
from ..runtime.dispatch import Back, DirectCall, Layout, LoopDirectCall, direct, direct_loops, traced_as_twin
from . import build
from .anf import normalise
from .emit import compile_functions, to_source
from .fence import fence
from .guard import build_guard
from .names import Namer
from .parse import parse_function
from .resolve import Scope
from .reverse import transform
from .simplify import simplify
from .splice import splice
from .tapes import as_lists

__all__ = ["Entry", "TangentEntry", "compile_adjoint", "compile_tangent", "stages"]

#: Builtins generated code itself calls; no temporary may shadow them.
_GENERATED_BUILTINS = {"reversed", "range", "next", "slice", "len", "min", "None", "dict", "tuple"}


class Entry:
    """A compiled adjoint: the forward and backward functions and how to call them.

    (A plain class, not a dataclass: building one costs about a millisecond of ``import srcgrad``.)
    """

    def __init__(self, fn, forward, backward, source, params, has_self_grad, takes_closure, depends_on, name,
                 vararg=None, returns_self=False, wants=None, kinds=None, loops=False, spliced=None):
        self.fn: types.FunctionType = fn
        self.forward: types.FunctionType = forward
        self.backward: types.FunctionType = backward
        self.source: str = source
        self.params: list = params
        self.has_self_grad: bool = has_self_grad
        self.takes_closure: bool = takes_closure
        self.depends_on: list = depends_on
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
        #: ``guard(fn)``: whether ``fn`` (of this code) still holds what this entry was compiled to
        #: (:mod:`.guard`); None when nothing can change. ``guard_key`` is equal for equal guards.
        self.guard = None
        self.guard_key = None
        #: The next entry of the same code and variant, compiled for functions this guard refuses.
        self.other = None
        self.nparams = len(self.params)
        self._signature = None
        self._direct = {}
        self._narrowed = {}
        self._specialised = {}

    def __repr__(self):
        return f"<Entry {self.name} wants={self.wants} kinds={self.kinds}>"

    def call(self, fn, bound_self, args, kwargs, wrt=None):
        """Run the forward on a call ``fn(*args, **kwargs)``; return ``(y, Back)``.

        ``wrt``: the call's slots (0 the callee, then arguments, then
        keywords) whose gradients the caller uses; ``None`` for all.
        """
        values, layout, vararg_sizes = self.plan(fn, bound_self, args, kwargs)
        entry = self
        if wrt is not None:
            entry, layout = self.narrowed(wrt, layout, fn)
        plain = bound_self is None and not kwargs and self.vararg is None and len(args) == self.nparams
        # (A direct call checks the guard of the entry it runs; a loop's variants are guarded relative to it.)
        if entry.loops:
            if plain:
                direct_loops[(id(fn.__code__), wrt, len(args))] = LoopDirectCall(entry, layout, entry.guard)
            entry = entry.specialised(values, fn)
        elif plain:
            direct[(id(fn.__code__), wrt, len(args))] = DirectCall(entry, layout, entry.guard)  # next time, here
        if entry.takes_closure:
            y, saved = entry.forward(fn, *values)
        else:
            y, saved = entry.forward(*values)
        return y, Back(entry.backward, saved, args, layout, entry.has_self_grad, vararg_sizes)

    def specialised(self, values, fn=None):
        """The variant for these arguments' kinds (numbers and arrays by ``ndim``), for a call of ``fn``."""
        kinds = tuple(_ndim(v) for v in values)
        if self.kinds is not None or all(k is None for k in kinds):
            return self
        found = self._specialised.get(kinds)
        if found is None:
            from .cache import adjoint_of

            found = adjoint_of(fn or self.fn, self.returns_self, self.wants, kinds)
            if found.guard_key == self.guard_key:  # (kept only if this entry's guard vouches for it)
                self._specialised[kinds] = found
        return found

    def narrowed(self, wrt, layout, fn=None):
        """The variant computing only the gradients of the slots ``wrt``, and the call's layout for it."""
        key = (wrt, id(layout))
        found = self._narrowed.get(key)
        if found is not None and found[2] is layout:
            return found[0], found[1]
        wants = [False] * layout.nfull
        for slot in wrt:
            source = layout.sources[slot]
            if source is not None:
                wants[source[0]] = True
        wanted = set(wrt)
        narrow = Layout([s if i in wanted else None for i, s in enumerate(layout.sources)], layout.nfull)
        from .cache import adjoint_of

        wants = tuple(wants)
        everything = self.wants is None and all(wants[1:]) and (wants[0] or not self.has_self_grad)
        entry = self if everything or wants == self.wants else adjoint_of(fn or self.fn, self.returns_self, wants)
        if entry.guard_key == self.guard_key and any(layout is d for d in self._direct.values()):
            # (only the per-entry layouts are worth keeping, and only variants this guard vouches for)
            self._narrowed[key] = (entry, narrow, layout)
        return entry, narrow

    def plan(self, fn, bound_self, args, kwargs):
        """The forward's arguments for this call, and where the call's gradients come from.

        ``full = (dself, *dparams)`` is what the backward gives; slot 0 of
        the call's gradients is the callee's (``dself``, or the bound
        object's gradient), then one per argument, then one per keyword.
        """
        positional = args if bound_self is None else (bound_self,) + args
        if not kwargs and self.vararg is None and len(positional) == self.nparams:
            bound = bound_self is not None
            layout = self._direct.get(bound)
            if layout is None:
                first = (1, None) if bound else (0, None)
                rest = [(j + 1, None) for j in range(1 if bound else 0, self.nparams)]
                layout = self._direct[bound] = Layout([first] + rest, self.nparams + 1)
            return positional, layout, None
        # Closures of one code object can differ in their defaults: the signature is per function.
        defaults = (fn.__defaults__, fn.__kwdefaults__)
        if self._signature is None or self._signature[0][0] is not defaults[0] \
                or self._signature[0][1] is not defaults[1]:
            self._signature = (defaults, inspect.signature(fn))
        arguments = self._signature[1].bind(*positional, **kwargs)
        arguments.apply_defaults()
        values = [arguments.arguments[p] if p in arguments.arguments else () for p in self.params]
        offset = 0 if bound_self is None else 1
        named = [p for p in self.params if p != self.vararg]
        n_named_positional = len(positional) if self.vararg is None else self.params.index(self.vararg)
        sources = [(1, None) if bound_self is not None else (0, None)]
        vararg_sizes = {}
        for i in range(len(args)):
            position = i + offset
            if self.vararg is not None and position >= n_named_positional:
                j = self.params.index(self.vararg) + 1
                vararg_sizes[j] = len(values[j - 1])
                sources.append((j, position - n_named_positional))
            else:
                sources.append((self.params.index(named[position]) + 1, None))
        for key in kwargs:
            sources.append((self.params.index(key) + 1, None))
        return values, Layout(sources, self.nparams + 1), vararg_sizes

    def unplan(self, dvalues, bound_self, args, kwargs):
        """Gradients of the forward's arguments, arranged as the call's (args, then keywords)."""
        if self.vararg is None and not kwargs:
            offset = 0 if bound_self is None else 1
            return tuple(dvalues[offset:offset + len(args)])
        _, layout, _ = self.plan(self.fn, bound_self, args, kwargs)
        full = (None,) + tuple(dvalues)
        picked = layout.apply(full)
        return tuple(picked[1:])


def _prepare(fn):
    parsed = parse_function(fn)
    fence(parsed)
    scope = Scope(fn, parsed.node)
    user_names = build.names_in(parsed.node, None)
    user_names |= set(scope.params)
    namer = Namer(user_names | _GENERATED_BUILTINS | set(dir(builtins)) | set(fn.__code__.co_freevars))
    return parsed, scope, namer, user_names


def _foldable(namer, user_names):
    """Names the simplifier may fold away: temporaries and their adjoints, never the user's own."""
    adjoints = set(namer._adjoints.values())
    user_adjoints = {namer._adjoints[n] for n in user_names if n in namer._adjoints}
    invented = set(namer.invented) - user_adjoints
    return invented, adjoints


def compile_adjoint(fn, returns_self=False, wants=None, kinds=None) -> Entry:
    """Transform ``fn`` into its forward and backward functions and compile them.

    ``wants``: which gradients to compute (free variables first, then each
    parameter); ``None`` for all. ``kinds``: each argument's ``ndim``, for
    a variant specialised to numbers and arrays (``None``: any value).
    """
    parsed, scope, namer, user_names = _prepare(fn)
    anf = normalise(parsed, scope, namer, returns_self=returns_self)
    spliced = splice(anf, parsed, scope, namer)
    loops = any(isinstance(node, (gast.For, gast.While)) for node in build.walk(anf))
    # A loop's general variant runs only for arguments that are not numbers or arrays: finished when
    # used. (Transformed now, so unsupported code fails at once, unless a caller asked for some of its
    # gradients: then the variant for the call's numbers and arrays is compiled next, and fails alike.)
    unfinished = loops and kinds is None
    result = transform(parsed, scope, namer, anf, wants, kinds) if not unfinished or wants is None else None

    def finish():
        nonlocal result
        result = result or transform(parsed, scope, namer, anf, wants, kinds)
        invented, adjoints = _foldable(namer, user_names)
        simplify([result.forward, result.backward], invented, adjoints, result.injected)
        names = [result.forward.name, result.backward.name]
        lists = as_lists(result.forward, result.backward, result.injected, result.tapes)
        source = to_source(list(lists) if lists is not None else [result.forward, result.backward])
        forward, backward = compile_functions(source, names, result.injected, fn.__globals__, parsed.name,
                                              origin=_origin(fn))
        if lists is not None:  # higher order differentiates the push/pop twin (see compiler/tapes.py)
            traced_as_twin((forward, backward), lambda: compile_functions(
                to_source([result.forward, result.backward]), names, result.injected, fn.__globals__,
                parsed.name + " traceable", origin=_origin(fn)))
        guarded = build_guard(fn, scope.resolved, spliced)
        return {"forward": forward, "backward": backward, "source": source, "has_self_grad": result.has_self_grad,
                "takes_closure": result.takes_closure, "depends_on": result.depends_on + pasted,
                "guard": guarded and guarded.check, "guard_key": guarded and guarded.key}

    pasted = [helper for _, helper in spliced.helpers]
    done = {}
    if not unfinished:
        done = finish()
    elif result is not None:
        done = {"has_self_grad": result.has_self_grad, "takes_closure": result.takes_closure,
                "depends_on": result.depends_on + pasted}
    entry = (_Unfinished if unfinished else Entry)(
        fn, done.get("forward"), done.get("backward"), done.get("source"), list(scope.params),
        done.get("has_self_grad"), done.get("takes_closure"), done.get("depends_on"), parsed.name,
        scope_vararg(anf), returns_self, wants, kinds, loops, spliced if spliced.helpers else None)
    if unfinished:
        for name in _Unfinished.LATER:
            if name not in done:
                delattr(entry, name)
        entry._finish = finish
        # Not yet transformed, it has not resolved everything: it serves ``fn`` alone until finished.
        guarded = build_guard(fn, scope.resolved, spliced, exact=result is None)
        entry.guard, entry.guard_key = (guarded.check, guarded.key) if guarded is not None else (None, None)
    else:
        entry.guard, entry.guard_key = done["guard"], done["guard_key"]
    return entry


class _Unfinished(Entry):
    """An entry finished (transformed,) simplified, emitted and compiled when first read."""

    LATER = ("forward", "backward", "source", "has_self_grad", "takes_closure", "depends_on")

    def __getattr__(self, name):
        if name not in _Unfinished.LATER:
            raise AttributeError(name)
        from .cache import _lock  # (the compile lock: finishing may load rules, which invalidate entries)

        with _lock:
            finish = self.__dict__.pop("_finish", None)
            if finish is not None:
                try:
                    self.__dict__.update(finish())
                except Exception:
                    self._finish = finish
                    if name == "depends_on":  # (asked by the cache on a new rule: not compiled, it depends on none)
                        return []
                    raise
                except BaseException:
                    self._finish = finish
                    raise
        if name not in self.__dict__ and name == "depends_on":  # (asked while it is being finished)
            return []
        return self.__dict__[name]


class TangentEntry:
    """A compiled forward-mode function ``f_tangent(*params, *tangents) -> (y, dy)``."""

    def __init__(self, fn, tangent, source, params, takes_closure, vararg=None, guard=None):
        self.fn: types.FunctionType = fn
        #: As :attr:`Entry.guard`.
        self.guard = guard
        self.other = None
        self.tangent: types.FunctionType = tangent
        self.source: str = source
        self.params: list = params
        self.takes_closure: bool = takes_closure
        self.vararg: str | None = vararg


def compile_tangent(fn) -> TangentEntry:
    """Transform ``fn`` into its tangent (forward-mode) function and compile it."""
    from .forward import tangent_transform

    parsed, scope, namer, user_names = _prepare(fn)
    anf = normalise(parsed, scope, namer)
    fdef, injected, params, takes_closure, _ = tangent_transform(parsed, scope, namer, anf)
    invented, adjoints = _foldable(namer, user_names)
    simplify([fdef], invented, adjoints, injected)
    source = to_source([fdef])
    (tangent,) = compile_functions(source, [fdef.name], injected, fn.__globals__, parsed.name + " tangent",
                                   origin=_origin(fn))
    guarded = build_guard(fn, scope.resolved)
    return TangentEntry(fn, tangent, source, params, takes_closure, scope_vararg(anf), guarded and guarded.check)


def _ndim(value):
    """``ndim`` of a number (0) or an array; None for anything else."""
    if isinstance(value, np.ndarray):
        return value.ndim
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return 0
    return None


def _origin(fn) -> str:
    """``file.py:12 (f)``: the user's function ``fn`` is, or (for generated code) derives from."""
    code = fn.__code__
    return origin_of(code.co_filename) or f"{code.co_filename}:{code.co_firstlineno} ({fn.__qualname__})"


def scope_vararg(fdef):
    return fdef.args.vararg.id if fdef.args.vararg is not None else None


def stages(fn) -> dict[str, str]:
    """The function after each stage of the pipeline, as source text."""
    parsed, scope, namer, user_names = _prepare(fn)
    out = {"parse": to_source([parsed.node])}
    anf = normalise(parsed, scope, namer)
    out["normalise"] = to_source([anf])
    if splice(anf, parsed, scope, namer).helpers:
        out["splice"] = to_source([anf])
    result = transform(parsed, scope, namer, anf)
    out["transform"] = to_source([result.forward, result.backward])
    invented, adjoints = _foldable(namer, user_names)
    simplify([result.forward, result.backward], invented, adjoints, result.injected)
    out["simplify"] = to_source([result.forward, result.backward])
    lists = as_lists(result.forward, result.backward, result.injected, result.tapes)
    if lists is not None:  # what runs; the simplify stage is the twin higher order reads
        out["tapes as lists"] = to_source(list(lists))
    return out
