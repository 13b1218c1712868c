"""Convolution layers (srcgrad/models/conv.py): Conv and ConvTranspose, 1-d and 2-d.

Gradients of the weights, the bias and the input against central differences and forward mode;
the same weights in torch.nn give the same outputs and gradients (float64, to 1e-10) over a grid of
stride, pad, dilation and groups; the value srcgrad computes is the plain call's; one unbatched
sample; float32; PyTorch's initialisation; printing, saving; and the errors for bad input.
"""

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, load, logitcrossentropy, relu, save, tanh
from srcgrad.models.conv import Conv, ConvTranspose
from srcgrad.models.pooling import Flatten, MaxPool

from .modelcheck import check_model_gradient

RNG = np.random.default_rng(7)


def weighted(m, x):
    """A scalar of every output element, curved so that second derivatives are not zero."""
    y = m(x)
    return np.sum(np.sin(y) * np.linspace(0.5, 1.5, y.size).reshape(y.shape))


def randomise_bias(layer):
    if layer.bias:
        layer.b[:] = RNG.standard_normal(layer.b.shape)
    return layer


# ------------------------------------------------------------------ gradients against central differences

@pytest.mark.parametrize("layer, shape", [
    (Conv((3,), 2, 3, rng=0), (2, 2, 6)),
    (Conv((2,), 2, 4, tanh, stride=2, pad=1, dilation=2, groups=2, rng=1), (1, 2, 7)),
    (Conv((2, 3), 2, 2, relu, pad="same", rng=2), (2, 2, 4, 4)),
    (Conv((2, 2), 4, 2, stride=(2, 1), pad=((1, 0), (0, 1)), groups=2, bias=False, rng=3), (1, 4, 5, 4)),
    (ConvTranspose((3,), 2, 3, rng=4), (2, 2, 4)),
    (ConvTranspose((2, 2), 2, 4, tanh, stride=2, pad=1, groups=2, output_padding=1, rng=5), (1, 2, 3, 3)),
    (ConvTranspose((2, 3), 3, 2, stride=(1, 2), dilation=(2, 1), bias=False, rng=6), (2, 3, 3, 2)),
])
def test_gradients_of_weights_bias_and_input(layer, shape):
    randomise_bias(layer)
    x = RNG.standard_normal(shape)
    grads = check_model_gradient(weighted, layer, x)
    assert grads[0]["W"].shape == layer.W.shape
    assert ("b" in grads[0]) == layer.bias
    # Forward mode agrees with reverse: <jvp(dx), 1> for the input's tangent.
    dx = RNG.standard_normal(shape)
    value, tangent = srcgrad.jvp(lambda v: weighted(layer, v), (x,), (dx,))
    assert value == weighted(layer, x)
    np.testing.assert_allclose(tangent, np.sum(grads[1] * dx), rtol=1e-10)


def test_a_small_lenet_trains_through_conv_pool_flatten_dense():
    model = Chain(Conv((3, 3), 1, 2, relu, rng=0), MaxPool((2, 2)), Conv((2, 2), 2, 3, relu, rng=1), Flatten(),
                  Dense(3, 3, rng=2))
    randomise_bias(model[0])
    randomise_bias(model[2])
    x, y = RNG.standard_normal((2, 1, 7, 7)), np.eye(3)[[0, 2]]
    check_model_gradient(lambda m, x, y: logitcrossentropy(m(x), y), model, x, y)


def test_second_order_through_a_conv_layer():
    """The rules' gradients are written in the convolutions themselves: a Hessian-vector product is right."""
    layer = randomise_bias(Conv((2,), 2, 2, rng=8))
    x = RNG.standard_normal((1, 2, 4))

    def input_gradient_sum(v):
        return np.sum(srcgrad.gradient(lambda u: weighted(layer, u), v)[0] * np.arange(v.size).reshape(v.shape))

    (g,) = srcgrad.gradient(input_gradient_sum, x)
    eps, numeric = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        numeric[i] = (input_gradient_sum(x + step) - input_gradient_sum(x - step)) / (2 * eps)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7)


def test_srcgrads_value_is_the_plain_call():
    layer = randomise_bias(Conv((3, 3), 2, 4, relu, stride=2, pad=1, rng=9))
    x = RNG.standard_normal((3, 2, 8, 7))
    value, _ = srcgrad.withgradient(weighted, layer, x)
    assert value == weighted(layer, x)
    y, _ = srcgrad.pullback(lambda v: layer(v), x)
    np.testing.assert_array_equal(y, layer(x))


# ------------------------------------------------------------------ the same numbers as torch.nn

GRID = [(n, stride, pad, dilation, groups, bias) for n in (1, 2) for stride in (1, 2) for pad in (0, 2, "same")
        for dilation in (1, 2) for groups in (1, 2) for bias in (True, False)
        if not (pad == "same" and stride != 1)]


def torch_layer(torch, kind, n, ours, **options):
    cls = getattr(torch.nn, f"{kind}{n}d")
    layer = cls(**options).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(ours.W))
        if ours.bias:
            layer.bias.copy_(torch.tensor(ours.b))
    return layer


def compare_with_torch(torch, ours, theirs, x):
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    dy = np.random.default_rng(3).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(dy))
    y, back = srcgrad.pullback(lambda m, v: m(v), ours, x)
    dmodel, dx = back(dy)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dmodel["W"], theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
    if ours.bias:
        np.testing.assert_allclose(dmodel["b"], theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n, stride, pad, dilation, groups, bias", GRID)
def test_conv_agrees_with_torch(n, stride, pad, dilation, groups, bias):
    torch = pytest.importorskip("torch")
    kernel = (3, 2)[:n]
    ours = Conv(kernel, 4, 6, stride=stride, pad=pad, dilation=dilation, groups=groups, bias=bias, rng=10)
    if bias:
        randomise_bias(ours)
    theirs = torch_layer(torch, "Conv", n, ours, in_channels=4, out_channels=6, kernel_size=kernel, stride=stride,
                         padding=pad, dilation=dilation, groups=groups, bias=bias)
    compare_with_torch(torch, ours, theirs, RNG.standard_normal((2, 4) + (9, 8)[:n]))


@pytest.mark.parametrize("n, stride, pad, dilation, groups, bias", [g for g in GRID if g[2] != "same"])
def test_conv_transpose_agrees_with_torch(n, stride, pad, dilation, groups, bias):
    torch = pytest.importorskip("torch")
    kernel = (3, 2)[:n]
    extra = stride - 1
    ours = ConvTranspose(kernel, 4, 6, stride=stride, pad=pad, dilation=dilation, groups=groups, bias=bias,
                         output_padding=extra, rng=11)
    theirs = torch_layer(torch, "ConvTranspose", n, ours, in_channels=4, out_channels=6, kernel_size=kernel,
                         stride=stride, padding=pad, dilation=dilation, groups=groups, bias=bias, output_padding=extra)
    compare_with_torch(torch, ours, theirs, RNG.standard_normal((2, 4) + (5, 4)[:n]))


def test_pytorchs_default_initialisation_bounds():
    """Uniform in ±1/sqrt(fan_in), fan_in = in // groups * kernel (a transposed weight: out // groups * kernel)."""
    conv = Conv((3, 3), 8, 64, groups=2, rng=0)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.W).max() <= bound and np.abs(conv.W).max() > 0.9 * bound
    assert np.abs(conv.b).max() <= bound and conv.b.std() > bound / 4
    transposed = ConvTranspose((2, 2), 64, 8, rng=0)
    bound = 1 / np.sqrt(8 * 4)
    assert np.abs(transposed.W).max() <= bound and np.abs(transposed.W).max() > 0.9 * bound
    np.testing.assert_array_equal(Conv((3,), 1, 2, rng=5).W, Conv((3,), 1, 2, rng=5).W)
    srcgrad.models.init.seed(3)
    first = Conv((3,), 1, 2).W
    srcgrad.models.init.seed(3)
    np.testing.assert_array_equal(Conv((3,), 1, 2).W, first)


# ------------------------------------------------------------------ shapes, dtypes, printing, saving

def test_pad_same_keeps_the_size_with_the_extra_at_the_end():
    layer = Conv((4,), 1, 1, pad="same", bias=False, rng=0)
    layer.W[:] = [[[1.0, 0.0, 0.0, 0.0]]]  # (picks x[i - 1]: one pad before, two after)
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    np.testing.assert_array_equal(layer(x), [[[0.0, 1.0, 2.0, 3.0, 4.0]]])


def test_one_sample_without_the_batch_axis():
    layer = randomise_bias(Conv((3, 3), 2, 4, relu, pad=1, rng=12))
    x = RNG.standard_normal((2, 5, 5))
    np.testing.assert_array_equal(layer(x), layer(x[None])[0])
    check_model_gradient(weighted, layer, x)
    transposed = ConvTranspose((2,), 3, 2, stride=2, rng=13)
    v = RNG.standard_normal((3, 4))
    assert transposed(v).shape == (2, 8)
    np.testing.assert_array_equal(transposed(v), transposed(v[None])[0])


@pytest.mark.parametrize("layer", [Conv((3, 3), 2, 4, relu, rng=0), ConvTranspose((2,), 2, 3, stride=2, rng=0)])
def test_float32_in_float32_out(layer):
    x = np.ones((1, 2, 6, 6) if layer.W.ndim == 4 else (1, 2, 6), dtype=np.float32)
    assert layer(x).dtype == np.float32
    dmodel, dx = srcgrad.gradient(lambda m, v: np.sum(m(v)), layer, x)
    assert dx.dtype == np.float32
    assert dmodel["W"].dtype == layer.W.dtype == np.float64 and dmodel["b"].dtype == np.float64
    assert layer(x.astype(np.float64)).dtype == np.float64


def test_signature_and_printing():
    assert Conv((3, 3), 1, 16).signature() == "Conv((3, 3), 1, 16)"
    assert Conv((5,), 4, 8, relu, stride=2, pad=1, groups=2, bias=False).signature() == \
        "Conv((5,), 4, 8, relu, stride=2, pad=1, groups=2, bias=False)"
    assert ConvTranspose((2, 2), 8, 4, stride=2, output_padding=1).signature() == \
        "ConvTranspose((2, 2), 8, 4, stride=2, output_padding=1)"
    assert repr(Conv((3, 3), 1, 16, relu, pad="same")) == "Conv((3, 3), 1, 16, relu, pad='same')  # 160 parameters"
    model = Chain(Conv((5, 5), 1, 6, relu), MaxPool((2, 2)), Flatten(), Dense(864, 10))
    assert repr(model).splitlines() == [
        "Chain(",
        "  Conv((5, 5), 1, 6, relu),  # 156 parameters",
        "  MaxPool((2, 2)),",
        "  Flatten(),",
        "  Dense(864, 10),            # 8,650 parameters",
        ")                            # Total: 4 arrays, 8,806 parameters, 70,448 bytes.",
    ]


def test_save_and_load_round_trip(tmp_path):
    def build(seed):
        return Chain(Conv((3,), 2, 4, rng=seed), ConvTranspose((2,), 4, 2, stride=2, rng=seed),
                     Conv((2, 2), 1, 2, bias=False, rng=seed))

    a, b = build(0), build(1)
    save(tmp_path / "conv.npz", a)
    with np.load(tmp_path / "conv.npz") as stored:
        assert sorted(stored.files) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b", "layers.2.W"]
    load(tmp_path / "conv.npz", b)
    x = RNG.standard_normal((1, 2, 5))
    np.testing.assert_array_equal(a[1](a[0](x)), b[1](b[0](x)))
    np.testing.assert_array_equal(a[2].W, b[2].W)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("layer, shape, message", [
    (Conv((3, 3), 1, 16), (28, 28), r"Conv\(\(3, 3\), 1, 16\) expected \(batch, 1, H, W\), got \(28, 28\)"),
    (Conv((3, 3), 1, 16), (2, 3, 28, 28), r"expected \(batch, 1, H, W\), got \(2, 3, 28, 28\)"),
    (Conv((3,), 2, 4), (2, 2, 3, 3), r"Conv\(\(3,\), 2, 4\) expected \(batch, 2, length\)"),
    (Conv((5, 5), 1, 2), (1, 1, 4, 9), r"Conv\(\(5, 5\), 1, 2\): the kernel \(5, 5\).*padded input is 4"),
    (Conv((5, 5), 1, 2, dilation=2, pad=1), (1, 1, 6, 9), "reaches 9 but the padded input is 8"),
    (ConvTranspose((2, 2), 3, 2), (1, 2, 4, 4), r"ConvTranspose\(\(2, 2\), 3, 2\) expected \(batch, 3, H, W\)"),
])
def test_bad_input_is_refused_at_the_first_call(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.ones(shape))
    with pytest.raises(ValueError, match=message):
        srcgrad.gradient(lambda m, x: np.sum(m(x)), layer, np.ones(shape))


@pytest.mark.parametrize("build, message", [
    (lambda: Conv((3, 3), 3, 16, groups=2), r"groups=2 should be a positive int dividing both the input channels \(3\)"),
    (lambda: Conv((3, 3), 4, 6, groups=4), r"output channels \(6\)"),
    (lambda: ConvTranspose((3,), 4, 6, groups=0), "groups=0"),
    (lambda: Conv(3, 1, 16), r"kernel should be a tuple, \(3,\) for 1-d or \(3, 3\) for 2-d"),
    (lambda: Conv((3, 3), 1, 16, stride=2, pad="same"), "pad='same' needs stride 1"),
    (lambda: Conv((3, 3), 1, 16, stride=(1, 1, 1)), "tuple of 2 ints"),
    (lambda: ConvTranspose((3, 3), 1, 16, pad="same"), "not 'same'"),
])
def test_bad_arguments_are_refused_when_the_layer_is_built(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_docstrings_examples_run():
    import doctest

    import srcgrad.models.conv
    import srcgrad.models.pooling
    import srcgrad.rules.conv

    for module in (srcgrad.models.conv, srcgrad.models.pooling, srcgrad.rules.conv):
        assert doctest.testmod(module).failed == 0, module.__name__
