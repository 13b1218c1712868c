"""Rules for arrays made from values: ``np.array asarray linspace full full_like arange meshgrid unique np.r_ np.c_``.

Each result is linear in the values it is made from, so its tangent is
the same construction applied to their tangents (zeros where the result
is integer: rounded, so flat); its gradient gathers ``dy`` back from
where each value was put.
"""

import functools

import numpy as np

from ..errors import NoRuleError
from ..runtime.accumulate import unbroadcast
from ..runtime.structure import zero_like
from .registry import defrule, nograd
from .shaping import inexact_result, tangent_or_zero

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def array_grad(dy, x):
    """The gradient of ``np.array(x)`` for nested lists of scalars or arrays."""
    if isinstance(x, (list, tuple)):
        return [array_grad(dy[i], xi) for i, xi in enumerate(x)]
    return dy


@shaped(np.array, forward="jointly-linear", operands=(0,))
def array(dy, y, object, dtype=None):
    return (array_grad(dy, object),)


@shaped(np.asarray, forward="jointly-linear", operands=(0,))
def asarray(dy, y, a, dtype=None):
    return (array_grad(dy, a),)


def sample_weights(y, num, endpoint, axis, retstep=False, dtype=None):
    """Where each of ``np.linspace``'s samples sits between start (0) and stop (1), shaped to broadcast with ``y``.

    ``None`` for integer samples (rounded: flat in both ends).
    """
    if retstep:
        raise NoRuleError("srcgrad's rule for np.linspace does not take retstep=True",
                          fix="compute the step as (stop - start) / (num - 1) next to np.linspace(start, stop, num)")
    if dtype is not None and not np.issubdtype(dtype, np.inexact):
        return None
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    shape = [1] * np.ndim(y)
    shape[axis] = num
    return np.reshape(t, shape)


nograd(sample_weights)


def linspace_grad(dy, y, end, is_stop, num, endpoint, retstep, dtype, axis):
    """The gradient of one end of ``np.linspace`` (``None`` for integer samples, which are rounded: flat)."""
    t = sample_weights(y, num, endpoint, axis, retstep, dtype)
    if t is None:
        return zero_like(end)
    return unbroadcast(np.sum(dy * (t if is_stop else 1 - t), axis=axis), end)


def linspace_tangent(dargs, y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if sample_weights(y, num, endpoint, axis, retstep, dtype) is None:
        return np.zeros(np.shape(y))
    return np.linspace(tangent_or_zero(dargs, 0, start), tangent_or_zero(dargs, 1, stop), num, endpoint=endpoint,
                       axis=axis)


@shaped(np.linspace, forward=linspace_tangent)
def linspace(dy, y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``y = start + (stop - start) * t``: linear in ``start`` and ``stop``, whatever ``num``."""
    return (linspace_grad(dy, y, start, False, num, endpoint, retstep, dtype, axis),
            linspace_grad(dy, y, stop, True, num, endpoint, retstep, dtype, axis))


def fill_grad(dy, y, fill_value):
    """Every element of ``y`` is ``fill_value``: its gradient sums them (none through integers, rounded)."""
    if not inexact_result(y):
        return zero_like(fill_value)
    return unbroadcast(dy, fill_value)


def full_tangent(dargs, y, shape, fill_value, dtype=None, order="C"):
    if not inexact_result(y):
        return np.zeros(np.shape(y))
    return np.full(np.shape(y), tangent_or_zero(dargs, 1, fill_value), dtype=np.result_type(y, np.float32))


def full_like_tangent(dargs, y, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return full_tangent(dargs, y, None, fill_value)


@shaped(np.full, forward=full_tangent)
def full(dy, y, shape, fill_value, dtype=None, order="C"):
    return (None, fill_grad(dy, y, fill_value))


@shaped(np.full_like, forward=full_like_tangent)
def full_like(dy, y, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return (None, fill_grad(dy, y, fill_value))


def arange_start_grad(dy, y, stop):
    """Every sample moves with ``start``; ``np.arange(n)`` alone names the stop (no gradient)."""
    if stop is None or not inexact_result(y):
        return zero_like(stop)
    return np.sum(dy)


def arange_step_grad(dy, y, step):
    """Sample ``i`` moves ``i`` times as fast as ``step``."""
    if step is None or not inexact_result(y):
        return zero_like(step)
    return np.sum(dy * np.arange(len(y)))


def arange_tangent(dargs, y, start, stop=None, step=None, dtype=None):
    total = np.zeros(np.shape(y))
    if not inexact_result(y):
        return total
    if stop is not None:
        total = total + tangent_or_zero(dargs, 0, start)
    if step is not None:
        total = total + tangent_or_zero(dargs, 2, step) * np.arange(len(y))
    return total


@shaped(np.arange, forward=arange_tangent)
def arange(dy, y, start, stop=None, step=None, dtype=None):
    """``start + i * step`` for ``i < len(y)``; the count is a step function of ``stop``, so flat in it."""
    return (arange_start_grad(dy, y, stop), None, arange_step_grad(dy, y, step))


def meshgrid_grad(g, x, i, n, indexing):
    """The gradient of ``x``, the ``i``-th of ``n`` inputs of ``np.meshgrid``, from its grid's ``g``."""
    if g is None:
        return zero_like(x)
    axis = meshgrid_axis(i, n, indexing)
    others = tuple(a for a in range(np.ndim(g)) if a != axis)
    return np.reshape(np.sum(g, axis=others), np.shape(x))


@nograd
def meshgrid_axis(i, n, indexing):
    """The axis of its grid along which ``np.meshgrid``'s ``i``-th input runs (``'xy'`` swaps the first two)."""
    if indexing == "xy" and n >= 2 and i < 2:
        return 1 - i
    return i


def meshgrid_tangent(dargs, y, *xi, copy=True, sparse=False, indexing="xy"):
    grids = np.meshgrid(*[tangent_or_zero(dargs, i, x) for i, x in enumerate(xi)], sparse=sparse, indexing=indexing)
    return type(y)(grids)


@shaped(np.meshgrid, structured=True, forward=meshgrid_tangent)
def meshgrid(dy, y, *xi, copy=True, sparse=False, indexing="xy"):
    """Each grid repeats one input along the other axes: its gradient sums them away."""
    return tuple(meshgrid_grad(g, x, i, len(xi), indexing) for i, (g, x) in enumerate(zip(dy, xi)))


def unique_grad(dy, ar, several, axis):
    """``np.unique``'s gradient: the values' (the first output when ``several`` are returned) taken back to ``ar``."""
    if several:
        dy = dy[0]
    if dy is None:
        return zero_like(ar)
    return np.take(dy, unique_inverse(ar, axis)) / unique_counts(ar, axis)


@nograd
def unique_inverse(ar, axis):
    """Which distinct value each element of ``ar`` is, shaped like ``ar``."""
    if axis is not None:
        raise NoRuleError("srcgrad's rule for np.unique does not take axis=",
                          fix="take np.unique of the flattened array, or stop_gradient of the argument")
    return np.reshape(np.unique(ar, return_inverse=True)[1], np.shape(ar))


@nograd
def unique_counts(ar, axis):
    """How many copies of its value each element of ``ar`` has (ties share the value's gradient equally)."""
    _, inverse, counts = np.unique(ar, return_inverse=True, return_counts=True)
    return np.reshape(counts[inverse], np.shape(ar))


def unique_tangent(dargs, y, ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
                   **options):
    """Each distinct value moves as the mean of its copies."""
    d = tangent_or_zero(dargs, 0, ar)
    values = np.bincount(np.ravel(unique_inverse(ar, axis)), np.ravel(d) / np.ravel(unique_counts(ar, axis)))
    if return_index or return_inverse or return_counts:
        return (values,) + tuple(np.zeros(np.shape(part)) for part in y[1:])
    return values


@shaped(np.unique, structured=True, forward=unique_tangent)  # (a tuple when asked for indices or counts)
def unique(dy, y, ar, return_index=False, return_inverse=False, return_counts=False, axis=None, **options):
    """The sorted distinct values of ``ar``: each comes from its copies in ``ar``, which share its gradient."""
    return (unique_grad(dy, ar, return_index or return_inverse or return_counts, axis),)


#: ``np.r_`` and ``np.c_``: objects whose ``[...]`` concatenates (NumPy's "index tricks").
INDEX_TRICKS = (type(np.r_), type(np.c_))


def index_trick(trick, *items):
    """``trick[items]`` (``np.r_[a, b]``), called as a function so its items can receive gradients."""
    return trick[items if len(items) != 1 else items[0]]


def trick_item_grad(dy, trick, items, k):
    """The gradient of ``items[k]`` in ``trick[items]``: the entries of ``dy`` where its elements were put."""
    return np.reshape(np.take(np.ravel(dy), trick_positions(trick, items, k)), np.shape(items[k]))


@nograd
def placed(v) -> bool:
    """An item of ``np.r_[...]`` whose values are copied into the result (not a directive string)."""
    return isinstance(v, (int, float, complex, np.number, np.ndarray)) and not isinstance(v, bool)


@nograd
def trick_positions(trick, items, k):
    """Where in ``trick[items]`` (flattened) each element of ``items[k]`` lands, in the item's order.

    The trick is run twice, with every item zero and with ``items[k]``
    numbered 1, 2, ...; the difference marks its elements and their order.
    An element copied twice (or not at all) is refused: then the result is
    no longer a placement of the items, and its gradient is not read so.
    """
    blank = [np.zeros(np.shape(v)) if placed(v) else v for v in items]
    marked = list(blank)
    size = int(np.size(items[k]))
    marked[k] = np.reshape(np.arange(1.0, size + 1.0), np.shape(items[k]))
    where = np.ravel(np.asarray(index_trick(trick, *marked), float) - np.asarray(index_trick(trick, *blank), float))
    hits = np.flatnonzero(where)
    if len(hits) != size:
        raise NoRuleError("srcgrad's rule for np.r_/np.c_ needs each element of an item copied once into the result",
                          fix="build the array with np.concatenate, np.stack or np.column_stack")
    positions = np.empty(size, np.intp)
    positions[where[hits].astype(np.intp) - 1] = hits
    return positions


def index_trick_tangent(dargs, y, trick, *items):
    """``trick[...]`` places its items' values, so its tangent places their tangents (zeros for constants)."""
    tangents = [tangent_or_zero(dargs, k + 1, v) if placed(v) else v for k, v in enumerate(items)]
    return index_trick(trick, *tangents)


@shaped(index_trick, forward=index_trick_tangent)
def index_trick_rule(dy, y, trick, *items):
    return (None,) + tuple(trick_item_grad(dy, trick, items, k) if placed(v) else None for k, v in enumerate(items))

