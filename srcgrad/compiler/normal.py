"""Stage 4, normalise: what normalised code is made of, for the passes that write it and those that read it.

The normalising passes (:mod:`.aliasing`, :mod:`.anf`) write calls of
srcgrad's runtime helpers (``with_item``, ``appended``, ``mutate``...) as
:func:`runtime_call`, marked so that the transform knows them for what they
are whatever the user's names. The fence, the normaliser and the
transform also agree on what a nested function binds itself
(:func:`bound_names`) and which methods change a list or dict in place
(:data:`CONTAINER_MUTATORS`).
"""

from __future__ import annotations

import gast

from . import build

__all__ = ["runtime_call", "bound_names", "CONTAINER_MUTATORS"]

#: Methods that change a list or dict in place.
CONTAINER_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "sort",
                      "reverse", "popitem"}


def runtime_call(helper: str, *args):
    """A call to one of srcgrad's runtime helpers (``with_item``, ``appended``...)."""
    call = build.call(helper, *args)
    call.func._srcgrad_runtime = helper
    return call


def bound_names(fn) -> set[str]:
    """Names a nested function binds itself (parameters and, for a def, its own locals)."""
    args = fn.args
    names = {a.id for a in args.args + args.kwonlyargs + getattr(args, "posonlyargs", [])}
    names |= {a.id for a in (args.vararg, args.kwarg) if a is not None}
    if isinstance(fn, gast.FunctionDef):
        for node in build.walk(gast.Module(body=fn.body, type_ignores=[])):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                names.add(node.id)
    return names
