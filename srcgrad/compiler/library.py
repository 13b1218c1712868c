"""Library code: the functions whose source srcgrad never reads.

srcgrad differentiates the user's Python through its source; a library's
functions (NumPy's, SciPy's, scikit-learn's, the standard library's) get
their derivatives from rules or are refused (``NoRuleError`` at the user's
call), even where they happen to be written in Python: their source is
written for speed and generality (``**kwargs``, ``np.finfo``, caches), not
for the subset srcgrad differentiates, and an error inside it would name a
file the user never wrote.

A function is library code when the file its code was compiled from lies
in an installed location (:data:`LIBRARY_ROOTS`: the standard library and
``site-packages``, plus any path with a ``site-packages`` or
``dist-packages`` directory in it, and Python's frozen modules). Everything
else is the user's: scripts, their project's modules (an editable install,
``pip install -e``, lives in the project), notebook cells, code made by
``exec`` or :mod:`dataclasses`. A method, a constructor (``__init__``) or a
callable object's ``__call__`` is judged by the function srcgrad would read.

srcgrad's own package is never library code: it differentiates its own
layers and losses (:mod:`srcgrad.models`), optimisers and, at higher order,
its own pullbacks and stand-ins through their source, all written in the
traceable subset.

The opt-in, :func:`trace_library`, names top-level packages whose Python
srcgrad may read as if they were the user's.

>>> import json
>>> is_library_code(json.dumps)
True
>>> is_library_code(lambda x: x)
False
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import types

__all__ = ["LIBRARY_ROOTS", "traced", "trace_library", "is_library_file", "is_library_code", "source_function",
           "package_of", "refusal"]


def _installed_roots() -> list:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(k)}
    roots.update(getattr(site, "getsitepackages", list)())
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        roots.add(user)
    roots.add(os.path.dirname(os.__file__))
    return sorted({os.path.join(os.path.abspath(r), "") for r in roots})


#: Directories whose files are library code (each ends in a separator). Tests may patch this list.
LIBRARY_ROOTS: list = _installed_roots()
#: Top-level packages opted in with :func:`trace_library`: their Python is traced like the user's.
traced: set = set()

_SRCGRAD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")
_INSTALLED = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def trace_library(*packages: str) -> None:
    """Let srcgrad differentiate the Python source of these installed packages, as it does the user's.

    For a pure-Python package written in the subset srcgrad differentiates
    (no ``**kwargs``, every NumPy function it calls has a rule): its
    functions, methods and constructors are then traced into instead of
    refused. Name a top-level package (``"mypkg"``, not ``"mypkg.sub"``);
    it stays opted in for the rest of the process.

    >>> import srcgrad
    >>> srcgrad.trace_library("json")
    >>> is_library_code(__import__("json").dumps)
    False
    >>> traced.discard("json")
    """
    for name in packages:
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"trace_library takes top-level package names, like 'mypkg'; got {name!r}")
        traced.add(name)


def is_library_file(filename: str) -> bool:
    """Whether code compiled from ``filename`` is an installed library's (see the module's docstring)."""
    if filename.startswith("<frozen"):
        return True
    if filename.startswith("<"):  # (<string>, <stdin>, <ipython-input-...>, srcgrad's generated code)
        return False
    filename = os.path.abspath(filename)
    if filename.startswith(_SRCGRAD):
        return False
    return any(part in filename for part in _INSTALLED) or any(filename.startswith(r) for r in LIBRARY_ROOTS)


def source_function(obj):
    """The Python function srcgrad would read to differentiate a call of ``obj``, or None.

    A function itself; a bound method's function; a class's ``__init__``;
    a callable object's ``__call__``.
    """
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        return obj
    found = getattr(obj, "__init__", None) if isinstance(obj, type) else getattr(type(obj), "__call__", None)
    return found if isinstance(found, types.FunctionType) else None


def package_of(fn) -> str:
    """The top-level package ``fn`` was defined in (``"scipy"`` for ``scipy.stats.norm.logpdf``)."""
    fn = source_function(fn) or fn
    return (getattr(fn, "__module__", None) or "").split(".")[0]


def is_library_code(obj) -> bool:
    """Whether calling ``obj`` would mean reading a library's source (its :func:`source_function`'s file).

    False for the user's code, for srcgrad's own, for callables without
    Python source (those have rules or are refused on their own), and for
    packages opted in with :func:`trace_library`.
    """
    fn = source_function(obj)
    if fn is None or not is_library_file(fn.__code__.co_filename):
        return False
    return not traced or package_of(fn) not in traced


def refusal(name: str, obj) -> tuple:
    """``(message, fix)`` refusing a call of the library callable ``obj``, written ``name``, that has no rule."""
    package = package_of(obj)
    fn = source_function(obj) or obj
    qualname = getattr(fn, "__qualname__", "")
    if "." in qualname and "<locals>" not in qualname:  # a method or constructor: a rule is keyed by a function
        mine = "my_" + getattr(fn, "__name__", "call").strip("_")
        how = (f"call it from a function of your own, def {mine}(...), and register a rule for that one: "
               f"@srcgrad.defrule({mine})")
    else:
        how = (f"register one: @srcgrad.defrule({name})\n"
               f"     def {name.rsplit('.', 1)[-1]}_rule(dy, y, *args): return (<gradient for each argument>,)")
    message = (f"no derivative rule for {name}, and srcgrad does not read the source of library code "
               f"({package or 'it'} is installed, not yours)")
    fix = (f"{how}\n     or, if {package or 'it'} is pure Python in the subset srcgrad differentiates, opt in "
           f"with srcgrad.trace_library({package!r})")
    return message, fix
