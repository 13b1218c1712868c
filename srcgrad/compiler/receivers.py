"""Rules chosen by a name (stage 4, normalise, after A-normal form): check at run time that they apply.

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

A field read ``p.w`` is differentiated as a field too: its gradient is
``{"w": dw}``, the object's; a method read ``m = p.norm`` passes its whole
gradient to ``p`` (a bound method's gradient is its object's), and where
``p``'s class is not known, which of the two it is is asked at run time
(``callee_grad``). Where ``w`` is a *property* of ``p``'s class,
Python runs the property's getter instead, and that gradient would be
lost. Where the class is known now (``self`` in a method, an object made
in the function), such a read becomes a call of the getter,
``getter = property_getter(p, "w"); w = getter(p)``, differentiated
through its source. Where it is not, ``expect_field(p, "p", "w", ...)``
refuses a property, or any other descriptor written in Python, at the
user's line.
"""

from __future__ import annotations

import inspect
import types

import gast
import numpy as np

from ..rules import registry
from . import build
from .normal import runtime_call

__all__ = ["check_receivers"]

_LIST_MAKERS = (np.ndarray.tolist,)

#: Rules that look at the receiver themselves: ``.real`` and ``.imag`` refuse a user's field in
#: reverse mode and read its tangent in forward mode (see ``rules.elementwise.part_grad``).
_SELF_CHECKING = {"real", "imag"}


def check_receivers(parsed, scope, namer, fdef) -> None:
    """Put the checks into ``fdef``'s A-normal body (in place), and read known properties through
    their getters, as the module says."""
    if scope.generated:
        return  # srcgrad's own code (a backward being differentiated) uses array rules on arrays only
    counts = _assignment_counts(fdef)
    _Receivers(parsed, scope, namer, counts).block(fdef.body, set())


class _Receivers:
    def __init__(self, parsed, scope, namer, counts):
        self.parsed, self.scope, self.namer, self.counts = parsed, scope, namer, counts
        #: name -> the class it was made from in this function (p = P(x))
        self.made: dict = {}

    def block(self, stmts, known) -> None:
        known = set(known)
        out = []
        for s in stmts:
            receiver, what = self.named_rule(s)
            if receiver is not None and receiver not in known:
                out.append(self.check(s, receiver, what))
                if self.counts.get(receiver, 0) <= 1 and self.assigned_before(receiver):
                    known.add(receiver)
            field = self.field_read(s)
            if field is not None and field[0] not in known:
                out.extend(self.field_check(s, *field))
            for part in ("body", "orelse"):
                if isinstance(getattr(s, part, None), list) and not isinstance(s, gast.FunctionDef):
                    self.block(getattr(s, part), known)
            out.append(s)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                    and isinstance(s.value, gast.Call) and self.scope.is_static_path(s.value.func):
                made = self.scope.resolve(s.value.func)
                if isinstance(made, type) and made.__module__ not in ("builtins", "numpy"):
                    self.made[s.targets[0].id] = made
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                    and isinstance(s.value, gast.Call) and getattr(s.value.func, "_srcgrad_runtime", None) \
                    == "namedtuple_of" and self.scope.is_static_path(s.value.args[0]):
                self.made[s.targets[0].id] = self.scope.resolve(s.value.args[0])  # (p = P(x), normalised)
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
        if not isinstance(receiver, gast.Name) or self.scope.is_static_path(value) \
                or self.scope.known_non_array(receiver):
            return None, None  # np.sum(...) is NumPy's function, TRIPLER.sum(...) a Tripler's method
        return receiver.id, value.attr

    def field_read(self, s):
        """``(obj, "attr")`` when ``s`` is ``t = obj.attr`` read as an object's field."""
        value = s.value if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        if not (isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name)) \
                or self.scope.is_static_path(value) or value.attr in registry.attribute_rules \
                or value.attr in registry.nondiff_attributes or value.attr in registry.method_rules:
            return None
        return value.value.id, value.attr

    def field_check(self, s, obj, attr):
        """The statements that make ``t = obj.attr`` right where ``attr`` may be a property."""
        cls = self.known_class(obj)
        found = inspect.getattr_static(cls, attr, None) if cls is not None else None
        written_in_python = isinstance(getattr(type(found), "__get__", None), types.FunctionType)
        if cls is None or written_in_python:  # (functools.cached_property, a descriptor of the user's)
            line = getattr(s, "_srcgrad_line", None) or getattr(s, "lineno", None)
            return [self.question(s, "expect_field", build.name(obj), build.const(obj), build.const(attr),
                                  build.const(self.parsed.filename), build.const(line))]
        # (m = p.norm: a bound method, whose gradient is its object's; classify reads this)
        s._srcgrad_read = "method" if isinstance(found, (types.FunctionType, types.MethodDescriptorType)) else "field"
        if isinstance(found, property) and isinstance(found.fget, types.FunctionType):
            getter = self.namer.fresh(f"get_{attr}")
            self.scope.locals.add(getter)
            fetch = build.assign(getter, runtime_call("property_getter", build.name(obj), build.const(attr)))
            s.value = gast.Call(func=build.name(getter), args=[build.name(obj)], keywords=[])
            return [_placed(fetch, s)]
        return []

    def known_class(self, obj):
        """The class of ``obj`` where it is known before the call: ``self`` in a method of a class
        at module level, or an object the function makes (``p = P(x)``, assigned once)."""
        params = self.scope.params
        if params and obj == params[0]:
            parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
            cls = self.scope.fn.__globals__.get(parts[0]) if len(parts) == 2 else None
            if isinstance(cls, type) and not _is_static(self.scope.fn, cls, parts[1]):
                return cls
            return None
        made = self.made.get(obj)
        return made if self.counts.get(obj, 0) == 1 else None

    def question(self, s, helper, *args):
        return _placed(build.expr_stmt(runtime_call(helper, *args)), s)

    def check(self, s, receiver, what):
        line = getattr(s, "_srcgrad_line", None) or getattr(s, "lineno", None)
        return self.question(s, "expect_numeric", build.name(receiver), build.const(receiver), build.const(what),
                             build.const(self.parsed.filename), build.const(line))

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


def _placed(node, like):
    """``node`` at ``like``'s line (for messages and the backward's comments)."""
    for field in ("lineno", "col_offset", "_srcgrad_line"):
        if hasattr(like, field):
            setattr(node, field, getattr(like, field))
    return node


def _is_static(fn, cls, name) -> bool:
    """Whether ``fn`` is ``cls``'s static or class method ``name`` (its first parameter is no instance)."""
    return isinstance(cls.__dict__.get(name), (staticmethod, classmethod))


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
