"""Stage 4, normalise, aliasing: what goes around a write in place, so that every name sees what Python shows it.

For each statement that writes into a name's memory (``y[i] = v``,
``y += 1``, ``obj.a = v``, a method of a local object), :meth:`WriteRebuilds.written`
finds the name, and refuses a write into a global or a captured variable.
Before the write, :meth:`~WriteRebuilds.before_write` asks at run time
``check_unshared(...)`` of the names that may share its memory for reasons
unknown, and ``viewed(v, y)`` of the exact views that are read afterwards;
after it, :meth:`~WriteRebuilds.after_write` rebuilds the base from the view
written into (``y[:1] = v``, ``y = v.T``, ``y = v.reshape(y.shape)``) and
makes each view again from the new base, each only where it shares memory.
"""

from __future__ import annotations

import gast
import numpy as np

from . import build
from .aliasing_views import FRESH_METHODS, MUTATING_METHODS
from .normal import runtime_call

__all__ = ["WriteRebuilds", "at_line"]


class WriteRebuilds:
    """The checks before a write in place and the rebuilds after it. A part of
    :class:`~srcgrad.compiler.aliasing.Aliasing`."""

    def written(self, s, live):
        """``(name, node)`` for each name whose memory ``s`` changes in place."""
        out = []
        if isinstance(s, (gast.Assign, gast.AnnAssign)):
            for target in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                for t in build.walk(target):
                    if isinstance(t, (gast.Subscript, gast.Attribute)) and isinstance(t.ctx, gast.Store) \
                            and isinstance(t.value, gast.Name):
                        out.append((t.value.id, t))
        elif isinstance(s, gast.AugAssign):
            t = s.target
            out.append((t.id if isinstance(t, gast.Name) else t.value.id, s))
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                    and (func.attr in MUTATING_METHODS or func.value.id in self.scope.locals
                         and func.attr not in FRESH_METHODS):
                out.append((func.value.id, s))
        for name, node in list(out):
            if name not in self.scope.locals and isinstance(node, gast.Expr) and name not in live:
                out.remove((name, node))  # seen.append(x) on a global: runs as written, as Python runs it
            elif name not in self.scope.locals:
                self.refuse(node, f"writing into '{name}', which is not a local variable or parameter "
                                  f"(a global or a captured variable)",
                            f"pass {name} in as an argument and return the new value")
        return out

    def live_partners(self, name, state, live):
        return sorted(m for m in state.partners(name) if m in live)

    def before_write(self, name, node, state, live):
        """The run-time questions asked before a write into ``name``: which views see it, what may share it."""
        self.pending = getattr(self, "pending", {})
        partners = self.live_partners(name, state, live)
        if not partners or not self.emit:
            return []
        group = state.group(name)
        out = []
        root = state.root(name)
        exact = [m for m in partners if m in group]
        unknown = [m for m in partners if m not in group]
        line = getattr(node, "lineno", None)
        if unknown:
            check = runtime_call("check_unshared", build.name(name),
                             build.tuple_([build.name(m) for m in unknown]),
                             build.const(tuple(unknown)), build.const(name), build.const(self.parsed.filename),
                             build.const(line))
            out.append(at_line(build.expr_stmt(check), node))
        if exact:
            needed = self.needed(state, group, set(exact) | {name}, root)
            conds = {}
            for m in sorted(needed | {name}, key=lambda n: state.views[n].serial if n in state.views else 0):
                if m == root:
                    continue
                c = self.namer.fresh("shares")
                self.scope.locals.add(c)
                conds[m] = c
                out.append(at_line(build.assign(c, runtime_call(
                    "viewed", build.name(m), build.name(root), build.const(m), build.const(self.parsed.filename),
                    build.const(line))), node))
            if name != root:
                # A write that does not reach the root reaches no view made from it either; but it may still
                # reach a name between the two (v3 = np.expand_dims(number, 0); v4 = v3: v4 is v3, not a view of
                # the number). Those are not rebuilt in that case: refuse when one of them would change.
                between = [m for m in exact if m != root]
                if between:
                    check = runtime_call("check_unshared", build.name(name), build.tuple_([build.name(m) for m in between]),
                                     build.const(tuple(between)), build.const(name),
                                     build.const(self.parsed.filename), build.const(line))
                    guard = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=build.name(conds[name])),
                                    body=[at_line(build.expr_stmt(check), node)], orelse=[])
                    out.append(at_line(guard, node))
            if name == root:
                c = self.namer.fresh("in_place")
                self.scope.locals.add(c)
                conds[name] = c
                out.append(at_line(build.assign(c, runtime_call(
                    "viewed", build.name(name), build.name(name), build.const(name),
                    build.const(self.parsed.filename), build.const(line))), node))
            self.pending[id(node)] = (root, needed, conds)
        return out

    def needed(self, state, group, wanted, root):
        """The group's names to make again: those read later, and the views they are made from."""
        out = set()
        for m in wanted:
            while m in state.views and m in group and m != root and m not in out:
                out.add(m)
                m = state.views[m].parent
        return out

    def after_write(self, name, node, state, live):
        """After a write into ``name``: rebuild the base from it, then make its views again from the base."""
        pending = getattr(self, "pending", {}).pop(id(node), None)
        if pending is None:
            return []
        root, needed, conds = pending
        body = []
        m = name
        while m != root:  # the base, rebuilt from the view written into, one step at a time
            view = state.views[m]
            body.append(self.unview(m, view, node))
            m = view.parent
        again = []
        for m in sorted(needed, key=lambda n: state.views[n].serial):
            remake = _rebase(build.assign(build.store(m), build.copy_tree(state.views[m].expr)), node)
            again.append(remake if m in (name, *self.chain(state, name, root)) else
                         _rebase(gast.If(test=build.name(conds[m]), body=[remake], orelse=[]), node))
        return [_rebase(gast.If(test=build.name(conds[name]), body=body + again or [gast.Pass()], orelse=[]), node)]

    @staticmethod
    def chain(state, name, root):
        out = []
        m = name
        while m != root and m in state.views:
            m = state.views[m].parent
            out.append(m)
        return out

    def unview(self, child, view, node):
        """The statement giving ``view.parent`` what writing into ``child`` wrote into it."""
        parent = view.parent
        if view.kind == "same":
            return _rebase(build.assign(build.store(parent), build.name(child)), node)
        if view.kind == "index":
            target = gast.Subscript(value=build.name(parent), slice=build.copy_tree(view.expr.slice), ctx=gast.Store())
            return _rebase(build.assign(target, build.name(child)), node)
        if view.kind == "T":
            return _rebase(build.assign(build.store(parent), build.attr(child, "T")), node)
        if view.kind == "attr":
            target = gast.Attribute(value=build.name(parent), attr=view.expr.attr, ctx=gast.Store())
            return _rebase(build.assign(target, build.name(child)), node)
        if view.kind == "reshape":
            shape = build.attr(parent, "shape")
            return _rebase(build.assign(build.store(parent), build.call(build.attr(child, "reshape"), shape)), node)
        expr = view.expr
        method = isinstance(expr.func, gast.Attribute) and self.is_local(expr.func.value)
        parts = list(expr.args if method else expr.args[1:]) + [k.value for k in expr.keywords]
        if view.kind == "swapaxes":
            back = build.call(build.attr(child, "swapaxes"), *[build.copy_tree(p) for p in parts])
        else:  # transpose: by the inverse permutation
            if len(parts) == 1 and isinstance(parts[0], (gast.Tuple, gast.List)):
                parts = parts[0].elts
            axes = [p.value for p in parts]
            inverse = [int(i) for i in np.argsort(axes)] if axes else []
            back = build.call(build.attr(child, "transpose"), *[build.const(i) for i in inverse])
        return _rebase(build.assign(build.store(parent), back), node)


def at_line(node, like):
    """``node`` placed at the user's line of ``like`` (for messages, and the backward's comments)."""
    node.lineno = getattr(like, "lineno", None) or 0
    node.col_offset = getattr(like, "col_offset", 0)
    return node


def _rebase(node, like):
    """A statement this pass wrote to give a view's base (or a view) its new value: not a write to look at."""
    node._srcgrad_rebase = True
    return at_line(node, like)
