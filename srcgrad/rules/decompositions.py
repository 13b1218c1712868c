"""Rules for NumPy's matrix decompositions and functions: ``linalg.svd eigh eigvalsh eig eigvals pinv slogdet
cholesky qr matrix_power`` (SciPy's are in :mod:`.scipy_linalg`).

Every rule takes stacked matrices (``(..., m, n)``) as NumPy does, and is
written in the differentiable subset (products, ``solve``, the
decompositions themselves), so it is differentiated again for higher orders.
``T`` is the transpose of the last two axes; ``F`` the matrix of
``1 / (w_j - w_i)`` off the diagonal (0 on it) of eigenvalues ``w``, or of
squared singular values: where two coincide it is infinite, and so is (or
NaN) a gradient that goes through the vectors (docs/rules.md, "Linear
algebra"). A gradient through eigenvalues or singular values alone never
meets ``F``.

``eigh``, ``eigvalsh`` and ``cholesky`` read one triangle of their argument
(the lower one by default), so their gradients live on that triangle: the
gradient ``G`` for the symmetric matrix that triangle stands for becomes
``G + G^T`` below the diagonal and ``G`` on it (:func:`triangle_grad`).
Real matrices only, except ``eig``, ``eigvals`` and ``matrix_power``
(docs/complex.md); a complex one is refused by name.
"""

import functools

import numpy as np

from ..errors import NoRuleError
from .registry import defrule, nograd
from .shaping import is_complex

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def T(x):
    """The transpose of the last two axes."""
    return np.swapaxes(x, -1, -2)


@nograd
def eye(x):
    """The identity matrix as large as ``x``'s last axis."""
    return np.eye(np.shape(x)[-1])


@nograd
def strictly_lower(x, lower=True):
    """1 strictly below (above, when not ``lower``) the diagonal of a matrix as large as ``x``'s last axis, else 0."""
    mask = np.tri(np.shape(x)[-1], k=-1)
    return mask if lower else mask.T


def diagonal(x):
    """The diagonals of a stack of matrices."""
    return np.sum(x * eye(x), axis=-1)


def as_diagonal(v):
    """The diagonal matrices with diagonals ``v``."""
    return np.expand_dims(v, -2) * eye(v)


def gaps(w):
    """F: ``1 / (w_j - w_i)`` at ``[i, j]`` off the diagonal, 0 on it."""
    i = eye(w)
    return (1 - i) / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + i)


def triangle_grad(g, lower=True):
    """The gradient on the triangle read, from ``g`` for the symmetric matrix it stands for."""
    return (g + T(g)) * strictly_lower(g, lower) + g * eye(g)


def symmetric(da, lower=True):
    """The symmetric matrix a triangle of ``da`` stands for."""
    part = da * strictly_lower(da, lower)
    return part + T(part) + da * eye(da)


def cotangents(dy, y):
    """The cotangent of each output of a decomposition (``None`` where unused), from a tuple or a dict by field."""
    if isinstance(dy, dict):
        return [dy[field] if field in dy else None for field in y._fields]
    return dy


@nograd
def real_only(name, *arrays):
    """Refuse complex matrices where a rule is for real ones."""
    if any(is_complex(a) for a in arrays):
        raise NoRuleError(f"srcgrad's rule for {name} is for real matrices; this one is complex",
                          fix="split it into real and imaginary parts, or stop_gradient of it")


# ------------------------------------------------------------------ singular values

@nograd
def check_svd(a, full_matrices, compute_uv, hermitian):
    real_only("np.linalg.svd", a)
    if full_matrices and compute_uv and np.shape(a)[-1] != np.shape(a)[-2]:
        raise NoRuleError("srcgrad's rule for np.linalg.svd with full_matrices=True (NumPy's default) needs square "
                          "matrices: the extra columns of u (rows of vt) are not determined by a",
                          fix="pass full_matrices=False")
    if hermitian:
        raise NoRuleError("srcgrad's rule for np.linalg.svd does not take hermitian=True",
                          fix="leave hermitian out, or use np.linalg.eigh")


def svd_grad(dy, a, u, s, vt):
    """gA = U (F∘(UᵀgU - gUᵀU) S + diag(gs) + S F∘(VᵀgV - gVᵀV)) Vᵀ, plus the parts off U's (V's) columns."""
    gu, gs, gvt = dy
    m, n = np.shape(a)[-2:]
    core = as_diagonal(np.zeros(np.shape(s)) if gs is None else gs)
    if gu is not None:
        ug = T(u) @ gu
        core = core + gaps(s ** 2) * (ug - T(ug)) * np.expand_dims(s, -2)
    if gvt is not None:
        vg = gvt @ T(vt)
        core = core + np.expand_dims(s, -1) * (gaps(s ** 2) * (T(vg) - vg))
    g = u @ core @ vt
    if gu is not None and m > n:
        g = g + (gu - u @ (T(u) @ gu)) / np.expand_dims(s, -2) @ vt
    if gvt is not None and m < n:
        g = g + u / np.expand_dims(s, -2) @ (gvt - gvt @ T(vt) @ vt)
    return g


def svd_rule_grad(dy, y, a, full_matrices, compute_uv, hermitian):
    """The gradient for ``np.linalg.svd``'s outputs (the singular values alone when not ``compute_uv``)."""
    check_svd(a, full_matrices, compute_uv, hermitian)
    if not compute_uv:
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        return svd_grad((None, dy, None), a, u, s, vt)
    return svd_grad(cotangents(dy, y), a, y[0], y[1], y[2])


def svd_tangent(dargs, y, a, full_matrices=True, compute_uv=True, hermitian=False):
    """dP = UᵀdA V: ds = diag(dP), dU = U F∘(dP S + S dPᵀ) + (I - UUᵀ) dA V S⁻¹, dV likewise with dAᵀ."""
    check_svd(a, full_matrices, compute_uv, hermitian)
    da = dargs[0]
    u, s, vt = y if compute_uv else np.linalg.svd(a, full_matrices=False)
    dp = T(u) @ da @ T(vt)
    if not compute_uv:
        return diagonal(dp)
    row, column, f = np.expand_dims(s, -2), np.expand_dims(s, -1), gaps(s ** 2)
    du = u @ (f * (dp * row + column * T(dp)))
    dv = T(vt) @ (f * (column * dp + T(dp) * row))
    m, n = np.shape(a)[-2:]
    if m > n:
        du = du + (da @ T(vt) - u @ dp) / row
    if m < n:
        dv = dv + (T(da) @ u - T(vt) @ T(dp)) / row
    return type(y)(du, diagonal(dp), T(dv))


@shaped(np.linalg.svd, structured=True, forward=svd_tangent)
def svd(dy, y, a, full_matrices=True, compute_uv=True, hermitian=False):
    return (svd_rule_grad(dy, y, a, full_matrices, compute_uv, hermitian),)


# ------------------------------------------------------------------ symmetric eigenproblems

def eigh_grad(dy, a, w, v, UPLO="L"):
    """gA = V (diag(gw) + F∘(VᵀgV)) Vᵀ, on the triangle ``UPLO`` read."""
    real_only("np.linalg.eigh", a)
    gw, gv = dy
    core = as_diagonal(np.zeros(np.shape(w)) if gw is None else gw)
    if gv is not None:
        core = core + gaps(w) * (T(v) @ gv)
    return triangle_grad(v @ core @ T(v), UPLO == "L")


def eigh_tangent(dargs, y, a, UPLO="L"):
    """dP = Vᵀ dA V (dA symmetric): dw = diag(dP), dV = V F∘dP."""
    real_only("np.linalg.eigh", a)
    w, v = y
    dp = T(v) @ symmetric(dargs[0], UPLO == "L") @ v
    return type(y)(diagonal(dp), v @ (gaps(w) * dp))


@shaped(np.linalg.eigh, structured=True, forward=eigh_tangent)
def eigh(dy, y, a, UPLO="L"):
    return (eigh_grad(cotangents(dy, y), a, y[0], y[1], UPLO),)


def eigvalsh_grad(dy, a, UPLO):
    """gA = V diag(g) Vᵀ, on the triangle read."""
    w, v = np.linalg.eigh(a, UPLO)
    return eigh_grad((dy, None), a, w, v, UPLO)


def eigvalsh_tangent(dargs, y, a, UPLO="L"):
    """dw = diag(Vᵀ dA V)."""
    real_only("np.linalg.eigvalsh", a)
    v = np.linalg.eigh(a, UPLO)[1]
    return diagonal(T(v) @ symmetric(dargs[0], UPLO == "L") @ v)


@shaped(np.linalg.eigvalsh, forward=eigvalsh_tangent)
def eigvalsh(dy, y, a, UPLO="L"):
    return (eigvalsh_grad(dy, a, UPLO),)


# ------------------------------------------------------------------ general eigenproblems

def eig_grad(dy, a, w, v):
    """gA = V⁻ᵀ (diag(gw) + F∘(Vᵀ gV')) Vᵀ with gV' = gV - conj(V) Re(diag(VᵀgV)) (unit columns); real for real a."""
    gw, gv = dy
    core = as_diagonal(np.zeros(np.shape(w)) if gw is None else gw)
    if gv is not None:
        gv = gv - np.conj(v) * np.expand_dims(np.real(np.sum(gv * v, axis=-2)), -2)
        core = core + gaps(w) * (T(v) @ gv)
    g = np.linalg.solve(T(v), core @ T(v))
    return g if is_complex(a) else np.real(g)


def eig_tangent(dargs, y, a):
    """dP = V⁻¹ dA V: dw = diag(dP), dV = V F∘dP less each column's stretch, V Re(diag(Vᴴ dV))."""
    w, v = y
    dp = np.linalg.solve(v, dargs[0] @ v)
    dv = v @ (gaps(w) * dp)
    dv = dv - v * np.expand_dims(np.real(np.sum(np.conj(v) * dv, axis=-2)), -2)
    return type(y)(diagonal(dp), dv)


@shaped(np.linalg.eig, structured=True, forward=eig_tangent)
def eig(dy, y, a):
    return (eig_grad(cotangents(dy, y), a, y[0], y[1]),)


def eigvals_grad(dy, a):
    """gA = V⁻ᵀ diag(g) Vᵀ."""
    w, v = np.linalg.eig(a)
    return eig_grad((dy, None), a, w, v)


def eigvals_tangent(dargs, y, a):
    """dw = diag(V⁻¹ dA V)."""
    v = np.linalg.eig(a)[1]
    return diagonal(np.linalg.solve(v, dargs[0] @ v))


@shaped(np.linalg.eigvals, forward=eigvals_tangent)
def eigvals(dy, y, a):
    return (eigvals_grad(dy, a),)


# ------------------------------------------------------------------ determinants, factors, inverses

def logabsdet_grad(dy, a):
    """slogdet's (sign, log|det a|): the sign carries no gradient, the log ``g a⁻ᵀ``."""
    real_only("np.linalg.slogdet", a)
    return None if dy is None else np.expand_dims(dy, (-1, -2)) * T(np.linalg.inv(a))


def slogdet_tangent(dargs, y, a):
    """d log|det a| = trace(a⁻¹ da); the sign does not move."""
    real_only("np.linalg.slogdet", a)
    return type(y)(np.zeros(np.shape(y[0])), np.trace(np.linalg.solve(a, dargs[0]), axis1=-2, axis2=-1))


@shaped(np.linalg.slogdet, structured=True, forward=slogdet_tangent)
def slogdet(dy, y, a):
    return (logabsdet_grad(cotangents(dy, y)[1], a),)


def half_lower(x):
    """Φ: the lower triangle of ``x`` with its diagonal halved."""
    return x * (strictly_lower(x) + 0.5 * eye(x))


def cholesky_tangent(dargs, y, a, upper=False):
    """dL = L Φ(L⁻¹ dA L⁻ᵀ), dA symmetric."""
    real_only("np.linalg.cholesky", a)
    low = T(y) if upper else y
    da = symmetric(dargs[0], not upper)
    dl = low @ half_lower(np.linalg.solve(low, T(np.linalg.solve(low, da))))
    return T(dl) if upper else dl


@shaped(np.linalg.cholesky, forward=cholesky_tangent)
def cholesky(dy, y, a, upper=False):
    return (cholesky_grad(dy, y, a, upper),)


def cholesky_grad(dy, y, a, upper):
    """Murray's: S = L⁻ᵀ Φ(Lᵀ gL) L⁻¹, symmetrised, on the triangle read."""
    real_only("np.linalg.cholesky", a)
    low, gl = (T(y), T(dy)) if upper else (y, dy)
    s = np.linalg.solve(T(low), T(np.linalg.solve(T(low), T(half_lower(T(low) @ gl)))))
    return triangle_grad((s + T(s)) / 2, not upper)


@nograd
def check_qr(a, mode):
    real_only("np.linalg.qr", a)
    m, n = np.shape(a)[-2:]
    if m < n or mode not in ("reduced", "complete", "r") or (mode == "complete" and m != n):
        raise NoRuleError(f"srcgrad's rule for np.linalg.qr takes mode='reduced' or 'r' for matrices at least as "
                          f"tall as wide (and 'complete' for square ones), not mode={mode!r} on {m} x {n}: Q's extra "
                          "columns (or R's for a wide matrix) are not determined smoothly by a",
                          fix="use mode='reduced' on a tall matrix (np.linalg.qr(a.T) for a wide one)")


def qr_grad(dy, q, r):
    """gA = (gQ + Q copyltu(M)) R⁻ᵀ with M = R gRᵀ - gQᵀ Q (copyltu: the symmetric matrix of M's lower triangle)."""
    gq, gr = dy
    m = np.zeros(np.shape(r)) if gr is None else r @ T(gr)
    if gq is not None:
        m = m - T(gq) @ q
    b = q @ symmetric(m) + (0 if gq is None else gq)
    return T(np.linalg.solve(r, T(b)))


def qr_tangent(dargs, y, a, mode="reduced"):
    """With C = Qᵀ dA R⁻¹ and Ω = its strictly lower part minus that transposed: dQ = Q(Ω - C) + dA R⁻¹, dR = (C - Ω)R."""
    check_qr(a, mode)
    q, r = np.linalg.qr(a) if mode == "r" else y
    da_rinv = T(np.linalg.solve(T(r), T(dargs[0])))
    c = T(q) @ da_rinv
    omega = c * strictly_lower(c) - T(c * strictly_lower(c))
    dr = (c - omega) @ r
    return dr if mode == "r" else type(y)(q @ (omega - c) + da_rinv, dr)


@shaped(np.linalg.qr, structured=True, forward=qr_tangent)
def qr(dy, y, a, mode="reduced"):
    return (qr_rule_grad(dy, y, a, mode),)


def qr_rule_grad(dy, y, a, mode):
    """The gradient for ``np.linalg.qr``'s outputs (R alone for mode='r')."""
    check_qr(a, mode)
    if mode == "r":
        q, r = np.linalg.qr(a)
        return qr_grad((None, dy), q, r)
    return qr_grad(cotangents(dy, y), y[0], y[1])


@nograd
def check_pinv(hermitian, a):
    real_only("np.linalg.pinv", a)
    if hermitian:
        raise NoRuleError("srcgrad's rule for np.linalg.pinv does not take hermitian=True", fix="leave it out")


def pinv_tangent(dargs, y, a, rcond=None, hermitian=False, rtol=None):
    """d(A⁺) = -A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I - A A⁺) + (I - A⁺A) dAᵀ A⁺ᵀA⁺ (where the rank stays put)."""
    check_pinv(hermitian, a)
    da = dargs[0]
    return -y @ da @ y + y @ T(y) @ T(da) @ (eye(y) - a @ y) + (eye(a) - y @ a) @ T(da) @ T(y) @ y


@shaped(np.linalg.pinv, forward=pinv_tangent)
def pinv(dy, y, a, rcond=None, hermitian=False, rtol=None):
    return (pinv_grad(dy, y, a, hermitian),)


def pinv_grad(dy, y, a, hermitian):
    """gA: the transpose of the tangent map, -A⁺ᵀ g A⁺ᵀ + (I - A A⁺) gᵀ A⁺ A⁺ᵀ + A⁺ᵀ A⁺ gᵀ (I - A⁺ A)."""
    check_pinv(hermitian, a)
    return -T(y) @ dy @ T(y) + (eye(y) - a @ y) @ T(dy) @ y @ T(y) + T(y) @ y @ T(dy) @ (eye(a) - y @ a)


def power_terms(base, d, k, left, right):
    """Σ_{i<k} left(base)^i d right(base)^(k-1-i)."""
    total = np.zeros(np.shape(d), dtype=np.result_type(base, d))
    for i in range(k):
        total = total + np.linalg.matrix_power(left(base), i) @ d @ np.linalg.matrix_power(right(base), k - 1 - i)
    return total


def same(x):
    return x


def matrix_power_tangent(dargs, y, a, n):
    """d(Aⁿ) = Σ Aⁱ dA Aⁿ⁻¹⁻ⁱ; for n < 0 the same of B = A⁻¹ with dB = -B dA B."""
    base = np.linalg.inv(a) if n < 0 else a
    d = -base @ dargs[0] @ base if n < 0 else dargs[0]
    return power_terms(base, d, abs(n), same, same)


@shaped(np.linalg.matrix_power, forward=matrix_power_tangent)
def matrix_power(dy, y, a, n):
    return (matrix_power_grad(dy, a, n), None)


def matrix_power_grad(dy, a, n):
    """gA = Σ (Aᵀ)ⁱ g (Aᵀ)ⁿ⁻¹⁻ⁱ; for n < 0, that of B = A⁻¹ becomes -Bᵀ gB Bᵀ."""
    base = np.linalg.inv(a) if n < 0 else a
    g = power_terms(base, dy, abs(n), T, T)
    return -T(base) @ g @ T(base) if n < 0 else g

