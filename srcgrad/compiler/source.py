"""Stage 1, parse: find the text of a function's definition, and check that it is the running code's.

Source is found through ``linecache``, which also holds Jupyter cells and
srcgrad's own generated code (:func:`register_source` puts it there). A
``def`` is parsed on its own (:func:`parse_def`): its lines run from the
code object's first line to its last instruction (and any deeper-indented
lines after it), parsed at their place in the file, so line and column
numbers are the file's; parsing all of a large module (a rules file) to read
one function costs tens of milliseconds. A lambda, or a ``def`` whose lines
do not parse on their own, is found in the whole file (:func:`file_index`),
parsed once (and kept while the file does not change), and picked out by its
code object: its first line, its name and, for several lambdas on one line,
the columns of its instructions (:func:`pick_lambda`).

The text read must be the text the running code was compiled from: a file
edited after import (and not reloaded) would otherwise be differentiated in
its new form while the old code runs. So a function read from a file on disk
is checked first (:func:`check_source_agrees`): its text, compiled, must give
the function's own code object again, or :class:`StaleSourceError` says to
reload the module.
"""

from __future__ import annotations

import __future__
import ast
import linecache
import threading
import types

import gast

from ..errors import SourceNotFoundError, StaleSourceError
from . import build
from .to_gast import ToGast, parse_gast

__all__ = ["register_source", "check_source_agrees", "parse_def", "def_text", "the_def", "file_index", "pick_lambda",
           "lambda_name"]


_module_cache: dict[tuple[str, str], dict] = {}
#: Texts of files, and of definitions, kept parsed (the oldest go first).
_MAX_FILES = 64
_MAX_DEFS = 256
_lock = threading.Lock()


def register_source(filename: str, text: str) -> None:
    """Put generated source into ``linecache`` so it can be read (and parsed) again."""
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)


def file_index(fn, filename, lines):
    """The definitions in ``fn``'s file, indexed (see :func:`_parse_file`); raise
    :class:`SourceNotFoundError` when the file does not parse."""
    try:
        return _parse_file(filename, lines)
    except SyntaxError as exc:
        raise SourceNotFoundError(
            f"cannot parse the file holding {fn.__qualname__!r}: {exc.msg}",
            filename=filename,
            lineno=exc.lineno,
            fix="make sure the file on disk matches the code that is running (reload the module)",
        ) from None


def _parse_file(filename: str, lines: list[str]):
    """The file's definitions, indexed: ``{("def", name, first_line): node, ("lambda", line): [nodes]}``."""
    text = "".join(lines)
    key = (filename, text)  # the text itself: no hashlib to import (3 ms), and str caches its hash
    with _lock:
        index = _module_cache.get(key)
    if index is None:
        module = parse_gast(text)
        _attach_parents(module)
        index = {"module": module}
        for node in build.walk(module):
            if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)):
                index[("def", node.name, _first_line(node))] = node
            elif isinstance(node, gast.Lambda):
                index.setdefault(("lambda", node.lineno), []).append(node)
        with _lock:
            if len(_module_cache) >= _MAX_FILES:  # (a notebook cell run again is a new text each time)
                old = _module_cache.pop(next(iter(_module_cache)))
                for node in build.walk(old["module"]):
                    _parents.pop(id(node), None)
            _module_cache[key] = index
    return index


#: The ``ast`` (not gast) node of each def parsed alone: see :func:`parse_def`.
_def_cache: dict[tuple, ast.AST] = {}


def _last_line(code) -> int:
    """The last line any instruction of ``code`` (nested code included) comes from."""
    last = code.co_firstlineno
    positions = getattr(code, "co_positions", None)
    if positions is not None:
        for _, end, _, _ in positions():
            if end is not None and end > last:
                last = end
    else:  # Python 3.10
        for _, _, line in code.co_lines():
            if line is not None and line > last:
                last = line
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def def_text(lines: list[str], code):
    """``(block, text, indented)``: the lines of ``code``'s ``def``, and the text that parses them alone
    at their place in the file; ``None`` when they cannot be found so."""
    first = code.co_firstlineno
    if not 1 <= first <= len(lines):
        return None
    header = lines[first - 1]
    indent = _indent(header)
    if indent and first < 2:
        return None
    last = min(_last_line(code), len(lines))
    # Lines after the last instruction that still belong to the body (``else: pass``, comments).
    while last < len(lines) and (not lines[last].strip() or _indent(lines[last]) > indent):
        last += 1
    block = "".join(lines[first - 1:last])
    # Blank lines put the block at its place in the file; ``if 1:`` opens an indented block.
    prefix = "\n" * (first - 1) if not indent else "\n" * (first - 2) + "if 1:\n"
    return block, prefix + block, bool(indent)


def the_def(module, indented, code, kinds, shift=0):
    """The one definition of ``code`` that ``module`` (parsed from :func:`def_text`) holds, or None.

    ``shift``: how many lines above its place in the file ``module`` was parsed.
    """
    body = module.body if not indented else module.body[0].body
    if len(body) != 1:
        return None
    node = body[0]
    if not isinstance(node, kinds) or node.name != code.co_name or _first_line(node) + shift != code.co_firstlineno:
        return None
    return node


def parse_def(filename: str, lines: list[str], code):
    """The ``def`` of ``code`` parsed from its own lines, or ``None`` when they do not parse alone.

    Each call gives a new gast tree, the caller's to change (normalisation
    rewrites it in place): the cache keeps Python's own ``ast`` of the def,
    which nothing changes, and converts it again for each caller.
    """
    found = def_text(lines, code)
    if found is None:
        return None
    block, text, indented = found
    key = (filename, code.co_firstlineno, code.co_name, block)
    with _lock:
        node = _def_cache.get(key)
    if node is None:
        try:
            module = ast.parse(text)
        except SyntaxError:
            return None
        node = the_def(module, indented, code, (ast.FunctionDef, ast.AsyncFunctionDef))
        if node is None:
            return None
        with _lock:
            if len(_def_cache) >= _MAX_DEFS:
                _def_cache.pop(next(iter(_def_cache)))
            _def_cache[key] = node
    return ToGast().visit(node)


#: child node id -> parent node, for the cached modules. Kept outside the nodes:
#: an attribute pointing up the tree would make every deepcopy copy the whole file.
_parents: dict[int, gast.AST] = {}


def _attach_parents(module):
    for node in build.walk(module):
        for child in gast.iter_child_nodes(node):
            _parents[id(child)] = node


def _first_line(node) -> int:
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        return min(d.lineno for d in decorators)
    return node.lineno


def lambda_name(node) -> str:
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


def pick_lambda(candidates, code):
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


# ---------------------------------------------------------------- the text is the running code's

#: The ``__future__`` flags a code object carries (they change how its text compiles).
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


#: ``(filename, text, flags)`` -> ``{(name, first line): [code objects]}`` of the text compiled.
_compiled: dict = {}
_MAX_COMPILED = 64


def check_source_agrees(fn, filename: str, lines: list[str]) -> None:
    """Raise :class:`StaleSourceError` unless ``lines`` (read from a file) compile to ``fn``'s code.

    Only text ``linecache`` read from disk is checked: generated code and
    notebook cells are registered by whoever compiled them, from the text
    that ran. The top-level statement holding the function is compiled
    (a few lines, with blank lines before so line numbers are the file's);
    if it does not give the code (or does not compile alone), the whole file.
    """
    entry = linecache.cache.get(filename)
    if not (isinstance(entry, tuple) and len(entry) == 4 and entry[1] is not None):
        return
    code = fn.__code__
    block = _top_level_block(lines, code.co_firstlineno)
    if block is not None and _holds(filename, block, code):
        return
    if _holds(filename, "".join(lines), code):
        return
    raise StaleSourceError(
        f"the file holding {fn.__qualname__!r} changed after it was imported: its text is not the code "
        "that runs, so srcgrad would differentiate the new text while Python runs the old code",
        filename=filename,
        lineno=code.co_firstlineno,
        fix="reload the module (importlib.reload(module), or %autoreload in IPython) or restart Python, "
        "so that the code that runs is the file's text",
    )


def _top_level_block(lines: list[str], first: int):
    """The top-level statement around line ``first``, preceded by blank lines to keep its place; None if none."""
    if not 1 <= first <= len(lines):
        return None

    def inside(line):  # a line that continues the statement above it
        stripped = line.strip()
        return not stripped or stripped.startswith("#") or _indent(line) > 0

    start = first - 1
    while start > 0 and inside(lines[start]):
        start -= 1
    end = first
    while end < len(lines) and inside(lines[end]):
        end += 1
    return "\n" * start + "".join(lines[start:end])


def _holds(filename: str, text: str, code) -> bool:
    """Whether ``text`` compiled (as ``code``'s file, with its ``__future__`` flags) holds ``code``."""
    flags = code.co_flags & _FUTURE_FLAGS
    key = (filename, text, flags)
    with _lock:
        index = _compiled.get(key)
    if index is None:
        index = {}
        try:
            compiled = compile(text, filename, "exec", flags=flags, dont_inherit=True)
        except (SyntaxError, ValueError):
            compiled = None
        stack = [compiled] if compiled is not None else []
        while stack:
            c = stack.pop()
            index.setdefault((c.co_name, c.co_firstlineno), []).append(c)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        with _lock:
            if len(_compiled) >= _MAX_COMPILED:
                _compiled.pop(next(iter(_compiled)))
            _compiled[key] = index
    return any(_same_code(code, c) for c in index.get((code.co_name, code.co_firstlineno), ()))


def _same_code(a, b) -> bool:
    """``a`` and ``b`` do the same thing: instructions, names, constants, arguments (lines may differ)."""
    if a.co_code != b.co_code or a.co_names != b.co_names or a.co_varnames != b.co_varnames \
            or a.co_freevars != b.co_freevars or a.co_cellvars != b.co_cellvars \
            or a.co_argcount != b.co_argcount or a.co_posonlyargcount != b.co_posonlyargcount \
            or a.co_kwonlyargcount != b.co_kwonlyargcount or a.co_flags != b.co_flags \
            or len(a.co_consts) != len(b.co_consts):
        return False
    return all(_same_constant(x, y) for x, y in zip(a.co_consts, b.co_consts))


def _same_constant(x, y) -> bool:
    if type(x) is not type(y):
        return False
    if isinstance(x, types.CodeType):
        return _same_code(x, y)
    if isinstance(x, (tuple, frozenset)):
        if isinstance(x, frozenset):
            x, y = sorted(x, key=repr), sorted(y, key=repr)
        return len(x) == len(y) and all(_same_constant(p, q) for p, q in zip(x, y))
    if isinstance(x, (float, complex)):
        return repr(x) == repr(y)  # (0.0 and -0.0 differ, nan equals itself)
    return x == y
