"""Stage 6, transform (reverse mode): the forward function, the user's code plus what the backward needs.

:meth:`PrimalWriter.forward_block` writes the user's statements again,
with calls to differentiable user functions replaced by ``pullback(f, ...)``
(or ``pullback_wrt``, naming the gradients the caller uses) where their
gradient is needed, a rule's faster function where it has one
(``computed_by``), and, inside loops, the old value of each overwritten
variable pushed on its tape (``h_tape = push(h_tape, h)``; the backward
pops it, :meth:`~PrimalWriter.pop_line`). A ``while`` loop counts its
iterations.
"""

from __future__ import annotations

import copy

import gast

from . import build, provided
from .classify import targets_of, walk_stmts

__all__ = ["PrimalWriter"]


class PrimalWriter:
    """The forward function's statements and tapes. A part of :class:`~srcgrad.compiler.reverse.ReverseTransform`."""

    def forward_block(self, stmts) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.If):
                node = gast.If(test=stmt.test, body=self.forward_block(stmt.body) or [gast.Pass()],
                               orelse=self.forward_block(stmt.orelse))
                out.append(build.line_of(stmt, node))
                continue
            if isinstance(stmt, gast.For):
                node = gast.For(target=stmt.target, iter=stmt.iter, body=self.forward_block(stmt.body) or [gast.Pass()],
                                orelse=[], type_comment=None)
                out.append(build.line_of(stmt, node))
                continue
            if isinstance(stmt, gast.While):
                counter = self.counters[id(stmt)]
                if counter in self.taped:
                    out.append(self.push_line(counter))
                out.append(build.assign(counter, build.const(0)))
                step = build.assign(counter, gast.BinOp(left=build.name(counter), op=gast.Add(), right=build.const(1)))
                node = gast.While(test=stmt.test, body=[step] + self.forward_block(stmt.body), orelse=[])
                out.append(build.line_of(stmt, node))
                continue
            for t in targets_of(stmt):
                if t in self.taped and id(stmt) in self.in_loop:
                    self.push_early(out, t)
            if id(stmt) in self.pullback_stmts:
                t = targets_of(stmt)[0]
                back = self.back_names[id(stmt)]
                if back in self.taped and id(stmt) in self.in_loop:
                    self.push_early(out, back)
                call = stmt.value
                wrt = self.call_wrt(self.ops[id(stmt)])
                if wrt is None:
                    pb = gast.Call(func=self.runtime("pullback"), args=[copy.deepcopy(call.func)] + list(call.args),
                                   keywords=list(call.keywords))
                else:
                    pb = gast.Call(func=self.runtime("pullback_wrt"),
                                   args=[build.const(wrt), copy.deepcopy(call.func)] + list(call.args),
                                   keywords=list(call.keywords))
                target = build.tuple_([build.store(t), build.store(self.back_names[id(stmt)])], store_ctx=True)
                new = build.assign(target, pb)
                new._srcgrad_line = getattr(stmt, "_srcgrad_line", None)
                out.append(new)
                continue
            out.append(self.computed_faster(stmt))
        return out

    def computed_faster(self, stmt):
        """``stmt``, or a copy calling its rule's faster function for the value (``np.einsum``,
        ``np.sum``: see ``Rule.computed_by``). Only ``name = f(a, b, ...)``: no keywords, no ``*args``."""
        op = self.ops.get(id(stmt))
        if op is None or op.kind not in ("rule", "rulecall") or op.rule.computed_by is None:
            return stmt
        call = stmt.value if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) else None
        if not isinstance(call, gast.Call) or call.keywords or any(isinstance(a, gast.Starred) for a in call.args):
            return stmt
        fn = op.rule.computed_by
        faster = gast.Call(func=build.name(self.inject(fn.__name__, fn)), args=list(call.args), keywords=[])
        faster._srcgrad_pure = True  # (as the call it replaces: the simplifier may fold it into its one use)
        new = build.assign(stmt.targets[0].id, faster)
        new._srcgrad_line = getattr(stmt, "_srcgrad_line", None)
        return new

    def call_wrt(self, op):
        """The call's slots (0 the callee, then arguments, then keywords) whose gradient is used.

        ``None`` when every slot's is, or when the slots are not known
        statically (a ``*args`` or ``**options`` call; ``mutate``, which has its own layout).
        """
        if any(isinstance(a, gast.Starred) for a in op.operands) or op.spread is not None or op.callee_target is None \
                and isinstance(op.callee, gast.Name) and self.injected.get(op.callee.id) is provided.mutate:
            return None
        if isinstance(op.callee, gast.Attribute) and not self.scope.is_static_path(op.callee):
            callee = self.is_active_atom(op.callee.value)
        else:
            callee = bool(op.callee_target) and op.callee_target in self.active
        slots = [callee] + [self.is_active_atom(a) for a in op.operands]
        slots += [self.is_active_atom(v) for v in op.keywords.values()]
        if all(slots):
            return None
        return tuple(i for i, used in enumerate(slots) if used)

    def push_early(self, out, var):
        """Push ``var`` on its tape right after its last assignment in this block.

        Early, so the pushes do not sit between a temporary and its use and
        the simplifier can fold the temporary back into the user's line.
        """
        position = 0
        for k, s in enumerate(out):
            written = {t for inner in walk_stmts([s]) for t in targets_of(inner)}
            if isinstance(s, gast.Assign):
                written |= {n.id for n in build.walk(s.targets[0]) if isinstance(n, gast.Name)}
            if var in written:
                position = k + 1
        out.insert(position, self.push_line(var))

    def pre_inits(self, head):
        """Tapes start empty; a taped variable first assigned inside a loop starts as None."""
        lines = [build.assign(self.tape_name(t), build.call(self.runtime("new_tape"))) for t in sorted(self.taped)]
        for t in sorted(self.taped):
            if t in self.scope.params or t in self.counters.values():
                continue
            first = next((s for s in walk_stmts(head)
                          if t in targets_of(s) or self.back_names.get(id(s)) == t), None)
            if first is not None and id(first) in self.in_loop:
                lines.append(build.assign(t, build.const(None)))
        return lines

    def tape_name(self, var):
        """``h_tape`` for ``h`` (a fresh name: generated code may already have an ``h_tape``)."""
        name = self.tape_names.get(var)
        if name is None:
            name = self.tape_names[var] = self.namer.fresh(f"{var}_tape")
        return name

    def push_line(self, var):
        """``h_tape = push(h_tape, h)``: keep the value ``h`` has before it is overwritten."""
        tape_ = self.tape_name(var)
        return build.assign(tape_, build.call(self.runtime("push"), build.name(tape_), build.name(var)))

    def pop_line(self, var):
        """``h, h_tape = pop(h_tape)``: put back the value ``h`` had (pruned unless the backward reads it)."""
        tape_ = self.tape_name(var)
        target = build.tuple_([build.store(var), build.store(tape_)], store_ctx=True)
        line = build.assign(target, build.call(self.runtime("pop"), build.name(tape_)))
        line._srcgrad_restore = var
        return line

