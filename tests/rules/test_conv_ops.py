"""Rules for convolutions and pooling (srcgrad/rules/conv.py): ``conv conv_transpose conv_filter max_pool
mean_pool`` and the halves of their gradients, ``max_pool_gather max_pool_scatter mean_pool_spread``.

The table checks each against central differences, inline and passed in, in both modes, and (every row)
to second order; below it, each op's value against a naive loop over every output element (obviously
right, no torch needed), against ``torch.nn.functional`` over a grid of stride, pad, dilation and groups
(values and the gradient of every argument, float64, to 1e-10), the choice max pooling makes at a tie,
dtypes, and the errors for bad arguments.
"""

import itertools

import numpy as np
import pytest

import srcgrad
from srcgrad.rules.conv import (conv, conv_filter, conv_transpose, leftover, max_pool, max_pool_gather,
                                max_pool_scatter, mean_pool, mean_pool_spread, pad_pairs)

from .specs import Spec, check_forward_over_reverse, check_second_order, params, table_tests

OPS = "srcgrad.rules.conv."

SPECS = [
    Spec(conv, OPS + "conv(a, b)", [((2, 2, 5), (3, 2, 3)), ((1, 2, 4, 4), (2, 2, 2, 3))]),
    Spec(conv, OPS + "conv(a, b, 2, 1, 2, 1)", [((1, 2, 7), (2, 2, 2)), ((1, 1, 5, 6), (2, 1, 3, 2))]),
    Spec(conv, OPS + "conv(a, b, pad='same', groups=2)", [((1, 4, 5), (2, 2, 2)), ((2, 2, 3, 4), (4, 1, 2, 3))]),
    Spec(conv, OPS + "conv(a, b, stride=(2, 1), pad=((1, 0), (0, 2)))", [((1, 2, 5, 4), (3, 2, 2, 2))]),
    Spec(conv_transpose, OPS + "conv_transpose(a, b)", [((2, 3, 4), (3, 2, 2)), ((1, 2, 3, 3), (2, 1, 2, 2))]),
    Spec(conv_transpose, OPS + "conv_transpose(a, b, 2, 1, 1, 2, 1)", [((1, 2, 4), (2, 2, 3)),
                                                                         ((1, 4, 3, 2), (4, 1, 2, 3))]),
    Spec(conv_transpose, OPS + "conv_transpose(a, b, stride=3, dilation=2)", [((1, 2, 3, 2), (2, 2, 2, 2))]),
    Spec(conv_filter, OPS + "conv_filter(a, b, (3,))", [((2, 2, 5), (2, 3, 3))]),
    Spec(conv_filter, OPS + "conv_filter(a, b, (2, 2), 2, 1, 1, 2)", [((1, 4, 4, 5), (1, 2, 3, 3))]),
    Spec(conv_filter, OPS + "conv_filter(a, b, (3,), pad='same', dilation=2)", [((1, 2, 6), (1, 3, 6))]),
    Spec(max_pool, OPS + "max_pool(a, (2,))", [(2, 3, 6), (1, 2, 5)]),
    Spec(max_pool, OPS + "max_pool(a, (2, 2))", [(2, 2, 4, 4), (1, 1, 5, 3)]),
    Spec(max_pool, OPS + "max_pool(a, (3, 2), stride=1, pad=(1, 1))", [(1, 2, 4, 3)]),
    Spec(max_pool_gather, OPS + "max_pool_gather(a, b, (2, 2))", [((1, 2, 4, 4), (1, 2, 4, 4))]),
    Spec(max_pool_gather, OPS + "max_pool_gather(a, b, (3,), 1, 1)", [((2, 1, 5), (2, 1, 5))]),
    Spec(max_pool_scatter, OPS + "max_pool_scatter(a, b, (2, 2))", [((1, 2, 2, 2), (1, 2, 4, 5))]),
    Spec(max_pool_scatter, OPS + "max_pool_scatter(a, b, (3,), 1, 1)", [((2, 1, 5), (2, 1, 5))]),
    Spec(mean_pool, OPS + "mean_pool(a, (2,))", [(2, 3, 6), (1, 2, 5)]),
    Spec(mean_pool, OPS + "mean_pool(a, (2, 3), stride=(1, 2), pad=1)", [(1, 2, 4, 5)]),
    Spec(mean_pool_spread, OPS + "mean_pool_spread(a, (1, 2, 5, 4), (2, 2))", [(1, 2, 2, 2)]),
    Spec(mean_pool_spread, OPS + "mean_pool_spread(a, (2, 1, 5), (3,), 1, 1)", [(2, 1, 5)]),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)


@pytest.mark.parametrize("spec, case", params(SPECS, last_case_only=True))
def test_every_row_to_second_order(spec, case, tmp_path_factory):
    """Each rule's gradient is written in the other ops, so it is differentiated again in both modes."""
    check_second_order(spec, case, tmp_path_factory)
    check_forward_over_reverse(spec, case, tmp_path_factory)


# ------------------------------------------------------------------ against a naive loop (no torch needed)

def naive_conv(x, w, stride, pads, dilation, groups):
    """Every output element as the sum its definition says, padding by hand."""
    n = w.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    out_per, in_per = w.shape[0] // groups, w.shape[1]
    sizes = [(xp.shape[2 + i] - dilation[i] * (w.shape[2 + i] - 1) - 1) // stride[i] + 1 for i in range(n)]
    y = np.zeros((x.shape[0], w.shape[0], *sizes))
    for b, o in itertools.product(range(x.shape[0]), range(w.shape[0])):
        g = o // out_per
        for pos in np.ndindex(*sizes):
            total = 0.0
            for c in range(in_per):
                for k in np.ndindex(*w.shape[2:]):
                    at = tuple(pos[i] * stride[i] + k[i] * dilation[i] for i in range(n))
                    total += xp[(b, g * in_per + c) + at] * w[(o, c) + k]
            y[(b, o) + pos] = total
    return y


def naive_conv_transpose(x, w, stride, pads, dilation, groups, extra):
    """Each input element times the kernel, added where it lands, then the pad cut off."""
    n = w.ndim - 2
    in_per, out_per = w.shape[0] // groups, w.shape[1]
    full = [(x.shape[2 + i] - 1) * stride[i] + dilation[i] * (w.shape[2 + i] - 1) + 1 + extra[i] for i in range(n)]
    y = np.zeros((x.shape[0], groups * out_per, *full))
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        g = c // in_per
        for pos in np.ndindex(*x.shape[2:]):
            for o in range(out_per):
                for k in np.ndindex(*w.shape[2:]):
                    at = tuple(pos[i] * stride[i] + k[i] * dilation[i] for i in range(n))
                    y[(b, g * out_per + o) + at] += x[(b, c) + pos] * w[(c, o) + k]
    return y[(slice(None), slice(None)) + tuple(slice(lo, f - hi) for f, (lo, hi) in zip(full, pads))]


def naive_pool(x, window, stride, pad, reduce, fill):
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in pad), constant_values=fill)
    sizes = [(xp.shape[2 + i] - window[i]) // stride[i] + 1 for i in range(len(window))]
    y = np.zeros(x.shape[:2] + tuple(sizes))
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in np.ndindex(*sizes):
            y[(b, c) + pos] = reduce(xp[(b, c) + tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, window))])
    return y


GEOMETRIES = [  # (spatial shape, kernel, stride, pad, dilation, groups)
    ((7,), (3,), (1,), ((0, 0),), (1,), 1),
    ((8,), (2,), (3,), ((2, 1),), (2,), 2),
    ((5, 6), (3, 2), (2, 1), ((1, 1), (0, 2)), (1, 2), 1),
    ((6, 5), (2, 3), (1, 2), ((0, 1), (2, 2)), (2, 1), 2),
]


@pytest.mark.parametrize("spatial, kernel, stride, pads, dilation, groups", GEOMETRIES)
def test_conv_and_its_transpose_equal_the_naive_loops(spatial, kernel, stride, pads, dilation, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4) + spatial)
    w = rng.standard_normal((6, 4 // groups) + kernel)
    y = conv(x, w, stride, pads, dilation, groups)
    np.testing.assert_allclose(y, naive_conv(x, w, stride, pads, dilation, groups), rtol=1e-12, atol=1e-12)
    extra = leftover(x, kernel, stride, pads, dilation)
    wt = rng.standard_normal((6, 4 // groups) + kernel)
    np.testing.assert_allclose(conv_transpose(y, wt, stride, pads, dilation, groups, extra),
                               naive_conv_transpose(y, wt, stride, pads, dilation, groups, extra), rtol=1e-12, atol=1e-12)
    assert conv_transpose(y, w, stride, pads, dilation, groups, extra).shape == x.shape  # (the input gradient's shape)


@pytest.mark.parametrize("window, stride, pad", [((2,), (2,), (0,)), ((3,), (1,), (1,)), ((2, 2), (2, 2), (0, 0)),
                                                 ((3, 2), (2, 1), (1, 1))])
def test_pools_equal_the_naive_loops(window, stride, pad):
    x = np.random.default_rng(2).standard_normal((2, 3) + (7, 6)[:len(window)])
    np.testing.assert_array_equal(max_pool(x, window, stride, pad), naive_pool(x, window, stride, pad, np.max, -np.inf))
    np.testing.assert_allclose(mean_pool(x, window, stride, pad), naive_pool(x, window, stride, pad, np.mean, 0.0),
                               rtol=1e-12)


def test_a_convolutions_three_faces_are_adjoint():
    """``<dy, conv(x, w)> == <conv_transpose(dy, w), x> == <conv_filter(x, dy), w>`` (the same trilinear form)."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))
    geometry = ((2, 1), ((1, 0), (1, 1)), (1, 2), 2)
    dy = rng.standard_normal(conv(x, w, *geometry).shape)
    pads = pad_pairs(x, (3, 2), (2, 1), geometry[1], (1, 2))
    dx = conv_transpose(dy, w, (2, 1), pads, (1, 2), 2, leftover(x, (3, 2), (2, 1), geometry[1], (1, 2)))
    form = np.sum(dy * conv(x, w, *geometry))
    np.testing.assert_allclose(np.sum(dx * x), form, rtol=1e-12)
    np.testing.assert_allclose(np.sum(conv_filter(x, dy, (3, 2), *geometry) * w), form, rtol=1e-12)


# ------------------------------------------------------------------ against torch.nn.functional

def torch_grads(fn, *arrays, cotangent_seed=5):
    """``(value, cotangent, gradients)`` of ``fn`` of float64 tensors, the gradient of ``<cotangent, fn(...)>``."""
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors)
    dy = np.random.default_rng(cotangent_seed).standard_normal(tuple(y.shape))
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), dy, [t.grad.numpy() for t in tensors]


def srcgrad_grads(fn, dy, *arrays):
    y, back = srcgrad.pullback(fn, *arrays)
    return y, back(dy)


def conv_call(x, w, stride, pad, dilation, groups):
    return conv(x, w, stride, pad, dilation, groups)


def conv_transpose_call(x, w, stride, pad, dilation, groups, extra):
    return conv_transpose(x, w, stride, pad, dilation, groups, extra)


GRID = [(n, stride, pad, dilation, groups) for n in (1, 2) for stride in (1, 2) for pad in (0, 1, "same")
        for dilation in (1, 2) for groups in (1, 2) if not (pad == "same" and stride != 1)]


@pytest.mark.parametrize("n, stride, pad, dilation, groups", GRID)
def test_conv_agrees_with_torch(n, stride, pad, dilation, groups):
    F = pytest.importorskip("torch.nn.functional")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4) + (9, 8)[:n])
    w = rng.standard_normal((6, 4 // groups) + (3, 2)[:n])
    torch_fn = F.conv1d if n == 1 else F.conv2d
    expected, dy, (gx, gw) = torch_grads(lambda a, b: torch_fn(a, b, stride=stride, padding=pad, dilation=dilation,
                                                               groups=groups), x, w)
    y, (dx, dw, *_) = srcgrad_grads(conv_call, dy, x, w, stride, pad, dilation, groups)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, gx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, gw, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n, stride, pad, dilation, groups, extra",
                         [(n, s, p, d, g, e) for n, s, p, d, g in GRID if p != "same" for e in range(s)])
def test_conv_transpose_agrees_with_torch(n, stride, pad, dilation, groups, extra):
    F = pytest.importorskip("torch.nn.functional")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4) + (5, 4)[:n])
    w = rng.standard_normal((4, 6 // groups) + (3, 2)[:n])
    torch_fn = F.conv_transpose1d if n == 1 else F.conv_transpose2d
    expected, dy, (gx, gw) = torch_grads(lambda a, b: torch_fn(a, b, stride=stride, padding=pad, dilation=dilation,
                                                               groups=groups, output_padding=extra), x, w)
    y, (dx, dw, *_) = srcgrad_grads(conv_transpose_call, dy, x, w, stride, pad, dilation, groups, extra)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, gx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, gw, rtol=1e-10, atol=1e-10)


def max_pool_call(x, window, stride, pad):
    return max_pool(x, window, stride, pad)


def mean_pool_call(x, window, stride, pad):
    return mean_pool(x, window, stride, pad)


POOLS = [(window, stride, pad) for window in ((2,), (3,), (2, 2), (3, 2)) for stride in (None, 1, 2)
         for pad in (0, 1)]


@pytest.mark.parametrize("window, stride, pad", POOLS)
def test_pools_agree_with_torch(window, stride, pad):
    F = pytest.importorskip("torch.nn.functional")
    n = len(window)
    x = np.random.default_rng(6).standard_normal((2, 3) + (7, 6)[:n])
    for ours, theirs in ((max_pool_call, F.max_pool1d if n == 1 else F.max_pool2d),
                         (mean_pool_call, F.avg_pool1d if n == 1 else F.avg_pool2d)):
        expected, dy, (gx,) = torch_grads(lambda a: theirs(a, window, stride=stride, padding=pad), x)
        y, (dx, *_) = srcgrad_grads(ours, dy, x, window, stride, pad)
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, gx, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ ties, dtypes, NaN

def test_max_pool_gives_a_tie_to_the_first_largest_as_torch_does():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]]])  # one 2x3 window with four 3s
    (dx,) = srcgrad.gradient(lambda v: np.sum(max_pool(v, (2, 3))), x)
    np.testing.assert_array_equal(dx, [[[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])
    relu_zeros = np.zeros((1, 1, 2, 4))  # (what a relu leaves: ties everywhere)
    (dz,) = srcgrad.gradient(lambda v: np.sum(max_pool(v, (2, 2), stride=1)), relu_zeros)
    np.testing.assert_array_equal(dz, [[[[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    torch = pytest.importorskip("torch")
    for v, d in ((x, dx), (relu_zeros, dz)):
        t = torch.tensor(v, requires_grad=True)
        torch.nn.functional.max_pool2d(t, v.shape[2:] if v is x else (2, 2), stride=None if v is x else 1).sum().backward()
        np.testing.assert_array_equal(t.grad.numpy(), d)


def test_an_infinite_cotangent_stays_where_max_pool_sent_it():
    x = np.array([[[1.0, 2.0, 4.0, 3.0]]])
    np.testing.assert_array_equal(max_pool_scatter(np.array([[[np.inf, -1.0]]]), x, (2,)), [[[0.0, np.inf, -1.0, 0.0]]])


def test_max_pool_picks_the_first_nan_as_torch_does():
    x = np.array([[[1.0, np.nan, 2.0, np.nan]]])
    assert np.isnan(max_pool(x, (4,))).all()
    np.testing.assert_array_equal(max_pool_scatter(np.array([[[5.0]]]), x, (4,)), [[[0.0, 5.0, 0.0, 0.0]]])


@pytest.mark.parametrize("call", [lambda x: conv(x, np.ones((2, 3, 2))), lambda x: conv_transpose(x, np.ones((3, 2, 2))),
                                  lambda x: max_pool(x, (2,)), lambda x: mean_pool(x, (2,))])
def test_float32_in_float32_out(call):
    x = np.ones((1, 3, 6), dtype=np.float32)
    assert call(x).dtype == np.float32
    assert call(x.astype(np.float64)).dtype == np.float64


def test_float32_data_gives_a_float64_weight_its_own_dtype_of_gradient():
    x, w = np.ones((1, 3, 6), dtype=np.float32), np.ones((2, 3, 2))
    dx, dw = srcgrad.gradient(lambda a, b: np.sum(conv(a, b)), x, w)
    assert dx.dtype == np.float32 and dw.dtype == np.float64
    np.testing.assert_allclose(dw, 5.0)


# ------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("call, message", [
    (lambda: conv(np.ones((2, 3, 5)), np.ones((4, 3, 2, 2))), r"expects x of shape \(batch, channels, H, W\).*got \(2, 3, 5\)"),
    (lambda: conv(np.ones((2, 3, 5)), np.ones((4, 2, 2))), "x has 3 channels but the weight expects 2"),
    (lambda: conv(np.ones((2, 4, 5)), np.ones((3, 2, 2)), groups=2), "groups=2 should divide"),
    (lambda: conv(np.ones((1, 1, 3)), np.ones((1, 1, 4))), r"kernel \(4,\).*reaches 4 but the padded input is 3"),
    (lambda: conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), dilation=3), "reaches 4"),
    (lambda: conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)), stride=2, pad="same"), "pad='same' needs stride 1"),
    (lambda: conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)), stride=0), "stride should be at least 1"),
    (lambda: conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)), pad=-1), "should not be negative"),
    (lambda: conv(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), stride=(1, 2, 3)), r"tuple of 2 ints"),
    (lambda: conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)), pad="full"), "'same' or 'valid'"),
    (lambda: conv_transpose(np.ones((1, 2, 5)), np.ones((2, 1, 3)), stride=2, output_padding=2), "smaller than the stride"),
    (lambda: conv_transpose(np.ones((1, 2, 5)), np.ones((2, 1, 3)), pad="same"), "not 'same'"),
    (lambda: conv_transpose(np.ones((1, 3, 5)), np.ones((2, 1, 3))), "x has 3 channels"),
    (lambda: conv_transpose(np.ones((1, 2, 1)), np.ones((2, 1, 1)), pad=1), "leaves no output"),
    (lambda: max_pool(np.ones((1, 1, 5)), 2), "window should be a tuple"),
    (lambda: max_pool(np.ones((1, 1, 5)), (2,), pad=2), "at most half the window"),
    (lambda: max_pool(np.ones((1, 1, 1)), (2,)), "larger than the padded input"),
    (lambda: mean_pool(np.ones((5, 5)), (2, 2)), r"expects x of shape \(batch, channels, H, W\)"),
])
def test_bad_arguments_are_refused_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()
