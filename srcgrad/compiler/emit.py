"""Stage 9, emit: print the generated functions with ``ast.unparse`` and compile them.

After this pass we hold the readable source (forward, then backward, with
a comment over each backward block naming the user's line) and the two
compiled functions. The source is registered in ``linecache`` under a name
like ``<srcgrad: f>``, so tracebacks show it and srcgrad can read it back
to differentiate it again.

Generated code reads the user's globals at run time; the few helpers it
needs (``unbroadcast``, ``pullback``, ``np`` for inlined rules) reach it as
closure variables of a small factory, so nothing is added to the user's
module.
"""

from __future__ import annotations

import ast
import itertools
import math
import re
import textwrap

import gast

from ..errors import note_generated
from . import build
from .source import register_source

__all__ = ["to_source", "compile_functions"]

_counter = itertools.count(1)
_COMMENT = re.compile(r"""^(\s*)(?:'|\"\"\")__srcgrad_comment_(\d+)__(?:'|\"\"\")$""", re.M)


def to_source(functions) -> str:
    """Readable Python source for the given gast ``FunctionDef`` nodes."""
    comments: list[str] = []
    chunks = [ast.unparse(_to_ast(gast.Module(body=[fdef], type_ignores=[]), comments)) for fdef in functions]
    source = "\n\n".join(chunks) + "\n"
    return _COMMENT.sub(lambda m: f"{m.group(1)}# {comments[int(m.group(2))]}", source)


def _to_ast(node, comments):
    """The ``ast`` tree ``ast.unparse`` prints as it would print ``gast.gast_to_ast(node)``.

    gast's converter visits every node through a generic ``NodeTransformer``
    and ``ast.fix_missing_locations`` walks the tree again; printing needs
    neither: every field is carried over as it is, ``def`` parameters become
    ``ast.arg``, an ``except`` name a string, and a statement without a line
    number gets one (``ast.unparse`` reads it, to look up type comments).
    A statement carrying a comment (``_srcgrad_comment``) becomes a string
    marker, replaced by the comment in the printed text; ``comments`` collects them.
    """
    plan = _PLANS.get(node.__class__)
    if plan is None:
        plan = _plan(node.__class__)
    cls, fields = plan
    if cls is None:  # an operator or a context: no fields, one shared instance (as ast.parse makes them)
        return fields
    new = cls.__new__(cls)
    d = new.__dict__
    d.update(node.__dict__)
    for field in fields:
        value = d.get(field)
        if value is None:
            continue
        if value.__class__ is list:
            d[field] = [_to_ast(item, comments) if isinstance(item, gast.AST) else item for item in value] \
                if field != "body" and field != "orelse" else _statements(value, comments)
        elif isinstance(value, gast.AST):
            d[field] = _to_ast(value, comments)
    if cls is ast.arguments:
        for field in ("posonlyargs", "args", "kwonlyargs"):
            d[field] = [_arg(a) for a in d[field]]
        d["vararg"] = _arg(d["vararg"])
        d["kwarg"] = _arg(d["kwarg"])
    elif cls is ast.ExceptHandler and d.get("name") is not None:
        d["name"] = d["name"].id
    elif "lineno" not in d and isinstance(new, ast.stmt):
        d["lineno"] = 1
    elif cls is ast.Constant and _negative(d["value"]):
        # (ast.unparse prints Constant(-1) as -1, so (-1) ** n would come out as -1 ** n, which is -(1 ** n))
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-d["value"]))
    return new


def _negative(value) -> bool:
    """A negative int or float literal (``-0.0`` too), which prints without the parentheses a power needs."""
    return value.__class__ in (int, float) and math.copysign(1.0, value) < 0


_PLANS: dict = {}


def _plan(gast_class):
    """``(ast class, fields that may hold nodes)``, or ``(None, the shared instance)`` for a class without fields."""
    cls = getattr(ast, gast_class.__name__)
    plan = (None, cls()) if not gast_class._fields else (cls, build.child_fields(gast_class))
    _PLANS[gast_class] = plan
    return plan


def _statements(stmts, comments):
    out = []
    for stmt in stmts:
        text = getattr(stmt, "_srcgrad_comment", None)
        if text is None:
            out.append(_to_ast(stmt, comments) if isinstance(stmt, gast.AST) else stmt)
        else:  # '__srcgrad_comment_<n>__', where the printed text gets the comment
            marker = ast.Expr(value=ast.Constant(value=f"__srcgrad_comment_{len(comments)}__", kind=None))
            marker.lineno = 1
            comments.append(text)
            out.append(marker)
    return out


def _arg(name):
    if name is None:
        return None
    arg = ast.arg(arg=name.id, annotation=name.__dict__.get("annotation"), type_comment=name.__dict__.get("type_comment"))
    for attribute in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if attribute in name.__dict__:
            setattr(arg, attribute, name.__dict__[attribute])
    return arg


def compile_functions(source: str, names: list[str], injected: dict, globals_: dict, label: str, origin=None):
    """Compile ``source`` in the user's globals with ``injected`` as closure variables.

    ``origin`` (``file.py:12 (f)``) names the user's function, for errors met
    when this code is differentiated again.

    Returns the functions called ``names``, in that order.
    """
    params = ", ".join(injected)
    body = textwrap.indent(source, "    ")
    factory = f"def __srcgrad_factory__({params}):\n{body}    return ({', '.join(names)},)\n"
    filename = f"<srcgrad: {label} #{next(_counter)}>"
    register_source(filename, factory)
    if origin is not None:
        note_generated(filename, origin)
    code = compile(factory, filename, "exec")
    namespace: dict = {}
    exec(code, globals_, namespace)
    functions = namespace["__srcgrad_factory__"](*injected.values())
    for fn in functions:
        fn._srcgrad_generated = True  # (its captured variables are the injected values: resolve.Scope)
    return functions
