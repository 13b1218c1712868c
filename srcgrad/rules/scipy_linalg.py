"""Rules for ``scipy.linalg``: ``solve_triangular solve_sylvester sqrtm cho_factor cho_solve solve_banded``,
registered once the program has imported it (SciPy is optional, and ``import srcgrad`` does not import it: see
:func:`~.registry.when_imported`).

They share :mod:`.decompositions`' helpers and conventions: stacked matrices
wherever SciPy takes them, real matrices only, and a gradient that lives on
the triangle a function reads (``solve_triangular``'s, ``cho_factor``'s).
"""

import functools
import sys

import numpy as np

from ..errors import NoRuleError
from .decompositions import T, cholesky_grad, cholesky_tangent, cotangents, real_only, strictly_lower
from .registry import defrule, nograd, when_imported
from .shaping import sum_to_shape, tangent_or_zero

shaped = functools.partial(defrule, _builtin=True, broadcast=False)

#: ``scipy.linalg``, once imported (the rules below read it, as generated code that inlines them does).
_linalg = None


@nograd
def transposed(trans):
    """Whether ``solve_triangular``'s ``trans`` solves with the transpose (1, 'T', and for real matrices 2, 'C')."""
    return trans in (1, 2, "T", "C")


@nograd
def triangle_mask(a, lower, unit_diagonal):
    """1 on the triangle ``solve_triangular`` reads (without the diagonal when it is taken as ones), else 0."""
    mask = strictly_lower(a, lower)
    return mask if unit_diagonal else mask + np.eye(np.shape(a)[-1])


def as_columns(x, a):
    """``x`` as a stack of matrices of columns (a vector right-hand side becomes one column)."""
    return np.expand_dims(x, -1) if np.ndim(x) == np.ndim(a) - 1 else x


def solve_triangular_grads(dy, x, a, trans, lower, unit_diagonal):
    """gb = op(A)⁻ᵀ g; gA = -gb xᵀ (-x gbᵀ for op(A) = Aᵀ), on the triangle read."""
    real_only("scipy.linalg.solve_triangular", a, x)
    gb = _linalg.solve_triangular(a, dy, trans=0 if transposed(trans) else 1, lower=lower, unit_diagonal=unit_diagonal)
    gbm, xm = as_columns(gb, a), as_columns(x, a)
    ga = -xm @ T(gbm) if transposed(trans) else -gbm @ T(xm)
    return ga * triangle_mask(a, lower, unit_diagonal), gb


def solve_triangular_tangent(dargs, y, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    """dx = op(A)⁻¹ (db - op(dA) x), dA on the triangle read."""
    real_only("scipy.linalg.solve_triangular", a, b)
    rhs = tangent_or_zero(dargs, 1, b)
    if dargs[0] is not None:
        da = dargs[0] * triangle_mask(a, lower, unit_diagonal)
        change = (T(da) if transposed(trans) else da) @ as_columns(y, a)
        rhs = rhs - np.reshape(change, np.shape(y))
    return _linalg.solve_triangular(a, rhs, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def solve_triangular(dy, y, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    return solve_triangular_grads(dy, y, a, trans, lower, unit_diagonal)


def solve_sylvester_tangent(dargs, y, a, b, q):
    """A X + X B = Q: dX solves A dX + dX B = dQ - dA X - X dB."""
    real_only("scipy.linalg.solve_sylvester", a, b, q)
    da, db, dq = (tangent_or_zero(dargs, i, v) for i, v in enumerate((a, b, q)))
    return _linalg.solve_sylvester(a, b, dq - da @ y - y @ db)


def solve_sylvester(dy, y, a, b, q):
    return sylvester_grads(dy, y, a, b, q)


def sylvester_grads(dy, y, a, b, q):
    """gQ solves Aᵀ gQ + gQ Bᵀ = g; gA = -gQ Xᵀ, gB = -Xᵀ gQ."""
    real_only("scipy.linalg.solve_sylvester", a, b, q)
    gq = _linalg.solve_sylvester(T(a), T(b), dy)
    return (-gq @ T(y), -T(y) @ gq, gq)


def sqrtm_tangent(dargs, y, A, disp=True, blocksize=64):
    """X = sqrtm(A): dX solves X dX + dX X = dA."""
    real_only("scipy.linalg.sqrtm", A, y)
    return _linalg.solve_sylvester(y, y, dargs[0])


def sqrtm(dy, y, A, disp=True, blocksize=64):
    return (sqrtm_grad(dy, y, A),)


def sqrtm_grad(dy, y, A):
    """X = sqrtm(A): gA solves Xᵀ gA + gA Xᵀ = g."""
    real_only("scipy.linalg.sqrtm", A, y)
    return _linalg.solve_sylvester(T(y), T(y), dy)


def factor_part(c, lower):
    """The Cholesky factor ``cho_factor`` left in ``c`` (its other triangle holds a copy of ``a``'s)."""
    return c * triangle_mask(c, lower, False)


def cho_factor_grad(dy, y, a, lower):
    """The factor's triangle through Cholesky's rule; the other triangle, a copy of ``a``'s, passes ``dy`` as is."""
    real_only("scipy.linalg.cho_factor", a)
    gc = dy[0]
    if gc is None:
        return None
    copied = 1 - triangle_mask(a, lower, False)
    mask = triangle_mask(a, lower, False)
    return cholesky_grad(gc * mask, factor_part(y[0], lower), a, not lower) + gc * copied


def cho_factor_tangent(dargs, y, a, lower=False, overwrite_a=False, check_finite=True):
    """dc: the factor's tangent on its triangle, ``da`` on the other."""
    real_only("scipy.linalg.cho_factor", a)
    dfactor = cholesky_tangent(dargs, factor_part(y[0], lower), a, not lower)
    return (dfactor + dargs[0] * (1 - triangle_mask(a, lower, False)), None)


def cho_factor(dy, y, a, lower=False, overwrite_a=False, check_finite=True):
    return (cho_factor_grad(cotangents(dy, y), y, a, lower),)


@nograd
def one_flag(lower):
    """``cho_factor``'s ``lower`` as one bool (for stacked matrices it is an array of them, all alike)."""
    return bool(np.ravel(lower)[0])


def cho_solve_grads(dy, x, c_and_lower, b):
    """x = A⁻¹ b for A = L Lᵀ (Uᵀ U): gb = A⁻¹ g, gA = -gb xᵀ, and gL = (gA + gAᵀ) L (gU = U (gA + gAᵀ))."""
    c, lower = c_and_lower[0], one_flag(c_and_lower[1])
    real_only("scipy.linalg.cho_solve", c, b)
    gb = _linalg.cho_solve(c_and_lower, dy)
    ga = -as_columns(gb, c) @ T(as_columns(x, c))
    factor = factor_part(c, lower)
    gfactor = (ga + T(ga)) @ factor if lower else factor @ (ga + T(ga))
    return ((gfactor * triangle_mask(c, lower, False), None), gb)


def cho_solve_tangent(dargs, y, c_and_lower, b, overwrite_b=False, check_finite=True):
    """dx = A⁻¹ (db - dA x) with dA = dL Lᵀ + L dLᵀ (dUᵀ U + Uᵀ dU)."""
    c, lower = c_and_lower[0], one_flag(c_and_lower[1])
    real_only("scipy.linalg.cho_solve", c, b)
    rhs = tangent_or_zero(dargs, 1, b)
    dc = dargs[0][0] if dargs[0] is not None else None
    if dc is not None:
        factor, dfactor = factor_part(c, lower), factor_part(dc, lower)
        da = dfactor @ T(factor) + factor @ T(dfactor) if lower else T(dfactor) @ factor + T(factor) @ dfactor
        rhs = rhs - np.reshape(da @ as_columns(y, c), np.shape(y))
    return _linalg.cho_solve(c_and_lower, rhs)


def cho_solve(dy, y, c_and_lower, b, overwrite_b=False, check_finite=True):
    return cho_solve_grads(dy, y, c_and_lower, b)


def _register():
    """The table: each scipy.linalg function and its rule."""
    global _linalg
    _linalg = sys.modules["scipy.linalg"]
    shaped(_linalg.solve_triangular, forward=solve_triangular_tangent)(solve_triangular)
    shaped(_linalg.solve_sylvester, forward=solve_sylvester_tangent)(solve_sylvester)
    shaped(_linalg.sqrtm, forward=sqrtm_tangent)(sqrtm)
    shaped(_linalg.cho_factor, structured=True, forward=cho_factor_tangent)(cho_factor)
    shaped(_linalg.cho_solve, forward=cho_solve_tangent)(cho_solve)


when_imported("scipy.linalg", _register)


# ------------------------------------------------------------------ solve_banded
#
# A is held in banded storage, ``ab[u + i - j, j] == A[i, j]`` (its other entries are not read), so each
# rule works on the bands: Aᵀ is banded too, with the bands swapped, and A's product with a vector moves
# each band along it.

@nograd
def bandwidths(l_and_u):
    """``solve_banded``'s ``(l, u)`` as two ints."""
    lower, upper = l_and_u
    if np.ndim(lower) or np.ndim(upper):
        raise NoRuleError("srcgrad's rule for scipy.linalg.solve_banded takes one (l, u) for every matrix",
                          fix="solve the matrices with different bandwidths in separate calls")
    return int(lower), int(upper)


@nograd
def shift_pads(v, axis):
    """Zeros as long as ``v`` along ``axis`` (moved to the front) before and after it."""
    n = np.shape(v)[axis]
    return ((n, n),) + ((0, 0),) * (np.ndim(v) - 1)


@nograd
def clipped(k, v, axis):
    """A shift ``k`` of at most ``v``'s length along ``axis``, either way (past it, every entry is a zero)."""
    n = np.shape(v)[axis]
    return max(-n, min(n, k))


def shifted(v, k, axis):
    """``v`` moved back by ``k`` along ``axis``: entry ``j`` is ``v``'s ``j + k``, zero where that falls outside."""
    n, k = np.shape(v)[axis], clipped(k, v, axis)
    padded = np.pad(np.moveaxis(v, axis, 0), shift_pads(v, axis))
    return np.moveaxis(padded[n + k:2 * n + k], 0, axis)


def band_rows(ab):
    """The bands of ``ab`` (a stack of them too) first: ``band_rows(ab)[r]`` is band ``r``."""
    return np.moveaxis(ab, -2, 0)


def banded_transpose(ab, lower, upper):
    """The banded storage of Aᵀ, whose bands are ``(upper, lower)``: its band ``r`` is A's ``lower + upper - r``,
    moved by ``r - lower``."""
    rows = band_rows(ab)
    return np.stack([shifted(rows[lower + upper - r], r - lower, -1) for r in range(lower + upper + 1)], axis=-2)


def as_banded_columns(x, b):
    """``x`` (shaped like the solution) as a stack of matrices of columns when ``b`` is one vector."""
    return np.expand_dims(x, -1) if np.ndim(b) == 1 else x


@nograd
def kept_bands(overwrite_ab):
    """Refuse ``overwrite_ab=True``: SciPy may then leave its factors in ``ab``, which the rules read again."""
    if overwrite_ab:
        raise NoRuleError("srcgrad cannot differentiate scipy.linalg.solve_banded with overwrite_ab=True: SciPy may "
                          "overwrite the bands the derivative needs",
                          fix="leave overwrite_ab at False (pass ab.copy() if the array must be reused)")


def solve_banded_grads(dy, x, l_and_u, ab, b):
    """gb = A⁻ᵀ g; gA = -gb xᵀ read on the bands: gab[r, j] = -Σₖ gb[j + r - u, k] x[j, k]."""
    lower, upper = bandwidths(l_and_u)
    real_only("scipy.linalg.solve_banded", ab, b)
    gbm = _linalg.solve_banded((upper, lower), banded_transpose(ab, lower, upper), as_banded_columns(dy, b))
    xm = as_banded_columns(x, b)
    gab = -np.stack([np.sum(shifted(gbm, r - upper, -2) * xm, axis=-1) for r in range(lower + upper + 1)], axis=-2)
    gb = np.squeeze(gbm, -1) if np.ndim(b) == 1 else gbm
    return (None, sum_to_shape(gab, np.shape(ab)), sum_to_shape(gb, np.shape(b)))


def solve_banded_tangent(dargs, y, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """dx = A⁻¹ (db - dA x), dA x adding up each band of dab times x, moved into place."""
    kept_bands(overwrite_ab)
    lower, upper = bandwidths(l_and_u)
    real_only("scipy.linalg.solve_banded", ab, b)
    rhs = as_banded_columns(tangent_or_zero(dargs, 2, b), b)
    if dargs[1] is not None:
        xm, rows = as_banded_columns(y, b), band_rows(dargs[1])
        change = sum([shifted(np.expand_dims(rows[r], -1) * xm, upper - r, -2) for r in range(lower + upper + 1)])
        rhs = rhs - change
    return np.reshape(_linalg.solve_banded((lower, upper), ab, rhs), np.shape(y))


def solve_banded(dy, y, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    kept_bands(overwrite_ab)
    return solve_banded_grads(dy, y, l_and_u, ab, b)


def _register_banded():
    """solve_banded's row (added after the table above)."""
    shaped(sys.modules["scipy.linalg"].solve_banded, forward=solve_banded_tangent)(solve_banded)


when_imported("scipy.linalg", _register_banded)
