"""Stage 1, parse: Python's ``ast`` converted to gast's tree, as ``gast.parse`` does, about four times sooner.

:func:`parse_gast` is ``gast.parse``; :class:`ToGast` converts a tree
Python's ``ast.parse`` gave (the source cache keeps those, and converts a
new gast tree for each caller, which may change it).
"""

from __future__ import annotations

import ast

import gast
import gast.ast3

__all__ = ["ToGast", "parse_gast"]


class ToGast(gast.ast3.Ast3ToGAst):
    """gast's own converter, its per-node work done by a table: the same tree, about four times sooner.

    gast converts every node through a generic ``NodeTransformer`` that looks
    up the target class and rebuilds its keyword arguments each time; this
    keeps gast's methods for the nodes it treats specially (``Name``, ``arg``,
    ``ExceptHandler``, ``FunctionDef``... whichever this gast version has) and
    copies every other node field by field, as gast's ``generic_visit`` does.
    """

    _plans: dict = {}

    def visit(self, node):
        plan = self._plans.get(node.__class__)
        if plan is None:
            plan = self._plan(node.__class__)
        if plan.__class__ is not tuple:  # one of gast's own methods
            return plan(self, node)
        target, fields, attributes = plan
        if target is None:
            return None
        new = target.__new__(target)
        d = new.__dict__
        for field in fields:
            value = getattr(node, field, _NONE)
            if value is _NONE:
                continue
            if isinstance(value, ast.AST):
                value = self.visit(value)
            elif value.__class__ is list:
                value = self._visit(value)
            d[field] = value
        for attribute in attributes:
            value = getattr(node, attribute, _NONE)
            if value is not _NONE:
                d[attribute] = value
        return new

    def _name(self, node):
        """gast's ``visit_Name``, written out: a quarter of all nodes are names."""
        new = _Name.__new__(_Name)
        ctx = _CONTEXTS[node.ctx.__class__]
        new.__dict__.update(id=node.id, ctx=ctx.__new__(ctx), annotation=None, type_comment=None)
        for attribute in ("lineno", "col_offset", "end_lineno", "end_col_offset"):  # (ast.copy_location)
            value = getattr(node, attribute, None)
            if value is not None or (attribute[0] == "e" and hasattr(node, attribute)):
                setattr(new, attribute, value)
        return new

    def _visit(self, node):
        if isinstance(node, ast.AST):
            return self.visit(node)
        if node.__class__ is list:
            visit = self.visit
            return [visit(n) if isinstance(n, ast.AST) else self._visit(n) for n in node]
        return node

    @classmethod
    def _plan(cls, node_class):
        name = node_class.__name__
        special = next((vars(k)[f"visit_{name}"] for k in cls.__mro__[1:]
                        if issubclass(k, gast.ast3.AstToGAst) and f"visit_{name}" in vars(k)), None)
        if special is gast.ast3.Ast3ToGAst.__dict__.get("visit_Name"):
            plan = cls._name
        elif special is not None:
            plan = special
        else:
            target = getattr(gast, name, None)
            plan = (target, node_class._fields, node_class._attributes) if target is not None else (None, (), ())
        cls._plans[node_class] = plan
        return plan


_NONE = object()
_Name = gast.Name
_CONTEXTS = {ast.Load: gast.Load, ast.Store: gast.Store, ast.Del: gast.Del}


def parse_gast(text: str):
    """``gast.parse(text)``, faster (see :class:`ToGast`)."""
    return ToGast().visit(ast.parse(text))
