"""Stage 7, simplify: fold the compiler's temporaries back into their uses.

After these steps:

- an adjoint that merely renames another (``dtotal = dy``) is replaced by
  it (:func:`propagate_aliases`);
- a temporary the compiler invented, assigned once and read once, in the
  next statements of its own block, and computed without side effects, is
  folded into its use (:func:`fold_block`), so the forward reads like the
  user's code;
- comments left with no code under them are dropped
  (:func:`drop_empty_comments`).

The user's names are never folded. :class:`Counts` keeps how often each
name is assigned and read as names are folded, so each round of
:func:`~srcgrad.compiler.simplify.simplify` need not count again.
"""

from __future__ import annotations

import gast

from . import build
from .simplify_tidy import number

__all__ = ["Counts", "propagate_aliases", "fold_block", "drop_empty_comments", "is_pure"]


def _counts(roots, captured: set | None = None):
    """How often each name is assigned (stored, or a parameter) and loaded under ``roots``: one walk.

    With a ``captured`` set, also collects the names used inside nested
    functions and lambdas.
    """
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    Name, Load, Store, arguments, nested = gast.Name, gast.Load, gast.Store, gast.arguments, (gast.Lambda, gast.FunctionDef)
    for root in roots:
        for node in build.walk(root):
            cls = node.__class__
            if cls is Name:
                ctx = node.ctx.__class__
                if ctx is Load:
                    loads[node.id] = loads.get(node.id, 0) + 1
                elif ctx is Store:
                    stores[node.id] = stores.get(node.id, 0) + 1
            elif cls is arguments:
                for a in node.args:
                    stores[a.id] = stores.get(a.id, 0) + 1
            elif captured is not None and cls in nested and node not in roots:
                captured.update(n.id for n in build.walk(node) if isinstance(n, gast.Name))
    return stores, loads


class Counts:
    """:func:`_counts` of one function, kept up to date as names are folded, so each round of
    :func:`~.simplify.simplify` does not walk the whole function again to count (that was a tenth of a compile).

    An edit these updates do not describe (one involving a nested function) marks the counts
    stale; they are counted afresh when next read.
    """

    def __init__(self, fdef):
        self.fdef = fdef
        self.stale = True
        self.read()

    def read(self):
        if self.stale:
            self.captured = set()
            self.stores, self.loads = _counts([self.fdef], self.captured)
            self.stale = False
        return self

    def add(self, node, times):
        """Count the names under ``node`` ``times`` more times (negative: fewer)."""
        stores, loads = _counts([node], set())
        for name, n in stores.items():
            self.stores[name] = self.stores.get(name, 0) + times * n
        for name, n in loads.items():
            self.loads[name] = self.loads.get(name, 0) + times * n


def _has_nested(node) -> bool:
    return any(isinstance(n, (gast.Lambda, gast.FunctionDef)) for n in build.walk(node))


def is_pure(expr) -> bool:
    """Whether ``expr`` calls only functions the compiler marked pure: it can move without changing what runs."""
    for node in build.walk(expr):
        if isinstance(node, gast.Call) and not getattr(node, "_srcgrad_pure", False):
            return False
    return True


def _replace(node, name, value):
    return build.replace_names(node, {name: value})


def propagate_aliases(fdef, invented, adjoints, counts=None) -> bool:
    """``da = db`` where both are assigned once: use ``db`` everywhere.

    ``counts`` (a :class:`Counts` of ``fdef``, counted afresh when None) is kept up to date.
    """
    # Names a nested function reads are its captured variables, known to the backward by name.
    # (Generated functions have no defaults or decorators, so every nested one is in the body.)
    counts = (counts or Counts(fdef)).read()
    captured = counts.captured
    assigned, loads = counts.stores, counts.loads
    # Each alias found is replaced at the end, in one walk; until then ``sources`` says
    # what a name reads as after the replacements before it (a = b; c = a: c reads b).
    sources: dict[str, str] = {}
    for stmt in list(_direct_statements(fdef.body)):
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and isinstance(stmt.value, gast.Name)):
            continue
        target, source = stmt.targets[0].id, stmt.value.id
        source = sources.get(source, source)
        if target not in invented or assigned.get(target) != 1 or assigned.get(source, 0) > 1 \
                or target in captured:
            continue
        if target in adjoints and source not in adjoints:
            continue
        _remove(fdef, stmt)
        loads[stmt.value.id] -= 1
        for name, old in sources.items():
            if old == target:
                sources[name] = source
        sources[target] = source
        assigned[target] -= 1  # its one assignment is gone; nothing else assigned changed
    if sources:
        build.replace_names(fdef, {target: build.name(source) for target, source in sources.items()})
        for target, source in sources.items():  # (a target's reads are all replaced: none is captured)
            loads[source] = loads.get(source, 0) + loads.pop(target, 0)
    return bool(sources)


def _direct_statements(stmts):
    for s in stmts:
        yield s
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                yield from _direct_statements(inner)


def _remove(fdef, target_stmt):
    def walk(stmts):
        if target_stmt in stmts:
            stmts.remove(target_stmt)
            return True
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                    if walk(inner):
                        if not inner and field == "body":
                            inner.append(gast.Pass())
                        return True
        return False

    walk(fdef.body)


def fold_block(stmts, invented, loads, assigned, keep_calls=None, own=None) -> bool:
    """Fold each ``invented`` temporary assigned and read once (by ``assigned`` and ``loads``) into its
    use in ``stmts`` and the blocks they hold; keep those computed by a call other than a name of
    ``keep_calls`` when it is given. ``own``, the :class:`Counts` of the function, is kept up to date."""
    changed = False
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                changed |= fold_block(inner, invented, loads, assigned, keep_calls, own)
    i = 0
    while i < len(stmts):
        stmt = stmts[i]
        if (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and stmt.targets[0].id in invented and assigned.get(stmt.targets[0].id) == 1
                and loads.get(stmt.targets[0].id) == 1 and is_pure(stmt.value)
                and not (keep_calls is not None and _computed_by_call(stmt.value, keep_calls))):
            name = stmt.targets[0].id
            reads = build.names_in(stmt.value)
            for j in range(i + 1, len(stmts)):
                later = stmts[j]
                if hasattr(later, "_srcgrad_comment"):
                    continue
                if isinstance(later, (gast.Assign, gast.Expr, gast.Return)) and name in build.names_in(later):
                    if own is not None:
                        _count_fold(own, stmt, later.value, name)
                    if isinstance(later, gast.Assign):
                        later.value = _replace(later.value, name, stmt.value)
                    else:
                        later.value = _replace(later.value, name, stmt.value)
                    del stmts[i]
                    changed = True
                    i -= 1
                    break
                # Stop at anything that could change what the expression reads.
                if not isinstance(later, gast.Assign) or not is_pure(later.value):
                    break
                written = {n.id for n in build.walk(later.targets[0]) if isinstance(n, gast.Name)}
                if written & reads:
                    break
        i += 1
    return changed


def _computed_by_call(expr, power_rules) -> bool:
    """Whether ``expr`` calls a function, other than the power rule (named in ``power_rules``) with a
    literal exponent, which prints as ``2 * x``."""
    for n in build.walk(expr):
        if n.__class__ is gast.Call and not (
                n.func.__class__ is gast.Name and n.func.id in power_rules and len(n.args) == 2
                and number(n.args[1])):
            return True
    return False


def _count_fold(counts, stmt, into, name):
    """Update ``counts`` for ``stmt`` (``name = expr``) folded into the expression ``into``."""
    if _has_nested(stmt.value) or _has_nested(into):
        counts.stale = True
        return
    uses = sum(1 for n in build.walk(into) if isinstance(n, gast.Name) and n.id == name
               and isinstance(n.ctx, gast.Load))
    counts.stores[name] -= 1
    counts.loads[name] = counts.loads.get(name, 0) - uses
    if uses != 1:  # the expression is copied to each use (none: it is dropped)
        counts.add(stmt.value, uses - 1)


def drop_empty_comments(stmts):
    out = []
    for k, s in enumerate(stmts):
        if hasattr(s, "_srcgrad_comment"):
            following = stmts[k + 1] if k + 1 < len(stmts) else None
            if following is None or hasattr(following, "_srcgrad_comment") or isinstance(following, gast.Return):
                continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                setattr(s, field, drop_empty_comments(inner) or ([gast.Pass()] if field == "body" else []))
        out.append(s)
    return out
