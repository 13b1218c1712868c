"""The code that runs keeps its tapes in lists; its twin with ``push``/``pop`` is what higher order reads.

The transform writes tapes as persistent stacks (``srcgrad/runtime/tape.py``)::

    h_tape = new_tape()            # forward
    h_tape = push(h_tape, h)
    h, h_tape = pop(h_tape)        # backward

because that code can be differentiated again: ``push`` and ``pop`` are
values in, values out, with rules. Run at first order, though, each is a
Python call that allocates, several per loop iteration. So the functions
that run get their tapes rewritten to what a person would write::

    h_tape = []
    h_tape.append(h)
    h_tape = reversed(h_tape)      # once, at the top of the backward
    h = next(h_tape)

The saved list is never changed (``reversed`` makes an iterator), so a
pullback can still run its backward many times. When the generated code
is differentiated again, calls to it go to the ``push``/``pop`` twin
(:func:`srcgrad.runtime.dispatch.traced_as_twin`): same values, traceable.
"""

from __future__ import annotations

import gast

from ..runtime import tape
from . import build

__all__ = ["as_lists"]


def as_lists(forward, backward, injected, tapes):
    """Copies of ``forward`` and ``backward`` with the list form of ``tapes``, or None when there are none.

    Only the tapes this transform added are rewritten: code being
    differentiated again may push and pop tapes of its own, which are
    values it computes. ``None`` too when a tape is used in any other way
    than pushed in the forward and popped in the backward.
    """
    if not tapes:
        return None
    kinds = {name: value for name, value in injected.items() if value in (tape.new_tape, tape.push, tape.pop)}
    forward, backward = build.copy_tree(forward), build.copy_tree(backward)
    pushed = _rewrite(forward.body, kinds, tapes, allowed=(tape.new_tape, tape.push))
    popped = _rewrite(backward.body, kinds, tapes, allowed=(tape.pop,))
    if pushed is None or popped is None or not popped <= _saved_names(backward):
        return None
    at = next((k + 1 for k, s in enumerate(backward.body) if _unpacks_saved(s, backward)), 0)
    backward.body[at:at] = [build.assign(t, build.call("reversed", build.name(t))) for t in sorted(popped)]
    return forward, backward


def _rewrite(stmts, kinds, tapes, allowed):
    """Rewrite the lines of ``tapes`` in place; the tape names touched, or None for a use not ``allowed``."""
    touched = set()
    for k, stmt in enumerate(stmts):
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and isinstance(stmt, (gast.If, gast.For, gast.While)):
                found = _rewrite(inner, kinds, tapes, allowed)
                if found is None:
                    return None
                touched |= found
        call = getattr(stmt, "value", None)
        if not (isinstance(stmt, gast.Assign) and isinstance(call, gast.Call) and isinstance(call.func, gast.Name)
                and call.func.id in kinds):
            continue
        names = {n.id for n in build.walk(stmt) if isinstance(n, gast.Name)}
        if not names & tapes:
            continue  # a tape of the code being differentiated, not one of ours
        what = kinds[call.func.id]
        if what not in allowed:
            return None
        target = stmt.targets[0]
        if what is tape.new_tape and isinstance(target, gast.Name):
            stmts[k] = build.assign(target.id, gast.List(elts=[], ctx=gast.Load()))
        elif what is tape.push and isinstance(target, gast.Name) and _is_name(call.args[0], target.id):
            stmts[k] = build.expr_stmt(build.call(build.attr(target.id, "append"), call.args[1]))
        elif what is tape.pop and isinstance(target, gast.Tuple) and len(target.elts) == 2 \
                and isinstance(call.args[0], gast.Name) and _is_name(target.elts[1], call.args[0].id):
            value = build.call("next", build.name(call.args[0].id))
            stmts[k] = gast.Assign(targets=[target.elts[0]], value=value, type_comment=None)
        else:
            return None
        touched.add(target.id if isinstance(target, gast.Name) else call.args[0].id)
    return touched


def _is_name(node, name):
    return isinstance(node, gast.Name) and node.id == name


def _saved_names(backward):
    first = backward.body[0] if backward.body else None
    if first is not None and _unpacks_saved(first, backward):
        return {n.id for n in build.walk(first.targets[0]) if isinstance(n, gast.Name)}
    return set()


def _unpacks_saved(stmt, backward):
    """``a, b = saved``: the backward's first line, which the tapes' ``reversed`` lines follow."""
    saved = backward.args.args[0].id
    return isinstance(stmt, gast.Assign) and _is_name(stmt.value, saved)
