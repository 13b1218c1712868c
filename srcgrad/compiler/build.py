"""Constructors for the few gast nodes the compiler writes, so passes read as intent."""

from __future__ import annotations

import gast

__all__ = ["name", "store", "const", "assign", "call", "attr", "tuple_", "expr_stmt", "is_atom", "names_in"]


def name(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def store(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Store(), annotation=None, type_comment=None)


def const(value) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def assign(target, value, line=None) -> gast.Assign:
    if isinstance(target, str):
        target = store(target)
    node = gast.Assign(targets=[target], value=value, type_comment=None)
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


def is_atom(node) -> bool:
    return isinstance(node, (gast.Name, gast.Constant))


def names_in(node) -> set[str]:
    """Every name loaded anywhere inside ``node``."""
    return {
        n.id
        for n in gast.walk(node)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    }
