"""Rules for ``scipy.signal.convolve correlate`` (srcgrad/rules/scipy_signal.py) and ``scipy.linalg.solve_banded``
(srcgrad/rules/scipy_linalg.py), checked against central differences and against autograd.

The table covers 1-d to 3-d arrays, every mode and both methods, with either argument the larger one;
``solve_banded`` each path SciPy takes (a 1 x 1 matrix, tridiagonal, general bands), vector and matrix
right-hand sides and stacks of them. Below it: second order for every row, complex arguments, what is
refused, SciPy's own errors, and autograd's ``scipy.signal.convolve``.
"""

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad
from srcgrad.rules import registry

from .specs import Spec, check_forward_over_reverse, check_second_order, define, keyword_variants, params, table_tests

signal = pytest.importorskip("scipy.signal")
linalg = pytest.importorskip("scipy.linalg")
registry.load_optional_rules()  # (SciPy's rows are registered at the registry's first use after its import)

#: Pairs of shapes: the first larger, the second larger, equal, mixed (one larger along each axis).
PAIRS = [((5,), (3,)), ((2,), (4,)), ((3, 4), (2, 3)), ((2, 2), (3, 4)), ((3, 2), (2, 3)), ((2, 3, 2), (2, 2, 3))]
#: Where 'valid' has an output: one argument at least as large as the other along every axis.
NESTED = [((5,), (3,)), ((2,), (4,)), ((3, 4), (2, 3)), ((2, 2), (3, 4)), ((3, 3, 2), (2, 2, 2))]
S = "scipy.signal."


def band(l, u, extra=4.0):
    """``a`` with ``extra`` added to its diagonal's band (row ``u``): a well conditioned banded matrix."""
    return f"a + {extra} * (np.arange({l + u + 1}) == {u})[:, None]"


SPECS = [
    Spec(signal.convolve, S + "convolve(a, b)", PAIRS + [((), ())]),
    Spec(signal.convolve, S + "convolve(a, b, 'same')", PAIRS),
    Spec(signal.convolve, S + "convolve(a, b, mode='valid')", NESTED),
    Spec(signal.convolve, S + "convolve(a, b, 'full', 'fft')", [((5,), (3,)), ((3, 4), (2, 3))]),
    Spec(signal.convolve, S + "convolve(a, b, 'same', method='direct')", [((2,), (4,)), ((3, 2), (2, 3))]),
    Spec(signal.correlate, S + "correlate(a, b)", PAIRS + [((), ())]),
    Spec(signal.correlate, S + "correlate(a, b, 'same')", PAIRS),
    Spec(signal.correlate, S + "correlate(a, b, mode='valid')", NESTED),
    Spec(signal.correlate, S + "correlate(a, b, 'valid', 'fft')", [((5,), (3,)), ((2, 2), (3, 4))]),
    Spec(signal.correlate, S + "correlate(a, b, 'same', method='direct')", [((2,), (4,)), ((3, 2), (2, 3))]),
    Spec(linalg.solve_banded, f"scipy.linalg.solve_banded((1, 1), {band(1, 1)}, b)",
         [((3, 4), (4,)), ((3, 4), (4, 2)), ((3, 1), (1,)), ((2, 3, 4), (2, 4, 3)), ((2, 3, 4), (4,)),
          ((3, 4), (2, 4, 1))]),
    Spec(linalg.solve_banded, f"scipy.linalg.solve_banded((2, 1), {band(2, 1)}, b)",
         [((4, 5), (5,)), ((4, 5), (5, 2)), ((4, 1), (1,)), ((2, 4, 5), (5, 2))]),
    Spec(linalg.solve_banded, f"scipy.linalg.solve_banded((0, 2), {band(0, 2)}, b)", [((3, 4), (4,))]),
    Spec(linalg.solve_banded, f"scipy.linalg.solve_banded((0, 0), {band(0, 0)}, b)", [((1, 3), (3, 2))]),
    Spec(linalg.solve_banded, f"scipy.linalg.solve_banded((3, 2), {band(3, 2, 6.0)}, b, check_finite=False)",
         [((6, 4), (4,)), ((6, 6), (6,))]),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)

KEYWORD_SPECS = keyword_variants(SPECS)
(test_keyword_inline, test_keyword_dynamic, test_keyword_rule_shapes, test_keyword_forward,
 test_keyword_forward_dynamic) = table_tests(KEYWORD_SPECS)


@pytest.mark.parametrize("spec, case", params(SPECS, last_case_only=True))
def test_every_row_to_second_order(spec, case, tmp_path_factory):
    """(tests/rules/test_second_order.py takes each rule's first row.)"""
    check_second_order(spec, case, tmp_path_factory)
    check_forward_over_reverse(spec, case, tmp_path_factory)


# ------------------------------------------------------------------ complex arguments

def complex_numeric(f, z, eps=1e-6):
    """docs/complex.md's gradient ``df/dx - i df/dy`` of a real ``f`` at ``z``, by central differences."""
    g = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = eps
        g[index] = (f(z + step) - f(z - step)) / (2 * eps) - 1j * (f(z + 1j * step) - f(z - 1j * step)) / (2 * eps)
    return g


@pytest.mark.parametrize("call", ["scipy.signal.convolve(a, b, 'same')", "scipy.signal.correlate(a, b)",
                                  "scipy.signal.correlate(a, b, 'valid', method='fft')"])
def test_complex_arguments(call, tmp_path):
    """``correlate`` conjugates ``in2``; its gradient undoes that."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    b = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    f = define(tmp_path, f"def f(a, b):\n    y = {call}\n    return np.sum(np.real(y) ** 2 + np.sin(np.imag(y)))\n")
    ga, gb = srcgrad.gradient(f, a, b)
    np.testing.assert_allclose(ga, complex_numeric(lambda v: f(v, b), a), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, complex_numeric(lambda v: f(a, v), b), rtol=1e-6, atol=1e-8)


def test_a_real_argument_with_a_complex_one_gets_a_real_gradient(tmp_path):
    f = define(tmp_path, "def f(a):\n    return np.sum(np.abs(scipy.signal.correlate(a, np.array([[1.0, 2j], [-1.0, 0.5]]))))\n")
    x = np.random.default_rng(3).standard_normal((3, 3))
    (g,) = srcgrad.gradient(f, x)
    assert g.dtype == np.float64
    check_gradient(f, x)


# ------------------------------------------------------------------ refused, and SciPy's own errors

def test_solve_banded_refuses_complex_matrices(tmp_path):
    f = define(tmp_path, "def f(a):\n    return np.sum(np.abs(scipy.linalg.solve_banded((1, 1), a, np.ones(3))))\n")
    ab = np.array([[0.0, 1.0, 1.0], [4.0, 4.0j, 4.0], [1.0, 1.0, 0.0]])
    for run in (lambda: srcgrad.gradient(f, ab), lambda: srcgrad.jvp(f, (ab,), (np.ones((3, 3)),))):
        with pytest.raises(srcgrad.NoRuleError, match="solve_banded is for real matrices"):
            run()


def test_solve_banded_refuses_bandwidths_that_differ_in_a_stack(tmp_path):
    """SciPy takes arrays of ``l`` and ``u``, one per matrix of a stack: the rule takes one pair."""
    f = define(tmp_path, "def f(a):\n    return np.sum(scipy.linalg.solve_banded((np.array([1, 1]), np.array([1, 1])), a, "
                         "np.ones((2, 3, 1))))\n")
    ab = np.tile(np.array([[0.0, 1.0, 1.0], [4.0, 4.0, 4.0], [1.0, 1.0, 0.0]]), (2, 1, 1))
    with pytest.raises(srcgrad.NoRuleError, match=r"solve_banded takes one \(l, u\)"):
        srcgrad.gradient(f, ab)


def test_solve_banded_refuses_overwrite_ab(tmp_path):
    """With overwrite_ab=True SciPy may leave its factors in ``ab`` (it does for tridiagonal matrices), and the
    derivative reads ``ab`` again: refused in both modes rather than a gradient of the wrong matrix."""
    f = define(tmp_path, "def f(a):\n    return np.sum(scipy.linalg.solve_banded((1, 1), a * 1.0, np.ones(3), "
                         "overwrite_ab=True))\n")
    ab = np.array([[0.0, 1.0, 1.0], [4.0, 4.0, 4.0], [1.0, 1.0, 0.0]])
    with pytest.raises(srcgrad.NoRuleError, match="overwrite_ab=True") as excinfo:
        srcgrad.gradient(f, ab)
    assert excinfo.value.lineno == f.__code__.co_firstlineno + 1
    with pytest.raises(srcgrad.NoRuleError, match="overwrite_ab=True") as excinfo:
        srcgrad.jvp(f, (ab,), (np.ones((3, 3)),))
    assert excinfo.value.filename == f.__code__.co_filename  # (forward code has no line comments: the def line)


@pytest.mark.parametrize("call, error, message", [
    ("scipy.signal.convolve(a, a, 'bad')", ValueError, "[Aa]cceptable mode flags"),
    ("scipy.signal.correlate(a, a, method='slow')", ValueError, "method"),
    ("scipy.signal.convolve(a, np.ones(2))", ValueError, "same dimensionality"),
    ("scipy.signal.correlate(a, np.ones((3, 1)), 'valid')", ValueError, "at least as large|every dimension"),
    ("scipy.linalg.solve_banded((1, 0), np.ones((3, 4)) + a[:4], np.ones(4))", ValueError, "l\\+u\\+1"),
    ("scipy.linalg.solve_banded((1, 1), np.ones((3, 4)) + a[:4], np.ones(5))", ValueError, "not compatible"),
])
def test_bad_input_raises_scipys_error(call, error, message, tmp_path):
    """The primal runs first, in both modes: SciPy's error, not a gradient of something else."""
    x = np.arange(5.0) if "solve_banded" in call else np.arange(6.0).reshape(2, 3)
    f = define(tmp_path, f"def f(a):\n    return np.sum({call})\n")
    with pytest.raises(error, match=message):
        srcgrad.gradient(f, x)
    with pytest.raises(error, match=message):
        srcgrad.jvp(f, (x,), (np.ones_like(x),))


# ------------------------------------------------------------------ the same as autograd's

@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("shapes", [((5,), (3,)), ((3,), (5,)), ((4, 5), (2, 3)), ((2, 3), (4, 5)), ((3, 4, 2), (2, 2, 2))])
def test_convolve_agrees_with_autograd(mode, shapes, tmp_path):
    """autograd.scipy.signal.convolve, autograd's own convolution, gives the same gradients in both arguments."""
    pytest.importorskip("autograd")
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.signal as asignal

    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    w = rng.uniform(0.5, 1.5, signal.convolve(a, b, mode).shape)
    f = define(tmp_path, f"def f(a, b):\n    return np.sum(W * np.sin(scipy.signal.convolve(a, b, '{mode}')))\n")
    f.__globals__["W"] = w

    def theirs(a, b):
        return anp.sum(w * anp.sin(asignal.convolve(a, b, mode=mode)))

    for got, want in zip(srcgrad.gradient(f, a, b), autograd.grad(theirs, [0, 1])(a, b)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
