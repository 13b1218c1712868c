"""Stage 8, cache: compile each function's adjoint once, keyed by its code object.

An entry is dropped when the rule registry changes a callable the entry
inlined, skipped, or refused, so a rule registered later takes effect.
Compilation runs under a lock and inserts only a finished entry: an error
while transforming leaves the cache as it was.
"""

from __future__ import annotations

import inspect
import threading

from ..rules import registry
from ..runtime import dispatch

__all__ = ["adjoint_of", "tangent_of", "cache_info", "clear_cache", "CacheInfo"]

_entries: dict = {}
_lock = threading.RLock()
_stats = {"hits": 0, "misses": 0}


class CacheInfo(tuple):
    """``(hits, misses, size)`` of the adjoint cache."""

    def __new__(cls, hits, misses, size):
        return super().__new__(cls, (hits, misses, size))

    hits = property(lambda self: self[0])
    misses = property(lambda self: self[1])
    size = property(lambda self: self[2])

    def __repr__(self):
        return f"CacheInfo(hits={self.hits}, misses={self.misses}, size={self.size})"


def adjoint_of(fn, constructor=False, wants=None, kinds=None):
    """The compiled :class:`~srcgrad.compiler.Entry` for the plain function ``fn``.

    Entries are keyed by the code object's identity: code objects compare
    by value, so the same text in two modules would otherwise share one
    entry and read the first module's globals. The entry keeps its function
    (and so its code) alive, so the identity is never reused while cached.
    ``wants`` selects a variant that computes only some gradients, ``kinds``
    one specialised to number and array arguments.
    """
    code = _key(fn, constructor, wants, kinds)
    entry = _entries.get(code)
    if entry is not None and (entry.spliced is None or _still_current(entry)):
        _stats["hits"] += 1
        return entry
    from . import compile_adjoint

    with _lock:
        entry = _entries.get(code)
        if entry is None:
            entry = compile_adjoint(fn, returns_self=constructor, wants=wants, kinds=kinds)
            _entries[code] = entry
            _stats["misses"] += 1
        return entry


def _still_current(entry) -> bool:
    """Whether the helpers spliced into ``entry`` are still what their names hold; if not, drop it."""
    if entry.spliced.current(entry.fn.__globals__):
        return True
    for _, helper in entry.spliced.helpers:
        _invalidate(helper)  # (every entry that pasted in the old helper goes)
    return False


def _key(fn, constructor, wants, kinds):
    code = id(fn.__code__) if not constructor else (id(fn.__code__), "constructor")
    if kinds is not None:
        return (code, wants, kinds)
    return code if wants is None else (code, wants)


_tangents: dict = {}


def tangent_of(fn):
    """The compiled forward-mode :class:`~srcgrad.compiler.TangentEntry` for ``fn``."""
    key = id(fn.__code__)
    entry = _tangents.get(key)
    if entry is not None:
        return entry
    from . import compile_tangent

    with _lock:
        entry = _tangents.get(key)
        if entry is None:
            entry = compile_tangent(fn)
            _tangents[key] = entry
        return entry


def cache_info() -> CacheInfo:
    """How often a compiled adjoint was reused, compiled, and how many are kept."""
    return CacheInfo(_stats["hits"] + dispatch.stats["direct hits"], _stats["misses"], len(_entries))


def clear_cache() -> None:
    """Forget every compiled adjoint (they are recompiled on next use)."""
    with _lock:
        _entries.clear()
        _tangents.clear()
        dispatch.direct.clear()
        dispatch.direct_loops.clear()
        dispatch._twins.clear()
        _stats["hits"] = _stats["misses"] = dispatch.stats["direct hits"] = 0


def _invalidate(primal) -> None:
    with _lock:
        _tangents.clear()
        dispatch.direct.clear()  # (the function itself may have gained a rule)
        dispatch.direct_loops.clear()
        if isinstance(primal, str):  # an array method or attribute rule
            _entries.clear()
            dispatch._twins.clear()
            return
        stale = [key for key, entry in _entries.items() if any(d is primal for d in entry.depends_on)]
        for key in stale:
            entry = _entries.pop(key)
            dispatch._twins.pop(entry.forward, None)  # (their traceable twins go with them)
            dispatch._twins.pop(entry.backward, None)
        # Code that called the primal at run time looks the rule up each call;
        # code that inlined or skipped it is gone above.


registry.add_listener(_invalidate)


def signature_of(fn):
    return inspect.signature(fn)
