"""What the explorer page shows, one :class:`Section` per function: its source, its generated code, its values.

:func:`sections` gathers them for the function explored and the user's
functions it calls: those its body names (``dense(W, b, x)`` with ``dense``
a function with source, not a library's), and, for a call with arguments,
those whose generated code ran. A helper srcgrad pasted into the caller's
code (:mod:`srcgrad.compiler.splice`) is shown inside the caller's section
too, since the caller's generated lines refer to its lines.
"""

from __future__ import annotations

import types

import gast
import numpy as np

from ..calls import cache
from ..compiler import build
from ..compiler.display import shown
from ..compiler.library import is_library_code
from ..compiler.parse import parse_function, unwrap_callable
from ..compiler.resolve import MISSING, Scope
from ..errors import SrcgradError
from ..rules import registry
from .listing import adjoint_listing, tangent_listing
from .values import GENERATED_PREFIX

__all__ = ["Section", "LineValues", "sections", "primal_lines", "MAX_SECTIONS"]

#: Functions shown at most on one page (the one explored and its callees, every level deep).
MAX_SECTIONS = 12


class LineValues:
    """What one call computed for one of the user's lines: ``forward`` and ``cotangents`` as
    ``{name: summary}`` (generated names, in the order assigned), how often the line's statements
    ran (``count``), and ``output``, the function's result when the line returns it."""

    def __init__(self):
        self.forward: dict = {}
        self.cotangents: dict = {}
        self.count = 0
        self.backward_count = 0
        self.output = None


class Section:
    """One function of the page: its primal lines (``primal``: ``[(lineno, text)]``), the helpers
    pasted into its code (``inlined``: ``[(caption, lines)]``), its ``adjoint`` and ``tangent``
    listings (or the error that stopped them, in ``adjoint_error``/``tangent_error``), and, for
    a call with arguments, ``values``: ``{lineno: LineValues}``."""

    def __init__(self, fn, anchor):
        self.fn = fn
        self.anchor: str = anchor
        self.name: str = fn.__qualname__
        code = fn.__code__
        self.filename: str = code.co_filename
        self.firstlineno: int = code.co_firstlineno
        self.primal: list = []
        self.inlined: list = []
        self.adjoint = None
        self.adjoint_error: str | None = None
        self.tangent = None
        self.tangent_error: str | None = None
        self.values: dict | None = None
        self.ran = False
        #: The adjoint's and the tangent's text as a reader is shown it (:func:`srcgrad.compiler.display.shown`),
        #: line for line the listing's.
        self.adjoint_text: str | None = None
        self.tangent_text: str | None = None


def primal_lines(fn) -> list:
    """``[(lineno, text)]``: the lines of ``fn``'s definition in its file, decorators included."""
    parsed = parse_function(fn)
    node = parsed.node
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", []) if hasattr(d, "lineno")])
    first = min(first, fn.__code__.co_firstlineno)
    last = getattr(node, "end_lineno", None) or node.lineno
    return [(n, parsed.line(n)) for n in range(first, last + 1)]


def sections(fn, recording=None, arguments=None) -> list:
    """The sections for ``fn`` (first) and its callees; ``recording`` the values of a call, or None;
    ``arguments`` the values the call gave ``fn``'s parameters, in order (a bound object first)."""
    ran = _entries_that_ran(recording) if recording is not None else {}
    main_entry = _ran_for(fn, ran)
    out = [_section(fn, main_entry or cache.adjoint_of(fn), recording, 0, main=True, arguments=arguments)]
    seen = {fn.__code__}
    queue = [fn]
    while queue and len(out) < MAX_SECTIONS:
        caller = queue.pop(0)
        for callee in _callees(caller) + [e.fn for e in ran.values() if e.fn.__code__ is not fn.__code__]:
            if callee.__code__ in seen or len(out) >= MAX_SECTIONS:
                continue
            seen.add(callee.__code__)
            try:
                section = _section(callee, _ran_for(callee, ran), recording, len(out))
            except SrcgradError:  # (a callee whose source cannot be read: its caller's page still shows)
                continue
            out.append(section)
            queue.append(callee)
    return out


def _section(fn, entry, recording, index, main=False, arguments=None):
    section = Section(fn, "fn-" + str(index))
    section.primal = primal_lines(fn)
    if entry is None:
        try:
            entry = cache.adjoint_of(fn)
        except SrcgradError as err:
            if main:
                raise
            section.adjoint_error = str(err)
    if entry is not None:
        section.adjoint = adjoint_listing(entry)
        section.inlined = _inlined(fn, entry, section)
        if recording is not None and _file_of(entry) in recording.files():
            section.ran = True
            section.values = _values(section.adjoint, _file_of(entry), recording)
    kinds = _kinds(entry.params, arguments) if main and arguments is not None and entry is not None else None
    if section.adjoint is not None:
        section.adjoint_text = _displayed(section.adjoint.text, fn, [entry.forward, entry.backward], kinds)
    try:
        tangent = cache.tangent_of(fn)
        section.tangent = tangent_listing(tangent)
        section.tangent_text = _displayed(section.tangent.text, fn, [tangent.tangent], None)
    except SrcgradError as err:
        section.tangent_error = str(err)
    return section


def _kinds(params, arguments) -> dict:
    """``{parameter: ndim}`` of the call's arguments that are numbers or arrays."""
    out = {}
    for name, value in zip(params, arguments):
        if isinstance(value, np.ndarray):
            out[name] = value.ndim
        elif isinstance(value, (int, float, complex, np.number)) and not isinstance(value, bool):
            out[name] = 0
    return out


def _displayed(text, fn, generated, kinds) -> str:
    """``text`` as ``adjoint_source`` shows it (helpers as the operations they stand for); the text as it
    runs if the rewrite would change its lines, which the line map is of."""
    names = dict(fn.__globals__)
    for g in generated:
        code = g.__code__
        names.update(zip(code.co_freevars, (cell.cell_contents for cell in g.__closure__ or ())))
    spelled = next((k for k, v in fn.__globals__.items() if v is np), "np")
    try:
        rewritten = shown(text, kinds, names, spelled)
    except Exception:  # (a reader's view only: the code that runs is shown instead)
        return text
    return rewritten if len(rewritten.splitlines()) == len(text.splitlines()) else text


def _file_of(entry):
    forward = entry.__dict__.get("forward")
    return forward.__code__.co_filename if forward is not None else None


def _entries_that_ran(recording) -> dict:
    """``{generated file: Entry}`` for the files the recording saw."""
    files = {f for f in recording.files() if f.startswith(GENERATED_PREFIX)}
    found = {}
    for head in list(cache._entries.values()):
        entry = head
        while entry is not None:
            filename = _file_of(entry)
            if filename in files:
                found[filename] = entry
            entry = entry.other
    return found


def _ran_for(fn, ran):
    for entry in ran.values():
        if entry.fn.__code__ is fn.__code__:
            return entry
    return None


def _inlined(fn, entry, section):
    """``[(caption, lines)]`` for the helpers pasted into ``entry``'s code that its lines refer to."""
    own = {n for n, _ in section.primal}
    referred = {o for o in section.adjoint.origins if o is not None} - own
    out = []
    helpers = entry.spliced.helpers if entry.spliced is not None else []
    for name, helper in helpers:
        if not referred or helper.__code__.co_filename != fn.__code__.co_filename:
            continue
        try:
            lines = primal_lines(helper)
        except SrcgradError:
            continue
        if referred & {n for n, _ in lines}:
            out.append((f"{helper.__qualname__}, pasted into {fn.__qualname__}'s code", lines))
            referred -= {n for n, _ in lines}
            own |= {n for n, _ in lines}
    return out


def _values(listing, filename, recording) -> dict:
    """``{user's line: LineValues}`` from what ``recording`` saw in ``filename`` (``listing``'s code)."""
    spans = _function_spans(listing)
    forward_name = listing.functions[0] if listing.functions else None
    out: dict = {}

    def at(line):
        values = out.get(line)
        if values is None:
            values = out[line] = LineValues()
        return values

    for (file, fline), (count, names) in recording.assigned.items():
        i = fline - 2  # (line 1 of the file is the factory's def; the generated text starts on line 2)
        if file != filename or not 0 <= i < len(listing.origins) or listing.origins[i] is None:
            continue
        values = at(listing.origins[i])
        in_forward = spans.get(i) == forward_name
        if listing.lines[i].lstrip().startswith(("for ", "while ")):
            count -= 1  # (a loop's header runs once more than its body: the test that ends it)
        for name, summary in names.items():
            if in_forward:
                values.forward[name] = summary
            elif name in listing.gradients or not listing.exact and name.startswith("d"):
                values.cotangents[name] = summary
        if in_forward:
            values.count = max(values.count, count)
        else:
            values.backward_count = max(values.backward_count, count)
    for (file, fline), (function, summary) in recording.returned.items():
        i = fline - 2
        if file == filename and function == forward_name and 0 <= i < len(listing.origins) \
                and listing.origins[i] is not None:
            values = at(listing.origins[i])
            values.output = summary
            values.count = max(values.count, 1)
    return out


def _function_spans(listing) -> dict:
    """``{line index: name of the generated function it belongs to}``."""
    spans, current = {}, None
    for i, text in enumerate(listing.lines):
        if text.startswith("def "):
            current = text[4:].split("(", 1)[0]
        spans[i] = current
    return spans


def _callees(fn) -> list:
    """The user's functions ``fn``'s body calls by a name or dotted path (with source, not a library's,
    without a rule of their own), in the order they are first called."""
    try:
        node = parse_function(fn).node
    except SrcgradError:
        return []
    scope = Scope(fn, node)
    out = []
    for call in build.walk(node):
        if not isinstance(call, gast.Call) or not scope.is_static_path(call.func):
            continue
        try:
            value = scope.resolve(call.func)
        except Exception:  # (a module attribute that raises when read: not a callee to show)
            continue
        if value is MISSING or isinstance(value, type):
            continue
        callee, _ = unwrap_callable(value)
        if not isinstance(callee, types.FunctionType) or callee in out or is_library_code(callee):
            continue
        module = getattr(callee, "__module__", "") or ""
        if module == "srcgrad" or module.startswith("srcgrad.") \
                or callee.__code__.co_filename.startswith(GENERATED_PREFIX):
            continue  # (srcgrad's own functions, and code it generated)
        if registry.lookup(callee) is not None or registry.is_nondiff(callee):
            continue
        out.append(callee)
    return out
