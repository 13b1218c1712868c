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
