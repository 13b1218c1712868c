"""The compiler: from a Python function to the source and code of its adjoint.

The whole pipeline, one pass per module::

    parse  ->  fence  ->  resolve  ->  normalise (anf)  ->  transform (reverse)
           ->  simplify  ->  emit  ->  cache

:func:`compile_adjoint` runs it top to bottom; :func:`stages` returns what
each stage produced, for debugging (``python -m srcgrad show --stages``).
"""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import types

import gast

from ..runtime.dispatch import Back
from . import build
from .anf import normalise
from .emit import compile_functions, to_source
from .fence import fence
from .names import Namer
from .parse import parse_function
from .resolve import Scope
from .reverse import transform
from .simplify import simplify

__all__ = ["Entry", "compile_adjoint", "stages"]

#: Builtins generated code itself calls; no temporary may shadow them.
_GENERATED_BUILTINS = {"reversed", "range", "next", "slice", "len", "min", "None", "dict", "tuple"}


@dataclasses.dataclass(eq=False)
class Entry:
    """A compiled adjoint: the forward and backward functions and how to call them."""

    fn: types.FunctionType
    forward: types.FunctionType
    backward: types.FunctionType
    source: str
    params: list
    has_self_grad: bool
    takes_closure: bool
    depends_on: list
    name: str

    def __post_init__(self):
        self.nparams = len(self.params)
        self._signature = None

    def call(self, fn, bound_self, args, kwargs):
        """Run the forward on a call ``fn(*args, **kwargs)``; return ``(y, Back)``."""
        positional = args if bound_self is None else (bound_self,) + args
        if kwargs or len(positional) != self.nparams:
            values, layout = self._bind(fn, bound_self, args, kwargs)
        else:
            values, layout = positional, self._direct_layout(bound_self is not None)
        if self.takes_closure:
            y, saved = self.forward(fn, *values)
        else:
            y, saved = self.forward(*values)
        return y, Back(self.backward, saved, args, len(kwargs), layout)

    def _split(self, grads):
        if self.has_self_grad:
            return grads[0], grads[1:]
        return None, grads

    def _direct_layout(self, bound):
        if bound:
            def layout(grads):
                _, pgrads = self._split(grads)
                return list(pgrads)
        else:
            def layout(grads):
                dself, pgrads = self._split(grads)
                return [dself, *pgrads]
        return layout

    def _bind(self, fn, bound_self, args, kwargs):
        if self._signature is None:
            self._signature = inspect.signature(fn)
        positional = args if bound_self is None else (bound_self,) + args
        bound = self._signature.bind(*positional, **kwargs)
        bound.apply_defaults()
        values = [bound.arguments[p] for p in self.params]
        offset = 0 if bound_self is None else 1
        arg_index = [i + offset for i in range(len(args))]
        kw_index = [self.params.index(k) for k in kwargs]

        def layout(grads):
            dself, pgrads = self._split(grads)
            head = pgrads[0] if bound_self is not None else dself
            return [head] + [pgrads[i] for i in arg_index] + [pgrads[i] for i in kw_index]

        return values, layout


def _prepare(fn):
    parsed = parse_function(fn)
    fence(parsed)
    scope = Scope(fn, parsed.node)
    user_names = {n.id for n in gast.walk(parsed.node) if isinstance(n, gast.Name)}
    user_names |= set(scope.params)
    namer = Namer(user_names | _GENERATED_BUILTINS | set(dir(builtins)))
    return parsed, scope, namer, user_names


def _foldable(namer, user_names):
    """Names the simplifier may fold away: temporaries and their adjoints, never the user's own."""
    adjoints = set(namer._adjoints.values())
    user_adjoints = {namer._adjoints[n] for n in user_names if n in namer._adjoints}
    invented = namer.taken - user_names - set(dir(builtins)) - _GENERATED_BUILTINS - user_adjoints
    return invented, adjoints


def compile_adjoint(fn) -> Entry:
    """Transform ``fn`` into its forward and backward functions and compile them."""
    parsed, scope, namer, user_names = _prepare(fn)
    anf = normalise(parsed, scope, namer)
    result = transform(parsed, scope, namer, anf)
    invented, adjoints = _foldable(namer, user_names)
    simplify([result.forward, result.backward], invented, adjoints, result.injected)
    source = to_source([result.forward, result.backward])
    forward, backward = compile_functions(
        source, [result.forward.name, result.backward.name], result.injected, fn.__globals__, parsed.name
    )
    return Entry(fn, forward, backward, source, result.params, result.has_self_grad,
                 result.takes_closure, result.depends_on, parsed.name)


def stages(fn) -> dict[str, str]:
    """The function after each stage of the pipeline, as source text."""
    parsed, scope, namer, user_names = _prepare(fn)
    out = {"parse": to_source([parsed.node])}
    anf = normalise(parsed, scope, namer)
    out["normalise"] = to_source([anf])
    result = transform(parsed, scope, namer, anf)
    out["transform"] = to_source([result.forward, result.backward])
    invented, adjoints = _foldable(namer, user_names)
    simplify([result.forward, result.backward], invented, adjoints, result.injected)
    out["simplify"] = to_source([result.forward, result.backward])
    return out
