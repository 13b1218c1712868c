"""Stage 1, parse: find a function's source and parse it with gast.

After this pass we hold a :class:`Parsed`: the function's definition as a
``gast.FunctionDef`` whose line numbers are those of the user's file (a
lambda is rewritten as a one-line ``def`` returning its body), plus the
file name for error messages.

The text is found by :mod:`.source`, through ``linecache`` (which also
holds Jupyter cells and srcgrad's own generated code, so generated adjoints
can be parsed and differentiated again), and checked there to be the text
the running code was compiled from; :mod:`.to_gast` converts Python's tree
to gast's. :func:`unwrap_callable` gives the plain function behind a bound
method or a callable object.
"""

from __future__ import annotations

import ast
import linecache
import types

import gast

from ..errors import SourceNotFoundError, UnsupportedSyntaxError
from . import build
from .source import check_source_agrees, def_text, file_index, lambda_name, parse_def, pick_lambda, the_def
from .to_gast import ToGast

__all__ = ["Parsed", "parse_function", "parse_body", "unwrap_callable"]


class Parsed:
    """A function's definition: ``fn``, its ``node`` (a ``gast.FunctionDef``), the ``filename``, a
    readable ``name`` (its own, or the variable a lambda was assigned to) and the file's ``lines``
    as in the file. (A plain class: a dataclass costs a millisecond to build at import.)"""

    def __init__(self, fn, node, filename, name, lines):
        self.fn: types.FunctionType = fn
        self.node: gast.FunctionDef = node
        self.filename: str = filename
        self.name: str = name
        self.lines: list[str] = lines

    def line(self, lineno: int) -> str:
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1].rstrip("\n")
        return ""


def unwrap_callable(obj):
    """The plain function behind a callable, and the object bound as its first argument.

    Returns ``(function, bound_self)``; ``bound_self`` is ``None`` unless
    ``obj`` is a bound method or a callable object.
    """
    if isinstance(obj, types.FunctionType):
        return obj, None
    if isinstance(obj, types.MethodType):
        return obj.__func__, obj.__self__
    call = getattr(type(obj), "__call__", None)
    if isinstance(call, types.FunctionType):
        return call, obj
    return None, None


def parse_body(fn) -> list:
    """``parse_function(fn).node.body``, for a rule's template, which reads nothing else.

    Only the body is converted to gast: a one-line rule's ``def`` line and
    decorators are more than half its nodes, and each template is parsed once.
    """
    code = fn.__code__
    if code.co_name != "<lambda>":
        found = def_text(linecache.getlines(code.co_filename, fn.__globals__), code)
        if found is not None:
            block, _, indented = found
            # Parsed without the blank lines that put it at its place in the file (for a rule
            # deep in a rules file, a fifth of the parse), its line numbers shifted after.
            shift = code.co_firstlineno - (2 if indented else 1)
            try:
                module = ast.parse("if 1:\n" + block if indented else block)
            except SyntaxError:
                module = None
            node = the_def(module, indented, code, ast.FunctionDef, shift) if module is not None else None
            if node is not None:
                body = ToGast()._visit(node.body)
                for n in build.walk(gast.Module(body=body, type_ignores=[])):
                    d = n.__dict__
                    if d.get("lineno") is not None:
                        d["lineno"] += shift
                    if d.get("end_lineno") is not None:
                        d["end_lineno"] += shift
                return body
    return parse_function(fn).node.body


def _readable_name(fn, name):
    """``Affine.__call__`` -> ``Affine_call``; ``f`` -> ``f``."""
    parts = [p for p in fn.__qualname__.split(".") if p != "<locals>"]
    if len(parts) >= 2 and name.startswith("__"):
        return parts[-2] + "_" + name.strip("_")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2] + "_" + name
    return name


def parse_function(fn: types.FunctionType) -> Parsed:
    """Find and parse the source of ``fn``; raise :class:`SourceNotFoundError` if it has none.

    The tree is new, the caller's own: :func:`~srcgrad.compiler.anf.normalise` rewrites it.
    """
    code = fn.__code__
    filename = code.co_filename
    lines = linecache.getlines(filename, fn.__globals__)
    if not lines:
        raise SourceNotFoundError(
            f"cannot read the source of {fn.__qualname__!r} (defined in {filename!r})",
            fix="define the function in a .py file or a Jupyter/IPython cell; the plain "
            "interactive prompt and exec() of a string keep no source",
        )
    check_source_agrees(fn, filename, lines)
    first = code.co_firstlineno
    own = parse_def(filename, lines, code) if code.co_name != "<lambda>" else None  # (a new tree)
    if own is not None:
        index = {("def", code.co_name, first): own}
    else:
        index = file_index(fn, filename, lines)
    if code.co_name == "<lambda>":
        candidates = index.get(("lambda", first), [])
        node = pick_lambda(candidates, code)
        if node is None:
            raise SourceNotFoundError(
                f"cannot tell which lambda on line {first} this is",
                filename=filename,
                lineno=first,
                fix="give each lambda different argument names, or put them on separate lines",
            )
        name = lambda_name(node)
        body = gast.Return(value=build.copy_tree(node.body))  # (copies: the file's tree is cached)
        gast.copy_location(body, node.body)
        fdef = gast.FunctionDef(
            name=name, args=build.copy_tree(node.args), body=[body], decorator_list=[], returns=None,
            type_comment=None, type_params=[],
        )
        gast.copy_location(fdef, node)
    else:
        found = index.get(("def", code.co_name, first))
        candidates = [found] if found is not None else []
        if not candidates:
            raise SourceNotFoundError(
                f"cannot find the definition of {fn.__qualname__!r} at line {first}",
                filename=filename,
                lineno=first,
                fix="the file changed since the function was defined: reload it",
            )
        fdef = candidates[0]
        if fdef is not own:  # (found in the cached tree of the whole file: the caller gets a copy to change)
            fdef = build.copy_tree(fdef)
        if isinstance(fdef, gast.AsyncFunctionDef):
            raise UnsupportedSyntaxError(
                "async functions cannot be differentiated",
                filename=filename,
                lineno=fdef.lineno,
                col=fdef.col_offset,
                fix="write a plain (synchronous) function",
            )
        name = _readable_name(fn, fdef.name)
    return Parsed(fn=fn, node=fdef, filename=filename, name=name, lines=lines)
