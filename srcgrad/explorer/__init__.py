"""Seeing the derivative: the explorer page and the notebook display of generated source (SPEC section 6).

:func:`explore` writes one self-contained HTML page showing a function's
source next to its generated adjoint (and tangent), linked line by line,
with the values a call computed. The parts::

    listing.py    generated source line by line: which user's line each came from
    values.py     the values one call computed, traced from the generated code as it runs
    sections.py   what the page shows per function (the one explored and its callees)
    page.py       the HTML, its style and its script
    highlight.py  Python source as coloured HTML (shared with the notebook display)
"""

from __future__ import annotations

import html
import inspect
import os
import re
import secrets

import numpy as np

from .. import api
from ..compiler.parse import parse_function, unwrap_callable
from ..errors import SourceNotFoundError, SrcgradError
from . import page
from .sections import LineValues, sections
from .values import summarise, traced

__all__ = ["explore", "ExplorerPage"]


class ExplorerPage(str):
    """The path of a page :func:`explore` wrote (a ``str``: ``open(page)`` works), shown inline by Jupyter.

    ``path`` is the same path; ``html`` the page's text.
    """

    path: str
    html: str

    def __new__(cls, path, text):
        self = super().__new__(cls, path)
        self.path = str(path)
        self.html = text
        return self

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="srcgrad explorer" '
                'style="width: 100%; height: 640px; border: 1px solid #d0d7de; border-radius: 6px"></iframe>')


def explore(f, *args, path=None) -> ExplorerPage:
    """Write an HTML page showing ``f``'s source beside its generated derivative code; return its path.

    Each line of ``f`` is linked to the generated lines derived from it:
    select one (click it, or focus the source and use the arrow keys) to
    mark them. A button shows forward mode (the tangent function) instead
    of the adjoint; the user's functions ``f`` calls get sections of their
    own. With arguments, ``f(*args)`` is run once, through srcgrad's
    generated code, and each line shows the values that call computed and
    the cotangents its backward pass computed (for a seed of 1, or ones
    shaped like the output). The page is one file, with no network access,
    readable without JavaScript.

    ``path``: where to write the page; by default ``<function name>_explorer.html``
    in the current directory. The file is written whole or not at all.
    The result is the page's absolute path, as a ``str`` that a notebook
    displays as the page itself.

    >>> import srcgrad
    >>> def f(x):
    ...     return 3 * x ** 2 + 2 * x + 1
    >>> page = srcgrad.explore(f, 2.0)   # doctest: +SKIP
    >>> open(page).read().startswith("<!DOCTYPE html>")   # doctest: +SKIP
    True
    """
    fn, bound = unwrap_callable(f)
    if fn is None:
        raise SourceNotFoundError(
            f"explore({f!r}): not a Python function, so it has no source to show",
            fix="pass a function (or a method, or an object with a __call__ method) defined in a .py "
                "file or a notebook cell",
        )
    parsed = parse_function(fn)  # (raises SourceNotFoundError, naming the function, when it has no source)
    name = parsed.name
    call = output = seed_text = None
    recording = None
    notes = []
    if args:
        _check_arguments(f, fn, name, args)
        (output_value, seed_value, seed_text, grads), recording = traced(lambda: _run(f, args))
        output = summarise(output_value)
        call = f"{name}({', '.join(_brief(a) for a in args)})"
        if seed_value is None:
            notes.append("The output is not a number or an array: no backward pass was run, so no cotangents.")
        if recording.truncated:
            notes.append("The call ran many statements: only the first ones' values were recorded.")
    shown = sections(fn, recording, _arguments(fn, bound, args) if args else None)
    if args:
        _show_arguments(shown[0], f, fn, args, grads)
    text = page.render(f"srcgrad explorer: {name}", shown, call, output, seed_text, notes)
    target = os.path.abspath(os.fspath(path) if path is not None else _default_name(name))
    _write_atomically(target, text)
    return ExplorerPage(target, text)


def _check_arguments(f, fn, name, args) -> None:
    """Refuse arguments ``f`` cannot be called with, before running anything."""
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args)
    except TypeError as err:
        code = fn.__code__
        raise SrcgradError(
            f"explore({name}, ...) was given {len(args)} argument{'s' if len(args) != 1 else ''}, "
            f"which {name}{signature} cannot take: {err}",
            filename=code.co_filename, lineno=code.co_firstlineno,
            fix=f"pass the arguments of one call of {name} after it, as in srcgrad.explore({name}, "
                f"{', '.join(p for p in signature.parameters)}); or none, to see the generated code without values",
        ) from None


def _run(f, args):
    """``(output, seed, seed's description)``: the call's forward and backward passes, through srcgrad."""
    y, back = api.pullback(f, *args)
    seed, described = _seed(y)
    grads = back(seed) if seed is not None else None
    return y, seed, described, grads


def _arguments(fn, bound, args):
    """The call's values for ``fn``'s parameters, in order (a bound object first), or None."""
    try:
        values = inspect.signature(fn).bind(*((bound,) if bound is not None else ()), *args)
    except TypeError:
        return None
    values.apply_defaults()
    return list(values.arguments.values())


def _brief(value) -> str:
    """An argument as the page's heading shows it: an array by its shape only."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"array{value.shape}"
    return summarise(value)


def _show_arguments(section, f, fn, args, grads) -> None:
    """On the ``def`` line: each argument's value, and the gradient the call returned for it."""
    try:
        bound = inspect.signature(f).bind(*args).arguments
    except (TypeError, ValueError):
        return
    line = next((n for n, text in section.primal if text.lstrip().startswith(("def ", "async def "))), None)
    if line is None or section.values is None:
        return
    values = section.values.setdefault(line, LineValues())
    one_each = len(bound) == len(args)  # (else some are gathered into *args: their gradients not by name)
    for position, (param, value) in enumerate(bound.items()):
        values.forward[param] = summarise(value)
        if one_each and grads is not None and position < len(grads):
            values.cotangents["d" + param] = summarise(grads[position])


def _seed(y):
    if isinstance(y, (bool, np.bool_)):
        return None, None
    if isinstance(y, (int, float, complex, np.number)):
        return 1.0, "d(output) = 1"
    if isinstance(y, np.ndarray) and y.dtype.kind in "fc" or isinstance(y, np.ndarray) and y.dtype.kind in "iu":
        return (1.0 if y.ndim == 0 else np.ones(y.shape)), \
            ("d(output) = 1" if y.ndim == 0 else f"d(output) = ones{y.shape}")
    if isinstance(y, tuple) and y:
        parts = [_seed(v) for v in y]
        if all(p[0] is not None for p in parts):
            return tuple(p[0] for p in parts), "d(output) = ones for each part"
    return None, None


def _default_name(name) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + "_explorer.html"


def _write_atomically(target, text) -> None:
    """Write ``text`` to ``target`` through a temporary file in the same directory, then rename it."""
    directory, base = os.path.split(target)
    # (opened as a new file, not with tempfile's mkstemp, so the page gets the usual permissions)
    temporary = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
