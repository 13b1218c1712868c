"""Rules for ``np.fft`` (srcgrad/rules/fft.py), checked against central differences and against autograd.

The transforms' outputs are complex: each row reads one real number off every output element,
``Re((0.6 - 0.8j) * y)``, so the real and the imaginary parts both reach the loss (the inverse real
transforms are real already). Then complex inputs, by central differences in their real and imaginary
parts (docs/complex.md's convention), and the same gradients as autograd's.
"""

import numpy as np
import pytest

import srcgrad

from .specs import Spec, check_second_order, define, params, table_tests

MIX = "(0.6 - 0.8j)"


def transform(fn, arguments, shapes, id=None):
    """A spec of ``np.fft.<fn>(a, arguments)`` read through ``Re(MIX * y)``."""
    name = fn.__name__
    rest = f", {arguments}" if arguments else ""
    return Spec(fn, f"np.real({MIX} * np.fft.{name}(a{rest}))", shapes, dynamic=f"np.real({MIX} * fn(a{rest}))",
                id=id or f"np.fft.{name}({arguments})")


def real_valued(fn, arguments, shapes, id=None):
    """A spec of ``np.fft.<fn>(a, arguments)``, real already (``irfft``, the shifts)."""
    name = fn.__name__
    rest = f", {arguments}" if arguments else ""
    return Spec(fn, f"np.fft.{name}(a{rest})", shapes, id=id or f"np.fft.{name}({arguments})")


def half_spectrum(fn, arguments, shapes, id=None):
    """A spec of an inverse real transform of a complex half spectrum ``a + 0.5j * a[::-1]``."""
    name = fn.__name__
    rest = f", {arguments}" if arguments else ""
    return Spec(fn, f"np.fft.{name}(a + 0.5j * np.flip(a){rest})", shapes,
                dynamic=f"fn(a + 0.5j * np.flip(a){rest})", id=id or f"np.fft.{name}-complex({arguments})")


fft = np.fft

SPECS = [
    transform(fft.fft, "", [(4,), (5,), (2, 3)]),
    transform(fft.fft, "n=6", [(4,), (2, 8)]),
    transform(fft.fft, "3, 0", [(4, 2)]),
    transform(fft.fft, "axis=0, norm='ortho'", [(3, 2)]),
    transform(fft.fft, "norm='forward'", [(5,)]),
    transform(fft.ifft, "", [(4,), (2, 3)]),
    transform(fft.ifft, "n=3, norm='ortho'", [(5,)]),
    transform(fft.ifft, "axis=0, norm='forward'", [(3, 2)]),
    transform(fft.fft2, "", [(3, 4), (2, 3, 2)]),
    transform(fft.fft2, "s=(2, 5)", [(3, 4)]),
    transform(fft.fft2, "axes=(0, 2), norm='ortho'", [(2, 3, 2)]),
    transform(fft.ifft2, "", [(3, 4), (2, 2, 3)]),
    transform(fft.ifft2, "(4, 2), norm='forward'", [(3, 3)]),
    transform(fft.fftn, "", [(3,), (2, 3), (2, 3, 2)]),
    transform(fft.fftn, "s=(3, 3)", [(2, 4)]),
    transform(fft.fftn, "axes=(0,), norm='ortho'", [(3, 2)]),
    transform(fft.ifftn, "", [(2, 3), (2, 2, 3)]),
    transform(fft.ifftn, "(2, 4), axes=(1, 2)", [(2, 3, 3)]),
    transform(fft.rfft, "", [(4,), (5,), (2, 6)]),
    transform(fft.rfft, "n=7", [(4,), (2, 8)]),
    transform(fft.rfft, "6, 0, 'ortho'", [(4, 2)]),
    transform(fft.rfft, "norm='forward'", [(5,)]),
    transform(fft.rfft2, "", [(3, 4), (2, 3, 5)]),
    transform(fft.rfft2, "s=(4, 3), norm='ortho'", [(3, 4)]),
    transform(fft.rfftn, "", [(5,), (3, 4), (2, 3, 4)]),
    transform(fft.rfftn, "s=(3, 5), axes=(0, 2)", [(2, 3, 4)]),
    real_valued(fft.irfft, "", [(3,), (4,), (2, 5)]),
    real_valued(fft.irfft, "n=5", [(3,), (4,), (2, 4)]),
    real_valued(fft.irfft, "8, 0, 'ortho'", [(3, 2)]),
    half_spectrum(fft.irfft, "", [(3,), (4,)]),
    half_spectrum(fft.irfft, "n=7, norm='forward'", [(4,)]),
    real_valued(fft.irfft2, "", [(3, 4), (2, 3, 3)]),
    real_valued(fft.irfft2, "s=(4, 5)", [(3, 3)]),
    half_spectrum(fft.irfft2, "", [(3, 4)]),
    real_valued(fft.irfftn, "", [(4,), (3, 4), (2, 3, 3)]),
    real_valued(fft.irfftn, "s=(2, 6), axes=(0, 1), norm='ortho'", [(3, 4, 2)]),
    half_spectrum(fft.irfftn, "s=(3, 5)", [(3, 3)]),
    real_valued(fft.fftshift, "", [(4,), (5,), (3, 4)]),
    real_valued(fft.fftshift, "axes=0", [(3, 4)]),
    real_valued(fft.fftshift, "(0, 1)", [(3, 5)]),
    real_valued(fft.ifftshift, "", [(4,), (5,), (3, 4)]),
    real_valued(fft.ifftshift, "axes=-1", [(3, 5)]),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)


@pytest.mark.parametrize("spec, case", params([s for s in SPECS if "(" in s.id and s.id[-2:] != "()"],
                                              last_case_only=True))
def test_second_order_with_keywords(spec, case, tmp_path_factory):
    """Second order of the rows with ``n=``, ``s=``, ``axes=`` or ``norm=`` (test_second_order checks the first of each)."""
    check_second_order(spec, case, tmp_path_factory)


# ------------------------------------------------------------------ complex inputs

def complex_gradient_by_differences(f, z, eps=1e-6):
    """``df/dx - i df/dy`` of the real ``f`` at the complex array ``z``, by central differences."""
    g = np.zeros(z.shape, complex)
    for i in np.ndindex(z.shape):
        for step, weight in ((1.0, 1.0), (1j, -1j)):
            e = np.zeros(z.shape, complex)
            e[i] = step * eps
            g[i] += weight * (f(z + e) - f(z - e)) / (2 * eps)
    return g


COMPLEX_CALLS = [
    "np.fft.fft(z)", "np.fft.fft(z, 6)", "np.fft.ifft(z, norm='ortho')", "np.fft.fft2(z)", "np.fft.ifftn(z, s=(2, 5))",
    "np.fft.irfft(z)", "np.fft.irfft(z, 5)", "np.fft.irfft2(z)", "np.fft.irfftn(z, norm='forward')",
    "np.fft.fftshift(z)",
]


@pytest.mark.parametrize("call", COMPLEX_CALLS)
def test_complex_inputs(call, tmp_path):
    """A complex argument's gradient is ``df/dx - i df/dy`` (docs/complex.md), in both modes.

    (irfft ignores the imaginary parts of the zero and Nyquist bins: their gradients' are 0.)
    """
    f = define(tmp_path, f"def f(z):\n    return np.sum(np.abs(W * {call}) ** 2)\n")
    z = np.random.default_rng(0).standard_normal((3, 4)) + 1j * np.random.default_rng(1).standard_normal((3, 4))
    f.__globals__["W"] = np.exp(1j * np.arange(np.shape(eval(call, {"np": np, "z": z}))[-1]))
    grad, = srcgrad.gradient(f, z)
    np.testing.assert_allclose(grad, complex_gradient_by_differences(f, z), rtol=1e-5, atol=1e-6)
    dz = np.random.default_rng(2).standard_normal(z.shape) + 1j * np.random.default_rng(3).standard_normal(z.shape)
    _, tangent = srcgrad.jvp(f, (z,), (dz,))
    np.testing.assert_allclose(tangent, np.real(np.sum(grad * dz)), rtol=1e-8)


# ------------------------------------------------------------------ the same as autograd's

AUTOGRAD_CALLS = [
    ("np.fft.fft(x)", (6,)), ("np.fft.fft(x, 4, norm='ortho')", (6,)), ("np.fft.ifft(x, axis=0)", (4, 3)),
    ("np.fft.fft2(x)", (3, 4)), ("np.fft.ifftn(x)", (2, 3, 2)), ("np.fft.rfft(x)", (6,)), ("np.fft.rfft(x, axis=0)", (4, 3)),
    ("np.fft.rfft(x, 8)", (6,)), ("np.fft.rfftn(x)", (3, 4)), ("np.fft.rfft2(x, norm='ortho')", (4, 6)),
    ("np.fft.irfft(x)", (5,)), ("np.fft.irfft(x, 6)", (5,)), ("np.fft.irfftn(x)", (3, 4)),
    ("np.fft.irfft2(x, norm='ortho')", (4, 3)), ("np.fft.fftshift(x)", (5,)), ("np.fft.ifftshift(x, axes=0)", (3, 4)),
]


@pytest.mark.parametrize("call, shape", AUTOGRAD_CALLS)
def test_the_same_gradient_as_autograd(call, shape, tmp_path):
    """autograd's rules (autograd/numpy/fft.py) give the same gradient, for a real and a complex input.

    (Even lengths for the real transforms: autograd refuses odd ones; lengths by position: autograd reads
    ``rfft(x, n=8)``'s gradient as if ``n`` were not given, ``[4.125, -0.155, ...]`` for ``sum(Re rfft(ones(6), n=8))``,
    where the slope is ``sum_k cos(2 pi j k / 8)``, ``[5, 0, 1, 0, 1, 0]``. A complex input only for the complex
    transforms: NumPy 2's rfft refuses one, and autograd's irfft gradient is a real argument's.)
    """
    pytest.importorskip("autograd")
    import autograd
    import autograd.numpy as anp

    body = f"    y = {call}\n    return np.sum(np.real(y) * np.cos(np.real(y)) + np.imag(y) ** 2)\n"
    f = define(tmp_path, f"def f(x):\n{body}")
    theirs = {}
    exec(f"def f(x):\n{body}", {"np": anp}, theirs)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(srcgrad.gradient(f, x)[0], autograd.grad(theirs["f"])(x), rtol=1e-9, atol=1e-10)
    if "rfft" not in call:
        z = x + 1j * rng.standard_normal(shape)
        np.testing.assert_allclose(srcgrad.gradient(f, z)[0], autograd.grad(theirs["f"])(z), rtol=1e-9, atol=1e-10)
