"""Rules for ``np.fft``: ``fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn fftshift ifftshift``.

Every transform is linear, so its tangent is the transform of the tangent.
Its gradient is the transpose (docs/complex.md: the gradient of the real
part, ``dy * f'(z)`` for a holomorphic ``f``), and the DFT matrix is
symmetric, so the gradient of ``fft`` is ``fft`` of ``dy`` with the same
``norm=``, cut or padded back to the input's length where ``n=``/``s=``
padded or cut it. The real transforms are the exceptions (docs/rules.md,
"FFT"): ``rfft`` keeps half of ``fft``'s rows, so its gradient is the real
part of ``fft`` of ``dy`` padded with zeros to the full length; ``irfft``
reads its half spectrum as the whole Hermitian one, so each bin that
stands for two (all but the zero and Nyquist bins) has its gradient
counted twice.
"""

import functools

import numpy as np

from .registry import defrule, nograd
from .shaping import real_part_for

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


@nograd
def transform_axes(x, s, axes):
    """The axes a transform over ``s``/``axes`` works on, as NumPy resolves them (``s`` alone: the last ones)."""
    if axes is None:
        axes = range(-len(s), 0) if s is not None else range(np.ndim(x))
    return tuple(a % np.ndim(x) for a in axes)


def fit_to(g, x, axes):
    """``g`` cut or padded with zeros along ``axes`` to ``x``'s lengths there (undoing ``n=``/``s=``)."""
    shape = np.shape(x)
    cut = tuple(slice(0, shape[i]) if i in axes else slice(None) for i in range(np.ndim(g)))
    g = g[cut]
    widths = [(0, shape[i] - np.shape(g)[i]) if i in axes else (0, 0) for i in range(np.ndim(g))]
    if any(after for _, after in widths):
        g = np.pad(g, widths)
    return g


def complex_grad(dy, x, inverse, s, axes, norm):
    """The gradient of ``fftn(x, s, axes, norm)`` (``ifftn`` when ``inverse``): the same transform of ``dy``
    (its matrix is symmetric), cut or padded back to ``x``'s shape."""
    axes = transform_axes(x, s, axes)
    g = np.fft.ifftn(dy, axes=axes, norm=norm) if inverse else np.fft.fftn(dy, axes=axes, norm=norm)
    return real_part_for(fit_to(g, x, axes), x)


def rfft_grad(dy, x, axes, lengths, norm):
    """The gradient of a real transform of ``x``: ``Re fftn(dy)`` with ``dy`` padded with zeros to the full lengths."""
    return np.real(fit_to(np.fft.fftn(dy, lengths, axes=axes, norm=norm), x, axes))


@nograd
def hermitian_weights(n, axis, ndim):
    """How many bins of the full spectrum of length ``n`` each of its ``n // 2 + 1`` first bins stands for: 1 or 2."""
    counts = np.full(n // 2 + 1, 2.0)
    counts[0] = 1.0
    if n % 2 == 0:
        counts[-1] = 1.0
    return np.reshape(counts, [-1 if i == axis else 1 for i in range(ndim)])


def irfft_grad(dy, a, axes, n, norm):
    """The gradient of an inverse real transform of the half spectrum ``a`` to length ``n`` along its last axis.

    ``ifftn(dy)`` read on the first ``n // 2 + 1`` bins of the last axis, each weighed by the bins it stands for.
    """
    last = axes[-1]
    half = tuple(slice(0, n // 2 + 1) if i == last else slice(None) for i in range(np.ndim(dy)))
    g = np.fft.ifftn(dy, axes=axes, norm=norm)[half] * hermitian_weights(n, last, np.ndim(dy))
    return real_part_for(fit_to(g, a, axes), a)


@nograd
def irfft_length(a, n, axis):
    """The output length of ``np.fft.irfft(a, n, axis)``: ``n``, else ``2 (m - 1)`` for ``m`` bins."""
    return n if n is not None else 2 * (np.shape(a)[axis] - 1)


@nograd
def irfftn_lengths(a, s, axes):
    """The lengths of ``np.fft.irfftn(a, s, axes)``'s output along ``axes``."""
    axes = transform_axes(a, s, axes)
    if s is not None:
        return axes, tuple(s)
    return axes, tuple(np.shape(a)[i] for i in axes[:-1]) + (2 * (np.shape(a)[axes[-1]] - 1),)


@nograd
def rfftn_lengths(a, s, axes):
    """The full lengths ``np.fft.rfftn(a, s, axes)`` transforms along ``axes``."""
    axes = transform_axes(a, s, axes)
    return axes, tuple(s) if s is not None else tuple(np.shape(a)[i] for i in axes)


def real_grad(dy, a, s, axes, norm):
    """The gradient of ``np.fft.rfftn(a, s, axes, norm)``."""
    return rfft_grad(dy, a, *rfftn_lengths(a, s, axes), norm)


def inverse_real_grad(dy, a, s, axes, norm):
    """The gradient of ``np.fft.irfftn(a, s, axes, norm)``."""
    axes, lengths = irfftn_lengths(a, s, axes)
    return irfft_grad(dy, a, axes, lengths[-1], norm)


def two_axes_grad(dy, a, kind, options):
    """The gradient of the 2-d transform ``kind`` (``"fft"`` for ``fft2``, ...) called with ``options = (s, axes,
    norm)``: its n-d form's."""
    s, axes, norm = options
    if kind == "fft" or kind == "ifft":
        return complex_grad(dy, a, kind == "ifft", s, axes, norm)
    if kind == "rfft":
        return real_grad(dy, a, s, axes, norm)
    return inverse_real_grad(dy, a, s, axes, norm)


@nograd
def two_axes_options(args, s, axes, norm):
    """``(s, axes, norm)`` of a 2-d transform called with the positional ``args`` after its array, or keywords."""
    return (tuple(args) + (s, axes, norm)[len(args):])[:3]


def per_argument(g, args):
    """``g`` for the array, and no gradient for each of the ``args`` after it (lengths, axes, a norm)."""
    return (g,) + (None,) * len(args)


@nograd
def one_axis(x, axis):
    """``(axis,)``, counted from the front."""
    return (axis % np.ndim(x),)


# ------------------------------------------------------------------ complex to complex

@shaped(np.fft.fft, forward="linear")
def fft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return (complex_grad(dy, a, False, None, one_axis(a, axis), norm), None, None, None, None)


@shaped(np.fft.ifft, forward="linear")
def ifft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return (complex_grad(dy, a, True, None, one_axis(a, axis), norm), None, None, None, None)


@shaped(np.fft.fftn, forward="linear")
def fftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    return (complex_grad(dy, a, False, s, axes, norm), None, None, None, None)


@shaped(np.fft.ifftn, forward="linear")
def ifftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    return (complex_grad(dy, a, True, s, axes, norm), None, None, None, None)


# (fft2's default axes are the last two, not a literal srcgrad pastes into generated code: so fft2's rows are
# called by name, and give one gradient per positional argument they were passed.)

@shaped(np.fft.fft2, forward="linear")
def fft2(dy, y, a, *args, s=None, axes=(-2, -1), norm=None, out=None):
    return per_argument(two_axes_grad(dy, a, "fft", two_axes_options(args, s, axes, norm)), args)


@shaped(np.fft.ifft2, forward="linear")
def ifft2(dy, y, a, *args, s=None, axes=(-2, -1), norm=None, out=None):
    return per_argument(two_axes_grad(dy, a, "ifft", two_axes_options(args, s, axes, norm)), args)


# ------------------------------------------------------------------ real to half spectrum, and back

@shaped(np.fft.rfft, forward="linear")
def rfft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return (rfft_grad(dy, a, one_axis(a, axis), (n or np.shape(a)[axis],), norm), None, None, None, None)


@shaped(np.fft.rfftn, forward="linear")
def rfftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    return (real_grad(dy, a, s, axes, norm), None, None, None, None)


@shaped(np.fft.rfft2, forward="linear")
def rfft2(dy, y, a, *args, s=None, axes=(-2, -1), norm=None, out=None):
    return per_argument(two_axes_grad(dy, a, "rfft", two_axes_options(args, s, axes, norm)), args)


@shaped(np.fft.irfft, forward="linear")
def irfft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return (irfft_grad(dy, a, one_axis(a, axis), irfft_length(a, n, axis), norm), None, None, None, None)


@shaped(np.fft.irfftn, forward="linear")
def irfftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    return (inverse_real_grad(dy, a, s, axes, norm), None, None, None, None)


@shaped(np.fft.irfft2, forward="linear")
def irfft2(dy, y, a, *args, s=None, axes=(-2, -1), norm=None, out=None):
    return per_argument(two_axes_grad(dy, a, "irfft", two_axes_options(args, s, axes, norm)), args)


# ------------------------------------------------------------------ shifts

@shaped(np.fft.fftshift, forward="linear")
def fftshift(dy, y, x, axes=None):
    return (np.fft.ifftshift(dy, axes), None)


@shaped(np.fft.ifftshift, forward="linear")
def ifftshift(dy, y, x, axes=None):
    return (np.fft.fftshift(dy, axes), None)
