"""Rules for NumPy's finite differences and 1-d convolutions: ``np.gradient np.convolve np.correlate``, and
``np.astype``.

``np.gradient`` is linear in ``f``: along each axis it applies a three-point
stencil (one-sided at the two ends, ``edge_order`` 1 or 2) whose weights
are made of ``1/p``, ``1/q`` and ``1/(p + q)``, for ``p`` and ``q`` the
steps before and after each point. So its gradient in ``f`` is the
transposed stencil applied to ``dy``, and its gradient in a spacing (a
scalar step, or coordinates) goes through those reciprocals: a spacing is
differentiated too, never taken as a constant.

``np.convolve`` and ``np.correlate`` are a window of the full convolution
``a * w`` (``w = v`` for ``convolve``, ``conj(v)`` reversed for
``correlate``); each is linear in each argument, and the gradient of one
is the full-length ``dy`` convolved with the other reversed, in mode
``'valid'``.

``np.astype`` is NumPy 2's function form of ``x.astype``, with the method's
maths (:func:`.shapes.astype_grad`); its row sits here only because this
file was new when it was written: it belongs beside the method's in
:mod:`.shapes`.
"""

import functools

import numpy as np

from .registry import defrule, nograd
from .shapes import astype_grad, astype_tangent
from .shaping import real_part_for

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


# ------------------------------------------------------------------ np.gradient's stencil

@nograd
def gradient_plan(f, varargs, axis):
    """np.gradient's axes, and for each the index in ``varargs`` of the spacing it reads (None: a unit step)."""
    ndim = np.ndim(f)
    if axis is None:
        axes = tuple(range(ndim))
    else:  # (np.gradient itself has checked the axes)
        axes = tuple(a % ndim for a in ((axis,) if np.ndim(axis) == 0 else axis))
    if not varargs:
        return axes, (None,) * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:  # (one scalar step for every axis)
        return axes, (0,) * len(axes)
    return axes, tuple(range(len(axes)))


@nograd
def stencil_table(n, edge_order):
    """``(A, B, C)``, each ``(5, n)``: the weight row ``i`` gives ``f[i + k - 2]`` is ``A/p + B/q + C/(p + q)``.

    Inside, ``(q δ₋ + p δ₊) / (p + q)`` of the differences before and after; at the ends, one difference
    (``edge_order`` 1) or the one-sided second-order formula (any other ``edge_order``, as NumPy reads it).
    """
    table = np.zeros((3, 5, n))
    inside = slice(1, n - 1)
    table[:, 1, inside] = [[-1], [0], [1]]   # -1/p + 1/s
    table[:, 2, inside] = [[1], [-1], [0]]   # 1/p - 1/q
    table[:, 3, inside] = [[0], [1], [-1]]   # 1/q - 1/s
    if edge_order == 1:
        table[:, 2:4, 0] = [[-1, 1], [0, 0], [0, 0]]
        table[:, 1:3, n - 1] = [[0, 0], [-1, 1], [0, 0]]
    else:
        table[:, 2:5, 0] = [[-1, 1, 0], [0, 1, -1], [-1, 0, 1]]
        table[:, 0:3, n - 1] = [[1, -1, 0], [0, -1, 1], [-1, 0, 1]]
    return table[0], table[1], table[2]


@nograd
def end_steps(edge_order):
    """Which step the last row reads before it, and the first row after it (one-sided stencils reach further)."""
    return (slice(-1, None), slice(0, 1)) if edge_order == 1 else (slice(-2, -1), slice(1, 2))


def row_steps(dx, edge_order):
    """``(p, q)``: for each of the ``len(dx) + 1`` points, the step its stencil reads before it and after it."""
    last_p, first_q = end_steps(edge_order)
    return (np.concatenate([dx[:1], dx[:-1], dx[last_p]]), np.concatenate([dx[first_q], dx[1:], dx[-1:]]))


@nograd
def end_pads(m, edge_order):
    """Where :func:`row_steps`' end entries came from in ``dx`` of length ``m``: the pads that put them back."""
    at = (m - 1, 0) if edge_order == 1 else (m - 2, 1)
    return (at[0], m - 1 - at[0]), (at[1], m - 1 - at[1])


def row_steps_grad(gp, gq, m, edge_order):
    """The transpose of :func:`row_steps`: the gradients of ``p`` and ``q`` added back to the ``m`` steps."""
    last_p, first_q = end_pads(m, edge_order)
    return (np.pad(gp[:1], (0, m - 1)) + np.pad(gp[1:-1], (0, 1)) + np.pad(gp[-1:], last_p)
            + np.pad(gq[:1], first_q) + np.pad(gq[1:-1], (1, 0)) + np.pad(gq[-1:], (m - 1, 0)))


def steps(n, spacing):
    """The ``n - 1`` steps along an axis of length ``n``: unit, a scalar step, or the differences of coordinates."""
    if spacing is None:
        return np.ones(n - 1)
    if np.ndim(spacing) == 0:
        return spacing * np.ones(n - 1)
    return np.diff(spacing)


def steps_grad(gdx, spacing):
    """The transpose of :func:`steps`: the steps' gradient back to the scalar step or the coordinates."""
    if np.ndim(spacing) == 0:
        g = np.sum(gdx)
    else:
        g = np.pad(gdx, (1, 0)) - np.pad(gdx, (0, 1))
    return real_part_for(g, spacing)


def reciprocals(p, q):
    """``1/p``, ``1/q`` and ``1/(p + q)``, what the stencil's weights are made of."""
    return 1 / p, 1 / q, 1 / (p + q)


def weights(tables, rp, rq, rs):
    """The stencil's weights, ``(5, n)``, from the reciprocals of each row's steps."""
    return tables[0] * rp + tables[1] * rq + tables[2] * rs


@nograd
def window_pads(ndim):
    """Two zeros before and after the leading axis of an ``ndim``-d array."""
    return ((2, 2),) + ((0, 0),) * (ndim - 1)


@nograd
def weight_shape(n, ndim):
    """``(5, n, 1, ...)``: the weights against the 5 shifted copies of an ``ndim``-d array with its axis first."""
    return (5, n) + (1,) * (ndim - 1)


def shifted_copies(fm):
    """``(5, n, ...)``: ``fm[i + k - 2]`` at ``[k, i]``, zero past the ends (the axis is ``fm``'s first)."""
    n = np.shape(fm)[0]
    padded = np.pad(fm, window_pads(np.ndim(fm)))
    return np.stack([padded[k:k + n] for k in range(5)])


def stencil_transposed(u):
    """The transpose of applying weights to :func:`shifted_copies`: ``u[k, i]`` added back to ``i + k - 2``."""
    n = np.shape(u)[1]
    padded = np.pad(u, ((0, 0),) + window_pads(np.ndim(u) - 1))
    return np.sum(np.stack([padded[k, 4 - k:4 - k + n] for k in range(5)]), axis=0)


@nograd
def batch_axes_of(ndim):
    """The axes of a ``(5, n, ...)`` stack past its first two."""
    return tuple(range(2, ndim))


def axis_grads(dyk, f, ax, dx, edge_order):
    """The gradients of ``f`` and of the steps ``dx`` from ``dyk``, the cotangent of the derivative along ``ax``."""
    n = np.shape(f)[ax]
    tables = stencil_table(n, edge_order)
    p, q = row_steps(dx, edge_order)
    rp, rq, rs = reciprocals(p, q)
    w = weights(tables, rp, rq, rs)
    fm, dym = np.moveaxis(f, ax, 0), np.moveaxis(dyk, ax, 0)
    gf = np.moveaxis(stencil_transposed(np.reshape(w, weight_shape(n, np.ndim(f))) * dym), 0, ax)
    copies = shifted_copies(fm)
    gw = np.sum(copies * dym, axis=batch_axes_of(np.ndim(copies)))
    grp, grq, grs = np.sum(tables[0] * gw, axis=0), np.sum(tables[1] * gw, axis=0), np.sum(tables[2] * gw, axis=0)
    gs = -grs * rs ** 2
    gdx = row_steps_grad(-grp * rp ** 2 + gs, -grq * rq ** 2 + gs, n - 1, edge_order)
    return gf, gdx


def axis_tangent(ddx, df, f, ax, spacing, dx, edge_order):
    """The tangent of the derivative along ``ax``: that of ``df`` (``np.gradient`` is linear in ``f``), and of the
    steps' tangent ``ddx`` through the weights."""
    if df is None:
        tangent = np.zeros(np.shape(f))
    elif spacing is None:
        tangent = np.gradient(df, axis=ax, edge_order=edge_order)
    else:
        tangent = np.gradient(df, spacing, axis=ax, edge_order=edge_order)
    if ddx is not None:
        n = np.shape(f)[ax]
        tables = stencil_table(n, edge_order)
        p, q = row_steps(dx, edge_order)
        dp, dq = row_steps(ddx, edge_order)
        rp, rq, rs = reciprocals(p, q)
        dw = weights(tables, -dp * rp ** 2, -dq * rq ** 2, -(dp + dq) * rs ** 2)
        moved = np.sum(np.reshape(dw, weight_shape(n, np.ndim(f))) * shifted_copies(np.moveaxis(f, ax, 0)), axis=0)
        tangent = tangent + np.moveaxis(moved, 0, ax)
    return tangent


def cotangent_parts(dy, count):
    """The cotangent of each axis's derivative (None where unused): np.gradient returns one array for one axis."""
    return [dy] if count == 1 else list(dy)


def spacing_of(varargs, i):
    """The spacing argument ``i`` (None: the unit step)."""
    return None if i is None else varargs[i]


def gradient_grads(dy, f, varargs, axis, edge_order):
    """``(gf, g of each spacing)``: each axis's stencil transposed, and its steps' gradient back to its spacing."""
    axes, which = gradient_plan(f, varargs, axis)
    parts = cotangent_parts(dy, len(axes))
    steps_of = [steps(np.shape(f)[ax], spacing_of(varargs, i)) for ax, i in zip(axes, which)]
    grads = [None if parts[k] is None else axis_grads(parts[k], f, axes[k], steps_of[k], edge_order)
             for k in range(len(axes))]
    gf = sum([g[0] for g in grads if g is not None], np.zeros(np.shape(f)))
    spacing_grads = tuple(sum([steps_grad(grads[k][1], varargs[i]) for k in range(len(axes))
                               if which[k] == i and grads[k] is not None], np.zeros(np.shape(varargs[i])))
                          for i in range(len(varargs)))
    return (real_part_for(gf, f),) + spacing_grads


def gradient_tangent(dargs, y, f, *varargs, axis=None, edge_order=1):
    """Along each axis, ``np.gradient`` of ``f``'s tangent, plus its spacing's tangent through the weights."""
    axes, which = gradient_plan(f, varargs, axis)
    tangents = [axis_tangent(None if i is None else steps_tangent(dargs[1 + i], np.shape(f)[ax]), dargs[0], f, ax,
                             spacing_of(varargs, i), steps(np.shape(f)[ax], spacing_of(varargs, i)), edge_order)
                for ax, i in zip(axes, which)]
    return tangents[0] if len(axes) == 1 else tuple(tangents)


def steps_tangent(dspacing, n):
    """The tangent of the steps from that of their spacing (None for a constant one)."""
    return None if dspacing is None else steps(n, dspacing)


# ------------------------------------------------------------------ np.convolve, np.correlate

@nograd
def full_window(m, n, mode, correlate):
    """Where ``np.convolve``'s (``np.correlate``'s) output sits in the full convolution: ``(before, after)``.

    (NumPy's ``'same'`` keeps ``max(m, n)`` values, centred with the extra one at the end, except for a
    ``correlate`` whose second argument is the longer one, which NumPy computes reversed.)
    """
    mode = {0: "valid", 1: "same", 2: "full"}.get(mode, mode)
    full, short, long = m + n - 1, min(m, n), max(m, n)
    if mode == "full":
        return 0, 0
    if mode == "valid":
        return short - 1, short - 1
    start = (short - 1) - (short - 1) // 2 if correlate and m < n else (short - 1) // 2
    return start, full - long - start


def convolve_grad(dy, a, v, mode, first, correlate=False):
    """The gradient of ``np.convolve(a, v, mode)`` (``np.correlate``) for ``a`` (``first``) or ``v``: ``dy`` put
    back in the full convolution, convolved with the other argument reversed."""
    a1, v1 = np.ravel(a), np.ravel(v)
    full = np.pad(dy, full_window(np.size(a1), np.size(v1), mode, correlate))
    if correlate:  # (the full correlation is the convolution with conj(v) reversed)
        g = np.convolve(full, np.conj(v1), "valid") if first else np.conj(np.flip(np.convolve(full, np.flip(a1), "valid")))
    else:
        g = np.convolve(full, np.flip(v1 if first else a1), "valid")
    x = a if first else v
    return real_part_for(np.reshape(g, np.shape(x)), x)


# ------------------------------------------------------------------ the rules

@shaped(np.gradient, structured=True, forward=gradient_tangent)  # (a tuple of arrays for several axes)
def gradient(dy, y, f, *varargs, axis=None, edge_order=1):
    return gradient_grads(dy, f, varargs, axis, edge_order)


@shaped(np.convolve, forward="linear")
def convolve(dy, y, a, v, mode="full"):
    return (convolve_grad(dy, a, v, mode, True), convolve_grad(dy, a, v, mode, False), None)


@shaped(np.correlate, forward="linear")
def correlate(dy, y, a, v, mode="valid"):
    return (convolve_grad(dy, a, v, mode, True, True), convolve_grad(dy, a, v, mode, False, True), None)


def astype_function_tangent(dargs, y, x, dtype, copy=True, device=None):
    """The method's tangent (``device=`` names where the array lives, which NumPy checks)."""
    return astype_tangent(dargs, y, x, dtype, copy)


def astype(dy, y, x, dtype, copy=True, device=None):
    return (astype_grad(dy, x, dtype), None)


if hasattr(np, "astype"):  # (NumPy 2.1 and later)
    shaped(np.astype, forward=astype_function_tangent)(astype)
