"""Stage 6, transform, step 2 (both modes): which values are active, numeric, of known shape, in loops.

After :meth:`Activity.analyse` the transform knows, for the function it
writes:

- ``active``: the names that carry a gradient: parameters, and globals or
  captured values that can hold arrays, and everything computed from them
  (integer loop counters, ``len``, comparisons never are); only active
  values get adjoints or tangents;
- ``numeric``: names every assignment of which is a rule's result (a number
  or an array, never None or a structure);
- ``shape`` and ``stmt_shape``: shape tokens, equal where shapes provably
  agree, so ``unbroadcast`` can be left out;
- ``in_loop``: statements whose overwritten values are kept on a tape;
  ``counters``: the iteration counter of each ``while`` loop;
- ``index_only``: names whose gradient is made only of index reads (added
  into in place).

What cannot be differentiated correctly is refused here: a module's
attribute where globals get gradients, ``np.r_`` with a slice, a default
value holding a gradient, a keyword argument whose gradient a rule does not give.
"""

from __future__ import annotations

import gast
import numpy as np

from ..errors import NoRuleError, UnsupportedSyntaxError
from ..rules import registry
from ..runtime import structure
from ..runtime.backs import carries_gradient
from . import build, idioms
from .classify import Classifier, Op, dotted, targets_of, unstar, walk_stmts
from .injection import INACTIVE_HELPERS, runtime_helper
from .resolve import is_constant_value, is_user_module

__all__ = ["Activity"]

#: NumPy functions that make a new float or integer array from shapes and numbers.
_ARRAY_MAKERS = frozenset(getattr(np, name) for name in (
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "eye", "identity",
    "arange", "linspace"))


class Activity(Classifier):
    """Classification, then activity, numeric values, shapes and loops (:meth:`analyse`)."""

    #: Whether patterns with a closed-form gradient get it (see idioms.py).
    fuses_idioms = True
    #: Whether globals are constants (forward mode's jvp) rather than given gradients.
    globals_are_constants = False

    def __init__(self, parsed, scope, namer, fdef, wants=None, kinds=None):
        super().__init__(parsed, scope, namer, fdef)
        self.wants = wants
        self.kinds = kinds
        self.active: set[str] = set()
        self.numeric: set[str] = set()
        self.scalars: set[str] = set()
        self.param_ndim: dict[str, int] = {}
        self.shape: dict[str, object] = {}
        self.stmt_shape: dict[int, object] = {}
        self.index_only: set[str] = set()
        self.in_loop: set[int] = set()  # statements inside some loop
        self.order: dict[int, int] = {}
        self.counters: dict[int, str] = {}

    def analyse(self):
        body = self.fdef.body
        # Temporaries are locals too (one may share a name with a global the user never reads).
        self.scope.locals |= {t for s in walk_stmts(body) for t in targets_of(s)}
        for position, stmt in enumerate(walk_stmts(body)):
            self.order[id(stmt)] = position
            if isinstance(stmt, (gast.Assign, gast.FunctionDef)):
                self.ops[id(stmt)] = self.classify(stmt)
            elif isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
                helper = getattr(stmt.value.func, "_srcgrad_runtime", None)
                if helper in INACTIVE_HELPERS:  # a check aliasing.py asks for its effect (raising), or a
                    # nograd function of the user's called for its effect
                    stmt.value.func.id = self.inject(helper, runtime_helper(helper))
        if self.fuses_idioms:  # patterns with a gradient of their own: their last statement's operation
            self.ops.update(idioms.fused_ops(body, self.scope.params, self.ops, _fused_op))
        self.mark_loops(body, None, set(self.scope.params))
        for stmt in walk_stmts(body):
            if isinstance(stmt, gast.While):
                self.counters[id(stmt)] = self.namer.fresh("steps")
        if self.scope.generated:
            self.inject_cells()
        # Activity: parameters, and non-constant values reached from outside (those wanted).
        self.active = set(self.scope.params)
        outer = ("free",) if getattr(self, "globals_are_constants", False) else ("free", "global")
        if self.scope.generated:
            outer = tuple(kind for kind in outer if kind != "free")
        if self.wants is not None:
            self.active = {p for p, wanted in zip(self.scope.params, self.wants[1:]) if wanted}
            outer = outer if self.wants[0] else ()
        for node in build.walk(self.fdef):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                if self.scope.kind(node.id) in outer and not is_constant_value(self.scope.value(node.id)):
                    self.active.add(node.id)
        self.check_module_reads(outer)
        changed = True
        while changed:
            changed = False
            for stmt in walk_stmts(body):
                op = self.ops.get(id(stmt))
                if op is None or op.kind == "inactive":
                    continue
                sources = [a for a in op.operands if self.is_active_atom(unstar(a))]
                if op.kind == "dynamic" and op.callee_target and op.callee_target in self.active:
                    sources.append(op.callee_target)
                if op.kind == "dynamic" and isinstance(op.callee, gast.Attribute) and self.is_active_atom(op.callee.value):
                    sources.append(op.callee.value)
                if op.kind == "dynamic" and (any(self.is_active_atom(v) for v in op.keywords.values())
                                             or op.spread is not None and self.is_active_atom(op.spread)):
                    sources.append(True)
                if op.kind in ("rule", "rulecall") and any(self.is_active_atom(v) for v in op.keywords.values()):
                    sources.append(True)
                if op.kind == "setattr" and sources and op.callee.id not in self.active:
                    self.active.add(op.callee.id)
                    changed = True
                if sources:
                    for t in targets_of(stmt):
                        if t not in self.active:
                            self.active.add(t)
                            changed = True
        self.check_index_tricks()
        self.check_random_draws(body)
        for stmt in walk_stmts(body):
            op = self.ops.get(id(stmt))
            if op is not None and op.kind == "closure":
                self.check_defaults(op.callee)
            if op is not None and op.kind in ("rule", "rulecall") and op.keywords:
                self.check_keywords(stmt, op)
        # Numeric results: every assignment to the name is a rule's result.
        assigned: dict[str, list] = {}
        for stmt in walk_stmts(body):
            for t in targets_of(stmt):
                assigned.setdefault(t, []).append(stmt)
        # y[i] = v (with_item) keeps y an array if it was one (np.zeros(n), say): assume so, then drop
        # what fails, until nothing does.
        def keeps(stmt, names):
            op = self.ops.get(id(stmt))
            if op is not None and op.kind == "inactive":
                value = getattr(stmt, "value", None)
                return isinstance(value, gast.Call) and self.scope.resolve(value.func) in _ARRAY_MAKERS
            return op is not None and (op.numeric or (
                op.kind in ("rule", "rulecall") and op.rule.primal is structure.with_item
                and isinstance(op.operands[0], gast.Name) and op.operands[0].id in names))

        numeric = {t for t in assigned if t not in self.scope.params}
        while True:
            failing = {t for t in numeric if not all(keeps(s, numeric) for s in assigned[t])}
            if not failing:
                break
            numeric -= failing
        self.numeric |= numeric
        self.infer_shapes(body, assigned)
        # Gradients made only of index reads are added into in place (see structure.index_add).
        others = set()
        for stmt in walk_stmts(body):
            op = self.ops.get(id(stmt))
            if op is None or op.kind == "inactive":
                continue
            atoms = list(op.operands[1:] if op.kind == "index" else op.operands) + list((op.keywords or {}).values())
            others |= {a.id for a in map(unstar, atoms) if isinstance(a, gast.Name)}
            others |= {op.callee_target} if op.callee_target else set()
            if isinstance(op.callee, gast.Attribute) and isinstance(op.callee.value, gast.Name):
                others.add(op.callee.value.id)
        returned = body[-1].value if isinstance(body[-1], gast.Return) else None
        others |= {n.id for n in gast.walk(returned) if isinstance(n, gast.Name)} if returned is not None else set()
        self.index_only = {op.operands[0].id for op in self.ops.values() if op.kind == "index"
                           and isinstance(op.operands[0], gast.Name)} - others

    def check_module_reads(self, outer):
        """Refuse ``config.W`` (a differentiable value of the user's module) where globals get gradients.

        Generated code reads such a path as a constant, so with implicit
        parameters (``params(config.W)``) its gradient would be a silent zero.
        Where globals are constants (``gradient(f, x)``) it is one too, rightly.
        """
        if "global" not in outer:
            return
        for node in build.walk(self.fdef):
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load) \
                    and self.scope.is_static_path(node) and carries_gradient(self.scope.resolve(node)):
                root = node
                while isinstance(root, gast.Attribute):
                    root = root.value
                if is_user_module(self.scope.resolve(root)):
                    module = dotted(node.value)
                    raise UnsupportedSyntaxError(
                        f"a gradient for {dotted(node)}, a value read through the module {module}: srcgrad "
                        "gives gradients to the function's own globals and captured variables, not to a "
                        "module's attributes",
                        filename=self.parsed.filename, lineno=getattr(node, "lineno", None),
                        fix=f"import the value by name (from {module} import {node.attr}) and use {node.attr}, "
                        "or pass it to the function as an argument")

    def check_index_tricks(self):
        """Refuse ``np.r_[0:3, a]`` where ``a`` carries a gradient: the slice keeps it from being a call."""
        for stmt, names in self.index_tricks:
            if any(self.is_active_atom(n) for n in names):
                raise NoRuleError(
                    "srcgrad differentiates np.r_[...] and np.c_[...] only when every item is a value: "
                    "a slice (start:stop) among them is not supported",
                    filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
                    fix="write the slice as np.arange(start, stop) (np.r_[np.arange(3), a]), "
                    "or use np.concatenate")

    def check_random_draws(self, body):
        """Refuse a random draw whose parameters carry a gradient (``np.random.normal(mu, 1.0)``): a
        draw is a constant only while they do not."""
        for stmt in walk_stmts(body):
            op = self.ops.get(id(stmt))
            if op is not None and op.kind == "inactive" and op.operands \
                    and any(self.is_active_atom(unstar(a)) for a in op.operands):
                raise registry.random_draw_error(dotted(op.callee), filename=self.parsed.filename,
                                                 lineno=getattr(stmt, "_srcgrad_line", None))

    def check_defaults(self, fn):
        """A nested function's default values are not captured: one holding a gradient would lose it."""
        defaults = list(fn.args.defaults) + [d for d in fn.args.kw_defaults if d is not None]
        for default in defaults:
            if any(self.is_active_atom(n) for n in build.walk(default) if isinstance(n, gast.Name)):
                raise UnsupportedSyntaxError(
                    "a default value holding a differentiable value in a nested function (lambda t, c=c: ...)",
                    filename=self.parsed.filename, lineno=getattr(fn, "lineno", None),
                    fix="use the variable directly, the nested function captures it (lambda t: t * c); "
                    "defaults that are counters or constants (k=k in a loop over range) are fine")

    def check_keywords(self, stmt, op):
        """A keyword carrying a gradient that the rule does not give is refused, never taken as a constant."""
        for k, value in op.keywords.items():
            if k in op.positions or k in registry.nondiff_keywords or not self.is_active_atom(value):
                continue
            call = getattr(stmt, "value", None)
            what = dotted(call.func) if isinstance(call, gast.Call) else op.rule.name
            raise NoRuleError(
                f"the gradient of keyword argument {k}= of {what} is unknown: its derivative rule gives one "
                "gradient per positional argument, and this keyword does not fill a positional parameter",
                filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
                fix=f"pass {value.id} positionally if {what} takes it by position; if it carries no gradient, "
                f"pass srcgrad.stop_gradient({value.id})")

    def infer_shapes(self, body, assigned):
        """Shape classes, to skip ``unbroadcast`` where shapes provably agree.

        A name assigned once has a token for its shape (see
        :meth:`result_shape`). A name assigned several times (a loop's
        carried value) is known only as a scalar, "()": when the call's
        arguments are numbers (``self.kinds``), every assignment to it is
        checked to give a scalar, assuming the same of the others, until
        nothing changes.
        """
        self.assign_count = {}
        for stmt in walk_stmts(body):
            for t in targets_of(stmt):
                self.assign_count[t] = self.assign_count.get(t, 0) + 1
        for p in self.scope.params:
            self.assign_count[p] = self.assign_count.get(p, 0) + 1
        self.param_ndim = dict(zip(self.scope.params, self.kinds or ()))
        self.scalars = {t for t, n in self.assign_count.items() if n > 1 and self.kinds is not None
                        and (t not in self.scope.params or self.param_ndim.get(t) == 0)}
        while True:
            self.shape = {p: "()" for p, ndim in self.param_ndim.items() if ndim == 0}
            for stmt in walk_stmts(body):
                op = self.ops.get(id(stmt))
                targets = targets_of(stmt)
                if isinstance(stmt, gast.For):  # a range loop's counter is an int
                    self.stmt_shape[id(stmt)] = "()" if _is_range(stmt.iter) else None
                    if _is_range(stmt.iter) and self.assign_count.get(stmt.target.id) == 1:
                        self.shape[stmt.target.id] = "()"
                    continue
                if len(targets) != 1 or op is None:
                    continue
                constant = isinstance(getattr(stmt, "value", None), gast.Constant)
                token = self.shape_of(stmt.value) if constant else self.result_shape(op)
                self.stmt_shape[id(stmt)] = token
                t = targets[0]
                if token is not None and self.assign_count.get(t) == 1:
                    self.shape[t] = token
            wrong = {t for t in self.scalars
                     if any(self.stmt_shape.get(id(s)) != "()" for s in assigned.get(t, ()))}
            if not wrong:
                return
            self.scalars -= wrong

    def result_shape(self, op):
        """A token for the shape of an operation's result, or None when unknown.

        Two values with the same token have the same shape: a name stands for
        its own shape, an elementwise operation of operands sharing a token
        has that token, and ``math`` functions give scalars.
        """
        if op.kind == "copy":
            return self.shape_of(op.operands[0])
        if op.kind == "index":  # v[i] of a vector the call passed, at an int
            base = op.operands[0]
            if isinstance(base, gast.Name) and self.param_ndim.get(base.id) == 1 \
                    and self.assign_count.get(base.id) == 1 and self.shape_of(op.index) == "()":
                return "()"
            return None
        if op.kind not in ("rule", "rulecall"):
            return None
        if op.rule.scalar:
            return "()"
        if not op.rule.elementwise:
            return None
        tokens = {self.shape_of(a) for a in list(op.operands) + list((op.keywords or {}).values())
                  if not isinstance(a, gast.Constant) and not (isinstance(a, gast.Attribute) and self.scope.is_static_path(a))}
        if len(tokens) == 1:
            return tokens.pop()
        return None

    def shape_of(self, atom):
        if isinstance(atom, gast.Constant) and type(atom.value) in (int, float):
            return "()"
        if not isinstance(atom, gast.Name):
            return None
        if self.assign_count.get(atom.id, 0) > 1:
            return "()" if atom.id in self.scalars else None
        return self.shape.get(atom.id, atom.id)

    def mark_loops(self, stmts, inside, bound):
        """Mark the statements whose overwritten values are kept on a tape; return the names bound after.

        Every statement inside a loop is marked. A branch runs at most once,
        but ``if c: y = y * x`` still overwrites the ``y`` its own gradient
        needs, so in a branch a statement that rebinds a name bound before it
        is marked too; a name first bound inside a branch has no older value
        to keep (and straight-line code was renamed instead).
        """
        for stmt in stmts:
            if inside == "loop" or (inside == "branch" and bound & set(targets_of(stmt))):
                self.in_loop.add(id(stmt))
            if isinstance(stmt, (gast.For, gast.While)):
                self.mark_loops(stmt.body, "loop", set(bound))
                bound |= {t for inner in walk_stmts([stmt]) for t in targets_of(inner)}
            elif isinstance(stmt, gast.If):
                inner = "loop" if inside == "loop" else "branch"
                bound |= self.mark_loops(stmt.body, inner, set(bound)) | self.mark_loops(stmt.orelse, inner, set(bound))
            else:
                bound |= set(targets_of(stmt))
        return bound


def _fused_op(kind, z, reads):
    return Op(kind, operands=[z], reads=reads, numeric=True)


def _is_range(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "range"
