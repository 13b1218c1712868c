"""Stage 4, normalise, first part: lower jumps: ``break``, ``continue`` and early ``return`` become flags.

After this pass the function has no ``break``, no ``continue`` and exactly
one ``return``, at the end; the later passes only ever see structured
control flow (``if``, ``for``, ``while``), whose reversal is already known.

- ``return v`` anywhere sets ``result = v`` and ``returned = True``;
- ``break`` sets ``broke = True``, ``continue`` sets ``skip = True``;
- a loop's ``else`` runs under ``if not broke:`` after the loop;
- every statement that follows one that may have set a flag runs under
  ``if not (flag):``; a loop whose body may set one stops by testing it
  (``while ... and not broke``; a ``for`` loop runs its remaining
  iterations doing nothing, since Python cannot leave a ``for`` early
  without ``break``).

The flags are ordinary booleans, so the backward pass replays the same
paths from the saved tests.
"""

from __future__ import annotations

import gast

from . import build

__all__ = ["lower_jumps"]


def lower_jumps(fdef: gast.FunctionDef, namer) -> gast.FunctionDef:
    """Rewrite ``fdef`` in place (the caller's own tree, see :func:`.parse.parse_function`) without jumps."""
    if not _has_jump(fdef.body, top=True) and not _has_loop_else(fdef.body):
        return fdef
    lowering = _Lowering(namer)
    if any(isinstance(n, gast.Return) for n in build.walk(gast.Module(body=fdef.body[:-1], type_ignores=[]))) \
            or any(isinstance(n, gast.Return) for n in build.walk(fdef.body[-1]) if n is not fdef.body[-1]):
        lowering.result = namer.fresh("result")
        lowering.returned = namer.fresh("returned")
    body = lowering.block(fdef.body, loop=None)
    if lowering.result is not None:
        first = fdef.body[0] if fdef.body else fdef
        head = [_at(build.assign(lowering.result, build.const(None)), first),
                _at(build.assign(lowering.returned, build.const(False)), first)]
        body = head + body + [_at(gast.Return(value=build.name(lowering.result)), first)]
    fdef.body = body
    return fdef


def _at(node, like):
    gast.copy_location(node, like)
    return node


def _has_loop_else(stmts):
    for node in build.walk(gast.Module(body=stmts, type_ignores=[])):
        if isinstance(node, (gast.For, gast.While)) and node.orelse:
            return True
    return False


def _has_jump(stmts, top=False):
    for i, s in enumerate(stmts):
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, gast.Return) and not (top and i == len(stmts) - 1):
            return True
        if isinstance(s, gast.If) and (_has_jump(s.body) or _has_jump(s.orelse)):
            return True
        if isinstance(s, (gast.For, gast.While)) and _has_jump(s.body):
            return True
    return False


class _Loop:
    def __init__(self, broke, skip):
        self.broke = broke
        self.skip = skip
        self.used_break = False
        self.used_continue = False


class _Lowering:
    def __init__(self, namer):
        self.namer = namer
        self.result = None
        self.returned = None

    def flags_of(self, s, loop):
        """The flags statement ``s`` may set, as names (innermost loop's, and ``returned``)."""
        found = set()
        if self.returned and any(isinstance(node, gast.Return) for node in build.walk(s)):
            found.add(self.returned)
        if loop is not None and not isinstance(s, (gast.For, gast.While)):
            if _contains(s, gast.Break, stop_at_loops=True):
                found.add(loop.broke)
            if _contains(s, gast.Continue, stop_at_loops=True):
                found.add(loop.skip)
        return found

    def block(self, stmts, loop):
        out = []
        for index, s in enumerate(stmts):
            flags = self.flags_of(s, loop)  # before s is rewritten in place
            lowered = self.stmt(s, loop)
            out.extend(lowered)
            if isinstance(s, (gast.Break, gast.Continue, gast.Return)):
                return out  # nothing after an unconditional jump runs
            rest = stmts[index + 1:]
            if flags and rest:
                guarded = self.block(rest, loop)
                test = _none_set(sorted(flags))
                out.append(_at(gast.If(test=test, body=guarded or [gast.Pass()], orelse=[]), rest[0]))
                return out
        return out

    def stmt(self, s, loop):
        if isinstance(s, gast.Return) and self.result is None:
            return [s]  # the one, final return of a function without early returns
        if isinstance(s, gast.Return):
            value = s.value if s.value is not None else build.const(None)
            return [_at(build.assign(self.result, value), s), _at(build.assign(self.returned, build.const(True)), s)]
        if isinstance(s, gast.Break):
            loop.used_break = True
            return [_at(build.assign(loop.broke, build.const(True)), s)]
        if isinstance(s, gast.Continue):
            loop.used_continue = True
            return [_at(build.assign(loop.skip, build.const(True)), s)]
        if isinstance(s, gast.If):
            s.body = self.block(s.body, loop) or [gast.Pass()]
            s.orelse = self.block(s.orelse, loop)
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s)
        return [s]

    def loop(self, s):
        orelse = self.block(s.orelse, None) if s.orelse else []
        s.orelse = []
        if not _has_jump(s.body):
            return [s] + orelse  # no break: a loop's else always runs
        inner = _Loop(self.namer.fresh("broke"), self.namer.fresh("skip"))
        returns = self.returned is not None and _contains(s.body, gast.Return, stop_at_loops=False)
        body = self.block(s.body, inner)  # (rewrites the body's statements in place)
        before = []
        stops = []
        if inner.used_break:
            before.append(_at(build.assign(inner.broke, build.const(False)), s))
            stops.append(inner.broke)
        if returns:
            stops.append(self.returned)
        if inner.used_continue:
            body = [_at(build.assign(inner.skip, build.const(False)), s)] + body
        if isinstance(s, gast.While):
            if stops:
                s.test = gast.BoolOp(op=gast.And(), values=[_none_set(stops), s.test])
            s.body = body or [gast.Pass()]
        else:
            if stops:
                body = [_at(gast.If(test=_none_set(stops), body=body or [gast.Pass()], orelse=[]), s)]
            s.body = body or [gast.Pass()]
        after = []
        if orelse:  # for ... else: the else runs when the loop ended without break (or return)
            after = [_at(gast.If(test=_none_set(stops), body=orelse, orelse=[]), s)] if stops else orelse
        return before + [s] + after


def _none_set(flags):
    """``not (a or b)``: none of the flags is set."""
    names = [build.name(f) for f in flags]
    value = names[0] if len(names) == 1 else gast.BoolOp(op=gast.Or(), values=names)
    return gast.UnaryOp(op=gast.Not(), operand=value)


def _contains(node, kind, stop_at_loops):
    """Whether ``node`` holds a ``kind`` statement that belongs to it (not to a nested loop)."""
    stack = list(node) if isinstance(node, list) else [node]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            return True
        for child in gast.iter_child_nodes(n):
            if stop_at_loops and isinstance(child, (gast.For, gast.While)) and kind in (gast.Break, gast.Continue):
                continue
            stack.append(child)
    return False
