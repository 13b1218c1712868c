"""Stage 6, transform (reverse mode): the backward of each statement, in reverse order.

:meth:`ReverseStatements.reverse_block` walks a block backwards, one group
of statements per source line under a ``# Grad of line N`` comment, and
:meth:`~ReverseStatements.reverse_stmt` sends each statement to its rule:

- an assignment: :meth:`~ReverseStatements.reverse_assign` (the gradients
  of its operands are in :mod:`.reverse_expressions`), ``obj.a = v``:
  :meth:`~ReverseStatements.reverse_setattr`;
- ``if``: :meth:`~ReverseStatements.reverse_if`, replayed from its saved
  test, each branch reversed and their adjoint states joined;
- ``for`` and ``while``: :meth:`~ReverseStatements.reverse_loop`, the body
  reversed until the adjoint states reach a fixed point, run over
  ``reversed(...)`` (a ``while`` over its iteration count); a value the
  body overwrites is popped from its tape (:meth:`~ReverseStatements.restore`).

The ``return`` is the backward's start: :meth:`~srcgrad.compiler.reverse.ReverseTransform.run`.
"""

from __future__ import annotations

import copy

import gast

from . import build
from .classify import targets_of
from .reverse_adjoints import MAYBE, NONE, SET, UNSET

__all__ = ["ReverseStatements", "has_code"]


class ReverseStatements:
    """The backward of blocks and statements. A part of :class:`~srcgrad.compiler.reverse.ReverseTransform`."""

    def reverse_block(self, stmts, state) -> list:
        out: list = []
        group_line = None
        last_comment = None

        def comment(line, position):
            nonlocal last_comment
            text = self.comment_for(line)
            if text and text != last_comment:
                marker = build.expr_stmt(build.const(text))
                marker._srcgrad_comment = text
                out.insert(position, marker)
                last_comment = text

        for stmt in reversed(stmts):
            line = getattr(stmt, "_srcgrad_line", None)
            if line != group_line:
                start = len(out)
                self.flush_all(out, state)  # the last group's deferred gradients
                if len(out) > start:
                    comment(group_line, start)
                group_line = line
            code = self.reverse_stmt(stmt, state)
            if code:
                comment(line, len(out))
                out.extend(code)
        start = len(out)
        self.flush_all(out, state)
        if len(out) > start:
            comment(group_line, start)
        return out

    def comment_for(self, line):
        if line is None:
            return None
        text = self.parsed.line(line).strip()
        return f"Grad of line {line}: {text}" if text else None

    def reverse_stmt(self, stmt, state) -> list:
        self._state = state
        out: list = []
        if isinstance(stmt, (gast.Assign, gast.FunctionDef)):
            self.reverse_assign(stmt, state, out)
            self.restore(stmt, out)
        elif isinstance(stmt, gast.If):
            self.reverse_if(stmt, state, out)
        elif isinstance(stmt, gast.For):
            self.reverse_loop(stmt, state, out)
        elif isinstance(stmt, gast.While):
            self.reverse_loop(stmt, state, out)
        return out

    def reverse_assign(self, stmt, state, out):
        op = self.ops[id(stmt)]
        if op.kind == "setattr":
            self.reverse_setattr(stmt, op, state, out)
            return
        targets = targets_of(stmt)
        if op.kind == "inactive" or not any(t in self.active for t in targets):
            for t in targets:
                self.pending.pop(t, None)
                state.pop(t, None)
            return
        if op.kind == "unpack":
            states = [self.consume(t, state, out) for t in targets]
            if all(s in (UNSET, NONE) for s in states):
                return
            elts = [build.name(self.namer.adjoint(t)) if s in (SET, MAYBE) else build.const(None)
                    for t, s in zip(targets, states)]
            for t in targets:
                state.pop(t, None)
            value = op.operands[0]
            if self.is_active_atom(value):
                if value.id in self.pairs:  # a tape's (value, rest): no need to keep it to see it is a tuple
                    self.contribute(value.id, build.tuple_(elts), SET, stmt, state, out)
                else:
                    grad = build.call(self.runtime("gather"), build.tuple_(elts), value)
                    self.contribute(value.id, grad, MAYBE, stmt, state, out)
            return
        t = targets[0]
        st = self.consume(t, state, out)
        if st in (UNSET, NONE):
            state.pop(t, None)
            return
        dt = build.name(self.namer.adjoint(t))
        if st == MAYBE and op.kind != "dynamic":  # a pullback accepts None itself
            before = dict(state)
            inner: list = []
            saved_pending = self.pending
            self.pending = {}
            state.pop(t, None)
            self.contributions(stmt, op, t, dt, state, inner)
            self.flush_all(inner, state)
            self.pending = saved_pending
            # Where the guard is skipped, d<t> is bound to None (that is what the test saw).
            skipped = {**{k: v for k, v in before.items() if k != t}, t: NONE}
            merged, (pre, tail) = self.merge([skipped, state])
            state.clear()
            state.update(merged)
            if has_code(inner):
                out.extend(pre)
                test = gast.Compare(left=dt, ops=[gast.IsNot()], comparators=[build.const(None)])
                out.append(gast.If(test=test, body=inner + tail, orelse=[]))
            else:  # (no guard, so d<t> still holds what it held, None or not: unset, for a join to clear)
                state.pop(t, None)
            return
        state.pop(t, None)
        self.cotangent_maybe_none = st == MAYBE
        self.contributions(stmt, op, t, dt, state, out)
        self.cotangent_maybe_none = False

    def reverse_setattr(self, stmt, op, state, out):
        """``obj.a = v``: ``dv`` is d(obj)['a'], which then no longer belongs to obj."""
        base = op.callee.id
        value = op.operands[0]
        st = self.consume(base, state, out)
        if st in (UNSET, NONE) or not self.is_active_atom(value):
            return
        dbase = build.name(self.namer.adjoint(base))
        grad = build.call(self.runtime("item"), dbase, build.const(op.attr))
        self.contribute(value.id, grad, MAYBE, stmt, state, out)
        self.flush(value.id, out, state)
        out.append(build.assign(dbase.id, build.call(self.runtime("without_item"), dbase, build.const(op.attr))))
        state[base] = MAYBE

    def consume(self, var, state, out):
        """Flush pending contributions to ``var``; return its adjoint's state."""
        if var in self.pending:
            self.flush(var, out, state)
        return state.get(var, UNSET)

    def restore(self, stmt, out):
        """Inside a loop, put back the value ``stmt`` overwrote (kept only if the backward reads it)."""
        if id(stmt) in self.in_loop:
            targets = targets_of(stmt)
            if id(stmt) in self.back_names:
                targets = targets + [self.back_names[id(stmt)]]
            for t in targets:
                self.flush_all(out, self._state)
                out.append(self.pop_line(t))

    def reverse_if(self, stmt, state, out):
        self.flush_all(out, state)
        body_state = dict(state)
        body = self.reverse_block(stmt.body, body_state)
        self.flush_all(body, body_state)
        else_state = dict(state)
        orelse = self.reverse_block(stmt.orelse, else_state)
        self.flush_all(orelse, else_state)
        merged, (body_tail, else_tail) = self.merge([body_state, else_state])
        state.clear()
        state.update(merged)
        body += body_tail
        orelse += else_tail
        if not has_code(body) and not has_code(orelse):
            return
        if not has_code(body):
            test = gast.UnaryOp(op=gast.Not(), operand=copy.deepcopy(stmt.test))
            out.append(gast.If(test=test, body=orelse, orelse=[]))
        else:
            out.append(gast.If(test=copy.deepcopy(stmt.test), body=body, orelse=orelse))

    def reverse_loop(self, stmt, state, out):
        self.flush_all(out, state)
        before = dict(state)
        start = dict(state)
        saved_pending = self.pending
        # The state at the top of the reversed body joins the state before the
        # loop with the state at the end of an iteration: iterate to a fixed point.
        for _ in range(8):
            self.pending = {}
            trial = dict(start)
            self.reverse_block(stmt.body, trial)
            self.flush_all([], trial)
            merged, _ = self.merge([before, trial])
            if merged == start:
                break
            start = merged
        self.pending = {}
        _, (pre, _) = self.merge([before, start])
        state.clear()
        state.update(start)
        body = self.reverse_block(stmt.body, state)
        self.flush_all(body, state)
        _, (_, tail) = self.merge([start, state])
        body += tail
        self.pending = saved_pending
        state.clear()
        state.update(start)
        out.extend(pre)
        if isinstance(stmt, gast.For):
            header = gast.For(target=copy.deepcopy(stmt.target),
                              iter=build.call("reversed", copy.deepcopy(stmt.iter)), body=body or [gast.Pass()],
                              orelse=[], type_comment=None)
        else:
            counter = self.counters[id(stmt)]
            header = gast.For(target=build.store("_"), iter=build.call("range", build.name(counter)),
                              body=body or [gast.Pass()], orelse=[], type_comment=None)
        out.append(header)
        if isinstance(stmt, gast.While) and id(stmt) in self.in_loop:
            out.append(self.pop_line(counter))


def has_code(stmts):
    return any(not isinstance(s, gast.Pass) and not hasattr(s, "_srcgrad_comment") for s in stmts)
