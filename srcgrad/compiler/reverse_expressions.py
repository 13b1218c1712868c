"""Stage 6, transform (reverse mode): the gradients of the operands of one assignment.

:meth:`ReverseExpressions.contributions` gives, for ``t = <op>`` and the
adjoint ``dt``, each active operand's gradient, by the statement's
:class:`~srcgrad.compiler.classify.Op` kind: a rule's template filled in
(:meth:`~ReverseExpressions.rule_contributions`) or its reverse function
called (:meth:`~ReverseExpressions.rulecall_contributions`), the pullback of
a call differentiated at run time (:meth:`~ReverseExpressions.dynamic_contributions`),
an item of ``dt`` for a structural read, an idiom's closed form.
"""

from __future__ import annotations

import copy

import gast

from ..rules import registry
from . import build
from .classify import index_expr, unstar
from .inline import template_of
from .reverse_adjoints import MAYBE, SET, UNSET

__all__ = ["ReverseExpressions"]

_IDIOMS = ("logsumexp", "logsoftmax", "softmax")


class ReverseExpressions:
    """Gradients of an assignment's operands. A part of :class:`~srcgrad.compiler.reverse.ReverseTransform`."""

    def contributions(self, stmt, op, t, dt, state, out):
        if op.kind == "closure":
            for c in op.operands:
                if self.is_active_atom(c):
                    grad = build.call(self.runtime("item"), dt, build.const(c.id))
                    self.contribute(c.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "copy":
            src = op.operands[0]
            if self.is_active_atom(src):
                self.contribute(src.id, dt, SET, stmt, state, out)
        elif op.kind == "rule":
            self.rule_contributions(stmt, op, t, dt, state, out)
        elif op.kind == "rulecall":
            self.rulecall_contributions(stmt, op, t, dt, state, out)
        elif op.kind == "repeat":
            for part in op.operands:
                if self.is_active_atom(part) and part.id in self.sequences:
                    grad = build.call(self.runtime("repeats_grad"), dt, part)
                    self.contribute(part.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "concat":
            left, right = op.operands
            split = build.call("len", copy.deepcopy(left)) if isinstance(left, gast.Name) else build.const(
                len(left.value) if isinstance(left, gast.Constant) else 0)
            for part, index in ((left, build.call("slice", build.const(None), split)),
                                (right, build.call("slice", split, build.const(None)))):
                if self.is_active_atom(part):
                    grad = build.call(self.runtime("item"), dt, index)
                    self.contribute(part.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "attr":
            base = op.operands[0]
            if self.is_active_atom(base):
                grad = build.call(self.runtime("callee_grad"), dt, base, build.const(op.attr)) if op.maybe_method \
                    else gast.Dict(keys=[build.const(op.attr)], values=[dt])
                self.contribute(base.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "index":
            base = op.operands[0]
            if self.is_active_atom(base):
                grad = build.call(self.runtime("index_grad"), dt, base, index_expr(op.index))
                self.contribute(base.id, grad, SET if base.id in self.numeric else MAYBE, stmt, state, out)
        elif op.kind == "display":
            keys = op.index
            for position, elt in enumerate(op.operands):
                elt = unstar(elt)
                if not self.is_active_atom(elt):
                    continue
                if keys is None:
                    grad = build.call(self.runtime("item"), dt, build.const(position))
                else:
                    grad = build.call(self.runtime("item"), dt, keys[position])
                self.contribute(elt.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "dynamic":
            self.dynamic_contributions(stmt, op, t, dt, state, out)
        elif op.kind in _IDIOMS:  # the shifted array's gradient, in closed form; the shift gets none
            z = op.operands[0]
            if self.is_active_atom(z):
                self.contribute(z.id, self.idiom_gradient(op, t, dt.id), SET, stmt, state, out)

    def rule_contributions(self, stmt, op, t, dt, state, out):
        template = template_of(op.rule)
        primal = template.params[2:]
        for position, arg in self.slots(op):
            if position >= len(template.outputs) or not self.is_active_atom(arg):
                continue
            expr = template.outputs[position]
            if isinstance(expr, gast.Constant) and expr.value is None:
                continue
            if template.vararg and position >= len(primal):
                continue
            grad = self.fill_template(template, expr, op, dt, t)
            if self.needs_unbroadcast(op, position, stmt):
                grad = build.call(self.runtime("unbroadcast"), grad, arg)
            # (A structured rule's gradient reads an item of dt, which may be None: [None, g][0]; not of an array.)
            sure = not op.rule.structured or t in self.numeric
            self.contribute(arg.id, grad, SET if sure else MAYBE, stmt, state, out)

    def needs_unbroadcast(self, op, position, stmt):
        if not op.rule.broadcast:
            return False
        slots = dict(self.slots(op))
        others = [a for i, a in slots.items() if i != position and not isinstance(a, gast.Constant)
                  and not (isinstance(a, gast.Attribute) and self.scope.is_static_path(a))]
        if not others:
            return False
        arg = slots[position]
        mine = self.shape_of(arg)
        if mine is not None and mine == self.stmt_shape.get(id(stmt)):
            return False
        # Within one statement a name has one shape: h * h needs no unbroadcast.
        return not all(isinstance(o, gast.Name) and o.id == getattr(arg, "id", None) for o in others)

    def rulecall_contributions(self, stmt, op, t, dt, state, out):
        rule_name = self.inject(getattr(op.rule.reverse, "__name__", "rule"), op.rule.reverse)
        args, keywords = registry.positional_call(op.operands, op.keywords, op.positions or {})
        call = build.call(rule_name, dt, build.name(t), *args, **keywords)
        slots = dict(self.slots(op))
        wanted = [p for p, a in slots.items() if p >= len(op.operands) and self.is_active_atom(a)]
        size = max([len(op.operands)] + [p + 1 for p in wanted])
        parts = []
        for position in range(size):
            arg = slots.get(position)
            parts.append(self.namer.fresh(self.namer.adjoint(arg.id) + "_part") if self.is_active_atom(arg) else "_")
        if size > len(op.operands):
            parts.append("*_")  # (a keyword's gradient: the rule may give more than that)
        elts = [gast.Starred(value=build.store("_"), ctx=gast.Store()) if p == "*_" else build.store(p) for p in parts]
        out.append(build.assign(build.tuple_(elts, store_ctx=True), call))
        for position, part in enumerate(parts):
            if part not in ("_", "*_"):
                arg = slots[position]
                grad = build.name(part)
                if op.rule.broadcast and len(slots) > 1:
                    grad = build.call(self.runtime("unbroadcast"), grad, arg)
                self.contribute(arg.id, grad, MAYBE, stmt, state, out)  # a rule may give None

    def dynamic_contributions(self, stmt, op, t, dt, state, out):
        self.pullback_stmts.add(id(stmt))
        back = self.back_names.get(id(stmt))
        if back is None:
            back = self.namer.fresh(f"{t}_back")
            self.back_names[id(stmt)] = back
        receivers = []
        callee_name = None
        field = None
        if isinstance(op.callee, gast.Attribute) and not self.scope.is_static_path(op.callee):
            callee_name = op.callee.value.id if self.is_active_atom(op.callee.value) else None
            if callee_name is not None and not self.is_method_of(op.callee.value.id, op.callee.attr):
                field = op.callee.attr  # self.inner(x): a callable field, its gradient is dself['inner']
        elif op.callee_target and op.callee_target in self.active:
            callee_name = op.callee_target
        receivers.append((callee_name, MAYBE))
        for arg in op.operands:
            if isinstance(arg, gast.Starred):
                # f(a, *rest): the gradients of rest's elements arrive as a starred group.
                inner = arg.value
                receivers.append(("*" + inner.id if self.is_active_atom(inner) else "*", MAYBE))
            elif self.is_active_atom(arg):
                receivers.append((arg.id, SET if arg.id in self.numeric else MAYBE))
            else:
                receivers.append((None, None))
        for key, value in op.keywords.items():
            receivers.append((value.id if self.is_active_atom(value) else None, SET if self.is_active_atom(value) and value.id in self.numeric else MAYBE))
        if op.spread is not None:  # f(x, **options): the options' gradients arrive last, as a starred group
            receivers.append(("**" + op.spread.id if self.is_active_atom(op.spread) else "*", MAYBE))
        if self.cotangent_maybe_none:  # back(None) is all None, even for numeric arguments
            receivers = [(name, MAYBE if kind is not None else None) for name, kind in receivers]
        names = []
        direct = []
        for name, kind in receivers:
            if name is None or name == "*":
                names.append("*_" if name == "*" else "_")
                continue
            if name.startswith("*"):
                names.append("*" + self.namer.fresh(self.namer.adjoint(name.lstrip("*")) + "_parts"))
                continue
            if state.get(name, UNSET) == UNSET and name not in self.pending and not any(n == name for n, _ in direct) \
                    and not (field is not None and name == callee_name):
                names.append(self.namer.adjoint(name))
                direct.append((name, kind))
            else:
                part = self.namer.fresh(self.namer.adjoint(name) + "_part")
                names.append(part)
        if all(n in ("_", "*_") for n in names):
            return
        elts = [gast.Starred(value=build.store(n[1:]), ctx=gast.Store()) if n.startswith("*") else build.store(n)
                for n in names]
        target = build.tuple_(elts, store_ctx=True)
        out.append(build.assign(target, gast.Call(func=build.name(back), args=[dt], keywords=[])))
        for (name, kind), n in zip(receivers, names):
            if n in ("_", "*_") or name is None:
                continue
            if name.startswith("**"):  # (by keyword: {"scale": dscale, ...})
                grad = build.call(self.runtime("keyword_grads"), build.name(n[1:]), build.name(name[2:]))
                self.contribute(name[2:], grad, MAYBE, stmt, state, out)
                continue
            if n.startswith("*"):
                grad = build.call(self.runtime("gather"), build.name(n[1:]), build.name(name[1:]))
                self.contribute(name[1:], grad, MAYBE, stmt, state, out)
                continue
            if field is not None and name == callee_name and n in (names[0],):
                grad = build.call(self.runtime("callee_grad"), build.name(n), build.name(name), build.const(field))
                self.contribute(name, grad, MAYBE, stmt, state, out)
            elif (name, kind) in direct and n == self.namer.adjoint(name):
                state[name] = kind if kind == SET else MAYBE
            else:
                self.contribute(name, build.name(n), kind, stmt, state, out)

    def idiom_gradient(self, op, t, dt):
        """The gradient of an idiom (see idioms.py) with respect to its shifted array ``z``."""
        name = build.name
        if op.kind == "logsumexp":  # the softmax times dt
            exp, total = op.reads
            return _binop(name(exp), gast.Mult(), _binop(name(dt), gast.Div(), name(total)))
        summed = self.runtime("unbroadcast")  # (to the sum's shape: summed over its axes)
        if op.kind == "logsoftmax":  # dt less the softmax times dt's sum
            exp, total = op.reads
            share = _binop(build.call(summed, name(dt), name(total)), gast.Div(), name(total))
            return _binop(name(dt), gast.Sub(), _binop(name(exp), gast.Mult(), share))
        (total,) = op.reads  # softmax: itself times (dt less the sum of dt times itself)
        inner = build.call(summed, _binop(name(dt), gast.Mult(), name(t)), name(total))
        return _binop(name(t), gast.Mult(), _binop(name(dt), gast.Sub(), inner))


def _binop(left, op, right):
    return gast.BinOp(left=left, op=op, right=right)
