"""Rules for srcgrad's own runtime helpers, so generated code can be differentiated again.

Each helper generated code calls (``unbroadcast``, ``index_grad``,
``accum``, ``gather``, ``captured``) is linear in the gradient it moves, so
its rule is one line: the transpose of what it does.
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
    return (dict(zip(closure.__code__.co_freevars, dy)),)
