"""Idioms whose gradient is simpler than the chain rule applied op by op (part of stage 6, transform).

The transform differentiates one statement at a time. For a few patterns
that span several statements, the whole has a short closed-form gradient,
and the op-by-op chain rule computes terms that add up to zero. Each such
pattern found here gives its last statement one operation of its own (kinds
``logsumexp``, ``logsoftmax`` and ``softmax`` of
:class:`srcgrad.compiler.classify.Op`). The statements before it stay as
they are, and still pass on any gradient that reaches them some other way.

All three subtract a maximum first, so that ``exp`` cannot overflow::

    m = np.max(z, axis=1, keepdims=True)   # (or min; one number along the summed axes)
    e = np.exp(z - m)
    total = np.sum(e, axis=1, keepdims=True)

    lse = np.log(total) + m                # log-sum-exp:  dz = e * (dlse / total)
    y = (z - m) - np.log(total)            # log-softmax:  dz = dy - e * (sum(dy) / total)
    p = e / total                          # softmax:      dz = p * (dp - sum(dp * p))

None of the three depends on ``m``: the shift is taken off inside and
cancels. Op by op, ``m`` gets two gradients that cancel, and the maximum's
gradient passes their sum on to ``z``. Here ``m`` gets nothing, and ``z``
gets the textbook formula, from values the forward already has (the sums
are ``unbroadcast`` to ``total``'s shape).
"""

from __future__ import annotations

import operator

import gast
import numpy as np

from ..rules import registry
from . import build

__all__ = ["fused_ops"]

_NOT_LITERAL = object()


def fused_ops(body, params, ops, make_op) -> dict:
    """``{id(stmt): op}`` for each statement of ``body`` that ends one of the idioms.

    ``ops`` maps statements to their operations. ``make_op(kind, z, reads)``
    makes the replacement: its gradient goes to the shifted array ``z`` alone,
    computed from the forward's names ``reads``.
    """
    counts = dict.fromkeys(params, 1)
    for node in build.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    found = {}
    for block in build.statement_lists(body):
        # Names bound once in the whole function, here: name -> position in this block.
        defs = {}
        for position, stmt in enumerate(block):
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) \
                    and counts.get(stmt.targets[0].id) == 1:
                defs[stmt.targets[0].id] = position
        for position, stmt in enumerate(block):
            op = ops.get(id(stmt))
            if op is None or op.kind != "rule":
                continue
            for recognise in (_logsumexp, _logsoftmax, _softmax):
                chain = _Chain(block, defs, ops, position, counts)
                match = recognise(chain, op)
                # (z itself must hold one value all along the pattern)
                if match is not None and counts.get(match[1].id) == 1 \
                        and match[1].id not in _stored(block[chain.start:position]):
                    found[id(stmt)] = make_op(*match)
                    break
    return found


def _logsumexp(chain, op):
    """``lse = log(sum(exp(z - m))) + m``."""
    if op.rule is not registry.lookup(operator.add):
        return None
    for log_atom, m in (op.operands, op.operands[::-1]):
        chain.restart()
        log = chain.op(log_atom, np.log)
        total = log and chain.op(log.operands[0], *_SUMS)
        z = total and chain.shifted(chain.exp_input(total.operands[0]), total, m)
        if z is not None:
            return "logsumexp", z, (total.operands[0].id, log.operands[0].id)
    return None


def _logsoftmax(chain, op):
    """``y = s - log(sum(exp(s)))`` with ``s = z - m``."""
    if op.rule is not registry.lookup(operator.sub):
        return None
    shifted, log_atom = op.operands
    log = chain.op(log_atom, np.log)
    total = log and chain.op(log.operands[0], *_SUMS)
    s = total and chain.exp_input(total.operands[0])
    if not _same_name(s, shifted):
        return None
    z = chain.shifted(s, total)
    return None if z is None else ("logsoftmax", z, (total.operands[0].id, log.operands[0].id))


def _softmax(chain, op):
    """``p = e / sum(e)`` with ``e = exp(z - m)``."""
    if op.rule is not registry.lookup(operator.truediv):
        return None
    exp, total_atom = op.operands
    total = chain.op(total_atom, *_SUMS)
    if total is None or not _same_name(total.operands[0], exp):
        return None
    z = chain.shifted(chain.exp_input(exp), total)
    return None if z is None else ("softmax", z, (total_atom.id,))


_SUMS = (np.sum, "sum")
_EXTREMA = (np.max, np.min, np.amax, np.amin, "max", "min")


def _stored(stmts) -> set:
    return {n.id for n in build.walk(gast.Module(body=list(stmts), type_ignores=[]))
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


class _Chain:
    """Follows names back to the operations that define them, each earlier in one block."""

    def __init__(self, block, defs, ops, end, counts):
        self.counts = counts
        self.block = block
        self.defs = defs
        self.ops = ops
        self.end = end
        self.before = end
        self.start = end  # (the earliest statement read so far)

    def restart(self):
        self.before = self.start = self.end

    def op(self, atom, *primals):
        """The operation defining the name ``atom``, if it comes earlier and is a rule of one of
        ``primals`` (functions, or the names of array methods)."""
        if not isinstance(atom, gast.Name):
            return None
        position = self.defs.get(atom.id)
        if position is None or position >= self.before:
            return None
        op = self.ops.get(id(self.block[position]))
        if op is None or op.kind != "rule" or not any(op.rule is _rule(p) for p in primals):
            return None
        self.before = self.start = position  # (each definition comes before the one that reads it)
        return op

    def exp_input(self, atom):
        """``s`` when ``atom`` is defined as ``np.exp(s)`` (the search goes on from there)."""
        exp = self.op(atom, np.exp)
        return exp.operands[0] if exp is not None else None

    def shifted(self, s, total, m=None):
        """``z`` when ``s`` is ``z - m``, with ``m`` a maximum or minimum of ``z`` that is one
        number along the axes ``total`` sums over (and is the name ``m``, when given)."""
        diff = self.op(s, operator.sub)
        if diff is None or (m is not None and not _same_name(diff.operands[1], m)):
            return None
        z = diff.operands[0]
        shift = self.op(diff.operands[1], *_EXTREMA)
        if shift is None or not _same_name(shift.operands[0], z):
            return None
        return z if _shift_constant_along(self.reduction(total), self.reduction(shift)) else None

    def reduction(self, op):
        """``(axis, keepdims)`` of a reduction written with literals or names bound once, else ``None``."""
        found = []
        for key in ("axis", "keepdims"):
            node = op.bindings.get(key)
            value = _literal(node)
            if value is _NOT_LITERAL and isinstance(node, gast.Name) and self.counts.get(node.id) == 1:
                value = ("name", node.id)  # (one value all along: equal to itself, whatever it is)
            if value is _NOT_LITERAL:
                return None
            found.append(value)
        axis, keepdims = found
        return axis, keepdims if isinstance(keepdims, tuple) else bool(keepdims)


def _rule(primal):
    return registry.method_rules.get(primal) if isinstance(primal, str) else registry.lookup(primal)


def _same_name(a, b) -> bool:
    return isinstance(a, gast.Name) and isinstance(b, gast.Name) and a.id == b.id


def _shift_constant_along(summed, shift) -> bool:
    """Whether a shift reduced as ``shift`` is one number along the axes ``summed`` adds over,
    so that it broadcasts back against the sum: ``(axis, keepdims)`` of each."""
    if summed is None or shift is None:
        return False
    axis, keepdims = summed
    if axis is not None and keepdims is not True:  # (the sum's axes are gone: the softmax would not line up)
        return False
    if shift[0] is None:  # one number for the whole array
        return True
    return shift == summed


def _literal(node):
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and isinstance(node.operand, gast.Constant):
        return -node.operand.value
    if isinstance(node, gast.Tuple):
        items = tuple(_literal(e) for e in node.elts)
        return _NOT_LITERAL if _NOT_LITERAL in items else items
    return _NOT_LITERAL
