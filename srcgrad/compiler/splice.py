"""Stage 5, splice: paste small helper functions into their caller.

After normalisation, a statement ``t = helper(a, b)`` that calls a plain
function of the same module is replaced by the helper's own normalised
body, its parameters standing for the call's arguments and its locals
renamed where they would clash with the caller's, ending in ``t = <the
value it returned>``. The adjoint of the caller then holds the helper's
gradient inline, with no pullback object, no run-time dispatch and no
second compiled function::

    def loss(W, b):                       def loss(W, b):
        return linreg(W, b, x, y)    ->       mm = W @ x
                                              ...
                                              out = xp.sum(power)
                                              return out

Only calls that mean the same thing pasted as called are spliced: the
helper is a module-level function read through a global name of the
caller's own module (so its globals are the caller's), with no closure,
no ``*args``/``**kwargs``, no derivative rule of its own, no nested
functions, and no write into an argument (Python would change the
caller's array; srcgrad's run-time call never does). A helper with a
loop is spliced only into a caller that loops itself: there a call costs
a dispatch and a pullback every turn, and the caller is compiled for its
arguments' kinds anyway. Called from straight-line code it stays a call,
compiled on its own and specialised to whether *its* arguments are
numbers or arrays (a scalar loop then needs no ``unbroadcast``). Anything
else stays a call, resolved at run time as before.

A spliced helper is read when its caller is compiled. If the global name
is later bound to something else, the caller's compiled code is stale:
:class:`Spliced` records each ``(name, function)`` so the cache can check
it (:func:`srcgrad.calls.cache.adjoint_of`) and recompile.
"""

from __future__ import annotations

import types

import gast

from ..errors import SrcgradError
from ..rules import registry
from . import build, provided
from .anf import normalise
from .prepare import prepare

__all__ = ["splice", "Spliced"]

#: Helpers inside helpers are spliced this many levels deep.
MAX_DEPTH = 4
#: A helper with more statements than this (after normalisation) stays a call.
MAX_STATEMENTS = 80

#: Runtime helpers that make a changed copy of their first argument.
_WRITERS = {"with_item", "without_item", "appended", "extended", "mutate", "own_copy"}
_REFUSED_NODES = (gast.FunctionDef, gast.Lambda, gast.ClassDef, gast.ListComp, gast.DictComp, gast.GeneratorExp,
                  gast.SetComp, gast.Global, gast.Nonlocal)


class Spliced:
    """What one compilation pasted in: each helper by the global name that held it.

    (A plain class: a dataclass costs about a millisecond of the first gradient's compiler import.)
    """

    def __init__(self):
        #: ``(global name, function)``, every level deep.
        self.helpers = []

    def __repr__(self):
        return f"Spliced({self.helpers!r})"

    def current(self, globals_: dict) -> bool:
        """Whether each name still holds the function that was spliced (checked before each call)."""
        for name, fn in self.helpers:
            if globals_.get(name) is not fn:
                return False
        return True


def splice(fdef, parsed, scope, namer) -> Spliced:
    """Replace eligible helper calls in ``fdef`` (normalised) by their bodies, in place."""
    done = Spliced()
    if scope.generated:  # (generated code calls srcgrad's own machinery, never a user's helper)
        return done
    stored, _ = _names(build.walk(gast.Module(body=fdef.body, type_ignores=[])))
    nodes = list(build.walk(fdef))
    _, reads = _names(nodes)
    loops = any(isinstance(node, (gast.For, gast.While)) for node in nodes)
    splicer = _Splicer(parsed, scope, namer, done, stored | set(scope.locals), reads, loops)
    fdef.body = splicer.block(fdef.body, (parsed.fn,))
    return done


class _Splicer:
    def __init__(self, parsed, scope, namer, done, defined, reads, loops):
        self.parsed = parsed
        self.scope = scope
        self.namer = namer
        self.done = done
        #: Every name the caller (with what is spliced so far) assigns.
        self.defined = defined
        #: How often the caller reads each of its names.
        self.reads = reads
        #: Whether the caller has a loop: only then are helpers with loops spliced too.
        self.loops = loops
        #: id of a spliced ``t = result`` statement -> the tuple display ``result`` is, if it is one.
        self.tuples = {}

    def block(self, stmts, stack):
        out = []
        for stmt in stmts:
            for field in ("body", "orelse"):
                inner = getattr(stmt, field, None)
                if inner and isinstance(stmt, (gast.If, gast.For, gast.While)):
                    setattr(stmt, field, self.block(inner, stack))
            body = self.spliced(stmt, stack) if len(stack) <= MAX_DEPTH else None
            if body is None and out and id(out[-1]) in self.tuples:
                body = self.unpacked(stmt, out)
            out.extend([stmt] if body is None else body)
        return out

    def unpacked(self, stmt, out):
        """``a, b = t`` right after ``t = (x, y)`` spliced in, ``t`` read nowhere else: ``a = x; b = y``.

        (The backward then has no tuple to gather and take apart again.)
        """
        result = out[-1]
        display = self.tuples[id(result)]
        t = result.targets[0].id
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Tuple)
                and isinstance(stmt.value, gast.Name) and stmt.value.id == t and self.reads.get(t) == 1):
            return None
        names = stmt.targets[0].elts
        if len(names) != len(display.value.elts) or not all(isinstance(n, gast.Name) for n in names):
            return None
        if {n.id for n in names} & {e.id for e in display.value.elts if isinstance(e, gast.Name)}:
            return None  # (a, b = b, a: one at a time would read a changed name)
        out.pop()
        out.remove(display)
        line = getattr(stmt, "_srcgrad_line", None)
        return [build.assign(name.id, value, line=line) for name, value in zip(names, display.value.elts)]

    def helper_of(self, stmt, stack):
        """The function ``stmt`` calls, if it is one to splice."""
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Call)
                and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value.func, gast.Name)):
            return None
        name = stmt.value.func.id
        if getattr(stmt.value.func, "_srcgrad_runtime", None) or self.scope.kind(name) != "global":
            return None
        fn = self.scope.globals[name]
        if type(fn) is not types.FunctionType or fn in stack or fn.__globals__ is not self.scope.globals:
            return None
        code = fn.__code__
        if code.co_freevars or code.co_flags & (0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200) \
                or code.co_kwonlyargcount or code.co_filename != self.parsed.filename:
            return None  # a closure, *args, **kwargs, a generator or coroutine, keyword-only arguments
        if hasattr(fn, "__wrapped__") or fn.__module__.startswith("srcgrad.") \
                or registry.lookup(fn) is not None or registry.is_nondiff(fn) \
                or provided.stand_in_for(fn) is not fn:
            return None
        if any(isinstance(a, gast.Starred) for a in stmt.value.args):
            return None
        return name, fn

    def spliced(self, stmt, stack):
        """The statements that replace ``stmt``, or None to keep the call."""
        found = self.helper_of(stmt, stack)
        if found is None:
            return None
        name, fn = found
        body = _normalised_body(fn)
        if body is None:
            return None
        fdef, callee_scope, callee_namer = body
        arguments = _bind(fn, fdef, stmt.value)
        nodes = list(build.walk(gast.Module(body=fdef.body, type_ignores=[])))  # (one walk for all of these)
        stored, reads = _names(nodes)
        if arguments is None or not self.fits(fdef, nodes, stored, callee_scope):
            return None
        # The globals it reads stay free: no local pasted in later may take their names.
        self.namer.taken |= set(reads) - callee_scope.locals - stored
        # The helper's locals get names of their own in the caller; unchanged parameters are the arguments.
        renames, values, head = {}, {}, []
        for local in sorted(callee_scope.locals | stored):
            if local in arguments and local not in stored:
                values[local] = arguments[local]
                continue
            renames[local] = new = self.fresh(local, local in callee_namer.invented)
            if local in arguments:
                head.append(build.assign(new, build.copy_tree(arguments[local]),
                                         line=getattr(stmt, "_srcgrad_line", None)))
        body = [_substitute(s, renames, values) for s in fdef.body]
        result = body.pop()  # the one ``return <atom>`` normalisation leaves at the end
        done = build.assign(stmt.targets[0].id, result.value, line=getattr(result, "_srcgrad_line", None))
        self.done.helpers.append((name, fn))
        _reads(body + [done], self.reads)
        body = self.block(head + body, stack + (fn,))
        if body and _returns_a_display(body[-1], result.value, body):
            self.tuples[id(done)] = body[-1]
        return body + [done]

    def fits(self, fdef, nodes, stored, callee_scope) -> bool:
        """Small, no nested scopes, no write into an argument, and its globals the caller's too.

        ``nodes``: every node of the helper's body; ``stored``: the names it assigns.
        """
        if sum(isinstance(n, gast.stmt) for n in nodes) > MAX_STATEMENTS:
            return False
        params = set(callee_scope.params)
        own = callee_scope.locals | stored
        for node in nodes:
            if isinstance(node, _REFUSED_NODES) or (not self.loops and isinstance(node, (gast.For, gast.While))):
                return False  # (see the module's docstring for loops)
            if isinstance(node, gast.Call) and getattr(node.func, "_srcgrad_runtime", None) in _WRITERS \
                    and node.args and isinstance(node.args[0], gast.Name) and node.args[0].id in params:
                return False
            if isinstance(node, gast.Name) and node.id not in own \
                    and (node.id in self.defined or node.id in self.scope.freevars):
                return False  # the helper's global would read as the caller's local
        return isinstance(fdef.body[-1], gast.Return) and sum(isinstance(n, gast.Return) for n in nodes) == 1

    def fresh(self, local, invented):
        """The caller's name for one of the helper's locals: the same, unless taken."""
        if local not in self.namer.taken and local not in self.defined:
            self.namer.taken.add(local)
            if invented:
                self.namer.invented.add(local)
            new = local
        elif invented:
            new = self.namer.fresh(local)
        else:  # a name the user chose stays the user's: never folded away (see compiler._foldable)
            new = self.namer.fresh(local)
            self.namer.invented.discard(new)
        self.scope.locals.add(new)
        self.defined.add(new)
        return new


def _returns_a_display(last, value, body) -> bool:
    """Whether the helper's ``return t`` returns a tuple display ``t = (x, y)`` made just before, for it only."""
    if not (isinstance(value, gast.Name) and isinstance(last, gast.Assign) and isinstance(last.value, gast.Tuple)
            and isinstance(last.targets[0], gast.Name) and last.targets[0].id == value.id):
        return False
    return value.id not in _reads(body)


def _reads(nodes, counts=None) -> dict:
    """How often each name is read under ``nodes``, added to ``counts``."""
    counts = {} if counts is None else counts
    for node in build.walk(gast.Module(body=list(nodes), type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _names(nodes) -> tuple[set, dict]:
    """``(stored, reads)`` of ``nodes`` (as :func:`build.walk` gives them): the names assigned,
    and how often each name is read."""
    stored, reads = set(), {}
    for node in nodes:
        if node.__class__ is gast.Name:
            ctx = node.ctx.__class__
            if ctx is gast.Store:
                stored.add(node.id)
            elif ctx is gast.Load:
                reads[node.id] = reads.get(node.id, 0) + 1
    return stored, reads


def _substitute(stmt, renames, values):
    """``stmt`` with each name in ``renames`` renamed, and each name read in ``values`` replaced by a copy."""
    def swap(node):
        if node.id in renames:
            node.id = renames[node.id]
        elif node.id in values and isinstance(node.ctx, gast.Load):
            return build.copy_tree(values[node.id])
        return node

    slots = []  # (every Name's place first: a copy put in is never renamed again)
    for n in build.walk(stmt):
        for field, value in n.__dict__.items():
            if isinstance(value, list):
                slots.extend((value, i) for i, item in enumerate(value) if isinstance(item, gast.Name))
            elif isinstance(value, gast.Name):
                slots.append((n.__dict__, field))
    for holder, key in slots:
        holder[key] = swap(holder[key])
    return stmt


def _normalised_body(fn):
    """``fn`` through parse, fence, resolve and normalise; None when any of them refuses it."""
    try:
        parsed, scope, namer, _ = prepare(fn)
        return normalise(parsed, scope, namer), scope, namer
    except SrcgradError:
        return None  # (left as a call, it raises the same error, with its own line, when it runs)


def _bind(fn, fdef, call):
    """Parameter name -> argument atom for ``call``, defaults filled; None when it does not bind simply."""
    names = [a.id for a in fdef.args.args]
    if len(call.args) > len(names):
        return None
    bound = dict(zip(names, call.args))
    for keyword in call.keywords:
        if keyword.arg not in names or keyword.arg in bound:
            return None
        bound[keyword.arg] = keyword.value
    defaults = fn.__defaults__ or ()
    for name, default in zip(names[len(names) - len(defaults):], defaults):
        if name not in bound:
            if not isinstance(default, (int, float, bool, str, type(None))):
                return None
            bound[name] = build.const(default)
    return bound if len(bound) == len(names) else None
