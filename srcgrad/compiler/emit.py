"""Stage 7, emit: print the generated functions (the text ``ast.unparse`` gives) and compile them.

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
import re
import sys
import textwrap

import gast

from ..errors import note_generated
from . import build
from .parse import register_source

__all__ = ["to_source", "compile_functions"]

_counter = itertools.count(1)
_COMMENT = re.compile(r"""^(\s*)(?:'|\"\"\")__srcgrad_comment_(\d+)__(?:'|\"\"\")$""", re.M)


def to_source(functions) -> str:
    """Readable Python source for the given gast ``FunctionDef`` nodes: what ``ast.unparse`` prints."""
    chunks = []
    for fdef in functions:
        try:
            chunks.append(_Printer().function(fdef))
        except _Unsupported:
            chunks.append(_unparse(fdef))
    return "\n\n".join(chunks) + "\n"


def _unparse(fdef) -> str:
    """``ast.unparse`` of a gast ``FunctionDef``, with its comments."""
    comments: list[str] = []
    source = ast.unparse(_to_ast(gast.Module(body=[fdef], type_ignores=[]), comments))
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
    return new


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


# ---------------------------------------------------------------- printing

class _Unsupported(Exception):
    """A node :class:`_Printer` leaves to ``ast.unparse``."""


# ast.unparse's precedences (``ast._Precedence``), lowest first: an expression is bracketed
# when the precedence its parent gives it is higher than its own operator's.
_TUPLE, _YIELD, _TEST, _OR, _AND, _NOT, _CMP, _EXPR = 2, 3, 4, 5, 6, 7, 8, 9
_BXOR, _BAND, _SHIFT, _ARITH, _TERM, _FACTOR, _POWER, _ATOM = 10, 11, 12, 13, 14, 15, 16, 18

_BINOPS = {
    gast.Add: ("+", _ARITH), gast.Sub: ("-", _ARITH), gast.Mult: ("*", _TERM), gast.MatMult: ("@", _TERM),
    gast.Div: ("/", _TERM), gast.Mod: ("%", _TERM), gast.FloorDiv: ("//", _TERM), gast.Pow: ("**", _POWER),
    gast.LShift: ("<<", _SHIFT), gast.RShift: (">>", _SHIFT), gast.BitOr: ("|", _EXPR),
    gast.BitXor: ("^", _BXOR), gast.BitAnd: ("&", _BAND),
}
_UNARYOPS = {gast.USub: ("-", _FACTOR), gast.UAdd: ("+", _FACTOR), gast.Invert: ("~", _FACTOR),
             gast.Not: ("not ", _NOT)}
_CMPOPS = {gast.Eq: "==", gast.NotEq: "!=", gast.Lt: "<", gast.LtE: "<=", gast.Gt: ">", gast.GtE: ">=",
           gast.Is: "is", gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in"}
_BOOLOPS = {gast.And: (" and ", _AND), gast.Or: (" or ", _OR)}
_INFSTR = "1e" + repr(sys.float_info.max_10_exp + 1)


class _Printer:
    """``ast.unparse``'s text for the statements and expressions generated code is made of,
    printed straight from the gast tree.

    ``ast.unparse`` is a general visitor (a context manager around each bracket, an enum
    per precedence) and needs the tree converted to ``ast`` first: together a tenth of a
    first gradient. This writes the same text in a third of the time; any other node
    (a lambda, a default value, an f-string...) raises :class:`_Unsupported` and the
    function is printed by ``ast.unparse`` instead. ``tests/compiler/test_emit.py``
    checks the two agree.
    """

    def __init__(self):
        self.lines: list[str] = []

    def function(self, fdef) -> str:
        self.define(fdef, "")
        return "\n".join(self.lines)

    # -- statements --------------------------------------------------------
    def define(self, fdef, indent):
        if not isinstance(fdef, gast.FunctionDef) or fdef.decorator_list or fdef.returns is not None \
                or fdef.type_comment is not None or getattr(fdef, "type_params", None):
            raise _Unsupported
        first = fdef.body[0] if fdef.body else None
        if isinstance(first, gast.Expr) and isinstance(first.value, gast.Constant) \
                and isinstance(first.value.value, str) and not hasattr(first, "_srcgrad_comment"):
            raise _Unsupported  # (a docstring: printed in triple quotes)
        self.lines.append(f"{indent}def {fdef.name}({self.parameters(fdef.args)}):")
        self.block(fdef.body, indent + "    ")

    def parameters(self, args) -> str:
        """Plain parameters only (generated functions take no others)."""
        if args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or args.defaults:
            raise _Unsupported
        for a in args.args:
            if a.annotation is not None or a.__class__ is not gast.Name:
                raise _Unsupported
        return ", ".join(a.id for a in args.args)

    def block(self, stmts, indent):
        for stmt in stmts:
            self.statement(stmt, indent)

    def statement(self, stmt, indent):
        cls = stmt.__class__
        lines = self.lines
        comment = getattr(stmt, "_srcgrad_comment", None)
        if comment is not None:
            lines.append(f"{indent}# {comment}")
        elif cls is gast.Assign:
            if stmt.type_comment is not None:
                raise _Unsupported
            targets = "".join(self.expr(t, _TUPLE) + " = " for t in stmt.targets)
            lines.append(indent + targets + self.expr(stmt.value, _TEST))
        elif cls is gast.Return:
            lines.append(indent + "return" + ("" if stmt.value is None else " " + self.expr(stmt.value, _TEST)))
        elif cls is gast.Expr:
            lines.append(indent + self.expr(stmt.value, _YIELD))
        elif cls is gast.If:
            lines.append(f"{indent}if {self.expr(stmt.test, _TEST)}:")
            self.block(stmt.body, indent + "    ")
            while len(stmt.orelse) == 1 and stmt.orelse[0].__class__ is gast.If \
                    and not hasattr(stmt.orelse[0], "_srcgrad_comment"):  # else: if -> elif
                stmt = stmt.orelse[0]
                lines.append(f"{indent}elif {self.expr(stmt.test, _TEST)}:")
                self.block(stmt.body, indent + "    ")
            self.orelse(stmt.orelse, indent)
        elif cls is gast.For:
            if stmt.type_comment is not None:
                raise _Unsupported
            lines.append(f"{indent}for {self.expr(stmt.target, _TUPLE)} in {self.expr(stmt.iter, _TEST)}:")
            self.block(stmt.body, indent + "    ")
            self.orelse(stmt.orelse, indent)
        elif cls is gast.While:
            lines.append(f"{indent}while {self.expr(stmt.test, _TEST)}:")
            self.block(stmt.body, indent + "    ")
            self.orelse(stmt.orelse, indent)
        elif cls is gast.Pass or cls is gast.Break or cls is gast.Continue:
            lines.append(indent + cls.__name__.lower())
        elif cls is gast.FunctionDef:
            lines.append("")  # (ast.unparse puts a blank line before a nested def)
            self.define(stmt, indent)
        else:
            raise _Unsupported

    def orelse(self, stmts, indent):
        if stmts:
            self.lines.append(indent + "else:")
            self.block(stmts, indent + "    ")

    # -- expressions -------------------------------------------------------
    def expr(self, node, precedence) -> str:
        """``node``'s text where its parent gives it ``precedence``."""
        cls = node.__class__
        if cls is gast.Name:
            return node.id
        if cls is gast.Constant:
            return self.constant(node)
        if cls is gast.Attribute:
            value = node.value
            space = " " if value.__class__ is gast.Constant and isinstance(value.value, int) else ""  # 3 .real
            return self.expr(value, _ATOM) + space + "." + node.attr
        if cls is gast.Call:
            args = [self.expr(a, _TEST) for a in node.args]
            args += [("**" if k.arg is None else k.arg + "=") + self.expr(k.value, _TEST) for k in node.keywords]
            return self.expr(node.func, _ATOM) + "(" + ", ".join(args) + ")"
        if cls is gast.BinOp:
            op, own = _BINOPS[node.op.__class__]
            left, right = (own + 1, own) if op == "**" else (own, own + 1)
            text = self.expr(node.left, left) + " " + op + " " + self.expr(node.right, right)
            return "(" + text + ")" if precedence > own else text
        if cls is gast.UnaryOp:
            op, own = _UNARYOPS[node.op.__class__]
            text = op + self.expr(node.operand, own)
            return "(" + text + ")" if precedence > own else text
        if cls is gast.Tuple:
            text = self.items(node.elts)
            return "(" + text + ")" if not node.elts or precedence > _TUPLE else text
        if cls is gast.List:
            return "[" + ", ".join(self.expr(e, _TEST) for e in node.elts) + "]"
        if cls is gast.Subscript:
            index = node.slice
            inner = self.items(index.elts) if index.__class__ is gast.Tuple and index.elts \
                else self.expr(index, _TEST)
            return self.expr(node.value, _ATOM) + "[" + inner + "]"
        if cls is gast.Slice:
            text = ("" if node.lower is None else self.expr(node.lower, _TEST)) + ":"
            text += "" if node.upper is None else self.expr(node.upper, _TEST)
            return text if node.step is None else text + ":" + self.expr(node.step, _TEST)
        if cls is gast.Compare:
            text = self.expr(node.left, _CMP + 1)
            for op, right in zip(node.ops, node.comparators):
                text += " " + _CMPOPS[op.__class__] + " " + self.expr(right, _CMP + 1)
            return "(" + text + ")" if precedence > _CMP else text
        if cls is gast.BoolOp:
            op, own = _BOOLOPS[node.op.__class__]
            text = op.join(self.expr(v, own + i) for i, v in enumerate(node.values, 1))
            return "(" + text + ")" if precedence > own else text
        if cls is gast.IfExp:
            text = self.expr(node.body, _TEST + 1) + " if " + self.expr(node.test, _TEST + 1) + " else " \
                + self.expr(node.orelse, _TEST)
            return "(" + text + ")" if precedence > _TEST else text
        if cls is gast.Dict:
            items = [("**" + self.expr(v, _EXPR)) if k is None else self.expr(k, _TEST) + ": " + self.expr(v, _TEST)
                     for k, v in zip(node.keys, node.values)]
            return "{" + ", ".join(items) + "}"
        if cls is gast.Starred:
            return "*" + self.expr(node.value, _EXPR)
        if cls is gast.Lambda:
            text = "lambda" + (" " + self.parameters(node.args) if node.args.args else "") + ": " \
                + self.expr(node.body, _TEST)
            return "(" + text + ")" if precedence > _TEST else text
        raise _Unsupported

    def items(self, elts) -> str:
        """A tuple's items: ``a,`` for one."""
        if len(elts) == 1:
            return self.expr(elts[0], _TEST) + ","
        return ", ".join(self.expr(e, _TEST) for e in elts)

    def constant(self, node) -> str:
        value = node.value
        if value.__class__ is tuple:  # (a folded axis=(0, 1))
            if len(value) == 1:
                return "(" + _literal(value[0]) + ",)"
            return "(" + ", ".join(_literal(v) for v in value) + ")"
        if value is ...:
            return "..."
        return ("u" if node.kind == "u" else "") + _literal(value)


def _literal(value) -> str:
    if isinstance(value, (float, complex)):  # (inf and nan as ast.unparse writes them)
        return repr(value).replace("inf", _INFSTR).replace("nan", f"({_INFSTR}-{_INFSTR})")
    return repr(value)


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
