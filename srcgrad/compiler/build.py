"""Constructors for the few gast nodes the compiler writes, so passes read as intent.

Also the two tree utilities every pass leans on, :func:`walk` and
:func:`copy_tree`: the same results as ``ast.walk`` and ``copy.deepcopy``,
several times faster, which is most of a first gradient's compile time.
"""

from __future__ import annotations

import copy

import gast

__all__ = ["name", "store", "const", "assign", "call", "attr", "tuple_", "expr_stmt", "is_atom", "names_in",
           "walk", "child_fields", "copy_tree", "replace_names", "substituted", "statement_lists"]

_AST = gast.AST
_Name, _Load, _Store, _Constant, _Assign = gast.Name, gast.Load, gast.Store, gast.Constant, gast.Assign
_new = gast.AST.__new__
_ATOMS = (str, int, float, complex, bool, type(None), bytes, type(Ellipsis))


#: Fields that hold a string or a number, never a node; skipped by :func:`walk`.
_SCALAR_FIELDS = {"id", "attr", "arg", "kind", "type_comment", "level", "module", "is_async", "conversion",
                  "simple", "asname"}
_child_fields: dict[type, tuple] = {}


def child_fields(cls) -> tuple:
    """The fields of the node class ``cls`` that can hold nodes (not names, numbers, ``Constant.value``)."""
    fields = _child_fields.get(cls)
    return fields if fields is not None else _fields_of(cls)


def _fields_of(cls) -> tuple:
    fields = tuple(f for f in cls._fields if f not in _SCALAR_FIELDS and not (cls is gast.Constant and f == "value"))
    _child_fields[cls] = fields
    return fields


def walk(node):
    """``ast.walk``: ``node`` and every node below it, breadth first, in the same order.

    As in ``ast.walk``, a node's children are collected before the node is
    yielded, so a caller may replace them while walking.
    """
    todo = [node]
    append = todo.append
    for n in todo:  # the list grows as we go: breadth first
        d = n.__dict__
        fields = _child_fields.get(n.__class__)
        if fields is None:
            fields = _fields_of(n.__class__)
        for field in fields:
            value = d.get(field)
            if value is None:
                continue
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, _AST):
                        append(item)
            elif isinstance(value, _AST):
                append(value)
        yield n


def replace_names(node, mapping: dict):
    """Replace, in place, every loaded name in ``mapping`` under ``node`` by a copy of its expression.

    What a ``NodeTransformer`` with such a ``visit_Name`` does: returns
    ``node``, or the copy replacing it when ``node`` is itself such a name;
    the copies put in are not searched again. (:func:`walk`'s loop, written
    out with the replacing: the simplifier runs this over whole functions.)
    """
    if node.__class__ is _Name and node.ctx.__class__ is _Load and node.id in mapping:
        return copy_tree(mapping[node.id])
    todo = [node]
    append = todo.append
    for n in todo:
        d = n.__dict__
        fields = _child_fields.get(n.__class__)
        if fields is None:
            fields = _fields_of(n.__class__)
        for field in fields:
            value = d.get(field)
            if value is None:
                continue
            if value.__class__ is list:
                for i, item in enumerate(value):
                    if item.__class__ is _Name and item.id in mapping and item.ctx.__class__ is _Load:
                        value[i] = copy_tree(mapping[item.id])
                    elif isinstance(item, _AST):
                        append(item)
            elif value.__class__ is _Name and value.id in mapping and value.ctx.__class__ is _Load:
                d[field] = copy_tree(mapping[value.id])
            elif isinstance(value, _AST):
                append(value)
    return node


def substituted(node, mapping: dict):
    """A copy of ``node`` with every loaded name in ``mapping`` replaced by a copy of its expression.

    ``replace_names(copy_tree(node), mapping)`` in one walk instead of two.
    """
    return _substitute(node, mapping, {})


def _substitute(value, mapping, memo):
    found = memo.get(id(value))
    if found is not None:
        return found
    cls = value.__class__
    if cls is _Name and value.id in mapping and isinstance(value.ctx, _Load):
        return copy_tree(mapping[value.id])
    new = cls.__new__(cls)
    memo[id(value)] = new
    d = new.__dict__
    for key, item in value.__dict__.items():
        if isinstance(item, _ATOMS):
            d[key] = item
        elif isinstance(item, _AST):
            d[key] = _substitute(item, mapping, memo)
        elif item.__class__ is list:
            d[key] = [x if isinstance(x, _ATOMS) else _substitute(x, mapping, memo) if isinstance(x, _AST)
                      else _copy(x, memo) for x in item]
        else:
            d[key] = _copy(item, memo)
    return new


def copy_tree(node, memo=None):
    """``copy.deepcopy`` of a syntax tree (shared nodes stay shared; extra attributes are kept)."""
    return _copy(node, {} if memo is None else memo)


def _copy(value, memo):
    if isinstance(value, _ATOMS):
        return value
    found = memo.get(id(value))
    if found is not None:
        return found
    if isinstance(value, _AST):
        cls = value.__class__
        new = cls.__new__(cls)
        memo[id(value)] = new
        d = new.__dict__
        for key, item in value.__dict__.items():
            d[key] = item if isinstance(item, _ATOMS) else _copy(item, memo)
        return new
    if value.__class__ is list:
        new = []
        memo[id(value)] = new
        for item in value:
            new.append(item if isinstance(item, _ATOMS) else _copy(item, memo))
        return new
    return copy.deepcopy(value, memo)


# The constructors below fill the node's fields directly, as gast's own constructor does with
# keyword arguments (it is a Python function; the transform makes a thousand names per function).

def name(id_: str) -> gast.Name:
    node = _new(_Name)
    node.__dict__.update(id=id_, ctx=_new(_Load), annotation=None, type_comment=None)
    return node


def store(id_: str) -> gast.Name:
    node = _new(_Name)
    node.__dict__.update(id=id_, ctx=_new(_Store), annotation=None, type_comment=None)
    return node


def const(value) -> gast.Constant:
    node = _new(_Constant)
    node.__dict__.update(value=value, kind=None)
    return node


def assign(target, value, line=None) -> gast.Assign:
    if isinstance(target, str):
        target = store(target)
    node = _new(_Assign)
    node.__dict__.update(targets=[target], value=value, type_comment=None)
    if line is not None:
        node._srcgrad_line = line
    return node


def call(func, *args, **kwargs) -> gast.Call:
    if isinstance(func, str):
        func = name(func)
    keywords = [gast.keyword(arg=k, value=v) for k, v in kwargs.items()]
    return gast.Call(func=func, args=list(args), keywords=keywords)


def attr(value, attribute: str) -> gast.Attribute:
    if isinstance(value, str):
        value = name(value)
    return gast.Attribute(value=value, attr=attribute, ctx=gast.Load())


def tuple_(elts, store_ctx=False) -> gast.Tuple:
    return gast.Tuple(elts=list(elts), ctx=gast.Store() if store_ctx else gast.Load())


def expr_stmt(value, line=None) -> gast.Expr:
    node = gast.Expr(value=value)
    if line is not None:
        node._srcgrad_line = line
    return node


def line_of(stmt, node):
    """``node``, marked with the user's line ``stmt`` came from unless it has one (the explorer's line map)."""
    line = getattr(stmt, "_srcgrad_line", None)
    if line is not None and getattr(node, "_srcgrad_line", None) is None:
        node._srcgrad_line = line
    return node


def is_atom(node) -> bool:
    return isinstance(node, (gast.Name, gast.Constant))


def names_in(node, ctx=gast.Load):
    """Every name loaded anywhere inside ``node`` (``ctx``: stored, with ``gast.Store``; any, with None).

    With a tuple of contexts, ``{context: names}`` for each, from the one walk.
    (:func:`walk`'s loop, written out: passes ask this of every statement, often several times.)
    """
    by = {c: set() for c in ctx} if ctx.__class__ is tuple else None
    out = set()
    todo = [node]
    append = todo.append
    for n in todo:
        cls = n.__class__
        if cls is _Name:
            if by is not None:
                found = by.get(n.ctx.__class__)
                if found is not None:
                    found.add(n.id)
            elif ctx is None or n.ctx.__class__ is ctx:
                out.add(n.id)
        fields = _child_fields.get(cls)
        if fields is None:
            fields = _fields_of(cls)
        d = n.__dict__
        for field in fields:
            value = d.get(field)
            if value is None:
                continue
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, _AST):
                        append(item)
            elif isinstance(value, _AST):
                append(value)
    return out if by is None else by


def statement_lists(stmts):
    """Every statement list in ``stmts``: itself, then those of its loops and branches, nested ones too."""
    yield stmts
    for stmt in stmts:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            yield from statement_lists(stmt.body)
            yield from statement_lists(stmt.orelse)
