"""Stage 4, normalise, A-normal form: calls made for their effect become new values of what they change.

An expression used as a statement is, after this step, one of:

- ``xs = appended(xs, v)`` (or ``extended``) for ``xs.append(v)`` on a
  local list: a new list, functionally;
- ``c = mutate(c, "add", x)`` for a method called on a local object (not an
  array method with a rule), differentiated through the method at run time;
- ``self = mutate(self, (Child, "__init__"), w)`` for ``super().__init__(w)``
  (or any ``super()`` method) in a method of a class at module level;
- any other call kept as a statement, its arguments atoms.

A docstring or bare literal is dropped, and changing a list or dict held
in an attribute (``self.items.append(v)``) is refused with the rewrite.
"""

from __future__ import annotations

import ast
import builtins

import gast

from ..rules import registry
from . import build
from .normal import CONTAINER_MUTATORS, runtime_call

__all__ = ["EffectCalls"]


class EffectCalls:
    """Calls made for their effect. A part of :class:`~srcgrad.compiler.anf.Normaliser`."""

    def expression_statement(self, s, out):
        """An expression as a statement (``s``, a ``gast.Expr``): a literal dropped, a list grown, a
        method or ``super()`` call for its effect written as a new value of its receiver, any other call kept."""
        if isinstance(s.value, gast.Constant):
            return  # a docstring or a bare literal
        if self.is_list_growth(s.value):
            call = s.value
            helper = "appended" if call.func.attr == "append" else "extended"
            receiver = call.func.value
            value = runtime_call(helper, self.load(receiver), self.atom(call.args[0], out))
            if helper == "extended" and self.depth:
                # (in a loop the list is not renamed but put back from a tape after this line's
                # step, and extended's rule needs the length before: so the step is its own line)
                value = self.atom(value, out, base="grown")
            out.append(self.mark(build.assign(self.bind_name(receiver.id), value)))
            return
        if isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute) \
                and s.value.func.attr in CONTAINER_MUTATORS and isinstance(s.value.func.value, gast.Attribute):
            self.refuse(s, f"changing a list or dict held in an attribute ('.{s.value.func.attr}' on "
                           f"'{_text(s.value.func.value)}')",
                        "work on a local copy and assign it back: items = self.items; "
                        "items.append(v); self.items = items")
        if self.is_method_for_effect(s.value, spread=True) or self.parent_method_for_effect(s.value, spread=True):
            # (what such a call changes in its object would not reach the gradient)
            self.refuse(s, "a method called for its effect with '*' or '**' arguments",
                        "pass the arguments by position and by name (c.add(x, k=2.0)), or have the method "
                        "return the new object and assign it")
        parent = self.parent_method_for_effect(s.value)
        if parent is not None:
            # super().__init__(w) sets self's fields: self = mutate(self, (Child, "__init__"), w)
            call, cls_name = s.value, parent
            args = [self.atom(a, out) for a in call.args]
            me = self.scope.params[0]
            name = gast.Tuple(elts=[build.name(cls_name), build.const(call.func.attr)], ctx=gast.Load())
            value = runtime_call("mutate", self.load(build.name(me)), name, *args)
            value.keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in call.keywords]
            out.append(self.mark(build.assign(self.bind_name(me), value)))
            return
        if self.is_method_for_effect(s.value):
            # c.add(x) may change c: c = mutate(c, "add", x), differentiated through the method.
            call = s.value
            receiver = call.func.value
            args = [self.atom(a, out) for a in call.args]
            value = runtime_call("mutate", self.load(receiver), build.const(call.func.attr), *args)
            value.keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in call.keywords]
            out.append(self.mark(build.assign(self.bind_name(receiver.id), value)))
            return
        if isinstance(s.value, gast.Call):
            out.append(self.mark(build.expr_stmt(self.expr(s.value, out))))
        else:
            self.atom(s.value, out)

    def is_method_for_effect(self, call, spread=False):
        """A method called on a local object for its effect (not a NumPy array method); with
        ``spread``, one with ``*`` or ``**`` arguments (refused)."""
        return (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and isinstance(call.func.value, gast.Name) and call.func.value.id in self.scope.locals
                and call.func.attr not in registry.method_rules and call.func.attr not in registry.nondiff_methods
                and call.func.attr not in CONTAINER_MUTATORS and _spreads(call) == spread)

    def parent_method_for_effect(self, call, spread=False):
        """The class's name for ``super().m(...)`` (or ``super(C, self).m(...)``) used as a statement in
        a method of class ``C`` at module level, else None; with ``spread``, for one with ``*`` or ``**``."""
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and isinstance(call.func.value, gast.Call) and isinstance(call.func.value.func, gast.Name)
                and self.scope.resolve(call.func.value.func) is builtins.super and self.scope.params
                and _spreads(call) == spread):
            return None
        parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
        given = call.func.value.args
        if len(parts) != 2 or given and not (
                len(given) == 2 and isinstance(given[0], gast.Name) and given[0].id == parts[0]
                and isinstance(given[1], gast.Name) and given[1].id == self.scope.params[0]):
            return None
        return parts[0]

    def is_list_growth(self, call):
        """``xs.append(v)`` or ``xs.extend(vs)`` on a local list: a new list, functionally."""
        return (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and call.func.attr in ("append", "extend") and isinstance(call.func.value, gast.Name)
                and call.func.value.id in self.scope.locals and len(call.args) == 1 and not call.keywords)


def _spreads(call) -> bool:
    """Whether ``call`` passes ``*`` or ``**`` arguments."""
    return any(k.arg is None for k in call.keywords) or any(isinstance(a, gast.Starred) for a in call.args)


def _text(node) -> str:
    """The source text of an expression, for messages."""
    return ast.unparse(gast.gast_to_ast(node))
