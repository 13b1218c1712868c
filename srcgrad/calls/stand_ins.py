"""Stand-ins: what higher order differentiates in place of a library function or pullback.

srcgrad's own functions (``srcgrad.gradient``, the dispatcher's ``pullback``,
``structure.index_add``...) are not in the subset srcgrad reads; each is
differentiated through a stand-in that is (:mod:`.traced`), registered with
:func:`traced_as`. A pullback object whose ``__call__`` is not traceable has
a traceable equivalent (:func:`back_traced_as`), and a generated function
whose tapes are lists has its push/pop twin (:func:`srcgrad.calls.cache.traced_as_twin`).
:func:`stand_in_for` answers, for a callee, what to differentiate.
"""

from __future__ import annotations

import types

from ..rules import registry
from .cache import twins

__all__ = ["stand_in_for", "traced_as", "back_traced_as"]

#: Library functions differentiated through a stand-in written in the traceable subset.
_TRACED_AS: dict = {}


def stand_in_for(fn):
    """What to differentiate for a call to ``fn``: its stand-in, or ``fn`` itself."""
    if type(fn) is not types.FunctionType:
        make = _BACKS_TRACED_AS.get(type(fn)) or registry.callee_stand_ins.get(type(fn))
        return fn if make is None else make(fn)
    found = _TRACED_AS.get(fn)
    if found is None:
        found = twins.get(fn)
        return fn if found is None else found.function(fn)
    return found


def traced_as(fn, stand_in) -> None:
    """Differentiate calls to ``fn`` by reading ``stand_in``'s source instead."""
    _TRACED_AS[fn] = stand_in


#: Pullback classes whose ``__call__`` is not in the traceable subset -> a traceable equivalent of one.
_BACKS_TRACED_AS: dict = {}


def back_traced_as(cls, make) -> None:
    """Differentiate calls to a pullback of class ``cls`` (made outside differentiated code) through ``make(back)``."""
    _BACKS_TRACED_AS[cls] = make
