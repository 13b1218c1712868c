"""Stand-ins: what higher order differentiates in place of a library function or pullback.

srcgrad's own functions (``srcgrad.gradient``, the dispatcher's ``pullback``,
``structure.index_add``...) are not in the subset srcgrad reads; each is
differentiated through a stand-in that is (:mod:`.traced`), registered with
:func:`traced_as`. A pullback object whose ``__call__`` is not traceable has
a traceable equivalent (:func:`back_traced_as`), and a generated function
whose tapes are lists has its push/pop twin (:func:`srcgrad.calls.cache.traced_as_twin`), and a
namedtuple class is called through :func:`namedtuple_maker`.
:func:`stand_in_for` answers, for a callee, what to differentiate.
"""

from __future__ import annotations

import types
import weakref

from ..rules import registry
from ..rules.registry import nograd
from ..runtime.structure import is_plain_namedtuple_class, namedtuple_of
from .cache import twins

__all__ = ["stand_in_for", "traced_as", "back_traced_as", "namedtuple_maker"]

#: Library functions differentiated through a stand-in written in the traceable subset.
_TRACED_AS: dict = {}


def stand_in_for(fn):
    """What to differentiate for a call to ``fn``: its stand-in, or ``fn`` itself."""
    if type(fn) is not types.FunctionType:
        make = _BACKS_TRACED_AS.get(type(fn)) or registry.callee_stand_ins.get(type(fn))
        if make is None and is_plain_namedtuple_class(fn):
            return namedtuple_maker(fn)
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


#: Namedtuple class -> the function differentiated code makes one with (see :func:`namedtuple_maker`).
_MAKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def namedtuple_maker(cls):
    """What to differentiate for a call of the namedtuple class ``cls``: a function, in the traceable
    subset, that puts the call's arguments in field order (defaults filling the rest) and makes the
    tuple with :func:`~srcgrad.runtime.structure.namedtuple_of`, whose rule gives each field's gradient
    to its argument."""
    found = _MAKERS.get(cls)
    if found is None:
        fields, defaults = cls._fields, cls._field_defaults

        def make(*args, **kwargs):
            check_call(cls, len(args), tuple(kwargs))
            values = list(args) + [kwargs[f] if f in kwargs else defaults[f] for f in fields[len(args):]]
            return namedtuple_of(cls, *values)

        found = _MAKERS[cls] = make
    return found


@nograd
def check_call(cls, count, keywords):
    """Raise the ``TypeError`` calling ``cls`` with ``count`` arguments and ``keywords`` raises, if it does."""
    cls(*[None] * count, **dict.fromkeys(keywords))
