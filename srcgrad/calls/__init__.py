"""The calling layer: from a call ``f(*args)`` to compiled code and back, above the compiler.

The compiler (:mod:`srcgrad.compiler`) turns a function into plain data;
this package caches it, calls it, and is what generated code calls back
into. The map::

    dispatch.py   pullback, pullback_wrt: what a callee is (rule, constant, Python code, a class,
                  a partial, a mutating method) and its pullback; the one fast path, known_call
    entry.py      Entry and TangentEntry (the compiler's output, ready to call), DirectCall
    cache.py      stage 10: adjoint_of, tangent_of, cache_info, clear_cache, invalidation on a new
                  rule, the fast path's tables and the traceable twins of generated functions
    stand_ins.py  stand_in_for: what higher order differentiates in place of a function or pullback
    traced.py     the stand-ins themselves (traced_gradient, traced_dispatch, traced_jvp, ...),
                  written in the subset srcgrad reads
    tangents.py   forward mode at run time: tangent_call, rule_tangent, transposed_tangent

Imports go one way: ``srcgrad.api`` -> ``calls`` -> ``compiler`` -> ``runtime``
(and ``rules``). The compiler never imports this package: the functions
generated code calls from here are handed to it below, through
:mod:`srcgrad.compiler.provided`; ``runtime/`` is handed :func:`pullback`
the same way, for the gradients that go through a user's method, and the
compiler's aliasing analysis, for ``check_callee_writes``.
"""

from __future__ import annotations

from ..compiler import provided
from ..compiler.aliasing import callee_writes
from ..runtime import questions, structure
from . import traced  # noqa: F401  (registers the stand-ins)
from .dispatch import mutate, pullback, pullback_wrt
from .stand_ins import stand_in_for
from .tangents import index_tangent, tangent_call, transposed_tangent

provided.provide(pullback=pullback, pullback_wrt=pullback_wrt, mutate=mutate, tangent_call=tangent_call,
                 index_tangent=index_tangent, transposed_tangent=transposed_tangent, stand_in_for=stand_in_for)
structure.calling_pullback = pullback
questions.calling_callee_writes = callee_writes
