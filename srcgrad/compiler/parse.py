"""Stage 1, parse: find a function's source and parse it with gast.

After this pass we hold a :class:`Parsed`: the function's definition as a
``gast.FunctionDef`` whose line numbers are those of the user's file (a
lambda is rewritten as a one-line ``def`` returning its body), plus the
file name for error messages.

Source is found through ``linecache``, which also holds Jupyter cells and
srcgrad's own generated code, so generated adjoints can be parsed and
differentiated again. The whole file is parsed once (and kept while the
file does not change), and the function is picked out by its code object:
its first line, its name and, for several lambdas on one line, the
columns of its instructions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import linecache
import threading
import types

import gast

from ..errors import SourceNotFoundError, UnsupportedSyntaxError

__all__ = ["Parsed", "parse_function", "unwrap_callable", "register_source"]


@dataclasses.dataclass
class Parsed:
    fn: types.FunctionType
    node: gast.FunctionDef
    filename: str
    #: A readable name: the function's own, or the variable a lambda was assigned to.
    name: str
    #: The whole source text of the file, lines as in the file.
    lines: list[str]

    def line(self, lineno: int) -> str:
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1].rstrip("\n")
        return ""


_module_cache: dict[tuple[str, str], dict] = {}
_lock = threading.Lock()


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


def register_source(filename: str, text: str) -> None:
    """Put generated source into ``linecache`` so it can be read (and parsed) again."""
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)


def _parse_file(filename: str, lines: list[str]):
    """The file's definitions, indexed: ``{("def", name, first_line): node, ("lambda", line): [nodes]}``."""
    text = "".join(lines)
    key = (filename, hashlib.sha1(text.encode()).hexdigest())
    with _lock:
        index = _module_cache.get(key)
    if index is None:
        module = gast.parse(text)
        _attach_parents(module)
        index = {}
        for node in gast.walk(module):
            if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)):
                index[("def", node.name, _first_line(node))] = node
            elif isinstance(node, gast.Lambda):
                index.setdefault(("lambda", node.lineno), []).append(node)
        with _lock:
            _module_cache[key] = index
    return index


#: child node id -> parent node, for the cached modules. Kept outside the nodes:
#: an attribute pointing up the tree would make every deepcopy copy the whole file.
_parents: dict[int, gast.AST] = {}


def _attach_parents(module):
    for node in gast.walk(module):
        for child in gast.iter_child_nodes(node):
            _parents[id(child)] = node


def _first_line(node) -> int:
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        return min(d.lineno for d in decorators)
    return node.lineno


def _lambda_name(node) -> str:
    parent = _parents.get(id(node))
    if isinstance(parent, gast.Tuple):  # f, g = (lambda ...), (lambda ...)
        position = parent.elts.index(node)
        grand = _parents.get(id(parent))
        if isinstance(grand, gast.Assign) and len(grand.targets) == 1 and isinstance(grand.targets[0], gast.Tuple):
            elts = grand.targets[0].elts
            if position < len(elts) and isinstance(elts[position], gast.Name):
                return elts[position].id
    if isinstance(parent, gast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        if isinstance(target, gast.Name):
            return target.id
    if isinstance(parent, gast.keyword) and parent.arg:
        return parent.arg
    return "lambda"


def _pick_lambda(candidates, code):
    if len(candidates) == 1:
        return candidates[0]
    # Python 3.11+: instruction columns tell which lambda on the line this is.
    positions = getattr(code, "co_positions", None)
    if positions is not None:
        cols = [(line, col) for line, _, col, _ in positions() if line is not None and col is not None]
        cols = [(line, col) for line, col in cols if line >= code.co_firstlineno]
        # The innermost lambda holding the instructions (lambda f: lambda x: ... holds two).
        by_size = sorted(candidates, key=lambda n: (getattr(n, "end_lineno", n.lineno) - n.lineno,
                                                    (getattr(n, "end_col_offset", 0) or 0) - n.col_offset))
        for node in by_size:
            end_line = getattr(node, "end_lineno", node.lineno)
            end_col = getattr(node, "end_col_offset", None)
            inside = [
                (line, col)
                for line, col in cols
                if (line, col) >= (node.lineno, node.col_offset)
                and (end_col is None or (line, col) < (end_line, end_col))
            ]
            if inside and len(inside) >= len(cols) // 2:
                return node
    names = code.co_varnames[: code.co_argcount]
    same = [n for n in candidates if tuple(a.id for a in n.args.args) == tuple(names)]
    if len(same) == 1:
        return same[0]
    return None


def _readable_name(fn, name):
    """``Affine.__call__`` -> ``Affine_call``; ``f`` -> ``f``."""
    parts = [p for p in fn.__qualname__.split(".") if p != "<locals>"]
    if len(parts) >= 2 and name.startswith("__"):
        return parts[-2] + "_" + name.strip("_")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2] + "_" + name
    return name


def parse_function(fn: types.FunctionType) -> Parsed:
    """Find and parse the source of ``fn``; raise :class:`SourceNotFoundError` if it has none."""
    code = fn.__code__
    filename = code.co_filename
    lines = linecache.getlines(filename, fn.__globals__)
    if not lines:
        raise SourceNotFoundError(
            f"cannot read the source of {fn.__qualname__!r} (defined in {filename!r})",
            fix="define the function in a .py file or a Jupyter/IPython cell; the plain "
            "interactive prompt and exec() of a string keep no source",
        )
    try:
        index = _parse_file(filename, lines)
    except SyntaxError as exc:
        raise SourceNotFoundError(
            f"cannot parse the file holding {fn.__qualname__!r}: {exc.msg}",
            filename=filename,
            lineno=exc.lineno,
            fix="make sure the file on disk matches the code that is running (reload the module)",
        ) from None

    first = code.co_firstlineno
    if code.co_name == "<lambda>":
        candidates = index.get(("lambda", first), [])
        node = _pick_lambda(candidates, code)
        if node is None:
            raise SourceNotFoundError(
                f"cannot tell which lambda on line {first} this is",
                filename=filename,
                lineno=first,
                fix="give each lambda different argument names, or put them on separate lines",
            )
        name = _lambda_name(node)
        body = gast.Return(value=node.body)
        gast.copy_location(body, node.body)
        fdef = gast.FunctionDef(
            name=name, args=node.args, body=[body], decorator_list=[], returns=None,
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

