"""Pooling layers and flattening (srcgrad/models/pooling.py): MaxPool, MeanPool, GlobalMaxPool, GlobalMeanPool,
Flatten and flatten.

Gradients against central differences and forward mode, the same numbers as torch.nn (float64), the
value srcgrad computes is the plain call's, ties, float32, printing, saving a model that holds them,
and the errors for bad input.
"""

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, load, save
from srcgrad.models.conv import Conv
from srcgrad.models.pooling import Flatten, GlobalMaxPool, GlobalMeanPool, MaxPool, MeanPool, flatten

from .modelcheck import check_model_gradient

RNG = np.random.default_rng(11)


def weighted(m, x):
    y = m(x)
    return np.sum(np.sin(y) * np.linspace(0.5, 1.5, y.size).reshape(y.shape))


LAYERS = [
    (MaxPool((2,)), (2, 3, 7)),
    (MaxPool((3, 2), stride=(1, 2), pad=(1, 1)), (1, 2, 5, 4)),
    (MeanPool((2, 2)), (2, 2, 4, 5)),
    (MeanPool((3,), stride=2, pad=1), (2, 1, 6)),
    (GlobalMaxPool(), (2, 3, 4, 3)),
    (GlobalMaxPool(), (2, 3, 5)),
    (GlobalMeanPool(), (2, 3, 4, 3)),
    (GlobalMeanPool(), (1, 2, 5)),
    (Flatten(), (2, 3, 2, 2)),
]


@pytest.mark.parametrize("layer, shape", LAYERS)
def test_gradient_of_the_input_in_both_modes(layer, shape):
    x = RNG.standard_normal(shape)
    (g,) = check_model_gradient(lambda m, v: weighted(m, v), layer, x)[1:]
    dx = RNG.standard_normal(shape)
    value, tangent = srcgrad.jvp(lambda v: weighted(layer, v), (x,), (dx,))
    assert value == weighted(layer, x)
    np.testing.assert_allclose(tangent, np.sum(g * dx), rtol=1e-10)


def test_global_pools_keep_the_spatial_axes_at_one_as_flux():
    x = RNG.standard_normal((2, 3, 4, 5))
    assert GlobalMaxPool()(x).shape == GlobalMeanPool()(x).shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(GlobalMaxPool()(x), x.max(axis=(2, 3), keepdims=True))
    np.testing.assert_allclose(GlobalMeanPool()(x), x.mean(axis=(2, 3), keepdims=True), rtol=1e-15)
    assert GlobalMaxPool()(x[:, :, 0]).shape == (2, 3, 1)


def test_flatten_keeps_the_batch_axis():
    x = RNG.standard_normal((4, 3, 2, 2))
    np.testing.assert_array_equal(flatten(x), x.reshape(4, 12))
    np.testing.assert_array_equal(Flatten()(x), x.reshape(4, 12))
    assert flatten(np.ones((4, 7))).shape == (4, 7) and flatten(np.ones(4)).shape == (4, 1)
    (g,) = srcgrad.gradient(lambda v: np.sum(flatten(v) * np.arange(12.0)), x[:1])
    np.testing.assert_array_equal(g, np.arange(12.0).reshape(1, 3, 2, 2))


def test_ties_go_to_the_first_largest_element_of_each_window():
    """As PyTorch's: the first in row-major order within the window (what a relu's zeros make common)."""
    x = np.zeros((1, 1, 2, 4))
    (g,) = srcgrad.gradient(lambda v: np.sum(MaxPool((2, 2))(v)), x)
    np.testing.assert_array_equal(g, [[[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    (g,) = srcgrad.gradient(lambda v: np.sum(GlobalMaxPool()(v)), x)
    np.testing.assert_array_equal(g, [[[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_srcgrads_value_is_the_plain_call():
    model = Chain(MaxPool((2, 2)), MeanPool((2, 1), stride=1), GlobalMeanPool(), Flatten())
    x = RNG.standard_normal((3, 2, 8, 6))
    y, _ = srcgrad.pullback(lambda v: model(v), x)
    np.testing.assert_array_equal(y, model(x))


# ------------------------------------------------------------------ the same numbers as torch.nn

@pytest.mark.parametrize("window, stride, pad", [(w, s, p) for w in ((2,), (3,), (2, 2), (3, 2)) for s in (None, 1, 2)
                                                 for p in (0, 1)])
def test_pools_agree_with_torch(window, stride, pad):
    torch = pytest.importorskip("torch")
    n = len(window)
    x = RNG.standard_normal((2, 3) + (7, 6)[:n])
    pairs = [(MaxPool(window, stride=stride, pad=pad), getattr(torch.nn, f"MaxPool{n}d")(window, stride, pad)),
             (MeanPool(window, stride=stride, pad=pad), getattr(torch.nn, f"AvgPool{n}d")(window, stride, pad))]
    pairs += [(GlobalMaxPool(), getattr(torch.nn, f"AdaptiveMaxPool{n}d")(1)),
              (GlobalMeanPool(), getattr(torch.nn, f"AdaptiveAvgPool{n}d")(1)), (Flatten(), torch.nn.Flatten())]
    for ours, theirs in pairs:
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        dy = RNG.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(dy))
        y, back = srcgrad.pullback(lambda v: ours(v), x)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=ours.signature())
        np.testing.assert_allclose(back(dy)[0], tx.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=ours.signature())


# ------------------------------------------------------------------ dtypes, printing, saving

@pytest.mark.parametrize("layer", [MaxPool((2, 2)), MeanPool((2, 2)), GlobalMaxPool(), GlobalMeanPool(), Flatten()])
def test_float32_in_float32_out(layer):
    x = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert layer(x).dtype == np.float32
    (g,) = srcgrad.gradient(lambda v: np.sum(layer(v)), x)
    assert g.dtype == np.float32


def test_signature_and_printing():
    assert MaxPool((2, 2)).signature() == "MaxPool((2, 2))"
    assert MeanPool((3,), stride=1, pad=1).signature() == "MeanPool((3,), stride=1, pad=1)"
    assert repr(GlobalMaxPool()) == "GlobalMaxPool()" and repr(GlobalMeanPool()) == "GlobalMeanPool()"
    assert repr(Flatten()) == "Flatten()" and repr(MaxPool([2, 2])) == "MaxPool((2, 2))"


def test_a_model_with_pools_saves_and_loads(tmp_path):
    def build(seed):
        return Chain(Conv((3, 3), 1, 2, rng=seed), MaxPool((2, 2)), GlobalMeanPool(), Flatten(), Dense(2, 1, rng=seed))

    a, b = build(0), build(1)
    save(tmp_path / "m.npz", a)
    load(tmp_path / "m.npz", b)
    x = RNG.standard_normal((2, 1, 6, 6))
    np.testing.assert_array_equal(a(x), b(x))


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("layer, shape, message", [
    (MaxPool((2, 2)), (28, 28), r"MaxPool\(\(2, 2\)\) expected \(batch, channels, H, W\), got \(28, 28\)"),
    (MeanPool((2,)), (1, 2, 3, 3), r"MeanPool\(\(2,\)\) expected \(batch, channels, length\)"),
    (MaxPool((3, 3)), (1, 1, 2, 5), r"MaxPool\(\(3, 3\)\): the window \(3, 3\) is larger than the padded input"),
    (GlobalMaxPool(), (2, 3), r"GlobalMaxPool\(\) expected \(batch, channels, \*spatial\), got \(2, 3\)"),
    (GlobalMeanPool(), (5,), r"GlobalMeanPool\(\) expected"),
])
def test_bad_input_is_refused_at_the_first_call(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.ones(shape))
    with pytest.raises(ValueError, match=message):
        srcgrad.gradient(lambda v: np.sum(layer(v)), np.ones(shape))


@pytest.mark.parametrize("build, message", [
    (lambda: MaxPool(2), r"window should be a tuple, \(2,\) for 1-d or \(2, 2\) for 2-d"),
    (lambda: MeanPool((2, 2), pad=2), "at most half the window"),
    (lambda: MaxPool((2, 2), stride=0), "stride should be at least 1"),
    (lambda: MaxPool((2, 0)), "window should be at least 1"),
])
def test_bad_arguments_are_refused_when_the_layer_is_built(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_flatten_of_a_scalar_is_refused():
    with pytest.raises(ValueError, match="flatten expected"):
        flatten(np.float64(3.0))
