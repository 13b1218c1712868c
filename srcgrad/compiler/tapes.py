"""Stage 8, tapes as lists: the code that runs keeps its tapes in lists; higher order reads the push/pop twin.

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
(:func:`srcgrad.calls.cache.traced_as_twin`): same values, traceable.
"""

from __future__ import annotations

import gast

from ..runtime import tape
from . import build

__all__ = ["as_lists"]


def as_lists(forward, backward, injected, tapes):
    """Copies of ``forward`` and ``backward`` with the list form of ``tapes``, or None when there are none.

    (The copies share the statements the rewrite leaves as they are: the
    originals stay as they were.)

    Only the tapes this transform added are rewritten: code being
    differentiated again may push and pop tapes of its own, which are
    values it computes. ``None`` too when a tape is used in any other way
    than pushed in the forward and popped in the backward.
    """
    if not tapes:
        return None
    kinds = {name: value for name, value in injected.items() if value in (tape.new_tape, tape.push, tape.pop)}
    forward, backward = _spine(forward), _spine(backward)
    if forward.body:  # (the saved values and their unpacking lose the tapes _fuse folds away)
        forward.body[-1] = build.copy_tree(forward.body[-1])
    if backward.body:
        backward.body[0] = build.copy_tree(backward.body[0])
    pushed = _rewrite(forward.body, kinds, tapes, allowed=(tape.new_tape, tape.push))
    popped = _rewrite(backward.body, kinds, tapes, allowed=(tape.pop,))
    if pushed is None or popped is None or not popped <= _saved_names(backward):
        return None
    gone, renamed = _fuse(forward, backward, popped)
    popped = {renamed.get(t, t) for t in popped - gone}
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


def _fuse(forward, backward, tapes):
    """Tapes pushed together share one list of tuples: one append and one ``next`` per step, not one each.

    ``a_tape.append(a)``, ``b_tape.append(b)`` on consecutive lines become
    ``tape.append((a, b))``; in the backward, where the pops of the same
    block sit, the first reads both (``a, b = next(tape)``), or, where ``b``
    is still read between the two pops, ``a, b_popped = next(tape)`` and
    the later one takes its value (``b = b_popped``). Only tapes pushed once and
    popped once, in one block each, are joined. Returns the tapes folded
    into another (gone from the code and from ``saved``), and the new
    name of each tape that holds a group (``tape``, ``tape_2``, ...).
    """
    last, first = forward.body[-1], backward.body[0]
    if not (isinstance(last, gast.Return) and isinstance(last.value, gast.Tuple) and len(last.value.elts) == 2
            and isinstance(last.value.elts[1], gast.Tuple) and _unpacks_saved(first, backward)
            and isinstance(first.targets[0], gast.Tuple)):
        return set(), {}
    taken = build.names_in(forward, None) | build.names_in(backward, None)
    pops = {}  # tape -> (block, position, target)
    counts = {}
    for block in build.statement_lists(backward.body):
        for k, stmt in enumerate(block):
            name = _popped_tape(stmt)
            if name in tapes:
                pops[name] = (block, k, stmt.targets[0])
                counts[name] = counts.get(name, 0) + 1
    gone, renamed = set(), {}
    for block in build.statement_lists(forward.body):
        k = 0
        while k < len(block):
            run = []
            while k + len(run) < len(block) and _pushed_tape(block[k + len(run)]) in tapes:
                run.append(_pushed_tape(block[k + len(run)]))
            group = [t for t in run if counts.get(t) == 1 and t not in gone]
            places = {id(pops[t][0]) for t in group}
            if len(group) < 2 or len(places) != 1 or len(set(run)) != len(run):
                k += max(len(run), 1)
                continue
            first, members = group[0], group[1:]
            values = [block[k + run.index(t)].value.args[0] for t in group]
            block[k:k + len(run)] = [stmt for stmt, t in zip(block[k:k + len(run)], run) if t not in group] + [
                build.expr_stmt(build.call(build.attr(first, "append"), gast.Tuple(elts=values, ctx=gast.Load())))]
            _join_pops(group, pops, taken)
            gone |= set(members)
            renamed[first] = _fresh("tape", taken)  # (it holds the step's values, not first's alone)
            k += len(run) - len(group) + 1
    for block in build.statement_lists(backward.body):
        if any(s is _DROPPED for s in block):
            block[:] = [s for s in block if s is not _DROPPED] or [gast.Pass()]
    if gone:
        _drop_tapes(forward, backward, gone)
        for fdef in (forward, backward):
            _rename(fdef, renamed)
    return gone, renamed


def _spine(fdef):
    """A copy of ``fdef`` that shares its expressions and simple statements with it.

    The rewrite replaces statements in their lists and never changes one in
    place, so only the lists and the loops and branches holding them are new
    (:func:`_rename` copies what it renames; ``as_lists`` copies the two
    statements ``_drop_tapes`` edits).
    """
    new = _shallow(fdef)
    new.body = _spine_block(fdef.body)
    return new


def _shallow(node):
    new = node.__class__.__new__(node.__class__)
    new.__dict__.update(node.__dict__)
    return new


def _spine_block(stmts):
    out = []
    for stmt in stmts:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            stmt = _shallow(stmt)
            stmt.body, stmt.orelse = _spine_block(stmt.body), _spine_block(stmt.orelse)
        out.append(stmt)
    return out


def _rename(node, renamed):
    """Rename the names ``renamed`` maps under ``node``, a spine (:func:`_spine`): what is shared is copied first."""
    for field in build.child_fields(node.__class__):
        value = getattr(node, field, None)
        if isinstance(value, list) and field in ("body", "orelse") \
                and isinstance(node, (gast.FunctionDef, gast.If, gast.For, gast.While)):
            for k, stmt in enumerate(value):
                if isinstance(stmt, (gast.If, gast.For, gast.While)):
                    _rename(stmt, renamed)  # (a copy already)
                elif _mentions(stmt, renamed):
                    value[k] = _renamed(stmt, renamed)
        elif isinstance(value, list):
            if any(_mentions(item, renamed) for item in value if isinstance(item, gast.AST)):
                setattr(node, field, [_renamed(item, renamed) if isinstance(item, gast.AST) else item
                                      for item in value])
        elif isinstance(value, gast.AST) and _mentions(value, renamed):
            setattr(node, field, _renamed(value, renamed))


def _mentions(node, names):
    return not build.names_in(node, None).isdisjoint(names)


def _renamed(node, renamed):
    node = build.copy_tree(node)
    for n in build.walk(node):
        if isinstance(n, gast.Name) and n.id in renamed:
            n.id = renamed[n.id]
    return node


_DROPPED = gast.Pass()  # (a pop read in with an earlier one, taken out once every group is joined)


def _join_pops(group, pops, taken):
    """The pops of ``group`` (one block): the first reads the tuple, the others take their part."""
    block = pops[group[0]][0]
    order = sorted(group, key=lambda t: pops[t][1])
    head = pops[order[0]][1]
    names = []
    for t in group:
        target = pops[t][2]
        k = pops[t][1]
        if t == order[0] or not any(target.id in build.names_in(s, None) for s in block[head + 1:k]):
            names.append(target)  # (nothing reads or sets it before its own pop: it is read straight in)
            if t != order[0]:
                block[k] = _DROPPED
            continue
        temp = _fresh(f"{target.id}_popped", taken)
        names.append(build.store(temp))
        block[k] = gast.Assign(targets=[target], value=build.name(temp), type_comment=None)
    block[head] = gast.Assign(targets=[gast.Tuple(elts=names, ctx=gast.Store())],
                              value=build.call("next", build.name(group[0])), type_comment=None)


def _drop_tapes(forward, backward, gone):
    """Remove the folded tapes' ``[]`` lines and their places in ``saved``."""
    forward.body = [s for s in forward.body
                    if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id in gone)]
    saved = forward.body[-1].value.elts[1]  # return (y, (saved...))
    saved.elts = [e for e in saved.elts if not (isinstance(e, gast.Name) and e.id in gone)]
    unpack = backward.body[0].targets[0]
    unpack.elts = [e for e in unpack.elts if not (isinstance(e, gast.Name) and e.id in gone)]


def _pushed_tape(stmt):
    """``t`` for a line ``t.append(v)``, else None."""
    call = getattr(stmt, "value", None)
    if isinstance(stmt, gast.Expr) and isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) \
            and call.func.attr == "append" and isinstance(call.func.value, gast.Name) and len(call.args) == 1:
        return call.func.value.id
    return None


def _popped_tape(stmt):
    """``t`` for a line ``v = next(t)``, else None."""
    call = getattr(stmt, "value", None)
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) and isinstance(call, gast.Call) \
            and isinstance(call.func, gast.Name) and call.func.id == "next" and isinstance(call.args[0], gast.Name):
        return call.args[0].id
    return None


def _fresh(name, taken):
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    taken.add(candidate)
    return candidate


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
