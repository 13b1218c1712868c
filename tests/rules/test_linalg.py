"""Rules for matrix decompositions (srcgrad/rules/decompositions.py), checked against finite differences.

A decomposition's outputs are not all functions of its argument: an
eigenvector's (a singular vector's) sign is a choice, so each spec takes a
quantity that does not depend on it (eigenvalues, singular values, the
squares of the vectors' entries), on tall, wide, square and stacked matrices.
"""

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad
from srcgrad.errors import NoRuleError

from .specs import Spec, check_forward_over_reverse, check_second_order, define, params, table_tests

scipy_linalg = pytest.importorskip("scipy.linalg")

SQUARE = [(3, 3), (2, 3, 3)]
SHAPES = [(4, 3), (3, 4), (3, 3), (2, 3, 2)]

SPECS = [
    Spec(np.linalg.svd, "np.linalg.svd(a, full_matrices=False).S", SHAPES),
    Spec(np.linalg.svd, "np.linalg.svd(a, full_matrices=False).U ** 2", SHAPES),
    Spec(np.linalg.svd, "np.linalg.svd(a, full_matrices=False).Vh ** 2", SHAPES),
    Spec(np.linalg.svd, "np.linalg.svd(a, full_matrices=False)[1]", [(4, 3), (2, 3, 2)]),
    Spec(np.linalg.svd, "np.linalg.svd(a, compute_uv=False)", [(4, 3), (2, 3, 4)]),
    Spec(np.linalg.svd, "np.linalg.svd(a)[0] ** 2", SQUARE, id="np.linalg.svd-full-square"),
    Spec(np.linalg.eigh, "np.linalg.eigh(a).eigenvalues", SQUARE),
    Spec(np.linalg.eigh, "np.linalg.eigh(a).eigenvectors ** 2", SQUARE),
    Spec(np.linalg.eigh, "np.linalg.eigh(a, UPLO='U')[1] ** 2", SQUARE),
    Spec(np.linalg.eigvalsh, "np.linalg.eigvalsh(a)", SQUARE),
    Spec(np.linalg.eigvalsh, "np.linalg.eigvalsh(a, 'U')", SQUARE),
    Spec(np.linalg.eig, "np.linalg.eig(a).eigenvalues", SQUARE, domain="spread"),
    Spec(np.linalg.eig, "np.linalg.eig(a).eigenvectors ** 2", SQUARE, domain="spread"),
    Spec(np.linalg.eigvals, "np.linalg.eigvals(a)", SQUARE, domain="spread"),
    Spec(np.linalg.slogdet, "np.linalg.slogdet(a).logabsdet", SQUARE, domain="matrix"),
    Spec(np.linalg.slogdet, "np.linalg.slogdet(-a).logabsdet", [(3, 3)], domain="matrix"),
    Spec(np.linalg.slogdet, "np.linalg.slogdet(a)", SQUARE, domain="matrix"),
    Spec(np.linalg.cholesky, "np.linalg.cholesky(a)", SQUARE, domain="spd"),
    Spec(np.linalg.cholesky, "np.linalg.cholesky(a, upper=True)", SQUARE, domain="spd"),
    Spec(np.linalg.qr, "np.linalg.qr(a).R", [(4, 3), (3, 3), (2, 4, 3)]),
    Spec(np.linalg.qr, "np.linalg.qr(a).Q", [(4, 3), (2, 3, 3)]),
    Spec(np.linalg.qr, "np.linalg.qr(a)", [(4, 3), (2, 4, 3)]),
    Spec(np.linalg.qr, "np.linalg.qr(a, mode='r')", [(4, 3), (2, 3, 3)]),
    Spec(np.linalg.pinv, "np.linalg.pinv(a)", [(3, 2), (2, 3), (2, 3, 2)]),
    Spec(np.linalg.matrix_power, "np.linalg.matrix_power(a, 3)", SQUARE),
    Spec(np.linalg.matrix_power, "np.linalg.matrix_power(a, 1)", [(3, 3)]),
    Spec(np.linalg.matrix_power, "np.linalg.matrix_power(a, 0)", [(3, 3)]),
    Spec(np.linalg.matrix_power, "np.linalg.matrix_power(a, -2)", SQUARE, domain="matrix"),
    Spec(scipy_linalg.solve_triangular, "scipy.linalg.solve_triangular(a, b)", [((3, 3), (3,)), ((3, 3), (3, 2))],
         domain=("matrix", "real")),
    Spec(scipy_linalg.solve_triangular, "scipy.linalg.solve_triangular(a, b, lower=True, trans=1)",
         [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2))], domain=("matrix", "real")),
    Spec(scipy_linalg.solve_triangular, "scipy.linalg.solve_triangular(a, b, trans='T', unit_diagonal=True)",
         [((3, 3), (3,))], domain=("matrix", "real")),
    Spec(scipy_linalg.cho_factor, "scipy.linalg.cho_factor(a)[0]", SQUARE, domain="spd"),
    Spec(scipy_linalg.cho_factor, "scipy.linalg.cho_factor(a, lower=True)[0]", SQUARE, domain="spd"),
    Spec(scipy_linalg.cho_solve, "scipy.linalg.cho_solve(scipy.linalg.cho_factor(a), b)",
         [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2))], domain=("spd", "real")),
    Spec(scipy_linalg.cho_solve, "scipy.linalg.cho_solve((np.linalg.cholesky(a), True), b)",
         [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2))], domain=("spd", "real")),
    Spec(scipy_linalg.sqrtm, "scipy.linalg.sqrtm(a)", SQUARE, domain="spd"),
    Spec(scipy_linalg.solve_sylvester, "scipy.linalg.solve_sylvester(a, b, c)", [((3, 3), (2, 2), (3, 2))],
         domain=("matrix", "matrix", "real")),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)


#: The vectors' rows, to second order too (the table's second-order checks take each rule's first row).
VECTORS = [spec for spec in SPECS if any(part in spec.call for part in (".U", ".Vh", ".eigenvectors", ".Q"))]


@pytest.mark.parametrize("spec, case", params(VECTORS, last_case_only=True))
def test_vectors_to_second_order(spec, case, tmp_path_factory):
    check_second_order(spec, case, tmp_path_factory)
    check_forward_over_reverse(spec, case, tmp_path_factory)



# ------------------------------------------------------------------ what the table does not show

def spectral_norm(a):
    return np.linalg.norm(a, 2)


def nuclear_norm(a):
    return np.linalg.norm(a, "nuc")


def smallest_singular_value(a):
    return np.linalg.norm(a, -2)


WEIGHTS = np.array([[0.7, -1.2, 0.4], [1.5, 0.3, -0.8]])


def weighted_gradient(norm, a):
    return np.sum(WEIGHTS * srcgrad.gradient(norm, a)[0])


def spectral_twice(a):
    return weighted_gradient(spectral_norm, a)


def nuclear_twice(a):
    return weighted_gradient(nuclear_norm, a)


def smallest_twice(a):
    return weighted_gradient(smallest_singular_value, a)


@pytest.mark.parametrize("norm, twice", [(spectral_norm, spectral_twice), (nuclear_norm, nuclear_twice),
                                         (smallest_singular_value, smallest_twice)])
def test_matrix_norms_through_svd_to_second_order(norm, twice):
    """np.linalg.norm's rule for ord=2, -2 and 'nuc' calls np.linalg.svd: differentiated again through its rule."""
    a = np.array([[2.0, 0.3, 0.1], [0.2, 1.0, -0.4]])
    check_gradient(norm, a)
    check_gradient(twice, a, rtol=1e-4)
    t = np.random.default_rng(3).standard_normal(a.shape)
    _, hvp = srcgrad.jvp(twice, (a,), (t,))
    np.testing.assert_allclose(hvp, (twice(a + 1e-6 * t) - twice(a - 1e-6 * t)) / 2e-6, rtol=1e-4)


def full_svd_values(a):
    return np.sum(np.linalg.svd(a)[1])


def hermitian_svd_values(a):
    return np.sum(np.linalg.svd(a, hermitian=True)[1])


def eigh_values(a):
    return np.sum(np.linalg.eigh(a).eigenvalues)


def complete_q(a):
    return np.sum(np.linalg.qr(a, mode="complete").Q ** 2)


def reduced_r(a):
    return np.sum(np.linalg.qr(a).R)


def hermitian_pinv(a):
    return np.sum(np.linalg.pinv(a, hermitian=True))


REAL = np.array([[2.0, 0.3, 0.1], [0.2, 1.0, -0.4]])
SYMMETRIC = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 3.0]])


@pytest.mark.parametrize("f, x, match", [
    (full_svd_values, REAL, "full_matrices=True .* needs square"),          # NumPy's default, on a 2 x 3 matrix
    (hermitian_svd_values, SYMMETRIC, "hermitian=True"),
    (eigh_values, SYMMETRIC + 1j * np.triu(SYMMETRIC, 1), "real matrices"),
    (complete_q, REAL.T, "mode='complete' on 3 x 2"),                        # Q's extra column is a choice
    (reduced_r, REAL, "at least as tall as wide"),                           # a wide matrix's R is not smooth in a
    (hermitian_pinv, SYMMETRIC, "hermitian=True"),
])
def test_refused_with_the_reason(f, x, match):
    """What the rules do not cover is refused by name, at the user's line, in both modes."""
    with pytest.raises(NoRuleError, match=match):
        srcgrad.gradient(f, x)
    with pytest.raises(NoRuleError, match=match):
        srcgrad.jvp(f, (x,), (np.ones_like(x),))


def test_full_matrices_on_a_square_matrix_is_the_reduced_svd():
    a = SYMMETRIC + np.diag([0.0, 0.5, -0.2])
    check_gradient(full_svd_values, a)


# ------------------------------------------------------------------ coinciding eigenvalues

def eigenvalue_sum(a):
    return np.sum(np.sin(np.linalg.eigh(a).eigenvalues))


def eigenvector_weights(a):
    return np.sum(np.arange(9.0).reshape(3, 3) * np.linalg.eigh(a).eigenvectors ** 2)


def singular_value_sum(a):
    return np.sum(np.sin(np.linalg.svd(a, full_matrices=False).S))


def singular_vector_weights(a):
    return np.sum(np.arange(9.0).reshape(3, 3) * np.linalg.svd(a, full_matrices=False).U ** 2)


@pytest.mark.parametrize("values, vectors", [(eigenvalue_sum, eigenvector_weights),
                                             (singular_value_sum, singular_vector_weights)])
def test_coinciding_eigenvalues(values, vectors):
    """Where eigenvalues (singular values) coincide the vectors are not functions of the matrix: a gradient
    through them is not finite (inf or NaN, NumPy's 1/0), while one through the values alone stays exact."""
    a = np.diag([2.0, 2.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        (g,) = srcgrad.gradient(values, a)
        np.testing.assert_allclose(g, np.diag(np.cos([2.0, 2.0, 1.0])), atol=1e-12)
        (g,) = srcgrad.gradient(vectors, a)
        assert not np.all(np.isfinite(g))
        _, t = srcgrad.jvp(vectors, (a,), (np.ones_like(a),))
        assert not np.isfinite(t)


# ------------------------------------------------------------------ complex eigenvalues of a real matrix

def spectral_energy(a):
    w = np.linalg.eigvals(a)
    return np.sum(np.real(w * w)) + np.sum(np.abs(w))


def eigenvector_moduli(a):
    return np.sum(np.arange(9.0).reshape(3, 3) * np.abs(np.linalg.eig(a).eigenvectors) ** 2)


ROTATION = np.array([[0.3, -1.2, 0.2], [1.1, 0.4, -0.3], [0.1, 0.2, 2.0]])  # eigenvalues 0.35 ± 1.15i and 2.0


@pytest.mark.parametrize("f", [spectral_energy, eigenvector_moduli])
def test_complex_eigenvalues_of_a_real_matrix(f):
    """A real function of a real matrix through complex eigenvalues and vectors (docs/complex.md): a real gradient."""
    assert np.iscomplexobj(np.linalg.eigvals(ROTATION))
    (g,) = check_gradient(f, ROTATION)
    assert g.dtype == np.float64
    t = np.random.default_rng(5).standard_normal((3, 3))
    _, dy = srcgrad.jvp(f, (ROTATION,), (t,))
    np.testing.assert_allclose(dy, (f(ROTATION + 1e-6 * t) - f(ROTATION - 1e-6 * t)) / 2e-6, rtol=1e-5)


# ------------------------------------------------------------------ a namedtuple's parts at second order

def unpacked_eigenvalues(a):
    w, v = np.linalg.eigh(a)
    return np.sum(np.sin(w))


def unpacked_twice(a):
    return np.sum(SYMMETRIC * srcgrad.gradient(unpacked_eigenvalues, a)[0])


def by_position(a):
    r = np.linalg.eigh(a)
    return np.sum(r[0] ** 3) + np.sum(r[1][:, 0] ** 2 * np.arange(1.0, 4.0))


def by_position_twice(a):
    return np.sum(SYMMETRIC * srcgrad.gradient(by_position, a)[0])


def slogdet_unpacked(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet ** 2


def slogdet_twice(a):
    return np.sum(SYMMETRIC * srcgrad.gradient(slogdet_unpacked, a)[0])


@pytest.mark.parametrize("f", [unpacked_twice, by_position_twice, slogdet_twice])
def test_a_decompositions_parts_at_second_order(f):
    """A namedtuple's gradient is a dict by field: unpacked (a KeyError) or read by position (r[0], a silent
    zero at second order), its parts are now found by their fields."""
    check_gradient(f, SYMMETRIC, rtol=1e-4)
    t = np.random.default_rng(6).standard_normal(SYMMETRIC.shape)
    _, dy = srcgrad.jvp(f, (SYMMETRIC,), (t,))
    np.testing.assert_allclose(dy, (f(SYMMETRIC + 1e-6 * t) - f(SYMMETRIC - 1e-6 * t)) / 2e-6, rtol=1e-4)


# ------------------------------------------------------------------ against autograd
# Each function is written once, as source: srcgrad differentiates it with NumPy, autograd with its wrapper.

AGAINST_AUTOGRAD = {
    "svd": "u, s, vt = np.linalg.svd(a, full_matrices=False)\n    return np.sum(s ** 3) + np.sum(W * u ** 2)",
    "eigh": "w, v = np.linalg.eigh(a)\n    return np.sum(np.sin(w)) + np.sum(W * v ** 2)",
    "slogdet": "return np.linalg.slogdet(a)[1]",
    "pinv": "return np.sum(W * np.linalg.pinv(a))",
    "eig": "w, v = np.linalg.eig(a)\n    return np.sum(np.real(w * w)) + np.sum(W * np.abs(v) ** 2)",
    "cholesky": "return np.sum(W * np.linalg.cholesky(a))",
}


@pytest.mark.parametrize("name, x", [
    ("svd", REAL.T), ("svd", REAL), ("eigh", SYMMETRIC), ("slogdet", -SYMMETRIC), ("pinv", REAL),
    ("eig", ROTATION), ("eig", SYMMETRIC + np.triu(SYMMETRIC)), ("cholesky", SYMMETRIC),
])
def test_agrees_with_autograd(name, x, tmp_path):
    """srcgrad's gradient is autograd's (for a symmetric matrix's triangle, along symmetric directions)."""
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp

    source = f"def f(a):\n    {AGAINST_AUTOGRAD[name]}\n"
    weights = np.random.default_rng(8).uniform(0.5, 1.5, np.linalg.pinv(x).shape if name == "pinv" else
                                                (x.shape[0], min(x.shape)))
    ours_f = define(tmp_path, source)
    ours_f.__globals__["W"] = weights
    theirs_scope = {"np": anp, "W": weights}
    exec(source, theirs_scope)
    (ours,) = srcgrad.gradient(ours_f, x)
    theirs = autograd.grad(theirs_scope["f"])(x)
    if name in ("eigh", "cholesky"):  # both read one triangle; autograd returns the symmetric gradient
        direction = np.random.default_rng(9).standard_normal(x.shape)
        direction = direction + direction.T
        np.testing.assert_allclose(np.sum(ours * direction), np.sum(theirs * direction), rtol=1e-8)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
