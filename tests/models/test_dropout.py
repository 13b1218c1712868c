"""Dropout (srcgrad/models/dropout.py): its masks, their scale, test mode, and its gradient."""

import doctest

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, init, load, save
from srcgrad.models import dropout
from srcgrad.models.dropout import Dropout
from srcgrad.models.modes import testmode, trainmode

from gradcheck import check_gradient

RNG = np.random.default_rng(7)


def test_fields_and_printing():
    layer = Dropout(0.25)
    assert layer.p == 0.25 and layer.training is True and layer.rng is None
    assert isinstance(Dropout(0.5, rng=3).rng, np.random.Generator)
    assert repr(layer) == "Dropout(0.25)"
    assert "Dropout(0.5)," in repr(Chain(Dense(2, 2), Dropout(0.5)))
    assert srcgrad.params(layer) is not None and len(srcgrad.params(layer)) == 0


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_refuses_a_p_that_is_not_a_probability(p):
    with pytest.raises(ValueError, match="p is the probability of dropping each number, from 0 to 1"):
        Dropout(p)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mask_statistics_and_scale(p):
    x = RNG.uniform(1, 2, size=(200, 100))
    y = Dropout(p, rng=11)(x)
    dropped = y == 0
    # the fraction dropped is p, within four standard deviations of a binomial count
    assert abs(dropped.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - p), rtol=1e-15)
    # the expected output is the input
    assert abs(y.mean() / x.mean() - 1) < 4 * np.sqrt(p / (1 - p) / x.size) * x.std() / x.mean() + 0.01
    # each number on its own: rows and columns drop at the same rate
    assert abs(dropped.mean(axis=0).std() - np.sqrt(p * (1 - p) / 200)) < 0.02


def test_each_call_draws_a_new_mask_and_a_seed_reproduces_them():
    x = np.ones(1000)
    layer = Dropout(0.5, rng=5)
    first, second = layer(x), layer(x)
    assert (first != second).any()
    again = Dropout(0.5, rng=5)
    np.testing.assert_array_equal(again(x), first)
    np.testing.assert_array_equal(again(x), second)
    generator = np.random.default_rng(9)
    np.testing.assert_array_equal(Dropout(0.5, rng=generator)(x) != 0, np.random.default_rng(9).random(1000) >= 0.5)


def test_without_rng_draws_from_the_generator_init_seed_resets():
    layer = Dropout(0.5)
    init.seed(123)
    first = layer(np.ones(100))
    init.seed(123)
    np.testing.assert_array_equal(layer(np.ones(100)), first)


def test_test_mode_is_the_identity():
    x = RNG.normal(size=(4, 5))
    model = testmode(Chain(Dropout(0.9, rng=0), Dropout(0.5, rng=1)))
    np.testing.assert_array_equal(model(x), x)
    (grad,) = srcgrad.gradient(lambda x: np.sum(model(x) ** 2), x)
    np.testing.assert_array_equal(grad, 2 * x)
    assert (trainmode(model)(x) != x).any()


def test_p_zero_keeps_everything_and_p_one_drops_everything():
    x = RNG.normal(size=(3, 4))
    keep_all = Dropout(0.0, rng=0)
    np.testing.assert_array_equal(keep_all(x), x)
    np.testing.assert_array_equal(srcgrad.gradient(lambda x: np.sum(keep_all(x) * 3), x)[0], 3 * np.ones_like(x))
    drop_all = Dropout(1.0, rng=0)
    np.testing.assert_array_equal(drop_all(x), np.zeros_like(x))
    np.testing.assert_array_equal(srcgrad.gradient(lambda x: np.sum(drop_all(x) * 3), x)[0], np.zeros_like(x))
    assert drop_all(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("p", [0.3, 0.75])
def test_gradient_is_the_mask_times_the_scale(p):
    x = RNG.normal(size=(5, 6))
    dy = RNG.normal(size=x.shape)
    layer = Dropout(p, rng=21)
    y, back = srcgrad.pullback(layer, x)  # one pass: the output and the gradient share the draw
    mask = np.random.default_rng(21).random(x.shape) >= p
    np.testing.assert_allclose(y, x * mask / (1 - p), rtol=1e-15)
    (dx,) = back(dy)
    np.testing.assert_allclose(dx, dy * mask / (1 - p), rtol=1e-15)
    # the layer as an argument too: its gradient in p, for the same mask
    layer = Dropout(p, rng=21)
    (layer_grad, dx) = srcgrad.gradient(lambda layer, x: np.sum(layer(x) * dy), layer, x)
    np.testing.assert_allclose(dx, dy * mask / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(layer_grad["p"], np.sum(dy * x * mask) / (1 - p) ** 2, rtol=1e-12)


def test_gradient_in_p_at_zero_and_one():
    x, dy = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    for p, expected in ((0.0, np.sum(dy * x)), (1.0, 0.0)):
        (grad,) = srcgrad.gradient(lambda layer: np.sum(layer(x) * dy), Dropout(p, rng=0))
        np.testing.assert_allclose(grad["p"], expected, rtol=1e-14)
    (grad,) = srcgrad.gradient(lambda layer: np.sum(layer(x) * dy), testmode(Dropout(0.5)))
    assert grad["p"] == 0.0


def test_gradient_matches_differences_with_the_draw_held_fixed():
    def loss(x, p):
        return np.sum(Dropout(p, rng=4)(x) ** 2)  # a new layer, the same seed: the same mask each call

    check_gradient(loss, RNG.normal(size=(3, 4)), 0.4)
    check_gradient(loss, RNG.normal(size=(2, 3, 2)), 0.2)


def test_forward_mode_is_the_mask_times_the_scale():
    x, v = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    y, tangent = srcgrad.jvp(Dropout(0.4, rng=8), (x,), (v,))
    mask = np.random.default_rng(8).random(x.shape) >= 0.4
    np.testing.assert_allclose(y, x * mask / 0.6, rtol=1e-15)
    np.testing.assert_allclose(tangent, v * mask / 0.6, rtol=1e-15)


def test_value_inside_gradient_is_the_plain_value():
    x = RNG.normal(size=(3, 4))
    value, _ = srcgrad.withgradient(lambda x: np.sum(Dropout(0.5, rng=2)(x) ** 3), x)
    assert value == np.sum(Dropout(0.5, rng=2)(x) ** 3)


def test_float32_stays_float32():
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    layer = Dropout(0.5, rng=0)
    assert layer(x).dtype == np.float32
    assert srcgrad.gradient(lambda x: np.sum(layer(x)), x)[0].dtype == np.float32


def test_bad_input_is_refused_at_the_call():
    with pytest.raises(TypeError, match=r"Dropout\(0.5\) expected a NumPy array, got list"):
        Dropout(0.5)([1.0, 2.0])


def test_save_and_load_a_model_with_dropout(tmp_path):
    model = Chain(Dense(2, 3, rng=0), Dropout(0.5))
    save(tmp_path / "m.npz", model)
    other = load(tmp_path / "m.npz", Chain(Dense(2, 3, rng=1), Dropout(0.5)))
    np.testing.assert_array_equal(other[0].W, model[0].W)


def test_like_torch_dropout():
    torch = pytest.importorskip("torch")
    x = RNG.uniform(1, 2, size=(100, 100))
    ours = Dropout(0.3, rng=0)(x)
    theirs = torch.nn.Dropout(0.3)(torch.from_numpy(x)).numpy()
    for y in (ours, theirs):  # every number dropped or scaled by 1 / (1 - p); about p of them dropped
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)
        assert abs((~kept).mean() - 0.3) < 0.02
    for p in (0.0, 1.0):
        np.testing.assert_array_equal(Dropout(p)(x), torch.nn.Dropout(p)(torch.from_numpy(x)).numpy())


def test_docstring_examples_run():
    assert doctest.testmod(dropout).failed == 0
