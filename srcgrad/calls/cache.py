"""Stage 10, cache: compile each function's adjoint once, keyed by its code object and guarded.

An entry serves a function of its code only while the function holds what
the entry was compiled to (its guard, :mod:`.guard`: the same globals, and
the same objects behind the names the compiler resolved). The cache is
bounded: :data:`MAX_CODES` code objects, :data:`MAX_CHAIN` entries for each.
An entry is dropped when the rule registry changes a callable the entry
inlined, skipped, or refused, so a rule registered later takes effect.
Compilation runs under a lock and inserts only a finished entry: an error
while transforming leaves the cache as it was.

The tables the fast path reads (:data:`direct`, :data:`direct_loops`) and
the traceable twins of generated functions live here too, so that they are
emptied with the entries they came from.
"""

from __future__ import annotations

import linecache
import sys
import threading
import types
import weakref

from .. import errors
from ..compiler import compile_adjoint, compile_tangent
from ..compiler.library import is_library_code, refusal
from ..rules import registry
from ..runtime.located import call_site, callable_name
from .entry import LATER, Entry, TangentEntry

__all__ = ["adjoint_of", "tangent_of", "cache_info", "clear_cache", "CacheInfo", "direct", "direct_loops",
           "traced_as_twin", "twins", "library_error"]

_entries: dict = {}
_lock = threading.RLock()
#: Calls compiled, taken from the cache, and taken through :data:`direct` (all hits for :func:`cache_info`).
stats = {"hits": 0, "misses": 0, "direct hits": 0}

#: ``(id(code), wrt, nargs)`` -> :class:`~.entry.DirectCall`, for calls of plain functions seen
#: before: no rule, no stand-in, positional arguments filling the parameters in order.
#: Filled by :func:`srcgrad.calls.dispatch.call_entry`; emptied with the cache and on any rule change.
#: One per key: each is checked with the guard of the entry it came from (another closure of the
#: same code may need another entry), and dropped with its code's entries.
direct: dict = {}
#: Like :data:`direct`, for functions with a loop: each call picks the variant for its arguments' kinds.
direct_loops: dict = {}


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
    """The compiled :class:`~.entry.Entry` for the plain function ``fn``.

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
            stats["hits"] += 1
            return entry
        entry = entry.other
    with _lock:
        entry = _serving(_entries.get(key), fn)
        if entry is None:
            if is_library_code(fn):
                raise library_error(fn)
            _make_room_for_recursion()
            entry = _entry(compile_adjoint(fn, returns_self=constructor, wants=wants, kinds=kinds))
            _insert(_entries, key, entry, id(fn.__code__))
            stats["misses"] += 1
        return entry


def library_error(fn) -> errors.NoRuleError:
    """The refusal of a library's function (or method, or constructor) ``fn`` that has no rule.

    srcgrad does not read library source (:mod:`srcgrad.compiler.library`);
    the error names the user's line that made the call (see :func:`call_site`).
    Asked only when a function is about to be compiled, never on a cache hit.
    """
    message, fix = refusal(callable_name(fn), fn)
    filename, lineno, context = call_site()
    return errors.NoRuleError(message + context, filename=filename, lineno=lineno, fix=fix)


def _entry(compiled):
    """The :class:`Entry` of what the compiler returned (an :class:`Unfinished` one, finished when read)."""
    if compiled.finish is not None:
        entry = Unfinished(compiled)
        entry._finish = compiled.finish
        return entry
    entry = Entry(compiled)
    if compiled.done["twin"] is not None:
        traced_as_twin((entry.forward, entry.backward), compiled.done["twin"])
    return entry


class Unfinished(Entry):
    """An entry finished (transformed,) simplified, emitted and compiled when first read."""

    def __getattr__(self, name):
        if name not in LATER:
            raise AttributeError(name)
        with _lock:  # (finishing may load rules, which invalidate entries)
            finish = self.__dict__.pop("_finish", None)
            if finish is not None:
                try:
                    done = finish()
                except Exception:
                    self._finish = finish
                    if name == "depends_on":  # (asked by the cache on a new rule: not compiled, it depends on none)
                        return []
                    raise
                except BaseException:
                    self._finish = finish
                    raise
                twin = done.pop("twin")
                self.__dict__.update(done)
                if twin is not None:
                    traced_as_twin((self.forward, self.backward), twin)
        if name not in self.__dict__ and name == "depends_on":  # (asked while it is being finished)
            return []
        return self.__dict__[name]


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
                    # (its twin stays while the function lives: a pullback still held may be differentiated again)
                    twin = twins.get(fn) if fn is not None else None
                    if twin is not None and twin.twins is not None:
                        generated.extend(twin.twins)
                for fn in generated:
                    if fn is not None:
                        _keep_source_while_alive(fn.__code__)
                entry = entry.other
    for table in (direct, direct_loops):
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
    """The compiled forward-mode :class:`~.entry.TangentEntry` for ``fn`` (guarded as above)."""
    key = id(fn.__code__)
    entry = _tangents.get(key)
    while entry is not None:
        if entry.guard is None or entry.guard(fn):
            return entry
        entry = entry.other
    with _lock:
        entry = _serving(_tangents.get(key), fn)
        if entry is None:
            if is_library_code(fn):
                raise library_error(fn)
            _make_room_for_recursion()
            entry = TangentEntry(compile_tangent(fn))
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
    return CacheInfo(stats["hits"] + stats["direct hits"], stats["misses"], size)


def clear_cache() -> None:
    """Forget every compiled adjoint (they are recompiled on next use)."""
    with _lock:
        _entries.clear()
        _tangents.clear()
        _codes.clear()
        direct.clear()
        direct_loops.clear()
        twins.clear()
        stats["hits"] = stats["misses"] = stats["direct hits"] = 0


def _invalidate(primal) -> None:
    with _lock:
        _tangents.clear()
        direct.clear()  # (the function itself may have gained a rule)
        direct_loops.clear()
        if isinstance(primal, str):  # an array method or attribute rule
            _entries.clear()
            twins.clear()
            return
        for key in list(_entries):
            kept = []
            entry = _entries[key]
            while entry is not None:
                if any(d is primal for d in entry.depends_on):
                    twins.pop(entry.forward, None)  # (their traceable twins go with them)
                    twins.pop(entry.backward, None)
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


class _Twin:
    """Generated functions' traceable twins, compiled when higher order first needs them."""

    __slots__ = ("functions", "make", "twins")

    def __init__(self, functions, make):
        self.functions = tuple(weakref.ref(fn) for fn in functions)  # (not kept alive by their own twin)
        self.make = make
        self.twins = None

    def function(self, fn):
        if self.twins is None:
            self.twins = self.make()
        return self.twins[[ref() for ref in self.functions].index(fn)]


#: Generated function -> its :class:`_Twin`, for as long as the function lives (an evicted entry's
#: pullback may still be held and differentiated again); emptied with the cache and on a rule change.
twins = weakref.WeakKeyDictionary()


def traced_as_twin(functions, make) -> None:
    """Differentiate calls to the generated ``functions`` through ``make()``'s, same order (compiled lazily)."""
    twin = _Twin(functions, make)
    for fn in functions:
        twins[fn] = twin
