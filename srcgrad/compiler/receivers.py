"""Rules chosen by a name (part of stage 2, normalise): check at run time that they apply.

``b.T``, ``b.real`` and ``b.sum()`` are differentiated by the rules for
NumPy's array attributes and methods (``registry.attribute_rules`` and
``method_rules``), chosen by the name alone: the compiler does not know what
``b`` holds. Where ``b`` is one of the user's objects with a field ``T`` or
a method ``sum``, Python runs the user's field or method, and the array rule
would give a wrong gradient (a zero, or an internal error). So before each
such statement whose receiver is not surely an array or a number, this pass
puts a run-time question, ``expect_numeric(b, "b", "T", file, line)``, which
refuses anything else with the user's line.

After the pass, every statement of the A-normal body that reads an array
attribute or calls an array method by name either has a receiver that is
surely a NumPy array or number (a NumPy call's result, arithmetic on one, a
constant, or a name already checked and never assigned again), or comes
right after the check of its receiver.
"""

from __future__ import annotations

import gast
import numpy as np

from ..rules import registry
from . import build

__all__ = ["check_receivers"]

_LIST_MAKERS = (np.ndarray.tolist,)

#: Rules that look at the receiver themselves: ``.real`` and ``.imag`` refuse a user's field in
#: reverse mode and read its tangent in forward mode (see ``rules.numpy.part_grad``).
_SELF_CHECKING = {"real", "imag"}


def check_receivers(parsed, scope, fdef) -> None:
    """Put ``expect_numeric`` checks into ``fdef``'s A-normal body (in place), as the module says."""
    if scope.generated:
        return  # srcgrad's own code (a backward being differentiated) uses array rules on arrays only
    counts = _assignment_counts(fdef)
    _Receivers(parsed, scope, counts).block(fdef.body, set())


class _Receivers:
    def __init__(self, parsed, scope, counts):
        self.parsed, self.scope, self.counts = parsed, scope, counts

    def block(self, stmts, known) -> None:
        known = set(known)
        out = []
        for s in stmts:
            receiver, what = self.named_rule(s)
            if receiver is not None and receiver not in known:
                out.append(self.check(s, receiver, what))
                if self.counts.get(receiver, 0) <= 1 and self.assigned_before(receiver):
                    known.add(receiver)
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list) and not isinstance(s, gast.FunctionDef):
                    self.block(getattr(s, field), known)
            out.append(s)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                name = s.targets[0].id
                if self.counts.get(name, 0) == 1 and self.surely_numeric(s.value, known):
                    known.add(name)
        stmts[:] = out

    def assigned_before(self, name) -> bool:
        """A parameter never assigned, or a local assigned once (before this read, in A-normal form)."""
        return name in self.scope.params or self.counts.get(name, 0) == 1

    def named_rule(self, s):
        """``(receiver, "attr")`` when ``s`` reads ``receiver.attr`` or calls ``receiver.attr(...)`` by a rule's name."""
        value = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
        if isinstance(value, gast.Attribute) and value.attr in registry.attribute_rules \
                and value.attr not in _SELF_CHECKING:
            receiver = value.value
        elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                and value.func.attr in registry.method_rules:
            receiver = value.func.value
            value = value.func
        else:
            return None, None
        if not isinstance(receiver, gast.Name) or self.scope.is_static_path(value):
            return None, None  # np.sum(...) is NumPy's function, not a method of an array named np
        return receiver.id, value.attr

    def check(self, s, receiver, what):
        line = getattr(s, "_srcgrad_line", None) or getattr(s, "lineno", None)
        call = build.call("expect_numeric", build.name(receiver), build.const(receiver), build.const(what),
                          build.const(self.parsed.filename), build.const(line))
        call.func._srcgrad_runtime = "expect_numeric"  # (as anf.runtime_call marks srcgrad's helpers)
        check = build.expr_stmt(call)
        for field in ("lineno", "col_offset", "_srcgrad_line"):
            if hasattr(s, field):
                setattr(check, field, getattr(s, field))
        return check

    def surely_numeric(self, value, known) -> bool:
        """Whether ``value`` is surely a NumPy array or number: a NumPy call, or arithmetic on one."""
        if isinstance(value, gast.Name):
            return value.id in known
        if isinstance(value, gast.Constant):
            return isinstance(value.value, (int, float, complex))
        if isinstance(value, gast.BinOp):
            return self.surely_numeric(value.left, known) or self.surely_numeric(value.right, known)
        if isinstance(value, gast.UnaryOp):
            return self.surely_numeric(value.operand, known)
        if isinstance(value, gast.Attribute) and value.attr in registry.attribute_rules:
            return self.surely_numeric(value.value, known)
        if isinstance(value, gast.Call):
            func = value.func
            if self.scope.is_static_path(func):
                target = self.scope.resolve(func)
                return isinstance(target, np.ufunc) or _is_numpy_function(target)
            if isinstance(func, gast.Attribute) and func.attr in registry.method_rules and func.attr != "copy":
                return self.surely_numeric(func.value, known)
        return False


def _is_numpy_function(target) -> bool:
    module = getattr(target, "__module__", None) or ""
    return callable(target) and not isinstance(target, type) and (module == "numpy" or module.startswith("numpy.")) \
        and target not in _LIST_MAKERS and getattr(target, "__name__", "") not in ("tolist", "split", "array_split")


def _assignment_counts(fdef) -> dict:
    """How many times each name is bound in the body (assignments, loop targets, augmented assignments)."""
    counts: dict = {}
    for node in build.walk(gast.Module(body=fdef.body, type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
            if node.id in _loop_names(fdef):
                counts[node.id] += 1
    return counts


def _loop_names(fdef) -> set:
    """Names bound inside a loop: bound again each time round, so never 'assigned once'."""
    cached = getattr(fdef, "_srcgrad_loop_names", None)
    if cached is not None:
        return cached
    names = set()
    for node in build.walk(gast.Module(body=fdef.body, type_ignores=[])):
        if isinstance(node, (gast.For, gast.While)):
            for inner in build.walk(gast.Module(body=node.body + node.orelse, type_ignores=[])):
                if isinstance(inner, gast.Name) and isinstance(inner.ctx, gast.Store):
                    names.add(inner.id)
            if isinstance(node, gast.For):
                names |= {n.id for n in build.walk(node.target) if isinstance(n, gast.Name)}
    fdef._srcgrad_loop_names = names
    return names
