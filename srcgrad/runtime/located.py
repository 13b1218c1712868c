"""Where in the user's code a refusal met at run time belongs: file, line, and how to name the callable.

Errors found while transforming carry the line of the statement they are
about. Some are only found when the code runs: a rule-less function that
arrives as a value (``srcgrad.gradient(np.cosh, x)``, ``funs[0](x)``), a
rule refusing its arguments (``np.einsum`` with ``...``). For those,
:func:`call_site` and :func:`located` read the stack: a frame of the
user's own file is its line; a frame of generated code stands for the
user's function it was made from (see :func:`srcgrad.errors.note_generated`),
at the line its ``# Grad of line N`` comment names, else the ``def`` line.
"""

from __future__ import annotations

import linecache
import os
import re
import sys

import numpy as np

from ..errors import origin_of

__all__ = ["callable_name", "call_site", "located"]


def callable_name(fn) -> str:
    """``np.arccosh``, ``scipy.special.gamma``, ``mod.Foo.bar``: how the user would write ``fn``."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        return repr(fn)
    module = getattr(fn, "__module__", None)
    if module is None and isinstance(fn, np.ufunc):  # (SciPy's ufuncs say no module)
        special = sys.modules.get("scipy.special")
        module = "scipy.special" if getattr(special, name, None) is fn else None
    if module is not None and (module == "numpy" or module.startswith("numpy.")) and not module.startswith("numpy._"):
        return "np" + module[len("numpy"):] + "." + name
    if module in (None, "builtins") or module.startswith("numpy._"):
        return name
    return f"{module}.{name}"


#: srcgrad's own directory: its frames are never the user's.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call_site():
    """``(filename, lineno, context)`` of the user's code that made the call srcgrad is running.

    The innermost frame that is neither srcgrad's nor a library's wins: a
    user function's generated code stands for that function (its
    ``# Grad of line N`` comment gives the line where it can be read, else
    its ``def`` line), a plain frame (``srcgrad.gradient(np.cosh, x)``) is
    the user's own line.
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<srcgrad:"):
            found = _generated_site(frame)
            if found is not None:
                return found
        elif not filename.startswith(_PACKAGE) and not _is_library(filename):
            return filename, frame.f_lineno, ""
        frame = frame.f_back
    return None, None, ""


def _is_library(filename) -> bool:
    return filename.startswith("<frozen") or os.sep + "site-packages" + os.sep in filename \
        or filename.startswith(os.path.dirname(os.__file__))


_ORIGIN = re.compile(r"^(.*):(\d+) \((.*)\)$")
_GRAD_OF = re.compile(r"# Grad of line (\d+):")


def _user_origin(filename):
    """For generated code of a user's function, the match of its origin ``file.py:12 (f)``; else None.

    (srcgrad's own stand-ins, differentiated for higher order, are not the user's.)
    """
    if not filename.startswith("<srcgrad:"):
        return None
    found = _ORIGIN.match(origin_of(filename) or "")
    if found is None or found.group(1).startswith(_PACKAGE):
        return None
    return found


def _generated_site(frame):
    """Where in the user's function the generated ``frame`` is: ``(file, line, " (called in f)")``, or None."""
    found = _user_origin(frame.f_code.co_filename)
    if found is None:
        return None
    filename, first, function = found.group(1), int(found.group(2)), found.group(3)
    line = _line_of_call(frame) or first
    return filename, line, f" (called in {function})"


def located(err):
    """``err``, a :class:`SrcgradError` raised at run time without a place, with the user's file and line.

    The place is the innermost generated frame of the traceback: the
    ``# Grad of line N`` comment above the backward statement that raised,
    else that function's ``def`` line; a rule raising for its arguments
    (``np.einsum`` with ``...``) then points at the user's call.
    """
    if err.filename is not None:
        return err
    tb, found, origin = err.__traceback__, None, None
    while tb is not None:
        mine = _user_origin(tb.tb_frame.f_code.co_filename)
        if mine is not None:
            found, origin = tb, mine
        tb = tb.tb_next
    if found is None:
        return err
    lines = linecache.getlines(found.tb_frame.f_code.co_filename)
    line = int(origin.group(2))
    for text in reversed(lines[:found.tb_lineno]):
        comment = _GRAD_OF.search(text)
        if comment is not None:
            line = int(comment.group(1))
            break
        if text.lstrip().startswith("def "):
            break
    placed = type(err)(err.message, filename=origin.group(1), lineno=line, fix=err.fix)
    return placed.with_traceback(err.__traceback__)


def _line_of_call(frame):
    """The user's line of the pullback call running in a generated forward, from its backward's comment.

    The forward's ``g_out, g_out_back = pullback(g, x)`` is undone in the
    backward by ``... = g_out_back(...)``, under ``# Grad of line N``; None
    when that cannot be read (a tape in a loop, a tangent).
    """
    lines = linecache.getlines(frame.f_code.co_filename)
    if not 0 < frame.f_lineno <= len(lines):
        return None
    stated = re.match(r"\s*\w+, (\w+) = ", lines[frame.f_lineno - 1])
    if stated is None:
        return None
    back = stated.group(1) + "("
    comment = None
    for text in lines[frame.f_lineno:]:
        found = _GRAD_OF.search(text)
        if found is not None:
            comment = int(found.group(1))
        elif back in text and "=" in text.split(back)[0]:
            return comment
    return None
