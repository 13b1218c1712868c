"""The values one call computed, read line by line from srcgrad's generated code as it runs.

:func:`traced` runs a call under :func:`sys.settrace`, watching only the
frames of code srcgrad generated (their file names start with
``<srcgrad:``): after each of their statements it records, summarised
(:func:`summarise`), the values of the names that statement assigned; after
a forward function's ``return``, the output. The user's own code and
everything else run untraced: a trace function that was set before (a
coverage tool's) keeps receiving their events, and is set back after.

What is recorded is keyed by generated file and line; the explorer maps
those back to the user's lines with the file's :class:`~.listing.Listing`.
"""

from __future__ import annotations

import ast
import linecache
import math
import sys

import numpy as np

from .listing import targets_of

__all__ = ["summarise", "traced", "Recording", "GENERATED_PREFIX", "MAX_EVENTS"]

#: How the file names of srcgrad's generated code begin (see :func:`srcgrad.compiler.emit.compile_functions`).
GENERATED_PREFIX = "<srcgrad:"
#: Statements recorded in one call at most; a long loop's later iterations are counted, not shown.
MAX_EVENTS = 50_000

_DIGITS = 4
_ENTRIES = 4
_WIDTH = 90


def summarise(value) -> str:
    """A short, rounded text for ``value``: a number to 4 significant digits, an array by its shape
    and first entries, a tuple or dict by its first items, anything else by its type.

    >>> summarise(3.14159265), summarise(np.arange(6.0).reshape(2, 3))
    ('3.142', 'shape (2, 3): 0, 1, 2, 3, …')
    """
    text = _summary(value, 0)
    return text if len(text) <= _WIDTH else text[:_WIDTH - 1] + "…"


def _number(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (complex, np.complexfloating)):
        return f"{_number(x.real)}{'+' if math.copysign(1.0, x.imag) > 0 else '-'}{_number(abs(x.imag))}j"
    x = float(x)
    if x == 0.0:
        return "0"  # (-0.0 too: a gradient that is zero is shown as zero)
    return f"{x:.{_DIGITS}g}"


def _summary(value, depth) -> str:
    if value is None or isinstance(value, (bool, int, float, complex, np.generic)) and not isinstance(value, np.void):
        return "None" if value is None else _number(value)
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _number(value[()]) if value.dtype.kind in "biufc" else repr(value[()])
        if value.dtype.kind not in "biufc":
            return f"shape {value.shape} {value.dtype}"
        flat = value.ravel()[:_ENTRIES]
        entries = ", ".join(_number(x) for x in flat) + (", …" if value.size > _ENTRIES else "")
        return f"shape {value.shape}: {entries}"
    if isinstance(value, (tuple, list)) and depth < 2:
        items = [_summary(v, depth + 1) for v in value[:3]] + (["…"] if len(value) > 3 else [])
        open_, close = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        return open_ + ", ".join(items) + ("," if isinstance(value, tuple) and len(value) == 1 else "") + close
    if isinstance(value, dict) and depth < 2:
        items = [f"{k!r}: {_summary(v, depth + 1)}" for k, v in list(value.items())[:3]]
        return "{" + ", ".join(items + (["…"] if len(value) > 3 else [])) + "}"
    if isinstance(value, str):
        return repr(value)
    return f"<{type(value).__name__}>"


class Recording:
    """What :func:`traced` saw: per ``(file, line)`` of generated code, how often the statement ran
    and the last values of the names it assigned; per forward ``return``, the output."""

    def __init__(self):
        #: ``(file, line) -> [count, {name: summary}]``
        self.assigned: dict = {}
        #: ``(file, line) -> (function name, summary of the output)``
        self.returned: dict = {}
        self.events = 0
        self.truncated = False
        self._targets: dict = {}

    def files(self) -> set:
        return {file for file, _ in self.assigned} | {file for file, _ in self.returned}

    def targets(self, filename) -> dict:
        """``line -> names it assigns`` for a generated file, read from its source in ``linecache``."""
        found = self._targets.get(filename)
        if found is None:
            found = {}
            try:
                tree = ast.parse("".join(linecache.getlines(filename)))
            except SyntaxError:
                tree = None
            if tree is not None:
                for node in ast.walk(tree):
                    if isinstance(node, ast.stmt):
                        names = targets_of(node)
                        if names:
                            found[node.lineno] = names
            self._targets[filename] = found
        return found

    def tracer(self, frame):
        """The local trace function of one frame of generated code."""
        filename = frame.f_code.co_filename
        targets = self.targets(filename)
        assigned = self.assigned
        last = [None]

        def after(line, frame):
            names = targets.get(line)
            if names is None:
                return
            self.events += 1
            if self.events > MAX_EVENTS:
                self.truncated = True
                return
            slot = assigned.get((filename, line))
            if slot is None:
                slot = assigned[(filename, line)] = [0, {}]
            slot[0] += 1
            local = frame.f_locals
            for name in names:
                if name in local:
                    slot[1][name] = summarise(local[name])

        def trace(frame, event, arg):
            if event == "line":
                if last[0] is not None:
                    after(last[0], frame)
                last[0] = frame.f_lineno
            elif event == "return":
                if last[0] is not None:
                    after(last[0], frame)
                    last[0] = None
                if type(arg) is tuple and len(arg) == 2:  # a forward's (output, saved values)
                    self.returned[(filename, frame.f_lineno)] = (frame.f_code.co_name, summarise(arg[0]))
            return trace

        return trace


def traced(call):
    """``(call(), Recording)``: run ``call`` recording what srcgrad's generated code computes.

    The trace function set before (a coverage tool's, a debugger's) sees every other frame as
    before, and is restored afterwards, also when ``call`` raises.
    """
    recording = Recording()
    previous = sys.gettrace()

    def trace(frame, event, arg):
        code = frame.f_code
        if code.co_filename.startswith(GENERATED_PREFIX) and code.co_name != "__srcgrad_factory__":
            return recording.tracer(frame)
        return previous(frame, event, arg) if previous is not None else None

    sys.settrace(trace)
    try:
        result = call()
    finally:
        sys.settrace(previous)
    return result, recording
