"""Rules for ``scipy.linalg``: ``solve_triangular solve_sylvester sqrtm cho_factor cho_solve``, registered once the
program has imported it (SciPy is optional, and ``import srcgrad`` does not import it: see
:func:`~.registry.when_imported`).

They share :mod:`.decompositions`' helpers and conventions: stacked matrices
wherever SciPy takes them, real matrices only, and a gradient that lives on
the triangle a function reads (``solve_triangular``'s, ``cho_factor``'s).
"""

import functools
import sys

import numpy as np

from .decompositions import T, cholesky_grad, cholesky_tangent, cotangents, real_only, strictly_lower
from .registry import defrule, nograd, when_imported
from .shaping import tangent_or_zero

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
