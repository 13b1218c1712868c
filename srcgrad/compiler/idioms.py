"""Idioms whose gradient is simpler than the chain rule applied op by op (part of stage 5, transform).

The transform differentiates one statement at a time. For a few patterns
that span several statements the whole has a short closed-form gradient,
and the op-by-op chain rule computes terms that add up to zero. Found here,
each such pattern's last statement gets one operation of its own
(:class:`srcgrad.compiler.reverse._Op` of kind ``"logsumexp"``); the
statements before it stay as they are, and still pass on any gradient
that reaches them some other way.

log-sum-exp, shifted by its maximum so that ``exp`` cannot overflow::

    m = np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)) + m

``lse`` does not depend on ``m``: the shift is taken off inside and added
back outside. Op by op, ``m`` gets ``dlse`` from the ``+ m`` and minus the
same through the sum, then the maximum's gradient passes the sum of the two
to ``z``. Here ``m`` gets nothing, and ``z`` gets the softmax times
``dlse``, ``exp * (dlse / total)``, from values the forward already has.
"""

from __future__ import annotations

import operator

import gast
import numpy as np

from ..rules import registry
from . import build

__all__ = ["logsumexp_ops"]

_NOT_LITERAL = object()


def logsumexp_ops(body, params, ops, make_op) -> dict:
    """``{id(stmt): op}`` for each statement of ``body`` that ends a shifted log-sum-exp.

    ``ops`` maps statements to their operations; ``make_op(z, m, exp, total)``
    makes the replacement for ``lse``, whose gradient goes to ``z`` alone.
    """
    counts = dict.fromkeys(params, 1)
    for node in build.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    found = {}
    for block in _blocks(body):
        # Names bound once in the whole function, here: name -> position in this block.
        defs = {}
        for position, stmt in enumerate(block):
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) \
                    and counts.get(stmt.targets[0].id) == 1:
                defs[stmt.targets[0].id] = position
        for position, stmt in enumerate(block):
            match = _Match(block, defs, ops, position).logsumexp(stmt)
            if match is not None:
                z, m, exp, total, start = match
                if counts.get(z.id) == 1 and z.id not in _stored(block[start:position]):
                    found[id(stmt)] = make_op(z, m, exp, total)
    return found


def _blocks(stmts):
    """Each statement list: the body, and those of its loops and branches."""
    yield stmts
    for stmt in stmts:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            yield from _blocks(stmt.body)
            yield from _blocks(stmt.orelse)


def _stored(stmts) -> set:
    return {n.id for n in build.walk(gast.Module(body=list(stmts), type_ignores=[]))
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


class _Match:
    """Reads the operations that define names, earlier in one block."""

    def __init__(self, block, defs, ops, before):
        self.block = block
        self.defs = defs
        self.ops = ops
        self.before = before
        self.start = before

    def op(self, atom, *rules):
        """The operation defining the name ``atom``, if it is one of ``rules`` and comes earlier."""
        if not isinstance(atom, gast.Name):
            return None
        position = self.defs.get(atom.id)
        if position is None or position >= self.before:
            return None
        op = self.ops.get(id(self.block[position]))
        if op is None or op.kind != "rule" or not any(op.rule is r for r in rules if r is not None):
            return None
        self.before = position  # (each definition comes before the one that reads it)
        self.start = position
        return op

    def logsumexp(self, stmt):
        """``(z, m, exp, total, first)`` when ``stmt`` is ``lse = log(sum(exp(z - m))) + m``."""
        op = self.ops.get(id(stmt))
        if op is None or op.kind != "rule" or op.rule is not registry.lookup(operator.add):
            return None
        sums = (registry.lookup(np.sum), registry.method_rules.get("sum"))
        extrema = (registry.lookup(np.max), registry.lookup(np.min), registry.lookup(np.amax),
                   registry.lookup(np.amin), registry.method_rules.get("max"), registry.method_rules.get("min"))
        top = self.before
        for log_atom, m in (op.operands, op.operands[::-1]):
            self.before = top
            log = self.op(log_atom, registry.lookup(np.log))
            total = log and self.op(log.operands[0], *sums)
            exp = total and self.op(total.operands[0], registry.lookup(np.exp))
            diff = exp and self.op(exp.operands[0], registry.lookup(operator.sub))
            if diff is None or not _same_name(diff.operands[1], m):
                continue
            z = diff.operands[0]
            shift = self.op(m, *extrema)
            if shift is None or not _same_name(shift.operands[0], z):
                continue
            if _shift_constant_along(_reduction(total), _reduction(shift)):
                return z, m, total.operands[0].id, log.operands[0].id, self.start
        return None


def _same_name(a, b) -> bool:
    return isinstance(a, gast.Name) and isinstance(b, gast.Name) and a.id == b.id


def _reduction(op):
    """``(axis, keepdims)`` of a reduction written with literals, else ``None``."""
    axis = _literal(op.bindings.get("axis", _NOT_LITERAL))
    keepdims = _literal(op.bindings.get("keepdims", _NOT_LITERAL))
    if axis is _NOT_LITERAL or keepdims is _NOT_LITERAL:
        return None
    return axis, bool(keepdims)


def _shift_constant_along(summed, shift) -> bool:
    """Whether a shift reduced as ``shift`` is one number along the axes ``summed`` adds over,
    so that it broadcasts back against the sum: ``(axis, keepdims)`` of each."""
    if summed is None or shift is None:
        return False
    axis, keepdims = summed
    if axis is not None and not keepdims:  # (the sum's axes are gone: the softmax would not line up)
        return False
    if shift[0] is None:  # one number for the whole array
        return True
    return keepdims and shift == summed


def _literal(node):
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and isinstance(node.operand, gast.Constant):
        return -node.operand.value
    if isinstance(node, gast.Tuple):
        items = tuple(_literal(e) for e in node.elts)
        return _NOT_LITERAL if _NOT_LITERAL in items else items
    return _NOT_LITERAL
