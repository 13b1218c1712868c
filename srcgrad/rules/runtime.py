"""Rules for srcgrad's own runtime helpers, so generated code can be differentiated again.

Each helper generated code calls (``unbroadcast``, ``index_grad``,
``accum``, ``gather``, ``captured``) is linear in the gradient it moves, so
its rule is one line: the transpose of what it does. The helpers the rules
use come in transpose pairs too (``spread``/``unbroadcast``,
``parts``/``gather``, ``item``/``index_grad``, ``cell_grads``/``cell_values``),
so every level of a higher derivative finds a rule.
"""

import functools

import numpy as np

from ..runtime import accumulate, structure
from .registry import defrule

rule = functools.partial(defrule, _builtin=True, broadcast=False)


def parts(v, grads):
    """The gradient of each part ``gather`` put together."""
    if v is None:
        return None
    return tuple(v[i] for i in range(len(grads)))


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


@rule(accumulate.accum)
def accum(dy, y, a, b):
    return (present(dy, a), present(dy, b))


@rule(accumulate.unbroadcast)
def unbroadcast(dy, y, g, x):
    return (spread(dy, g), None)


@rule(structure.index_grad)
def index_grad(dy, y, g, x, index):
    return (structure.item(dy, index), None, None)


@rule(structure.item)
def item(dy, y, v, index):
    return (structure.index_grad(dy, v, index), None)


@rule(structure.gather)
def gather(dy, y, grads, x):
    return (parts(dy, grads), None)


@rule(structure.captured)
def captured(dy, y, closure):
    return (cell_grads(dy, closure),)


@rule(cell_grads)
def cell_grads_rule(dy, y, v, closure):
    return (cell_values(dy, closure), None)


@rule(cell_values)
def cell_values_rule(dy, y, v, closure):
    return (cell_grads(dy, closure), None)


@rule(present)
def present_rule(dy, y, v, x):
    return (present(dy, x), None)


@rule(spread)
def spread_rule(dy, y, v, g):
    return (accumulate.unbroadcast(dy, v), None)


@rule(parts)
def parts_rule(dy, y, v, grads):
    return (structure.gather(dy, v), None)


@rule(structure.with_item, structured=True)
def with_item(dy, y, x, index, value):
    return (structure.without_item(dy, index), None, accumulate.unbroadcast(structure.item(dy, index), value))


@rule(structure.without_item, structured=True)
def without_item(dy, y, g, index):
    return (structure.without_item(dy, index), None)


@rule(structure.appended, structured=True)
def appended(dy, y, xs, value):
    return (structure.item(dy, slice(None, -1)), structure.item(dy, -1))


@rule(structure.extended, structured=True)
def extended(dy, y, xs, values):
    return (structure.item(dy, slice(None, len(xs))), structure.item(dy, slice(len(xs), None)))


def keep_unless_dict(v, xs):
    """``v``, except for a dict (its keys carry no gradient)."""
    return None if isinstance(xs, dict) else v


@rule(structure.as_sequence)
def as_sequence(dy, y, xs):
    return (keep_unless_dict(dy, xs),)


@rule(keep_unless_dict)
def keep_unless_dict_rule(dy, y, v, xs):
    return (keep_unless_dict(dy, xs), None)


def callee_part(v, obj, attr):
    """The transpose of ``callee_grad``: a field's part of ``v``, or all of it for a method."""
    if v is not None and attr in getattr(obj, "__dict__", {}):
        return structure.item(v, attr)
    return v


@rule(structure.callee_grad)
def callee_grad(dy, y, g, obj, attr):
    return (callee_part(dy, obj, attr), None, None)


@rule(callee_part)
def callee_part_rule(dy, y, v, obj, attr):
    return (structure.callee_grad(dy, obj, attr), None, None)


@rule(structure.repeats_grad)
def repeats_grad(dy, y, g, xs):
    return (None if dy is None else list(dy) * (len(g) // max(len(xs), 1)), None)
