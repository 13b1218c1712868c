"""Stages 1 to 3 for one function: parse, fence and resolve it, and the namer its passes share.

:func:`prepare` is where every compilation starts (:func:`srcgrad.compiler.compile_adjoint`,
:func:`~srcgrad.compiler.compile_tangent`, and :mod:`.splice` reading a helper
it may paste); :func:`foldable` says which names the simplifier may fold away.
"""

from __future__ import annotations

import builtins

from . import build
from .fence import fence
from .names import Namer
from .parse import parse_function
from .resolve import Scope

__all__ = ["prepare", "foldable"]

#: Builtins generated code itself calls; no temporary may shadow them.
_GENERATED_BUILTINS = {"reversed", "range", "next", "slice", "len", "min", "None", "dict", "tuple"}


def prepare(fn):
    """``(parsed, scope, namer, user_names)`` for ``fn``: parsed, fenced and resolved."""
    parsed = parse_function(fn)
    fence(parsed)
    keywords_as_parameter(parsed.node)
    scope = Scope(fn, parsed.node)
    user_names = build.names_in(parsed.node, None)
    user_names |= set(scope.params)
    namer = Namer(user_names | _GENERATED_BUILTINS | set(dir(builtins)) | set(fn.__code__.co_freevars))
    return parsed, scope, namer, user_names


def keywords_as_parameter(fdef) -> None:
    """``def f(x, **kw)`` becomes ``def f(x, *, kw)``: the forward takes the dict of the call's
    extra keywords as its last parameter, and its gradient is a dict of theirs
    (:meth:`srcgrad.calls.entry.Entry.plan` binds the call and says which key each keyword is)."""
    args = fdef.args
    if args.kwarg is not None:
        args.kwonlyargs.append(args.kwarg)
        args.kw_defaults.append(None)
        args.kwarg = None


def foldable(namer, user_names):
    """Names the simplifier may fold away: temporaries and their adjoints, never the user's own."""
    adjoints = set(namer._adjoints.values())
    user_adjoints = {namer._adjoints[n] for n in user_names if n in namer._adjoints}
    invented = set(namer.invented) - user_adjoints
    return invented, adjoints
