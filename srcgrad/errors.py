"""The errors srcgrad raises, each pointing at the user's own file and line.

Every error is a :class:`SrcgradError`. Its message reads like a compiler
diagnostic::

    model.py:12:8: 'yield' is not supported in differentiated code
        y = yield x
            ^
    Fix: return a list instead of yielding values one at a time.
"""

from __future__ import annotations

import linecache

__all__ = [
    "SrcgradError",
    "UnsupportedSyntaxError",
    "NoRuleError",
    "SourceNotFoundError",
    "StaleSourceError",
    "NonScalarOutputError",
]


#: Files of generated code (``<srcgrad: f #3>``) -> the user's function it derives from.
_generated_from: dict[str, str] = {}


def note_generated(filename: str, origin: str) -> None:
    """Record that the generated file ``filename`` is srcgrad's code for ``origin`` (``file.py:12 (f)``)."""
    _generated_from[filename] = origin


def origin_of(filename: str) -> str | None:
    """The user's function that the generated file ``filename`` derives from, if it is one."""
    return _generated_from.get(filename)


class SrcgradError(Exception):
    """Base class of every error srcgrad raises about the user's code."""

    def __init__(self, message, *, filename=None, lineno=None, col=None, fix=None):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.fix = fix
        super().__init__(self._format())

    def _format(self):
        where = ""
        if self.filename is not None:
            where = f"{self.filename}:{self.lineno}"
            if self.col is not None:
                where += f":{self.col + 1}"
            where += ": "
        lines = [where + self.message]
        if self.filename is not None and self.lineno is not None:
            text = linecache.getline(self.filename, self.lineno).rstrip("\n")
            if text.strip():
                lines.append("    " + text)
                if self.col is not None:
                    lines.append("    " + " " * self.col + "^")
        origin = _generated_from.get(self.filename)
        if origin is not None:  # a higher-order derivative: srcgrad's own code, differentiated again
            lines.append(f"(in srcgrad's generated code for the derivative of {origin}, "
                         "differentiated again for a higher-order derivative)")
        if self.fix:
            lines.append("Fix: " + self.fix)
        return "\n".join(lines)


class UnsupportedSyntaxError(SrcgradError):
    """A construct srcgrad cannot differentiate (yet); the message says what to write instead."""


class NoRuleError(SrcgradError):
    """A call to a function that has no Python source and no derivative rule."""


class SourceNotFoundError(SrcgradError):
    """The source of a function cannot be read, so it cannot be transformed."""


class StaleSourceError(SourceNotFoundError):
    """The file was edited after the function was defined: its text is not the code that runs."""


class NonScalarOutputError(SrcgradError, ValueError):
    """``gradient`` was asked for a function whose output is not a scalar."""
