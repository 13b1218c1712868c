"""Stage 8, cache: compile each function's adjoint once, keyed by its code object and guarded.

An entry serves a function of its code only while the function holds what
the entry was compiled to (its guard, :mod:`.guard`: the same globals, and
the same objects behind the names the compiler resolved). The cache is
bounded: :data:`MAX_CODES` code objects, :data:`MAX_CHAIN` entries for each.
An entry is dropped when the rule registry changes a callable the entry
inlined, skipped, or refused, so a rule registered later takes effect.
Compilation runs under a lock and inserts only a finished entry: an error
while transforming leaves the cache as it was.
"""

from __future__ import annotations

import inspect
import linecache
import sys
import threading
import types
import weakref

from .. import errors
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
    entry and read the first module's globals. An entry serves ``fn`` only
    if its guard says ``fn`` holds what it was compiled to (the functions its
    names resolved to: :mod:`.guard`); entries of one code for other
    closures or bindings are chained behind it (:attr:`Entry.other`). An
    entry keeps its function (and so its code) alive, so the identity is
    never reused while cached; the cache keeps at most :data:`MAX_CODES`
    code objects, dropping the oldest with everything keyed by its id.
    ``wants`` selects a variant that computes only some gradients, ``kinds``
    one specialised to number and array arguments.
    """
    key = _key(fn, constructor, wants, kinds)
    entry = _entries.get(key)
    while entry is not None:
        if entry.guard is None or entry.guard(fn):
            _stats["hits"] += 1
            return entry
        entry = entry.other
    from . import compile_adjoint

    with _lock:
        entry = _serving(_entries.get(key), fn)
        if entry is None:
            _make_room_for_recursion()
            entry = compile_adjoint(fn, returns_self=constructor, wants=wants, kinds=kinds)
            _insert(_entries, key, entry, id(fn.__code__))
            _stats["misses"] += 1
        return entry


def _serving(entry, fn):
    while entry is not None and not (entry.guard is None or entry.guard(fn)):
        entry = entry.other
    return entry


#: Entries of one code and variant kept for different closures or bindings (the oldest goes).
MAX_CHAIN = 8
#: Code objects with compiled entries kept (a notebook cell run again makes a new one each time).
MAX_CODES = 256

#: id(code) of each code object with entries, oldest first (a dict: ordered, and O(1) to move).
_codes: dict = {}


def _insert(table, key, entry, code_id):
    """Put ``entry`` first in ``table[key]``'s chain; forget the oldest code objects past the bound."""
    head = table.get(key)
    entry.other = head
    n, last = 1, entry
    while last.other is not None:
        n += 1
        if n > MAX_CHAIN:
            last.other = None
            break
        last = last.other
    table[key] = entry
    _codes.pop(code_id, None)
    _codes[code_id] = True
    while len(_codes) > MAX_CODES:
        _forget(next(iter(_codes)))


def _forget(code_id) -> None:
    """Drop every entry, direct call and twin keyed by the code object ``code_id``.

    All at once: while any of them is kept the code is alive (each holds it),
    so its id cannot be reused by a new code object; after, none is left that
    a new code object with that id could find.
    """
    del _codes[code_id]
    for table in (_entries, _tangents):
        for key in [k for k in table if _code_id(k) == code_id]:
            entry = table.pop(key)
            while entry is not None:
                generated = [entry.__dict__.get(name) for name in ("forward", "backward", "tangent")]
                for fn in generated[:2]:  # (an unfinished entry has none yet)
                    twin = dispatch._twins.pop(fn, None)
                    if twin is not None and twin.twins is not None:
                        generated.extend(twin.twins)
                for fn in generated:
                    if fn is not None:
                        _keep_source_while_alive(fn.__code__)
                entry = entry.other
    for table in (dispatch.direct, dispatch.direct_loops):
        for key in [k for k in table if k[0] == code_id]:
            del table[key]


#: Generated file -> how many of its code objects are still alive (see _keep_source_while_alive).
_alive_codes: dict = {}


def _keep_source_while_alive(code) -> None:
    """Forget the source of ``code``'s generated file once none of its code objects is left.

    Not when the function goes: a closure it made (a pullback's ``back``) has code of its own, from
    the same file, and may be differentiated later, which reads the source again.
    """
    codes = [code]
    for c in codes:
        codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    filename = code.co_filename
    _alive_codes[filename] = _alive_codes.get(filename, 0) + len(codes)
    for c in codes:
        weakref.finalize(c, _one_code_gone, filename)


def _one_code_gone(filename) -> None:
    left = _alive_codes.get(filename, 0) - 1
    if left > 0:
        _alive_codes[filename] = left
    else:
        _alive_codes.pop(filename, None)
        _drop_source(filename)


def _drop_source(filename) -> None:
    """Forget a generated function's source once nothing can run it (or differentiate it again)."""
    linecache.cache.pop(filename, None)
    errors._generated_from.pop(filename, None)


def _code_id(key) -> int:
    """The id of the code object a key of :func:`_key` names."""
    while type(key) is tuple:
        key = key[0]
    return key


def _key(fn, constructor, wants, kinds):
    code = id(fn.__code__) if not constructor else (id(fn.__code__), "constructor")
    if kinds is not None:
        return (code, wants, kinds)
    return code if wants is None else (code, wants)


_tangents: dict = {}


def tangent_of(fn):
    """The compiled forward-mode :class:`~srcgrad.compiler.TangentEntry` for ``fn`` (guarded as above)."""
    key = id(fn.__code__)
    entry = _tangents.get(key)
    while entry is not None:
        if entry.guard is None or entry.guard(fn):
            return entry
        entry = entry.other
    from . import compile_tangent

    with _lock:
        entry = _serving(_tangents.get(key), fn)
        if entry is None:
            _make_room_for_recursion()
            entry = compile_tangent(fn)
            _insert(_tangents, key, entry, key)
        return entry


#: Python's recursion units one level of a differentiated recursion takes: the generated function,
#: the dispatch, and the C-level call between them (``back(dy)``, ``forward(*args)``).
RECURSION_COST = 3
#: No higher than this, whatever the limit: deeper, a thread's C stack (8 MB) may overflow.
MAX_RECURSION_LIMIT = 10_000
_room_made = False


def _make_room_for_recursion() -> None:
    """Raise Python's recursion limit once, so a recursion Python allows is one srcgrad can follow.

    A plain recursive function of depth 900 runs under the default limit of
    1000; its derivative, three units a level, would fail past about 330.
    So on its first compilation srcgrad multiplies the limit (as it is then)
    by :data:`RECURSION_COST`, up to :data:`MAX_RECURSION_LIMIT`; it never
    lowers it, and leaves a limit the program sets later alone.
    """
    global _room_made
    if _room_made:
        return
    _room_made = True
    limit = sys.getrecursionlimit()
    wanted = min(RECURSION_COST * limit + 200, MAX_RECURSION_LIMIT)
    if wanted > limit:
        sys.setrecursionlimit(wanted)


def cache_info() -> CacheInfo:
    """How often a compiled adjoint was reused, compiled, and how many are kept (every variant counted)."""
    size = 0
    for entry in _entries.values():
        while entry is not None:
            size += 1
            entry = entry.other
    return CacheInfo(_stats["hits"] + dispatch.stats["direct hits"], _stats["misses"], size)


def clear_cache() -> None:
    """Forget every compiled adjoint (they are recompiled on next use)."""
    with _lock:
        _entries.clear()
        _tangents.clear()
        _codes.clear()
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
        for key in list(_entries):
            kept = []
            entry = _entries[key]
            while entry is not None:
                if any(d is primal for d in entry.depends_on):
                    dispatch._twins.pop(entry.forward, None)  # (their traceable twins go with them)
                    dispatch._twins.pop(entry.backward, None)
                else:
                    kept.append(entry)
                entry = entry.other
            for entry, following in zip(kept, kept[1:] + [None]):
                entry.other = following
            if kept:
                _entries[key] = kept[0]
            else:
                del _entries[key]
        # Code that called the primal at run time looks the rule up each call;
        # code that inlined or skipped it is gone above.


registry.add_listener(_invalidate)


def signature_of(fn):
    return inspect.signature(fn)
