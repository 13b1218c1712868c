"""Stage 6, transform (reverse mode): adjoints, accumulated as the backward is written.

The compiler knows statically, at every point of the backward, whether each
adjoint is unset, ``None``, set, or maybe ``None`` (:data:`UNSET`,
:data:`NONE`, :data:`SET`, :data:`MAYBE`). A statement's gradients are
recorded with :meth:`Adjoints.contribute` and written out when the adjoint
is next needed: ``dx = ...`` for a first contribution, ``dx = dx + ...``
for later ones, ``accum`` where ``None`` may meet a value. ``None`` is the
only zero: no zero-filled arrays. :meth:`Adjoints.merge` joins the states
of alternative paths (an ``if``'s branches, a loop's iterations).
"""

from __future__ import annotations

import copy

import gast

from ..runtime import structure
from . import build
from .classify import pure

__all__ = ["Adjoints", "UNSET", "NONE", "SET", "MAYBE"]

UNSET, NONE, SET, MAYBE = "unset", "none", "set", "maybe"


class Adjoints:
    """The pending contributions to each adjoint (``pending``) and how they are written out.

    A part of :class:`~srcgrad.compiler.reverse.ReverseTransform`.
    """

    def contribute(self, var, expr, kind, stmt, state, out):
        """Record that ``d<var>`` gains ``expr``; written out when ``d<var>`` is next needed."""
        self.pending.setdefault(var, []).append((self.order.get(id(stmt), 0), pure(expr), kind))

    def flush_all(self, out, state):
        for var in list(self.pending):
            self.flush(var, out, state)

    def flush(self, var, out, state):
        items = sorted(self.pending.pop(var, []), key=lambda item: item[0])
        if not items:
            return
        dv = self.namer.adjoint(var)
        # Contributions still waiting that read the old d<var> must be written first.
        for other in list(self.pending):
            if any(dv in build.names_in(e) for _, e, _ in self.pending.get(other, ())):
                self.flush(other, out, state)
        current = state.get(var, UNSET)
        if var in self.index_only and all(_calls(e, self.injected, structure.index_grad) for _, e, _ in items):
            for _, e, kind in items:
                if current in (SET, MAYBE):
                    e = build.call(self.runtime("index_add"), build.name(dv), *e.args)
                out.append(build.assign(dv, e))
                current = SET if SET in (current, kind) else MAYBE
            state[var] = current
            return
        sure = [e for _, e, k in items if k == SET]
        unsure = [e for _, e, k in items if k != SET]
        if sure:
            total = sure[0]
            for e in sure[1:]:
                total = gast.BinOp(left=total, op=gast.Add(), right=e)
            if current in (UNSET, NONE):
                out.append(build.assign(dv, total))
                current = SET
            elif current == SET:
                out.append(build.assign(dv, gast.BinOp(left=build.name(dv), op=gast.Add(), right=total)))
            else:
                out.append(build.assign(dv, self.accumulated(var, total)))
                current = SET
        unsure = _merge_field_dicts(unsure)
        for e in unsure:
            if current in (UNSET, NONE):
                out.append(build.assign(dv, e))
                current = MAYBE
            else:
                out.append(build.assign(dv, self.accumulated(var, e, sure=False)))
        state[var] = current

    def accumulated(self, var, e, sure=True):
        """``d<var> + e`` where ``d<var>`` may be None: inline for a scalar, else ``accum``.

        ``sure``: ``e`` is a gradient, never None (an unsure one, such as the part of ``max(a, b)``
        that did not win, goes through ``accum``, which adds None as nothing).
        """
        dv = self.namer.adjoint(var)
        if sure and self.shape_of(build.name(var)) == "()" and isinstance(e, (gast.Name, gast.BinOp, gast.UnaryOp)):
            return gast.IfExp(test=gast.Compare(left=build.name(dv), ops=[gast.Is()], comparators=[build.const(None)]),
                              body=e, orelse=gast.BinOp(left=build.name(dv), op=gast.Add(), right=copy.deepcopy(e)))
        return build.call(self.runtime("accum"), build.name(dv), e)

    def merge(self, branch_states):
        """Join the adjoint states at the end of alternative paths.

        Returns the joined state and, per path, the ``dv = None`` lines that
        path must end with so that every adjoint the join says is bound is
        bound on every path.
        """
        names = sorted(set().union(*branch_states))
        merged = {}
        lines = [[] for _ in branch_states]
        for n in names:
            kinds = [s.get(n, UNSET) for s in branch_states]
            if all(k == UNSET for k in kinds):
                continue
            if all(k == SET for k in kinds):
                merged[n] = SET
            elif all(k in (UNSET, NONE) for k in kinds):
                merged[n] = NONE
            else:
                merged[n] = MAYBE
            for i, k in enumerate(kinds):
                if k == UNSET:
                    lines[i].append(build.assign(self.namer.adjoint(n), build.const(None)))
        return merged, lines


def _merge_field_dicts(exprs):
    """``{'W': dW}`` and ``{'b': db}`` contributions become one ``{'W': dW, 'b': db}``."""
    dicts = [e for e in exprs if isinstance(e, gast.Dict) and all(isinstance(k, gast.Constant) for k in e.keys)]
    keys = [k.value for d in dicts for k in d.keys]
    if len(dicts) < 2 or len(set(keys)) != len(keys):
        return exprs
    merged = gast.Dict(keys=[k for d in dicts for k in d.keys], values=[v for d in dicts for v in d.values])
    return [merged] + [e for e in exprs if not any(e is d for d in dicts)]


def _calls(expr, injected, fn):
    """Whether ``expr`` is a call of the runtime function ``fn`` (under its injected name)."""
    return isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and injected.get(expr.func.id) is fn
