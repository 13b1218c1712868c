"""Rules for srcgrad's own runtime helpers, so generated code can be differentiated again.

Each helper generated code calls (``unbroadcast``, ``index_grad``,
``accum``, ``gather``, ``captured``) is linear in the gradient it moves, so
its rule is one line: the transpose of what it does. The helpers the rules
use come in transpose pairs too (``spread``/``unbroadcast``,
``parts``/``gather``, ``item``/``index_grad``, ``cell_grads``/``cell_values``),
so every level of a higher derivative finds a rule.

Tapes (``srcgrad/runtime/tape.py``) work the same way: the transpose of
``push`` reads a gradient tape (``tape_rest``, ``tape_top``), the
transpose of ``pop`` builds one (``tape_grad``), and those three are
each other's transposes.

Being linear, each is its own tangent too: its row says so (``forward=``),
and forward mode through generated backward code (forward over reverse)
applies it to the tangents.
"""

import functools

import numpy as np

from ..runtime.accumulate import accum, unbroadcast
from ..runtime.structure import (
    own_copy,
    appended,
    as_sequence,
    callee_grad,
    callee_part,
    captured,
    extended,
    gather,
    index_grad,
    item,
    keyword_grads,
    keyword_items,
    keyword_parts,
    locked_call,
    namedtuple_of,
    part_of,
    repeats_grad,
    with_item,
    without_item,
)
from ..errors import NoRuleError
from ..runtime import questions
from ..runtime.zeros import cell_tangents
from ..runtime.tape import new_tape, pop, push, tape_grad, tape_rest, tape_top
from .registry import Rule, defrule, nograd

rule = functools.partial(defrule, _builtin=True, broadcast=False)


def parts(v, grads, x):
    """The gradient of each part ``gather`` put together into ``x``'s gradient ``v``."""
    if v is None:
        return None
    return tuple(part_of(v, x, i) for i in range(len(grads)))


def cell_grads(v, closure):
    """A closure's gradient (a dict by captured name) from the gradients of its cell values."""
    return dict(zip(closure.__code__.co_freevars, v))


def cell_values(v, closure):
    """The gradients of a closure's cell values, from its gradient (a dict by captured name)."""
    if v is None:
        return None
    return tuple(v.get(name) for name in closure.__code__.co_freevars)


def present(v, x):
    """``v`` where ``x`` held a gradient, else nothing."""
    return None if x is None else v


def spread(v, g):
    """``v`` broadcast back to the shape of ``g``."""
    return None if v is None else np.broadcast_to(v, np.shape(g))


def namedtuple_tangent(dargs, y, cls, *values):
    """A namedtuple's tangent is a namedtuple of its fields' tangents (``None`` for a constant field)."""
    dargs = tuple(dargs) + (None,) * (1 + len(values) - len(dargs))
    return tuple.__new__(type(y), dargs[1:])


@rule(namedtuple_of, structured=True, forward=namedtuple_tangent)
def namedtuple_of_rule(dy, y, cls, *values):
    return (None,) + tuple(part_of(dy, y, i) for i in range(len(values)))


@rule(keyword_grads, forward="linear-in-first")
def keyword_grads_rule(dy, y, parts, kwargs):
    return (keyword_parts(dy, kwargs), None)


@rule(keyword_parts, forward="linear-in-first")
def keyword_parts_rule(dy, y, v, kwargs):
    return (keyword_grads(dy, kwargs), None)


def keyword_items_tangent(dargs, y, kwargs):
    """The tangents of ``keyword_items(kwargs)``: a tangent for each value, none for the names."""
    dkwargs = dargs[0] if dargs else None
    return tuple((None, item(dkwargs, k) if dkwargs is not None else None) for k in kwargs)


@rule(keyword_items, structured=True, forward=keyword_items_tangent)
def keyword_items_rule(dy, y, kwargs):
    return (keyword_grads(tuple(item(pair, 1) for pair in dy) if dy is not None else (), kwargs),)


@rule(accum, forward="jointly-linear")
def accum_rule(dy, y, a, b):
    return (present(dy, a), present(dy, b))


@rule(unbroadcast, forward="linear-in-first")
def unbroadcast_rule(dy, y, g, x):
    return (spread(dy, g), None)


@rule(index_grad, forward="linear-in-first")
def index_grad_rule(dy, y, g, x, index):
    return (part_of(dy, x, index), None, None)


@rule(part_of, forward="linear-in-first")
def part_of_rule(dy, y, g, x, index):
    return (index_grad(dy, x, index), None, None)


@rule(item, forward="linear-in-first")
def item_rule(dy, y, v, index):
    return (index_grad(dy, v, index), None)


@rule(gather, forward="linear-in-first")
def gather_rule(dy, y, grads, x):
    return (parts(dy, grads, x), None)


def captured_tangent(dargs, y, closure):
    """The tangents of a closure's captured values: from the closure's tangent (a dict by name)."""
    return cell_tangents(dargs[0], closure)


@rule(captured, forward=captured_tangent)
def captured_rule(dy, y, closure):
    return (cell_grads(dy, closure),)


@rule(cell_grads, forward="linear-in-first")
def cell_grads_rule(dy, y, v, closure):
    return (cell_values(dy, closure), None)


@rule(cell_values, forward="linear-in-first")
def cell_values_rule(dy, y, v, closure):
    return (cell_grads(dy, closure), None)


@rule(present, forward="linear-in-first")
def present_rule(dy, y, v, x):
    return (present(dy, x), None)


@rule(spread, forward="linear-in-first")
def spread_rule(dy, y, v, g):
    return (unbroadcast(dy, v), None)


@rule(parts, forward="linear-in-first")
def parts_rule(dy, y, v, grads, x):
    return (gather(dy, x), None, None)


@rule(with_item, structured=True, forward="jointly-linear", operands=(0, 2))
def with_item_rule(dy, y, x, index, value):
    return (without_item(dy, index), None, unbroadcast(item(dy, index), value))


@rule(without_item, structured=True, forward="linear-in-first")
def without_item_rule(dy, y, g, index):
    return (without_item(dy, index), None)


@rule(appended, structured=True, forward="jointly-linear")
def appended_rule(dy, y, xs, value):
    return (item(dy, slice(None, -1)), item(dy, -1))


@rule(extended, structured=True, forward="jointly-linear")
def extended_rule(dy, y, xs, values):
    return (item(dy, slice(None, len(xs))), item(dy, slice(len(xs), None)))


def keep_unless_dict(v, xs):
    """``v``, except for a dict (its keys carry no gradient)."""
    return None if isinstance(xs, dict) else v


@rule(as_sequence, structured=True, forward="jointly-linear")  # (a list, a string, a dict's keys: not surely numeric)
def as_sequence_rule(dy, y, xs):
    return (keep_unless_dict(dy, xs),)


@rule(keep_unless_dict, forward="linear-in-first")
def keep_unless_dict_rule(dy, y, v, xs):
    return (keep_unless_dict(dy, xs), None)


@rule(callee_grad, forward="linear-in-first")
def callee_grad_rule(dy, y, g, obj, attr):
    return (callee_part(dy, obj, attr), None, None)


@rule(callee_part, forward="linear-in-first")
def callee_part_rule(dy, y, v, obj, attr):
    return (callee_grad(dy, obj, attr), None, None)


@rule(repeats_grad, forward="linear-in-first")
def repeats_grad_rule(dy, y, g, xs):
    return (None if dy is None else list(dy) * (len(g) // max(len(xs), 1)), None)


@rule(own_copy, forward="linear-in-first")
def own_copy_rule(dy, y, obj):
    return (dy,)


def super_tangent(dargs, y, cls, obj):
    """``super(cls, obj)`` has the object's tangent."""
    return dargs[1]


@rule(super, forward=super_tangent)
def super_rule(dy, y, cls, obj):
    """super(Child, self) (the normaliser names the class): the proxy's gradient is the object's."""
    return (None, dy)


nograd(new_tape)
nograd(locked_call)  # (a nograd function of the user's, called with its arrays read-only)
# The normaliser's run-time questions, asked again at higher order: they pass no gradient.
for _question in (questions.viewed, questions.check_unshared, questions.is_array, questions.refuse_array_method,
                  questions.refuse_unless_number, questions.refuse_container_method, questions.check_callee_writes,
                  questions.expect_numeric, questions.expect_dict, questions.expect_field,
                  questions.property_getter):
    nograd(_question)


@rule(push, structured=True, forward="jointly-linear")
def push_rule(dy, y, tape, value):
    return (tape_rest(dy), tape_top(dy))


@rule(pop, structured=True, forward="linear-in-first")
def pop_rule(dy, y, tape):
    return (tape_grad(item(dy, 1), item(dy, 0)),)


@rule(tape_top, structured=True, forward="linear-in-first")
def tape_top_rule(dy, y, g):
    return (tape_grad(None, dy),)


@rule(tape_rest, structured=True, forward="linear-in-first")
def tape_rest_rule(dy, y, g):
    return (tape_grad(dy, None),)


@rule(tape_grad, structured=True, forward="jointly-linear")
def tape_grad_rule(dy, y, rest, top):
    return (tape_rest(dy), tape_top(dy))


def reads_tape(dy, y, *args):
    """The reverse rule of ``reversed`` and ``next`` on a tape: there is none."""
    raise NoRuleError("reverse mode has no rule for reading a tape (reversed, next)")


#: Calls that only forward mode differentiates: reading the tapes of generated backward code
#: (``h_tape = reversed(h_tape)``, ``h = next(h_tape)``). Their tangents are the same calls on the
#: tangents, which walk the tangents' tape in step with the values'.
FORWARD_ONLY = {fn: Rule(fn, reads_tape, broadcast=False, builtin=True, linearity="jointly-linear")
                for fn in (reversed, next)}
