"""Generated source line by line: which of the user's lines each generated line came from.

A :class:`Listing` is the text srcgrad compiled for a function (the adjoint's
forward and backward, or the tangent function) with, for each of its lines,
the line of the user's file it derives from (or None: the ``def`` line, the
unpacking of saved values, a tape's bookkeeping) and the names the
statement starting there assigns.

The compiler keeps no map from its output back to the user's lines, so the
listing compiles the function once more, stopping before the code is
compiled, and reads the map off the trees it printed: every statement of
the normal form carries its user's line (``_srcgrad_line``, set by
:mod:`srcgrad.compiler.anf` and carried through the transforms), and each
block of the backward starts with a ``# Grad of line N`` comment, which
gives the line of everything in that block. The text printed again is
compared with the cached entry's: only where they agree is the map read from
the trees (:attr:`Listing.exact`); elsewhere it comes from the comments alone.
"""

from __future__ import annotations

import ast
import re

from ..compiler.anf import normalise
from ..compiler.emit import to_source
from ..compiler.forward import tangent_transform
from ..compiler.prepare import foldable, prepare
from ..compiler.reverse import transform
from ..compiler.simplify import simplify
from ..compiler.splice import splice
from ..compiler.tapes import as_lists

__all__ = ["Listing", "adjoint_listing", "tangent_listing", "from_comments", "targets_of"]

_GRAD = re.compile(r"^\s*# Grad of line (\d+)")


class Listing:
    """Generated ``text`` with, per line (0-based), ``origins[i]`` the user's line or None and
    ``assigns[i]`` the names the statement starting on that line assigns; ``gradients`` the names
    that hold adjoints (or tangents); ``functions`` the generated functions' names, in order."""

    def __init__(self, text, origins, assigns, gradients, functions, exact):
        self.text: str = text
        self.lines: list[str] = text.splitlines()
        self.origins: list = origins
        self.assigns: list = assigns
        self.gradients: frozenset = frozenset(gradients)
        self.functions: list = functions
        #: Whether the map was read from the compiler's trees (else from the ``# Grad of line`` comments).
        self.exact: bool = exact

    def __repr__(self):
        return f"<Listing {self.functions} exact={self.exact}>"

    def lines_from(self, line: int) -> list[int]:
        """The (0-based) generated lines derived from the user's ``line``."""
        return [i for i, origin in enumerate(self.origins) if origin == line]


def adjoint_listing(entry) -> Listing:
    """The listing of a compiled adjoint :class:`~srcgrad.calls.entry.Entry` (the variant it holds)."""
    source = entry.source
    try:
        parsed, scope, namer, user_names = prepare(entry.fn)
        anf = normalise(parsed, scope, namer, returns_self=entry.returns_self)
        splice(anf, parsed, scope, namer)
        result = transform(parsed, scope, namer, anf, entry.wants, entry.kinds)
        invented, adjoints = foldable(namer, user_names)
        simplify([result.forward, result.backward], invented, adjoints, result.injected)
        lists = as_lists(result.forward, result.backward, result.injected, result.tapes)
        functions = list(lists) if lists is not None else [result.forward, result.backward]
        again = to_source(functions)
    except Exception:  # (what compiled once compiles again; if not, the comments still give a map)
        return from_comments(source)
    if again != source:
        return from_comments(source)
    gradients = set(namer._adjoints.values())
    origins, assigns = _map(functions, source, backward=functions[1].name)
    return Listing(source, origins, assigns, gradients, [f.name for f in functions], True)


def tangent_listing(entry) -> Listing:
    """The listing of a compiled :class:`~srcgrad.calls.entry.TangentEntry`."""
    source = entry.source
    try:
        parsed, scope, namer, user_names = prepare(entry.fn)
        anf = normalise(parsed, scope, namer)
        fdef, injected, *_ = tangent_transform(parsed, scope, namer, anf)
        invented, adjoints = foldable(namer, user_names)
        simplify([fdef], invented, adjoints, injected)
        again = to_source([fdef])
    except Exception:
        return from_comments(source)
    if again != source:
        return from_comments(source)
    origins, assigns = _map([fdef], source, backward=None)
    return Listing(source, origins, assigns, set(namer._adjoints.values()), [fdef.name], True)


def from_comments(source: str) -> Listing:
    """A listing mapped by the backward's ``# Grad of line N`` comments only (no map for the forward)."""
    lines = source.splitlines()
    origins: list = [None] * len(lines)
    assigns: list = [()] * len(lines)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    if tree is not None:
        for fdef in tree.body:
            if isinstance(fdef, ast.FunctionDef):
                for node in ast.walk(fdef):
                    if isinstance(node, ast.stmt) and node is not fdef:
                        assigns[node.lineno - 1] = targets_of(node)
    # Each comment opens a block: the lines under it, as deep or deeper, until the next comment.
    stack: list = []  # (indent, line) of the open comments
    for i, text in enumerate(lines):
        if not text.strip():
            continue
        indent = len(text) - len(text.lstrip())
        while stack and indent < stack[-1][0]:
            stack.pop()
        found = _GRAD.match(text)
        if found:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, int(found.group(1))))
            origins[i] = stack[-1][1]
        elif stack and not text.lstrip().startswith("return "):
            origins[i] = stack[-1][1]
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] if tree else []
    return Listing(source, origins, assigns, set(), functions, False)


def _map(functions, source, backward):
    """``(origins, assigns)`` for ``source``, the printed text of the gast ``functions``."""
    lines = source.splitlines()
    origins: list = [None] * len(lines)
    assigns: list = [()] * len(lines)
    printed = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    for fdef, node in zip(functions, printed):
        _walk(fdef.body, node.body, None, fdef.name == backward, origins, assigns)
    for i, text in enumerate(lines):  # (the comment lines themselves are not statements)
        found = _GRAD.match(text)
        if found:
            origins[i] = int(found.group(1))
    return origins, assigns


_BLOCKS = ("body", "orelse", "finalbody")


def _walk(generated, printed, enclosing, backward, origins, assigns):
    """Pair the statements of one block of a generated function with those parsed from its text."""
    statements = [s for s in generated if not hasattr(s, "_srcgrad_comment")]
    if len(statements) != len(printed):
        return  # (not the same shape: leave this block unmapped rather than guess)
    current = enclosing
    pairs = iter(zip(statements, printed))
    for stmt in generated:
        comment = getattr(stmt, "_srcgrad_comment", None)
        if comment is not None:
            found = _GRAD.match(comment if comment.startswith("#") else "# " + comment)
            if found and backward:
                current = int(found.group(1))
            continue
        g, p = next(pairs)
        if backward:  # the block's comment says; the gradients returned come from no one line
            line = None if isinstance(p, ast.Return) else current
        else:
            line = getattr(g, "_srcgrad_line", None) or enclosing
        for i in range(p.lineno - 1, (p.end_lineno or p.lineno)):
            origins[i] = line
        assigns[p.lineno - 1] = targets_of(p)
        for field in _BLOCKS:
            inner_g, inner_p = getattr(g, field, None), getattr(p, field, None)
            if isinstance(inner_g, list) and isinstance(inner_p, list) and inner_p:
                _walk(inner_g, inner_p, line, backward, origins, assigns)
        for handler_g, handler_p in zip(getattr(g, "handlers", []) or [], getattr(p, "handlers", []) or []):
            _walk(handler_g.body, handler_p.body, line, backward, origins, assigns)


def targets_of(stmt) -> tuple:
    """The plain names ``stmt`` binds (``a, b = ...``, ``for i in ...``), in order."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, ast.For):
        targets = [stmt.target]
    else:
        return ()
    names = []
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names:
                names.append(node.id)
    return tuple(names)
