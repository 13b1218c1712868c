"""Convolutions and pooling over batches of 1-d and 2-d signals: ``conv conv_transpose conv_filter``,
``max_pool mean_pool`` and the two halves of max pooling's gradient, ``max_pool_gather max_pool_scatter``,
and ``mean_pool_spread``.

Layouts are PyTorch's: ``x`` is ``(batch, channels, *spatial)``, a convolution's weight
``(out, in // groups, *kernel)`` and a transposed one's ``(in, out // groups, *kernel)``, and the
results equal ``torch.nn.functional``'s number for number. ``stride``, ``dilation`` and ``pad`` are an
int or one per spatial axis; ``pad`` may also give ``(before, after)`` per axis, or be ``"same"``
(a convolution of stride 1 only, the odd one extra at the end, as PyTorch pads).

Why rules and not source srcgrad differentiates: the values are computed by strided views and one
matrix product (or a few slice-adds per kernel offset), which are fast but are views and in-place
writes, not maths; and the gradients are themselves these operations. A convolution is bilinear and
three operations are the three partial derivatives of one trilinear form ``<dy, conv(x, w)>``:
``conv`` (in ``dy``), ``conv_transpose`` (in ``x``) and ``conv_filter`` (in ``w``). Each one's
gradient is the other two, so every rule is a line in the others and can be differentiated again,
to any order, and each is linear in each argument, so forward mode applies it to the tangents.

Max pooling picks, in each window, the first largest element (in row-major order of the window, as
PyTorch does); its gradient sends each window's cotangent to that element (``max_pool_scatter``),
and the adjoint of that picks a cotangent at the same places (``max_pool_gather``). Both are linear
in their first argument and constant in ``x`` (which only says where): the derivative of the choice
is zero wherever it is defined. Mean pooling is linear and its gradient (``mean_pool_spread``)
spreads each window's cotangent evenly over it; each is the other's adjoint.

>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> conv(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]
array([[10., 18.],
       [42., 50.]])
>>> max_pool(x, (2, 2))[0, 0]
array([[ 5.,  7.],
       [13., 15.]])
"""

import functools

import numpy as np

from .registry import defrule, nograd

__all__ = ["conv", "conv_transpose", "conv_filter", "max_pool", "mean_pool", "max_pool_gather",
           "max_pool_scatter", "mean_pool_spread"]

shaped = functools.partial(defrule, _builtin=True, broadcast=False)
as_strided = np.lib.stride_tricks.as_strided


# ------------------------------------------------------------------ reading the arguments

def _key(value):
    """``value`` made hashable for the plans' caches (lists as tuples)."""
    return tuple(_key(v) for v in value) if isinstance(value, (list, tuple)) else value


def _ints(value, n, what):
    """``value`` (an int, or a sequence of ``n`` ints) as a tuple of ``n`` ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    items = tuple(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                    for v in items):
        raise ValueError(f"{what} should be an int or a tuple of {n} ints (one per spatial axis), got {value!r}")
    return tuple(int(v) for v in items)


def _positive(value, n, what):
    values = _ints(value, n, what)
    if min(values) < 1:
        raise ValueError(f"{what} should be at least 1, got {value!r}")
    return values


def _pairs(pad, n, kernel, dilation, stride):
    """``pad`` as ``((before, after), ...)`` per spatial axis; ``"same"`` as PyTorch pads (the extra one at the end)."""
    if isinstance(pad, str):
        if pad == "valid":
            return ((0, 0),) * n
        if pad != "same":
            raise ValueError(f"pad should be an int, a tuple, 'same' or 'valid', got {pad!r}")
        if stride is None or max(stride) != 1:
            raise ValueError(f"pad='same' needs stride 1 (as PyTorch's padding='same'), got stride {stride}")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(pad, (tuple, list)) and len(pad) == n and all(isinstance(p, (tuple, list)) for p in pad):
        pairs = tuple(_ints(p, 2, "each (before, after) of pad") for p in pad)
    else:
        pairs = tuple((p, p) for p in _ints(pad, n, "pad"))
    if min(min(p) for p in pairs) < 0:
        raise ValueError(f"pad should not be negative, got {pad!r}")
    return pairs


def _spatial(shape, n, what):
    if len(shape) != n + 2:
        axes = ("length",) if n == 1 else ("H", "W") if n == 2 else tuple(f"d{i}" for i in range(n))
        raise ValueError(f"{what} expects x of shape (batch, channels, {', '.join(axes)}) for a {n}-d "
                         f"kernel or window, got {shape}")


def _floating(x, w):
    """``x`` and ``w`` as arrays of one floating dtype: ``x``'s when it is floating (float32 stays float32)."""
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.result_type(np.asarray(w).dtype, np.float64)
    return x.astype(dtype, copy=False), np.asarray(w).astype(dtype, copy=False)


@functools.lru_cache(maxsize=512)
def _conv_plan(xshape, wshape, stride, pad, dilation, groups, what):
    """The checked geometry of a convolution of ``x`` by ``w``: strides, dilations, pad pairs, output sizes."""
    n = len(wshape) - 2
    if n < 1:
        raise ValueError(f"{what}: the weight should be (out, in // groups, *kernel), got shape {wshape}")
    _spatial(xshape, n, what)
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{what}: groups should be a positive int, got {groups!r}")
    kernel = wshape[2:]
    strides = _positive(stride, n, f"{what}: stride")
    dilations = _positive(dilation, n, f"{what}: dilation")
    pads = _pairs(pad, n, kernel, dilations, strides)
    sizes = []
    for length, k, s, d, (lo, hi) in zip(xshape[2:], kernel, strides, dilations, pads):
        reach = d * (k - 1) + 1
        if length + lo + hi < reach:
            raise ValueError(f"{what}: the kernel {tuple(kernel)} (dilation {dilations}) reaches {reach} but the "
                             f"padded input is {length + lo + hi} along an axis (x has shape {xshape}, pad {pads})")
        sizes.append((length + lo + hi - reach) // s + 1)
    return strides, dilations, pads, tuple(sizes)


def _check_channels(channels, w_in, out, groups, what):
    if out % groups or channels % groups:
        raise ValueError(f"{what}: groups={groups} should divide both the input channels ({channels}) "
                         f"and the output channels ({out})")
    if channels != w_in * groups:
        raise ValueError(f"{what}: x has {channels} channels but the weight expects {w_in * groups} "
                         f"({w_in} per group, {groups} groups)")


# ------------------------------------------------------------------ the three faces of a convolution

def _columns(x, kernel, strides, dilations, pads, sizes, groups):
    """``(batch, groups, in // groups * kernel, positions)``: the windows of the padded ``x``, a column each."""
    widths = ((0, 0), (0, 0)) + pads
    xp = np.pad(x, widths) if any(map(any, pads)) else x
    batch, channels = xp.shape[:2]
    step = xp.strides[2:]
    view = as_strided(xp, (batch, channels, *kernel, *sizes),
                      (*xp.strides[:2], *[t * d for t, d in zip(step, dilations)],
                       *[t * s for t, s in zip(step, strides)]), writeable=False)
    return view.reshape(batch, groups, -1, int(np.prod(sizes)))


def conv(x, w, stride=1, pad=0, dilation=1, groups=1):
    """The cross-correlation of ``x`` ``(batch, in, *spatial)`` with ``w`` ``(out, in // groups, *kernel)``,
    as ``torch.nn.functional.conv1d``/``conv2d``: ``(batch, out, *spatial_out)``.

    >>> conv(np.ones((2, 3, 5)), np.ones((4, 3, 3)), pad="same").shape
    (2, 4, 5)
    """
    x, w = _floating(x, w)
    strides, dilations, pads, sizes = _conv_plan(np.shape(x), w.shape, _key(stride), _key(pad), _key(dilation), groups,
                                                 "conv")
    _check_channels(x.shape[1], w.shape[1], w.shape[0], groups, "conv")
    cols = _columns(x, w.shape[2:], strides, dilations, pads, sizes, groups)
    return (w.reshape(groups, w.shape[0] // groups, -1) @ cols).reshape(x.shape[0], w.shape[0], *sizes)


def conv_filter(x, dy, kernel, stride=1, pad=0, dilation=1, groups=1):
    """The gradient of ``<dy, conv(x, w)>`` with respect to ``w``, whose kernel is ``kernel``: a weight
    ``(out, in // groups, *kernel)`` for ``out = dy.shape[1]``.

    >>> conv_filter(np.ones((2, 3, 5)), np.ones((2, 4, 3)), (3,)).shape
    (4, 3, 3)
    """
    x, dy = _floating(x, dy)
    kernel = tuple(kernel)
    wshape = (dy.shape[1], x.shape[1] // groups) + kernel
    strides, dilations, pads, sizes = _conv_plan(np.shape(x), wshape, _key(stride), _key(pad), _key(dilation), groups,
                                                 "conv_filter")
    _check_channels(x.shape[1], x.shape[1] // groups, dy.shape[1], groups, "conv_filter")
    if dy.shape != (x.shape[0], dy.shape[1]) + sizes:
        raise ValueError(f"conv_filter: dy has shape {dy.shape} but the convolution's output is "
                         f"{(x.shape[0], dy.shape[1]) + sizes}")
    cols = _columns(x, kernel, strides, dilations, pads, sizes, groups)
    per_sample = dy.reshape(x.shape[0], groups, dy.shape[1] // groups, -1) @ cols.transpose(0, 1, 3, 2)
    return per_sample.sum(axis=0).reshape(wshape)


def conv_transpose(x, w, stride=1, pad=0, dilation=1, groups=1, output_padding=0):
    """The transposed convolution of ``x`` ``(batch, in, *spatial)`` by ``w`` ``(in, out // groups, *kernel)``,
    as ``torch.nn.functional.conv_transpose1d``/``2d``: the gradient of ``conv`` in its input.

    Each axis grows to ``(n - 1) * stride - before - after + dilation * (k - 1) + 1 + output_padding``;
    ``output_padding`` (extra length at the end) must be smaller than the stride.

    >>> conv_transpose(np.ones((1, 2, 3, 3)), np.ones((2, 5, 2, 2)), stride=2).shape
    (1, 5, 6, 6)
    """
    x, w = _floating(x, w)
    n = w.ndim - 2
    _spatial(x.shape, n, "conv_transpose")
    if isinstance(pad, str) and pad != "valid":
        raise ValueError(f"conv_transpose: pad should be an int or a tuple, not {pad!r} (as PyTorch's)")
    strides = _positive(stride, n, "conv_transpose: stride")
    dilations = _positive(dilation, n, "conv_transpose: dilation")
    pads = _pairs(pad, n, w.shape[2:], dilations, strides)
    extra = _ints(output_padding, n, "conv_transpose: output_padding")
    if min(extra) < 0 or any(e >= s for e, s in zip(extra, strides)):
        raise ValueError(f"conv_transpose: output_padding should be at least 0 and smaller than the stride "
                         f"{strides}, got {output_padding!r}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv_transpose: groups should be a positive int, got {groups!r}")
    if x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ValueError(f"conv_transpose: x has {x.shape[1]} channels but the weight {w.shape} expects "
                         f"{w.shape[0]}, which groups={groups} should divide")
    batch, sizes, kernel = x.shape[0], x.shape[2:], w.shape[2:]
    full = tuple((m - 1) * s + d * (k - 1) + 1 + e for m, s, d, k, e in zip(sizes, strides, dilations, kernel, extra))
    if any(f - lo - hi < 1 for f, (lo, hi) in zip(full, pads)):
        raise ValueError(f"conv_transpose: pad {pads} leaves no output from x of shape {x.shape} and a kernel {kernel}")
    cin, per = w.shape[0] // groups, w.shape[1]  # (each group's input and output channels)
    # The batch axis last: each kernel offset then adds rows of a whole batch at a time.
    rows = np.moveaxis(x.reshape(batch, groups, cin, -1), 0, 3).reshape(groups, cin, -1)
    taps = w.reshape(groups, cin, per, -1).transpose(0, 3, 2, 1).reshape(groups, -1, cin)  # (groups, kernel * per, cin)
    cols = (taps @ rows).reshape(groups, *kernel, per, *sizes, batch)
    out = np.zeros((groups, per) + full + (batch,), dtype=cols.dtype)
    for offset in np.ndindex(*kernel):
        where = tuple(slice(i * d, i * d + (m - 1) * s + 1, s) for i, d, m, s in zip(offset, dilations, sizes, strides))
        out[(slice(None), slice(None)) + where] += cols[(slice(None),) + offset]
    out = out[(slice(None), slice(None)) + tuple(slice(lo, f - hi) for f, (lo, hi) in zip(full, pads))]
    return np.moveaxis(out, -1, 0).reshape(batch, groups * per, *out.shape[2:-1])


@nograd
def kernel_of(w):
    """The kernel of a weight ``(out, in // groups, *kernel)``."""
    return tuple(np.shape(w)[2:])


@nograd
def pad_pairs(x, kernel, stride, pad, dilation):
    """``pad`` of a convolution of ``x`` by ``kernel`` as ``(before, after)`` pairs (``"same"`` resolved)."""
    n = len(kernel)
    return _pairs(pad, n, kernel, _positive(dilation, n, "dilation"), _positive(stride, n, "stride"))


@nograd
def leftover(x, kernel, stride, pad, dilation):
    """Per axis, the input the last window of a strided convolution leaves out: ``conv_transpose``'s
    ``output_padding`` that gives back ``x``'s shape."""
    n = len(kernel)
    strides, dilations = _positive(stride, n, "stride"), _positive(dilation, n, "dilation")
    pads = _pairs(pad, n, kernel, dilations, strides)
    return tuple((m + lo + hi - d * (k - 1) - 1) % s
                 for m, k, s, d, (lo, hi) in zip(np.shape(x)[2:], kernel, strides, dilations, pads))


def like(g, w):
    """The gradient ``g`` in ``w``'s dtype (float32 data, float64 weights: a float64 gradient)."""
    return g.astype(w.dtype, copy=False)


@shaped(conv, forward="linear")
def conv_grad(dy, y, x, w, stride=1, pad=0, dilation=1, groups=1):
    return (conv_transpose(dy, w, stride, pad_pairs(x, kernel_of(w), stride, pad, dilation), dilation, groups,
                           leftover(x, kernel_of(w), stride, pad, dilation)),
            like(conv_filter(x, dy, kernel_of(w), stride, pad, dilation, groups), w), None, None, None, None)


@shaped(conv_transpose, forward="linear")
def conv_transpose_grad(dy, y, x, w, stride=1, pad=0, dilation=1, groups=1, output_padding=0):
    return (conv(dy, w, stride, pad, dilation, groups),
            like(conv_filter(dy, x, kernel_of(w), stride, pad, dilation, groups), w), None, None, None, None, None)


@shaped(conv_filter, forward="linear")
def conv_filter_grad(dv, v, x, dy, kernel, stride=1, pad=0, dilation=1, groups=1):
    return (conv_transpose(dy, dv, stride, pad_pairs(x, kernel, stride, pad, dilation), dilation, groups,
                           leftover(x, kernel, stride, pad, dilation)),
            conv(x, dv, stride, pad, dilation, groups), None, None, None, None, None)


# ------------------------------------------------------------------ pooling

@functools.lru_cache(maxsize=512)
def _pool_plan(xshape, window, stride, pad, what):
    """The checked geometry of a pooling: window, strides, pads and output sizes."""
    if not isinstance(window, tuple) or not window:
        raise ValueError(f"{what}: window should be a tuple, (k,) for 1-d or (kh, kw) for 2-d, got {window!r}")
    n = len(window)
    window = _positive(window, n, f"{what}: window")
    strides = window if stride is None else _positive(stride, n, f"{what}: stride")
    pads = _ints(pad, n, f"{what}: pad")
    if min(pads) < 0 or any(2 * p > k for p, k in zip(pads, window)):
        raise ValueError(f"{what}: pad should be at least 0 and at most half the window {window} "
                         f"(as PyTorch's), got {pad!r}")
    _spatial(xshape, n, what)
    sizes = []
    for length, k, s, p in zip(xshape[2:], window, strides, pads):
        if length + 2 * p < k:
            raise ValueError(f"{what}: the window {window} is larger than the padded input "
                             f"(x has shape {xshape}, pad {pads})")
        sizes.append((length + 2 * p - k) // s + 1)
    return window, strides, pads, tuple(sizes)


def _pool_key(x, window, stride, pad):
    return np.shape(x), _key(window), _key(stride), _key(pad)


def _padded(x, pads, value):
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in pads), constant_values=value)


def _slices(offset, strides, sizes):
    """Where the window element at ``offset`` sits for each output position, in the padded input."""
    return (slice(None), slice(None)) + tuple(slice(i, i + (m - 1) * s + 1, s)
                                              for i, s, m in zip(offset, strides, sizes))


def _lowest(dtype):
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _firsts(x, window, strides, pads, sizes):
    """``(where, hit)`` for each element of the window in row-major order: where it sits in the padded ``x``
    for each output position, and whether it is that window's first largest element (or first NaN)."""
    xp = _padded(x, pads, _lowest(x.dtype))
    parts = [(where, xp[where]) for where in (_slices(offset, strides, sizes) for offset in np.ndindex(*window))]
    top = parts[0][1].copy()
    for _, part in parts[1:]:
        np.maximum(top, part, out=top)  # (a NaN wins, as in max_pool's value)
    nan = xp.dtype.kind == "f" and bool(np.isnan(top).any())
    free = np.ones(top.shape, dtype=bool)  # (windows whose first largest is still to come)
    for where, part in parts:
        hit = part == top
        if nan:
            hit |= np.isnan(part)
        hit &= free
        free ^= hit
        yield where, hit


def max_pool(x, window, stride=None, pad=0):
    """The largest element of each window of ``x`` ``(batch, channels, *spatial)``, padded with ``-inf``,
    as ``torch.nn.functional.max_pool1d``/``2d``; ``stride`` defaults to the window.

    >>> max_pool(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), (2,))
    array([[[3., 5.]]])
    """
    x = np.asarray(x)
    window, strides, pads, sizes = _pool_plan(*_pool_key(x, window, stride, pad), "max_pool")
    xp = _padded(x, pads, _lowest(x.dtype))
    offsets = list(np.ndindex(*window))
    out = xp[_slices(offsets[0], strides, sizes)].copy()
    for offset in offsets[1:]:
        np.maximum(out, xp[_slices(offset, strides, sizes)], out=out)
    return out


def max_pool_gather(u, x, window, stride=None, pad=0):
    """``u`` (shaped like ``x``) at the element ``max_pool(x, ...)`` picks in each window: the tangent of max
    pooling."""
    x, u = np.asarray(x), np.asarray(u)
    window, strides, pads, sizes = _pool_plan(*_pool_key(x, window, stride, pad), "max_pool_gather")
    up = _padded(u, pads, 0)
    out = np.zeros(np.shape(up)[:2] + sizes, dtype=up.dtype)
    finite = bool(np.isfinite(up).all()) if up.dtype.kind in "fc" else True
    for where, hit in _firsts(x, window, strides, pads, sizes):
        out += hit * up[where] if finite else np.where(hit, up[where], 0)  # (0 * inf is NaN)
    return out


def max_pool_scatter(dy, x, window, stride=None, pad=0):
    """Each window's ``dy`` added at the element ``max_pool(x, ...)`` picks in it: the gradient of max pooling."""
    x, dy = np.asarray(x), np.asarray(dy)
    window, strides, pads, sizes = _pool_plan(*_pool_key(x, window, stride, pad), "max_pool_scatter")
    padded = x.shape[:2] + tuple(m + 2 * p for m, p in zip(x.shape[2:], pads))
    out = np.zeros(padded, dtype=dy.dtype if dy.dtype.kind == "f" else np.float64)
    apart = all(s >= k for s, k in zip(strides, window))  # (no two windows overlap: each element is written once)
    finite = bool(np.isfinite(dy).all()) if dy.dtype.kind in "fc" else True
    for where, hit in _firsts(x, window, strides, pads, sizes):
        part = hit * dy if finite else np.where(hit, dy, 0)  # (0 * inf is NaN)
        if apart:
            out[where] = part
        else:
            out[where] += part
    return out[(slice(None), slice(None)) + tuple(slice(p, p + m) for p, m in zip(pads, x.shape[2:]))]


def mean_pool(x, window, stride=None, pad=0):
    """The mean of each window of ``x`` ``(batch, channels, *spatial)``, padded with zeros that count, as
    ``torch.nn.functional.avg_pool1d``/``2d`` (``count_include_pad=True``); ``stride`` defaults to the window.

    >>> mean_pool(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), (2,))
    array([[[2. , 3.5]]])
    """
    x = np.asarray(x)
    window, strides, pads, sizes = _pool_plan(*_pool_key(x, window, stride, pad), "mean_pool")
    xp = _padded(x if x.dtype.kind == "f" else x.astype(np.float64), pads, 0)
    offsets = list(np.ndindex(*window))
    out = xp[_slices(offsets[0], strides, sizes)].copy()
    for offset in offsets[1:]:
        out += xp[_slices(offset, strides, sizes)]
    return out / out.dtype.type(len(offsets))


def mean_pool_spread(dy, shape, window, stride=None, pad=0):
    """Each window's ``dy`` spread evenly over it, into an array of ``shape`` (the input's): the gradient of
    mean pooling, and its adjoint."""
    dy = np.asarray(dy)
    shape = tuple(shape)
    window, strides, pads, sizes = _pool_plan(shape, _key(window), _key(stride), _key(pad), "mean_pool_spread")
    if dy.shape != shape[:2] + sizes:
        raise ValueError(f"mean_pool_spread: dy has shape {dy.shape} but the pooling's output is {shape[:2] + sizes}")
    part = dy / dy.dtype.type(int(np.prod(window))) if dy.dtype.kind == "f" else dy / float(np.prod(window))
    out = np.zeros(shape[:2] + tuple(m + 2 * p for m, p in zip(shape[2:], pads)), dtype=part.dtype)
    for offset in np.ndindex(*window):
        out[_slices(offset, strides, sizes)] += part
    return out[(slice(None), slice(None)) + tuple(slice(p, p + m) for p, m in zip(pads, shape[2:]))]


def max_pool_tangent(dargs, y, x, window, stride=None, pad=0):
    """The tangent of ``x`` at the elements max pooling picks."""
    return max_pool_gather(dargs[0], x, window, stride, pad)


@shaped(max_pool, forward=max_pool_tangent)
def max_pool_grad(dy, y, x, window, stride=None, pad=0):
    return (max_pool_scatter(dy, x, window, stride, pad), None, None, None)


@shaped(max_pool_gather, forward="linear-in-first")  # (x says where, its tangent goes nowhere)
def max_pool_gather_grad(dy, y, u, x, window, stride=None, pad=0):
    return (max_pool_scatter(dy, x, window, stride, pad), None, None, None, None)


@shaped(max_pool_scatter, forward="linear-in-first")
def max_pool_scatter_grad(dz, z, dy, x, window, stride=None, pad=0):
    return (max_pool_gather(dz, x, window, stride, pad), None, None, None, None)


@shaped(mean_pool, forward="linear")
def mean_pool_grad(dy, y, x, window, stride=None, pad=0):
    return (mean_pool_spread(dy, np.shape(x), window, stride, pad), None, None, None)


@shaped(mean_pool_spread, forward="linear")
def mean_pool_spread_grad(dz, z, dy, shape, window, stride=None, pad=0):
    return (mean_pool(dz, window, stride, pad), None, None, None, None)
