"""Rule templates kept between processes, beside the rules' own bytecode.

A rule's template (:func:`srcgrad.compiler.inline.template_of`) comes from
reading and parsing the rule's source: about 0.2 ms a rule, and a first
gradient needs ten or twenty of them. Python keeps the bytecode of the
rules' modules in ``__pycache__`` (or under ``PYTHONPYCACHEPREFIX``);
srcgrad keeps the parsed templates beside it, one file per module
(``numpy.cpython-311.srcgrad-templates``), each template pickled on its
own so that a process reads only the ones it uses.

The file follows the bytecode's rules. It is trusted only while the
module's source has the size and modification time it had when the
file was written (and for the same gast and file format); it is written
only when Python writes bytecode (not under ``PYTHONDONTWRITEBYTECODE``),
to a temporary file that then replaces it in one step, so a reader never
sees half of one. Whatever goes wrong (a read-only directory, a damaged
or foreign file) means the template is parsed from source as before:
keeping templates only ever saves time.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import tempfile
import threading

import gast

__all__ = ["recall", "keep"]

#: Bumped whenever what a template holds changes.
FORMAT = 1
SUFFIX = ".srcgrad-templates"

_lock = threading.Lock()
#: source file -> its _Kept (None: this file cannot be kept).
_files: dict = {}


class _Kept:
    """The templates of one module's file, as read (or as written since)."""

    def __init__(self, path, stamp, entries):
        self.path = path
        self.stamp = stamp
        #: ``(co_name, co_firstlineno)`` -> the pickled ``(outputs, names)``.
        self.entries: dict = entries


def recall(fn):
    """``(outputs, names)`` kept for the rule function ``fn``, or None."""
    kept = _kept(fn)
    if kept is None:
        return None
    found = kept.entries.get(_key(fn))
    if found is None:
        return None
    try:
        return pickle.loads(found)
    except Exception:
        return None


def keep(fn, outputs, names) -> None:
    """Keep ``fn``'s parsed template for later processes (when Python would keep its bytecode)."""
    kept = _kept(fn)
    if kept is None or sys.dont_write_bytecode:
        return
    try:
        entry = pickle.dumps((outputs, names), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    with _lock:
        kept.entries[_key(fn)] = entry
        data = pickle.dumps({"stamp": kept.stamp, "entries": dict(kept.entries)}, protocol=pickle.HIGHEST_PROTOCOL)
    directory = os.path.dirname(kept.path)
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=os.path.basename(kept.path), suffix=".tmp", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, kept.path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # (a directory we may not write: the next process parses again)


def _key(fn):
    code = fn.__code__
    return code.co_name, code.co_firstlineno


def _kept(fn):
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name == "<lambda>":
        return None  # (two lambdas on one line would share a key)
    source = code.co_filename
    try:
        return _files[source]
    except KeyError:
        pass
    with _lock:
        if source not in _files:
            _files[source] = _read(source)
        return _files[source]


def _read(source):
    """The :class:`_Kept` of ``source``: what its file holds if still current, else nothing yet."""
    if not source.endswith(".py"):
        return None
    try:
        status = os.stat(source)
        path = importlib.util.cache_from_source(source)
    except (OSError, NotImplementedError, ValueError):
        return None
    stamp = (FORMAT, getattr(gast, "__version__", None), status.st_mtime_ns, status.st_size)
    path = path[:-len(".pyc")] + SUFFIX if path.endswith(".pyc") else path + SUFFIX
    entries = {}
    try:
        with open(path, "rb") as f:
            stored = pickle.load(f)
        if type(stored) is dict and stored.get("stamp") == stamp and type(stored.get("entries")) is dict:
            entries = stored["entries"]
    except Exception:
        pass  # (none yet, or not one we wrote: parsed afresh, and written over)
    return _Kept(path, stamp, entries)
