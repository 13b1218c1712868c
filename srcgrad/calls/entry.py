"""A compiled function as the calling layer holds it: :class:`Entry`, :class:`TangentEntry`, the direct calls.

The compiler returns plain data (:class:`~srcgrad.compiler.Compiled`); an
:class:`Entry` is that data ready to call: the forward and backward, and
:meth:`Entry.plan`, how a call's arguments become the forward's and where its
gradients come from. :class:`DirectCall` and :class:`LoopDirectCall` are
what :mod:`.dispatch` remembers of a plain call seen before, so the next one
goes straight to the forward. Nothing here reaches the cache: choosing a
variant (:func:`srcgrad.calls.dispatch.narrowed`, ``specialised``) does.
"""

from __future__ import annotations

import inspect
import types

from ..runtime.backs import Layout

__all__ = ["Entry", "TangentEntry", "DirectCall", "LoopDirectCall"]

#: What the last stages of the compiler produce (see :class:`~srcgrad.compiler.Compiled`).
LATER = ("forward", "backward", "source", "has_self_grad", "takes_closure", "depends_on")


class Entry:
    """A compiled adjoint: the forward and backward functions and how to call them.

    (A plain class, not a dataclass: building one costs about a millisecond of ``import srcgrad``.)
    An entry of a function with a loop compiled for any arguments is finished
    when first read (:class:`srcgrad.calls.cache.Unfinished`): until then the
    attributes in :data:`LATER` it lacks are absent.
    """

    def __init__(self, compiled):
        self.fn: types.FunctionType = compiled.fn
        self.params: list = compiled.params
        self.name: str = compiled.name
        self.vararg: str | None = compiled.vararg
        #: As the attributes of :class:`~srcgrad.compiler.Compiled` of the same names.
        self.returns_self = compiled.returns_self
        self.wants: tuple | None = compiled.wants
        self.kinds: tuple | None = compiled.kinds
        self.loops = compiled.loops
        self.spliced = compiled.spliced
        self.guard = compiled.guard
        self.guard_key = compiled.guard_key
        for name in LATER:
            if name in compiled.done:
                setattr(self, name, compiled.done[name])
        #: The next entry of the same code and variant, compiled for functions this guard refuses.
        self.other = None
        self.nparams = len(self.params)
        self._signature = None
        #: The layouts of plain calls (unbound and bound), and the variants :func:`.dispatch.narrowed` and
        #: :func:`.dispatch.specialised` chose from this entry (kept only where its guard vouches for them).
        self.plain_layouts = {}
        self.narrowed_variants = {}
        self.specialised_variants = {}

    def __repr__(self):
        return f"<Entry {self.name} wants={self.wants} kinds={self.kinds}>"

    def plan(self, fn, bound_self, args, kwargs):
        """The forward's arguments for this call, and where the call's gradients come from.

        ``full = (dself, *dparams)`` is what the backward gives; slot 0 of
        the call's gradients is the callee's (``dself``, or the bound
        object's gradient), then one per argument, then one per keyword.
        """
        positional = args if bound_self is None else (bound_self,) + args
        if not kwargs and self.vararg is None and len(positional) == self.nparams:
            bound = bound_self is not None
            layout = self.plain_layouts.get(bound)
            if layout is None:
                first = (1, None) if bound else (0, None)
                rest = [(j + 1, None) for j in range(1 if bound else 0, self.nparams)]
                layout = self.plain_layouts[bound] = Layout([first] + rest, self.nparams + 1)
            return positional, layout
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
        for i in range(len(args)):
            position = i + offset
            if self.vararg is not None and position >= n_named_positional:
                sources.append((self.params.index(self.vararg) + 1, position - n_named_positional))
            else:
                sources.append((self.params.index(named[position]) + 1, None))
        for key in kwargs:
            if key in self.params:
                sources.append((self.params.index(key) + 1, None))
            else:  # gathered into **kwargs: that dict's gradient, at the key
                sources.append((self.params.index(varkw(fn)) + 1, key))
        return values, Layout(sources, self.nparams + 1)


def varkw(fn):
    """The name of ``fn``'s ``**kwargs`` parameter (the compiler makes it the forward's last), or None."""
    code = fn.__code__
    if not code.co_flags & inspect.CO_VARKEYWORDS:
        return None
    return code.co_varnames[code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS)]


class TangentEntry:
    """A compiled forward-mode function ``f_tangent(*params, *tangents) -> (y, dy)``."""

    def __init__(self, compiled):
        self.fn: types.FunctionType = compiled.fn
        #: As :attr:`Entry.guard`.
        self.guard = compiled.guard
        self.other = None
        self.tangent: types.FunctionType = compiled.tangent
        self.source: str = compiled.source
        self.params: list = compiled.params
        self.takes_closure: bool = compiled.takes_closure
        self.vararg: str | None = compiled.vararg


class DirectCall:
    """A plain function's compiled variant and layout, for a call seen before (see :func:`.dispatch.known_call`)."""

    __slots__ = ("forward", "backward", "takes_closure", "has_self_grad", "layout", "code", "guard")

    def __init__(self, entry, layout, guard=None):
        self.code = entry.fn.__code__  # (alive while its id is a key)
        self.forward = entry.forward
        self.backward = entry.backward
        self.takes_closure = entry.takes_closure
        self.has_self_grad = entry.has_self_grad
        self.layout = layout
        #: ``guard(fn)``: whether ``fn`` holds what the code was compiled to (:mod:`srcgrad.compiler.guard`).
        self.guard = guard


class LoopDirectCall:
    """A function with a loop, seen before: each call runs the variant for its arguments' kinds
    (:func:`.dispatch.specialised`), without the way through the cache."""

    __slots__ = ("entry", "layout", "code", "guard")

    def __init__(self, entry, layout, guard=None):
        self.entry = entry
        self.layout = layout
        self.code = entry.fn.__code__  # (alive while its id is a key)
        self.guard = guard
