"""Complex numbers, in autograd's convention (docs/complex.md).

For a real-valued ``f`` of ``z = x + iy``, the gradient is ``df/dx - i df/dy``
(a holomorphic ``g`` then has ``g'(z)`` as the gradient of its real part), and
the tangent along ``dz`` is ``Re(gradient * dz)``. Each case is checked
against central differences on the real and imaginary parts, independently
of autograd, and, where autograd can run it, against autograd number for
number; in reverse mode, forward mode and to second order. A real input
with complex intermediates gets a real gradient of its own dtype.
"""

import types
import warnings

import numpy as np
import pytest

import srcgrad

Z = np.array([0.3 + 0.4j, -1.0 + 0.2j, 0.5 - 0.9j])
DZ = np.array([0.2 - 0.5j, 1.0 + 0.3j, -0.4 + 0.1j])
X = np.array([0.3, -0.7, 1.1])
DX = np.array([0.5, 0.2, -1.0])
W = np.array([[1.0 - 0.5j, 0.2j, -0.3], [0.4, 1.5 + 0.1j, -0.2j]])  # a complex constant, read as a global
C = np.array([0.7 - 0.2j, 0.1 + 1.0j, -0.5 + 0.5j])  # weights for the second-order checks


def wirtinger_fd(f, z, h=1e-6):
    """``df/dx - i df/dy`` of the real scalar ``f`` at ``z``, by central differences (``df/dx`` for real ``z``)."""
    z = np.asarray(z)
    g = np.zeros(z.shape, complex)
    for i in np.ndindex(z.shape):
        e = np.zeros(z.shape)
        e[i] = h
        dfdx = (f(_like(z + e)) - f(_like(z - e))) / (2 * h)
        dfdy = (f(_like(z + 1j * e)) - f(_like(z - 1j * e))) / (2 * h) if np.iscomplexobj(z) else 0.0
        g[i] = dfdx - 1j * dfdy
    return g if np.iscomplexobj(z) else g.real


def directional_fd(f, z, dz, h=1e-6):
    """``(f(z + h dz) - f(z - h dz)) / 2h``: the tangent of ``f`` along ``dz``."""
    return (np.asarray(f(_like(z + h * np.asarray(dz)))) - np.asarray(f(_like(z - h * np.asarray(dz))))) / (2 * h)


def _like(v):
    return v[()] if np.ndim(v) == 0 else v  # (a scalar argument stays a scalar)


# Holomorphic and non-holomorphic functions composed, of a complex argument (scalars and arrays).
def abs_of_square(z): return np.abs(z * z)
def real_of_sin(z): return np.real(np.sin(z))
def imag_of_product(z): return np.imag(z * z * 1j + np.exp(z))
def conj_times_exp(z): return np.real(np.conj(z) * np.exp(z))
def angle_of(z): return np.angle(z)
def angle_in_degrees(z): return np.sum(np.angle(z * z, deg=True))
def squared_modulus(z): return np.sum(np.abs(z) ** 2)
def real_times_imag(z): return np.sum(np.real(z) * np.imag(z))
def matrix_then_abs(z): return np.sum(np.abs(W @ np.tanh(z)))
def conjugate_products(z): return np.real(z[0] * np.conjugate(z[1]) + np.log(z[2]))
def exp_of_i_times(z): return np.sum(np.abs(np.exp(1j * z) + z))
def variance(z): return np.var(z * z)
def deviation(z): return np.std(np.sin(z))
def norm_of(z): return np.linalg.norm(z - 1j)
def builtin_abs(z): return abs(z[0] * z[1] + 2.0)
def attributes(z): return np.sum((z * z).real * z.imag)
def conj_method(z): return np.sum(np.abs(z.conj() + 2 * z))
def conjugate_method(z): return np.sum((z.conjugate() * z).real)

# A real argument with complex intermediates (the gradient is real, as a purely real version's would be).
def real_of_square_of_i(x): return np.real((x * 1j) * (x * 1j))
def abs_of_exp_i(x): return np.abs(np.exp(1j * x) + 0.5 * x)
def indexed_phase(x): return np.sum(np.abs(np.exp(1j * x[0]) * x[1:] + 1j))
def index_times_i(x): return np.real(np.sum(x[0] * 1j * x * 1j))
def angle_shifted(x): return np.sum(np.angle(x + 1j))
def cast_to_complex(x): return np.sum((x.astype(complex) * (0.5 - 1j) + 1j).real * x.imag)
def complex_variance(x): return np.var(x * (1 + 1j)) + np.std(x * (1 - 2j))
def complex_norm(x): return np.linalg.norm(x * (1 + 1j) + 0.5j)
def outer_with_i(x): return np.sum(np.abs(np.outer(x, x * 1j + 1.0)))
def fourier_like(x): return np.sum(np.abs(W @ np.exp(1j * x)) ** 2)


def unpacked(x):
    a, b, c = x
    return np.abs(a * 1j + b) * np.abs(c + 1j)


def read_back(x):  # (each rule writes a complex gradient into a real array of zeros)
    taken = np.sum(np.abs(np.take(x, [0, 1, 1]) * 1j + 1.0)) + np.abs(x.item(0) * 1j + 2.0)
    return taken + np.sum(np.abs(np.sort(x) * 1j + x)) + np.sum(np.abs(np.diag(np.diag(x) * 1j + 1)))


#: (function, argument, autograd runs it) — autograd's boxes have no .real, .imag, .conj() or .item()
#: and cannot be unpacked, its np.angle takes no deg=, and it returns zeros for index_times_i (whose
#: gradient, -x[0] - sum(x) at x[0] and -x[0] elsewhere, central differences confirm).
CASES = [
    (abs_of_square, 0.3 + 0.4j, True), (real_of_sin, 0.3 + 0.4j, True), (imag_of_product, -0.6 + 0.8j, True),
    (conj_times_exp, 0.3 - 1.1j, True), (angle_of, -0.5 + 0.7j, True), (angle_in_degrees, Z, False),
    (squared_modulus, Z, True), (real_times_imag, Z, True), (matrix_then_abs, Z, True),
    (conjugate_products, Z, True), (exp_of_i_times, Z, True), (variance, Z, True), (deviation, Z, True),
    (norm_of, Z, True), (builtin_abs, Z, True), (attributes, Z, False), (conj_method, Z, False),
    (conjugate_method, Z, False),
    (real_of_square_of_i, 0.7, True), (abs_of_exp_i, 0.7, True), (indexed_phase, X, True),
    (index_times_i, X, False), (angle_shifted, X, False), (cast_to_complex, X, False),
    (complex_variance, X, True), (complex_norm, X, True), (outer_with_i, X, True), (fourier_like, X, True),
    (unpacked, X, False), (read_back, X, False),
]
IDS = [f.__name__ for f, _, _ in CASES]
WITH_AUTOGRAD = [(f, z) for f, z, ok in CASES if ok]


def as_autograd(f):
    """``f`` reading ``np`` as ``autograd.numpy``: the same code, in a namespace of its own."""
    anp = pytest.importorskip("autograd.numpy")
    return types.FunctionType(f.__code__, dict(f.__globals__, np=anp), f.__name__)


def tangent_for(z):
    if np.iscomplexobj(z):
        return DZ if np.ndim(z) else 0.2 - 0.5j
    return DX if np.ndim(z) else 0.5


def test_worked_example_of_the_docs():
    """|z^2| = x^2 + y^2 at z = 0.3 + 0.4i: df/dx - i df/dy = 2x - 2iy = 0.6 - 0.8i (docs/complex.md)."""
    (g,) = srcgrad.gradient(lambda z: np.abs(z * z), 0.3 + 0.4j)
    assert g == pytest.approx(0.6 - 0.8j, abs=1e-15)
    assert type(g) is complex


def test_a_real_input_with_a_complex_intermediate_gets_a_real_gradient():
    """The issue's repros: an internal TypeError before."""
    (g,) = srcgrad.gradient(lambda x: np.real((x * 1j) * (x * 1j)), 0.7)  # -x^2
    assert g == pytest.approx(-1.4) and type(g) is float
    (g,) = srcgrad.gradient(lambda x: np.abs(np.exp(1j * x)), 0.7)  # |e^{ix}| = 1
    assert g == pytest.approx(0.0, abs=1e-15) and type(g) is float


@pytest.mark.parametrize("f, z", [(f, z) for f, z, _ in CASES], ids=IDS)
def test_reverse_mode_matches_finite_differences(f, z):
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)  # (no imaginary part dropped by a cast)
        y, (g,) = srcgrad.withgradient(f, z)
    assert y == pytest.approx(f(z), rel=1e-12)
    np.testing.assert_allclose(g, wirtinger_fd(f, z), rtol=1e-6, atol=1e-7)
    if not np.iscomplexobj(z):
        assert not np.iscomplexobj(g) and np.result_type(g) == np.float64


@pytest.mark.parametrize("f, z", WITH_AUTOGRAD, ids=[f.__name__ for f, _ in WITH_AUTOGRAD])
def test_reverse_mode_agrees_with_autograd(f, z):
    autograd = pytest.importorskip("autograd")
    (g,) = srcgrad.gradient(f, z)
    np.testing.assert_allclose(g, autograd.grad(as_autograd(f))(z), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f, z", [(f, z) for f, z, _ in CASES], ids=IDS)
def test_forward_mode_matches_finite_differences(f, z):
    dz = tangent_for(z)
    y, t = srcgrad.jvp(f, (z,), (dz,))
    assert y == pytest.approx(f(z), rel=1e-12)
    assert not np.iscomplexobj(t)  # (every case is real-valued: its tangent is real)
    np.testing.assert_allclose(t, directional_fd(f, z, dz), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f, z", WITH_AUTOGRAD, ids=[f.__name__ for f, _ in WITH_AUTOGRAD])
def test_forward_mode_agrees_with_autograd(f, z):
    autograd = pytest.importorskip("autograd")
    dz = tangent_for(z)
    _, t = srcgrad.jvp(f, (z,), (dz,))
    _, want = autograd.make_jvp(as_autograd(f))(z)(dz)
    if f in (norm_of, complex_norm):  # (autograd's norm JVP leaves an imaginary part on the real norm's tangent)
        want = np.real(want)
    np.testing.assert_allclose(t, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f, z", [(f, z) for f, z, _ in CASES], ids=IDS)
def test_the_tangent_is_the_real_part_of_the_gradient_times_dz(f, z):
    """The convention's two halves agree: ``jvp(dz) = Re(sum(gradient * dz))``."""
    dz = tangent_for(z)
    (g,) = srcgrad.gradient(f, z)
    _, t = srcgrad.jvp(f, (z,), (dz,))
    assert t == pytest.approx(np.real(np.sum(g * dz)), rel=1e-10, abs=1e-12)


def second_order(f):
    """``Re(sum(C * gradient))``: a real function of the gradient, whose own gradient is second order."""
    def h(z):
        (g,) = srcgrad.gradient(f, z)
        return np.real(np.sum(C[:np.size(z)].reshape(np.shape(z)) * g))
    return h


#: (read_back is left out: second derivatives through np.take, np.sort and .item() are wrong or refused
#: for real arrays too, which is another part of issue #16)
SECOND_ORDER = [(f, z) for f, z, _ in CASES if f is not read_back]
SECOND_IDS = [f.__name__ for f, _ in SECOND_ORDER]


@pytest.mark.parametrize("f, z", SECOND_ORDER, ids=SECOND_IDS)
def test_reverse_over_reverse_matches_finite_differences(f, z):
    h = second_order(f)
    (g,) = srcgrad.gradient(h, z)
    np.testing.assert_allclose(g, wirtinger_fd(h, z, h=1e-5), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f, z", [(f, z) for f, z in SECOND_ORDER if np.ndim(z) == 0], ids=[
    f.__name__ for f, z in SECOND_ORDER if np.ndim(z) == 0])
def test_reverse_over_reverse_agrees_with_autograd(f, z):
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    plain = as_autograd(f)
    (g,) = srcgrad.gradient(second_order(f), z)
    want = autograd.grad(lambda v: anp.real(C[0] * autograd.grad(plain)(v)))(z)
    assert g == pytest.approx(want, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("f, z", SECOND_ORDER, ids=SECOND_IDS)
def test_forward_over_reverse_matches_finite_differences(f, z):
    dz = tangent_for(z)
    grad = lambda v: srcgrad.gradient(f, v)[0]  # noqa: E731
    _, t = srcgrad.jvp(grad, (z,), (dz,))
    np.testing.assert_allclose(t, directional_fd(grad, z, dz, h=1e-5), rtol=1e-5, atol=1e-6)
    if not np.iscomplexobj(z):
        assert not np.iscomplexobj(t)


@pytest.mark.parametrize("f", [indexed_phase, complex_variance, complex_norm, fourier_like])
def test_hessian_of_a_real_input_with_complex_intermediates_is_real(f):
    H = srcgrad.hessian(f, X)
    columns = [directional_fd(lambda v: srcgrad.gradient(f, v)[0], X, np.eye(3)[i], h=1e-5) for i in range(3)]
    assert H.dtype == np.float64
    np.testing.assert_allclose(H, np.stack(columns, axis=-1), rtol=1e-5, atol=1e-6)


def test_float32_keeps_float32_gradients():
    x = X.astype(np.float32)
    (g,) = srcgrad.gradient(fourier_like, x)
    _, t = srcgrad.jvp(fourier_like, (x,), (DX.astype(np.float32),))
    assert g.dtype == np.float32 and not np.iscomplexobj(t)
    np.testing.assert_allclose(g, wirtinger_fd(fourier_like, X), rtol=1e-4)
    assert t == pytest.approx(directional_fd(fourier_like, X, DX), rel=1e-4)


def test_the_imaginary_part_of_a_real_values_gradient_means_nothing():
    """``Re(i Re(z))`` is 0 everywhere: the cotangent ``i`` reaching the real ``Re(z)`` must not pass on."""
    assert srcgrad.gradient(lambda z: np.real(1j * np.real(z)), 0.3 + 0.4j) == (0j,)
    # |i |z|| + Im(z) = |z| + y: the gradient is conj(z)/|z| - i
    (g,) = srcgrad.gradient(lambda z: np.sum(np.abs(1j * np.abs(z)) + np.imag(z)), Z[:1])
    np.testing.assert_allclose(g, [0.6 - 0.8j - 1j])
    # Re(i Re(z) z) = -Re(z) Im(z): the gradient is -y + ix
    (g,) = srcgrad.gradient(lambda z: np.real(z * 1j * np.real(z)), 0.3 + 0.4j)
    assert g == pytest.approx(-0.4 + 0.3j)


@pytest.mark.parametrize("fn", [np.real, np.imag, np.conj, np.abs, np.angle, np.sin], ids=lambda fn: fn.__name__)
def test_functions_passed_as_values_agree_with_autograd(fn):
    """Handed to ``pullback`` as a value (the issue's item 1 gave zeros for np.real and np.conj)."""
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    z, dy = 0.3 + 0.4j, (1.5 if fn in (np.real, np.imag, np.abs, np.angle) else 0.5 - 2.0j)
    y, back = srcgrad.pullback(fn, z)
    assert y == fn(z)
    (g,) = back(dy)
    assert g == pytest.approx(autograd.make_vjp(getattr(anp, fn.__name__))(z)[0](dy))


def test_real_and_imag_of_real_arrays():
    """For a real array ``.real`` is itself and ``.imag`` the constant 0."""
    (g,) = srcgrad.gradient(lambda x: np.sum(x.real * 3.0 + np.imag(x) * 5.0 + np.conj(x)), X)
    np.testing.assert_array_equal(g, np.full(3, 4.0))
    assert g.dtype == np.float64


def test_jacobian_keeps_complex_gradients():
    """Row i is the gradient of Re(y_i): f'(z) on the diagonal for a holomorphic f (a real cast dropped it before)."""
    (J,) = srcgrad.jacobian(lambda z: np.sin(z) * 2, Z)
    np.testing.assert_allclose(J, np.diag(2 * np.cos(Z)), rtol=1e-12)
    (J,) = srcgrad.jacobian(lambda z: np.abs(z) * np.abs(z[0]), Z)
    rows = [wirtinger_fd(lambda v, i=i: np.abs(v[i]) * np.abs(v[0]), Z) for i in range(3)]
    np.testing.assert_allclose(J, np.stack(rows), rtol=1e-6, atol=1e-7)
    (J,) = srcgrad.jacobian(lambda x: np.abs(np.exp(1j * x) + x), X)
    assert J.dtype == np.float64
    np.testing.assert_allclose(J, np.diag(wirtinger_fd(lambda v: np.sum(np.abs(np.exp(1j * v) + v)), X)), atol=1e-7)


def test_a_complex_tangent_for_a_real_argument_is_refused():
    with pytest.raises(srcgrad.SrcgradError, match="complex tangent for argument 0, which is real"):
        srcgrad.jvp(abs_of_exp_i, (0.5,), (1j,))
    with pytest.raises(srcgrad.SrcgradError, match="complex tangent for argument 1"):
        srcgrad.jvp(lambda z, x: np.abs(z * x), (Z, X), (DZ, DZ))
    _, t = srcgrad.jvp(abs_of_exp_i, (0.5 + 0j,), (1j,))  # (as complex, it may move off the real line)
    assert t == pytest.approx(directional_fd(abs_of_exp_i, 0.5 + 0j, 1j))


def test_hessian_of_a_complex_argument_is_refused():
    with pytest.raises(srcgrad.SrcgradError, match="do not fit in one complex matrix"):
        srcgrad.hessian(squared_modulus, Z)


class Pair:
    """A user's class with fields named like the complex attributes."""

    def __init__(self, real, imag):
        self.real, self.imag = real, imag


def test_a_users_fields_named_real_and_imag_are_refused_in_reverse_mode():
    """``.real`` is differentiated as a number's part; on another object that would be wrong, so it is refused."""
    f = lambda p: p.real * 3.0 + p.imag ** 2  # noqa: E731
    with pytest.raises(srcgrad.errors.NoRuleError, match=r"field \.real of a Pair object"):
        srcgrad.gradient(f, Pair(2.0, 0.5))
    # (forward mode reads the field's tangent, which is right)
    assert srcgrad.jvp(f, (Pair(2.0, 0.5),), ({"real": 1.0, "imag": 2.0},))[1] == pytest.approx(5.0)
