"""Stage 6, transform: the names generated code reads, shared by both modes.

Generated code calls srcgrad's runtime helpers (``accum``, ``push``,
``pullback``...) and reads the rules' helpers and the user's captured values
by name. :class:`Injector` makes a value visible under a name (renamed on a
clash with anything the user's code reads); after the transform the
``injected`` dict, name -> object, is everything generated code needs
besides the user's globals.
"""

from __future__ import annotations

import keyword
import re

import gast
import numpy as np

from ..runtime import questions, structure, tape, zeros
from ..runtime.accumulate import accum, unbroadcast
from . import build, provided
from .resolve import MISSING

__all__ = ["Injector", "RUNTIME", "RUNTIME_QUESTIONS", "INACTIVE_HELPERS", "runtime_helper"]

#: Runtime helpers generated code may call, by the name it calls them (with the calling layer's,
#: :data:`PROVIDED`, which :func:`runtime_helper` reads from :mod:`.provided` when asked for).
RUNTIME = {
    "as_sequence": structure.as_sequence,
    "callee_grad": structure.callee_grad,
    "callee_part": structure.callee_part,
    "repeats_grad": structure.repeats_grad,
    "own_copy": structure.own_copy,
    "accum": accum,
    "unbroadcast": unbroadcast,
    "index_grad": structure.index_grad,
    "index_add": structure.index_add,
    "captured": structure.captured,
    "locked_call": structure.locked_call,
    "gather": structure.gather,
    "item": structure.item,
    "with_item": structure.with_item,
    "without_item": structure.without_item,
    "appended": structure.appended,
    "namedtuple_of": structure.namedtuple_of,
    "keyword_grads": structure.keyword_grads,
    "keyword_parts": structure.keyword_parts,
    "keyword_items": structure.keyword_items,
    "extended": structure.extended,
    "new_tape": tape.new_tape,
    "push": tape.push,
    "pop": tape.pop,
    "np_sort": np.sort,  # y.sort() on an array, as aliasing.py writes it: y[...] = np.sort(y)
    "viewed": questions.viewed,
    "check_unshared": questions.check_unshared,
    "is_array": questions.is_array,
    "refuse_array_method": questions.refuse_array_method,
    "expect_numeric": questions.expect_numeric,
    "expect_dict": questions.expect_dict,
    "expect_field": questions.expect_field,
    "property_getter": questions.property_getter,
    "refuse_unless_number": questions.refuse_unless_number,
    "refuse_container_method": questions.refuse_container_method,
    "check_callee_writes": questions.check_callee_writes,
    # (forward mode's)
    "zero_tangent": zeros.zero_tangent,
    "or_zero": zeros.or_zero,
    "spread_to": zeros.spread_to,
    "cell_tangents": zeros.cell_tangents,
    "struct_tangent": zeros.struct_tangent,
    "diagonal_tangent": zeros.diagonal_tangent,
}
#: The helpers generated code calls from the calling layer, read at compile time (see provided.py).
PROVIDED = ("pullback", "pullback_wrt", "mutate", "tangent_call", "index_tangent", "transposed_tangent")


def runtime_helper(name: str):
    """The runtime helper generated code calls ``name``."""
    return getattr(provided, name) if name in PROVIDED else RUNTIME[name]


#: The runtime helpers that only ask a question about values (the normaliser's): they pass no gradient.
RUNTIME_QUESTIONS = {"viewed", "check_unshared", "is_array", "refuse_array_method", "refuse_unless_number",
                     "refuse_container_method", "check_callee_writes", "expect_numeric", "expect_dict",
                     "expect_field", "property_getter"}
#: Helpers the normaliser writes whose calls pass no gradient and may stand as statements: the questions, and
#: ``locked_call`` (a nograd function of the user's, run with its arrays read-only).
INACTIVE_HELPERS = RUNTIME_QUESTIONS | {"locked_call"}


class Injector:
    """A transform's injected names: ``injected`` (name -> object) and how to add to it."""

    def __init__(self, scope, namer):
        self.scope = scope
        self.namer = namer
        self.injected: dict[str, object] = {}
        self.inject_names: dict[int, str] = {}

    def inject(self, name: str, value) -> str:
        """Make ``value`` visible to generated code under ``name`` (renamed on a clash)."""
        if not name.isidentifier() or keyword.iskeyword(name):  # a rule written as a lambda: '<lambda>'
            name = re.sub(r"\W+", "_", name).strip("_") + "_fn"
        if self.inject_names.get(id(value)) is not None and self.injected.get(self.inject_names[id(value)]) is value:
            return self.inject_names[id(value)]
        candidate = name
        user_value = self.scope.value(name) if self.scope.kind(name) in ("free", "global", "builtin") else MISSING
        clash = (candidate in self.scope.locals) or (candidate in self.scope.freevars) \
            or (user_value is not MISSING and user_value is not value) \
            or (candidate in self.injected and self.injected[candidate] is not value) \
            or (candidate in self.namer.taken and candidate not in self.injected and user_value is not value)
        if clash:
            candidate = self.namer.fresh(name + "_")
        self.namer.taken.add(candidate)
        self.injected[candidate] = value
        self.inject_names[id(value)] = candidate
        return candidate

    def inject_cells(self):
        """Generated code's captured helpers reach its adjoint the same way, by name.

        (Read through a closure argument instead, they would be local variables
        one order up, where ``np.sum(x)`` no longer reads as NumPy's ``sum``.)
        """
        for name in self.scope.freevars:
            value = self.scope.value(name)
            self.injected[name] = value
            self.inject_names.setdefault(id(value), name)
            self.namer.taken.add(name)

    def runtime(self, name: str) -> gast.Name:
        return build.name(self.inject(name, runtime_helper(name)))
