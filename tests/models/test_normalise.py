"""Normalisation layers (srcgrad/models/normalise.py): BatchNorm and LayerNorm.

Their values and gradients against plain-loop references and central
differences, and against PyTorch where it is installed; BatchNorm's
running statistics, which move exactly once per training forward pass
however the layer is called (plainly, through gradient, implicit
parameters, jvp or train).
"""

import copy
import doctest

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, load, mse, save, tanh
from srcgrad.models import normalise
from srcgrad.models.functor import named_arrays
from srcgrad.models.modes import testmode, trainmode
from srcgrad.models.normalise import BatchNorm, LayerNorm
from srcgrad.optim import Descent, setup, train

from gradcheck import check_gradient

from .modelcheck import check_model_gradient

RNG = np.random.default_rng(19)
SHAPES = [(5, 3), (3, 3, 4), (2, 3, 2, 3)]  # (N, C), (N, C, L), (N, C, H, W)


def batchnorm(channels=3, **options):
    """A BatchNorm with weights and biases that are not ones and zeros, and running statistics moved."""
    layer = BatchNorm(channels, **options)
    if layer.weight is not None:
        layer.weight[:] = RNG.normal(size=channels)
        layer.bias[:] = RNG.normal(size=channels)
    layer.running_mean[:] = RNG.normal(size=channels)
    layer.running_var[:] = RNG.uniform(0.5, 2.0, size=channels)
    return layer


def naive_batchnorm(layer, x):
    """BatchNorm in plain loops over channels and numbers: ``(y, new running_mean, new running_var)``."""
    channels = x.shape[1]
    y = np.empty_like(x)
    new_mean, new_var = layer.running_mean.copy(), layer.running_var.copy()
    for c in range(channels):
        values = [x[(n, c) + rest] for n in range(x.shape[0]) for rest in np.ndindex(x.shape[2:])]
        count = len(values)
        if layer.training:
            mean = sum(values) / count
            var = sum((v - mean) ** 2 for v in values) / count
            m = layer.momentum
            new_mean[c] = (1 - m) * layer.running_mean[c] + m * mean
            new_var[c] = (1 - m) * layer.running_var[c] + m * var * count / (count - 1)
        else:
            mean, var = layer.running_mean[c], layer.running_var[c]
        for n in range(x.shape[0]):
            for rest in np.ndindex(x.shape[2:]):
                i = (n, c) + rest
                value = (x[i] - mean) / np.sqrt(var + layer.eps)
                if layer.weight is not None:
                    value = value * layer.weight[c] + layer.bias[c]
                y[i] = layer.activation(value)
    return y, new_mean, new_var


def naive_layernorm(layer, x):
    n = len(layer.shape)
    y = np.empty_like(x)
    for lead in np.ndindex(x.shape[:x.ndim - n]):
        values = [x[lead + rest] for rest in np.ndindex(layer.shape)]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        for rest in np.ndindex(layer.shape):
            value = (x[lead + rest] - mean) / np.sqrt(var + layer.eps)
            if layer.weight is not None:
                value = value * layer.weight[rest] + layer.bias[rest]
            y[lead + rest] = value
    return y


def cubic(layer, x):
    """A loss whose gradient is not the same for every output (sum would be flat for a normalisation)."""
    return np.sum((layer(x) + 0.3) ** 3)


# --- BatchNorm: construction, printing, saving ---------------------------------------------

def test_batchnorm_fields_and_parameters():
    layer = BatchNorm(4)
    assert layer.weight.shape == layer.bias.shape == layer.running_mean.shape == layer.running_var.shape == (4,)
    assert (layer.weight == 1).all() and (layer.bias == 0).all()
    assert (layer.running_mean == 0).all() and (layer.running_var == 1).all()
    assert layer.training is True and layer.momentum == 0.1 and layer.eps == 1e-5
    # only weight and bias are trained; the running statistics are saved all the same
    assert [name for name, _ in named_arrays(layer)] == ["weight", "bias"]
    assert len(srcgrad.params(layer)) == 2
    assert [name for name, _ in named_arrays(layer, trainable_only=False)] == [
        "weight", "bias", "running_mean", "running_var"]
    bare = BatchNorm(4, affine=False)
    assert bare.weight is None and bare.bias is None and named_arrays(bare) == []


def test_batchnorm_signature_and_printing():
    assert BatchNorm(16).signature() == "BatchNorm(16)"
    assert BatchNorm(16, tanh, momentum=0.01, eps=1e-3, affine=False).signature() == \
        "BatchNorm(16, tanh, momentum=0.01, eps=0.001, affine=False)"
    assert repr(BatchNorm(3)) == "BatchNorm(3)  # 6 parameters"
    text = repr(Chain(Dense(2, 3), BatchNorm(3), LayerNorm(3)))
    assert "BatchNorm(3)," in text and "# 6 parameters" in text and "LayerNorm(3)," in text


@pytest.mark.parametrize("bad, match", [
    (dict(channels=0), "channels must be a positive int"),
    (dict(channels=2.0), "channels must be a positive int"),
    (dict(channels=2, momentum=1.5), "momentum must be a number from 0 to 1"),
    (dict(channels=2, momentum=None), "momentum must be a number from 0 to 1"),
    (dict(channels=2, eps=-1.0), "eps must be a number >= 0"),
])
def test_batchnorm_refuses_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        BatchNorm(**bad)


def test_save_and_load_round_trip_the_running_statistics(tmp_path):
    model = Chain(Dense(2, 3, rng=0), BatchNorm(3), LayerNorm(3))
    model(RNG.normal(size=(6, 2)))
    path = tmp_path / "model.npz"
    save(path, model)
    other = Chain(Dense(2, 3, rng=1), BatchNorm(3), LayerNorm(3))
    load(path, other)
    for (name, a), (_, b) in zip(named_arrays(model, False), named_arrays(other, False)):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert (other[1].running_mean != 0).any()
    x = RNG.normal(size=(4, 2))
    np.testing.assert_array_equal(testmode(other)(x), testmode(model)(x))


# --- BatchNorm: values -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_values_and_update_match_plain_loops(shape, training):
    layer = batchnorm(activation=tanh, momentum=0.3)
    layer.training = training
    x = RNG.normal(size=shape) * 2 + 1
    expected, new_mean, new_var = naive_batchnorm(layer, x)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, new_mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.running_var, new_var, rtol=1e-12, atol=1e-14)


def test_batchnorm_affine_false_and_momentum_extremes():
    x = RNG.normal(size=(4, 2, 3))
    bare = batchnorm(2, affine=False)
    np.testing.assert_allclose(bare(x), naive_batchnorm(bare, x)[0], rtol=1e-12, atol=1e-12)
    frozen = batchnorm(2, momentum=0.0)
    before = frozen.running_mean.copy()
    frozen(x)
    np.testing.assert_array_equal(frozen.running_mean, before)
    last = BatchNorm(2, momentum=1.0)
    last(x)
    np.testing.assert_allclose(last.running_mean, x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(last.running_var, x.var(axis=(0, 2), ddof=1), rtol=1e-12)


def test_batchnorm_keeps_float32():
    layer = batchnorm()
    x = RNG.normal(size=(4, 3, 2)).astype(np.float32)
    for training in (True, False):
        layer.training = training
        assert layer(x).dtype == np.float32
        model_grad, x_grad = srcgrad.gradient(cubic, layer, x)
        assert x_grad.dtype == np.float32
        assert model_grad["weight"].dtype == model_grad["bias"].dtype == np.float64
    assert layer.running_mean.dtype == np.float64


def test_batchnorm_value_inside_gradient_is_the_plain_value():
    layer = batchnorm()
    x = RNG.normal(size=(4, 3))
    twin = copy.deepcopy(layer)
    value, _ = srcgrad.withgradient(cubic, layer, x)
    assert value == cubic(twin, x)
    np.testing.assert_array_equal(layer.running_mean, twin.running_mean)
    np.testing.assert_array_equal(layer.running_var, twin.running_var)


# --- BatchNorm: gradients ---------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradient_matches_differences(shape, training):
    layer = batchnorm(activation=tanh)
    layer.training = training
    check_model_gradient(cubic, layer, RNG.normal(size=shape))


def test_batchnorm_without_affine_gradient_matches_differences():
    layer = batchnorm(affine=False)
    check_model_gradient(cubic, layer, RNG.normal(size=(4, 3, 2)))
    testmode(layer)
    check_model_gradient(cubic, layer, RNG.normal(size=(4, 3, 2)))


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_forward_mode_agrees_with_reverse(training):
    layer = batchnorm(activation=tanh)
    layer.training = training
    x = RNG.normal(size=(4, 3, 2))
    v = RNG.normal(size=x.shape)
    twin = copy.deepcopy(layer)
    (x_grad,) = srcgrad.gradient(lambda x: cubic(layer, x), x)
    value, tangent = srcgrad.jvp(lambda x: cubic(twin, x), (x,), (v,))
    assert value == cubic(copy.deepcopy(layer), x)
    np.testing.assert_allclose(tangent, np.sum(x_grad * v), rtol=1e-10)
    # and in the weight, through the layer as an argument
    w = RNG.normal(size=3)
    (model_grad,) = srcgrad.gradient(lambda m: cubic(m, x), layer)
    _, tangent = srcgrad.jvp(lambda m: cubic(m, x), (twin,), ({"weight": w},))
    np.testing.assert_allclose(tangent, np.sum(model_grad["weight"] * w), rtol=1e-10)


@pytest.mark.parametrize("make, shape", [
    (lambda: batchnorm(activation=tanh), (3, 3, 2)),
    (lambda: testmode(batchnorm(activation=tanh)), (3, 3, 2)),
    (lambda: layernorm((2, 3)), (2, 2, 3)),
], ids=["BatchNorm", "BatchNorm, test mode", "LayerNorm"])
def test_second_derivatives_match_differences(make, shape):
    layer = make()
    c = RNG.normal(size=shape)

    def input_gradient_norm(x):
        (g,) = srcgrad.gradient(lambda x: np.sum(np.sin(layer(x)) * c), x)
        return np.sum(g ** 2)

    check_gradient(input_gradient_norm, RNG.normal(size=shape), rtol=1e-5, atol=1e-7)


# --- BatchNorm: running statistics, once per training pass, whatever calls it -------------------

def _model():
    return Chain(Dense(3, 4, rng=1), BatchNorm(4), Dense(4, 1, rng=2))


def _loss(model, x, y):
    return mse(model(x), y)


X, Y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 1))
CHECKPOINT = srcgrad.checkpoint


def _expected_statistics(passes):
    """The running statistics after ``passes`` plain training passes on (X, Y)."""
    model = _model()
    for _ in range(passes):
        model(X)
    return model[1].running_mean.copy(), model[1].running_var.copy()


def _implicit_train(model):
    train(lambda x, y: _loss(model, x, y), srcgrad.params(model), [(X, Y)], Descent(0.0))


RUNS = {
    "plain": lambda model: _loss(model, X, Y),
    "gradient": lambda model: srcgrad.gradient(_loss, model, X, Y),
    "withgradient": lambda model: srcgrad.withgradient(_loss, model, X, Y),
    "pullback and back": lambda model: srcgrad.pullback(_loss, model, X, Y)[1](1.0),
    "implicit": lambda model: srcgrad.gradient(lambda: _loss(model, X, Y), srcgrad.params(model)),
    "jvp": lambda model: srcgrad.jvp(lambda x: _loss(model, x, Y), (X,), (np.ones_like(X),)),
    "jvp in the model": lambda model: srcgrad.jvp(lambda m: _loss(m, X, Y), (model,), (None,)),
    "jacobian": lambda model: srcgrad.jacobian(lambda x: model(x), X),
    "gradient of a gradient": lambda model: srcgrad.gradient(
        lambda x: np.sum(srcgrad.gradient(lambda x: _loss(model, x, Y), x)[0] ** 2), X),
    "train, explicit": lambda model: train(_loss, model, [(X, Y)], setup(Descent(0.0), model)),
    "train, implicit": _implicit_train,
    "checkpoint": lambda model: srcgrad.gradient(lambda m: mse(CHECKPOINT(m)(X), Y), model),
}


@pytest.mark.parametrize("run", list(RUNS))
def test_running_statistics_move_once_per_training_pass(run):
    model = _model()
    for passes in (1, 2, 3):
        RUNS[run](model)
        mean, var = _expected_statistics(passes)
        np.testing.assert_allclose(model[1].running_mean, mean, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(model[1].running_var, var, rtol=1e-13, atol=1e-15)


def test_a_loss_that_reads_the_statistics_gets_the_gradient_of_what_it_read():
    # The update gives the layer new arrays: the ones read before it (and kept for the backward
    # pass) keep their values, so the gradient is of the values the loss used.
    def loss(w, layer, x):
        before = np.sum(layer.running_mean * w)  # read, then changed by the training pass below
        return before + np.sum(layer(x)[0])

    layer, x, w = BatchNorm(2), RNG.normal(size=(3, 2)), np.ones(2)
    layer.running_mean[:] = [1.0, -2.0]
    kept = layer.running_mean
    (w_grad, layer_grad, _) = srcgrad.gradient(loss, w, layer, x)
    np.testing.assert_array_equal(w_grad, [1.0, -2.0])
    np.testing.assert_array_equal(layer_grad["running_mean"], w)
    np.testing.assert_array_equal(kept, [1.0, -2.0])
    np.testing.assert_allclose(layer.running_mean, 0.9 * kept + 0.1 * x.mean(axis=0), rtol=1e-14)


def test_statistics_move_when_the_loss_assigns_a_field_of_the_layer():
    # Then srcgrad gives the loss its own copy of the layer; the update still reaches the caller's.
    def tweak(layer, x):
        layer.eps = 1e-3
        return cubic(layer, x)

    layer = BatchNorm(3)
    x = RNG.normal(size=(4, 3))
    srcgrad.gradient(tweak, layer, x)
    assert layer.eps == 1e-5  # srcgrad does not change the caller's fields...
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=0), rtol=1e-14)  # ...but the update arrives


def test_a_shallow_copy_trains_the_layer_it_came_from():
    layer = BatchNorm(2)
    twin = copy.copy(layer)
    x = RNG.normal(size=(4, 2))
    twin(x)
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_array_equal(twin.running_mean, layer.running_mean)
    independent = copy.deepcopy(layer)
    independent(x)
    assert (independent.running_mean != layer.running_mean).all()


def test_hessian_runs_the_forward_pass_once_per_column():
    # Documented: forward over reverse runs the pass (and so the update) once per input number.
    model, reference = _model(), _model()
    x, y = X[:2], Y[:2]
    srcgrad.hessian(lambda x: _loss(model, x, y), x)
    for _ in range(x.size):
        reference(x)
    np.testing.assert_allclose(model[1].running_mean, reference[1].running_mean, rtol=1e-13)
    np.testing.assert_allclose(model[1].running_var, reference[1].running_var, rtol=1e-13)


def test_test_mode_leaves_running_statistics_alone():
    model = testmode(_model())
    for run in ("plain", "gradient", "implicit", "jvp", "train, explicit"):
        RUNS[run](model)
    np.testing.assert_array_equal(model[1].running_mean, 0)
    np.testing.assert_array_equal(model[1].running_var, 1)
    trainmode(model)
    RUNS["gradient"](model)
    np.testing.assert_allclose(model[1].running_mean, _expected_statistics(1)[0], rtol=1e-13)


def test_gradient_is_unchanged_by_the_update():
    layer = batchnorm()
    x = RNG.normal(size=(5, 3))
    first = srcgrad.gradient(cubic, layer, x)
    second = srcgrad.gradient(cubic, layer, x)  # the statistics moved in between; train mode ignores them
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[0]["weight"], second[0]["weight"])
    assert not first[0]["running_mean"].any()  # (they are not read in train mode)


def test_training_with_batchnorm_lowers_the_loss():
    model = Chain(Dense(3, 8, rng=3), BatchNorm(8, tanh), Dense(8, 1, rng=4))
    state = setup(Descent(0.1), model)
    before = _loss(testmode(copy.deepcopy(model)), X, Y)
    for _ in range(30):
        train(_loss, model, [(X, Y)], state)
    assert _loss(testmode(model), X, Y) < before


# --- BatchNorm: bad input --------------------------------------------------------------------

def test_batchnorm_refuses_inputs_that_do_not_fit():
    layer = BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) expected \(batch, 3, \.\.\.\).* got \(28, 28\)"):
        layer(np.ones((28, 28)))
    with pytest.raises(ValueError, match=r"expected \(batch, 3, \.\.\.\).* got \(3,\)"):
        layer(np.ones(3))
    with pytest.raises(ValueError, match=r"more than one value per channel .* got \(1, 3\)"):
        layer(np.ones((1, 3)))
    assert testmode(layer)(np.ones((1, 3))).shape == (1, 3)  # the running statistics need no batch
    with pytest.raises(TypeError, match=r"BatchNorm\(3\) expected an array of floats, got int64"):
        layer(np.ones((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="expected a NumPy array of floats, got list"):
        layer([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) expected \(batch, 3"):
        srcgrad.gradient(cubic, layer, np.ones((4, 2)))
    assert (layer.running_mean == 0).all()


# --- BatchNorm: against PyTorch --------------------------------------------------------------

def _torch_batchnorm(torch, layer, ndim):
    kind = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d}[ndim]
    twin = kind(layer.running_mean.shape[0], momentum=layer.momentum, eps=layer.eps,
                affine=layer.weight is not None, dtype=torch.float64)
    with torch.no_grad():
        if layer.weight is not None:
            twin.weight.copy_(torch.from_numpy(layer.weight))
            twin.bias.copy_(torch.from_numpy(layer.bias))
        twin.running_mean.copy_(torch.from_numpy(layer.running_mean))
        twin.running_var.copy_(torch.from_numpy(layer.running_var))
    return twin


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch_over_several_steps(shape, affine):
    torch = pytest.importorskip("torch")
    layer = batchnorm(momentum=0.2, eps=1e-4, affine=affine)
    twin = _torch_batchnorm(torch, layer, len(shape))
    for _ in range(4):  # training steps: gradients, then the statistics they left behind
        x, c = RNG.normal(size=shape) * 2 + 1, RNG.normal(size=shape)
        model_grad, x_grad = srcgrad.gradient(lambda m, x: np.sum((m(x) + c) ** 3), layer, x)
        xt = torch.tensor(x, requires_grad=True)
        twin.zero_grad()
        torch.sum((twin(xt) + torch.from_numpy(c)) ** 3).backward()
        np.testing.assert_allclose(x_grad, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        if affine:
            np.testing.assert_allclose(model_grad["weight"], twin.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(model_grad["bias"], twin.bias.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(layer.running_mean, twin.running_mean.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.running_var, twin.running_var.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer(x), twin(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-10)
    testmode(layer)
    twin.eval()
    x, c = RNG.normal(size=shape), RNG.normal(size=shape)
    twin.zero_grad()
    assert_cubed_loss_matches_torch(layer, twin, x, c, affine)
    np.testing.assert_allclose(layer.running_mean, twin.running_mean.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_trained_by_srcgrad_matches_torch_trained_by_sgd():
    torch = pytest.importorskip("torch")
    model = Chain(Dense(3, 4, rng=5), BatchNorm(4, momentum=0.3), Dense(4, 1, rng=6))
    linear1 = torch.nn.Linear(3, 4, dtype=torch.float64)
    linear2 = torch.nn.Linear(4, 1, dtype=torch.float64)
    with torch.no_grad():
        for dense, linear in ((model[0], linear1), (model[2], linear2)):
            linear.weight.copy_(torch.from_numpy(dense.W))
            linear.bias.copy_(torch.from_numpy(dense.b))
    twin = torch.nn.Sequential(linear1, _torch_batchnorm(torch, model[1], 2), linear2)
    sgd = torch.optim.SGD(twin.parameters(), lr=0.05)
    batches = [(RNG.normal(size=(5, 3)), RNG.normal(size=(5, 1))) for _ in range(5)]
    train(_loss, model, batches, setup(Descent(0.05), model))
    for x, y in batches:
        sgd.zero_grad()
        torch.mean((twin(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).backward()
        sgd.step()
    np.testing.assert_allclose(model[1].running_mean, twin[1].running_mean.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[1].running_var, twin[1].running_var.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[1].weight, twin[1].weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[0].W, linear1.weight.detach().numpy(), rtol=1e-10, atol=1e-12)


# --- LayerNorm ---------------------------------------------------------------------------------

def layernorm(shape, **options):
    layer = LayerNorm(shape, **options)
    if layer.weight is not None:
        layer.weight[...] = RNG.normal(size=layer.shape)
        layer.bias[...] = RNG.normal(size=layer.shape)
    return layer


def test_layernorm_fields_and_printing():
    layer = LayerNorm(5)
    assert layer.shape == (5,) and layer.weight.shape == layer.bias.shape == (5,)
    assert (layer.weight == 1).all() and (layer.bias == 0).all() and layer.eps == 1e-5
    assert LayerNorm((3, 4)).weight.shape == (3, 4)
    assert [name for name, _ in named_arrays(layer)] == ["weight", "bias"]
    assert LayerNorm(5, affine=False).weight is None
    assert repr(LayerNorm(5)) == "LayerNorm(5)  # 10 parameters"
    assert LayerNorm((3, 4), eps=1e-6, affine=False).signature() == "LayerNorm((3, 4), eps=1e-06, affine=False)"


@pytest.mark.parametrize("norm_shape, x_shape", [(4, (4,)), (4, (3, 4)), ((2, 3), (2, 2, 3)), ((2, 3), (2, 1, 2, 3))])
def test_layernorm_values_and_gradient(norm_shape, x_shape):
    layer = layernorm(norm_shape)
    x = RNG.normal(size=x_shape) * 3 + 1
    np.testing.assert_allclose(layer(x), naive_layernorm(layer, x), rtol=1e-12, atol=1e-12)
    check_model_gradient(cubic, layer, x)
    value, _ = srcgrad.withgradient(cubic, layer, x)
    assert value == cubic(layer, x)


def test_layernorm_affine_false_forward_mode_and_float32():
    layer = layernorm((2, 3), affine=False)
    x = RNG.normal(size=(3, 2, 3))
    np.testing.assert_allclose(layer(x), naive_layernorm(layer, x), rtol=1e-12, atol=1e-12)
    check_model_gradient(cubic, layer, x)
    v = RNG.normal(size=x.shape)
    (x_grad,) = srcgrad.gradient(lambda x: cubic(layer, x), x)
    _, tangent = srcgrad.jvp(lambda x: cubic(layer, x), (x,), (v,))
    np.testing.assert_allclose(tangent, np.sum(x_grad * v), rtol=1e-10)
    x32 = x.astype(np.float32)
    affine = layernorm((2, 3))
    assert affine(x32).dtype == np.float32
    assert srcgrad.gradient(cubic, affine, x32)[1].dtype == np.float32


@pytest.mark.parametrize("norm_shape, x_shape", [(5, (3, 5)), ((3, 5), (2, 3, 5)), ((2, 2, 3), (2, 2, 2, 3))])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(norm_shape, x_shape, affine):
    torch = pytest.importorskip("torch")
    layer = layernorm(norm_shape, eps=1e-4, affine=affine)
    twin = torch.nn.LayerNorm(norm_shape, eps=1e-4, elementwise_affine=affine, dtype=torch.float64)
    if affine:
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.weight))
            twin.bias.copy_(torch.from_numpy(layer.bias))
    x, c = RNG.normal(size=x_shape) * 2, RNG.normal(size=x_shape)
    assert_cubed_loss_matches_torch(layer, twin, x, c, affine)


def test_layernorm_refuses_bad_arguments_and_inputs():
    for bad in (0, (), (2, 0), 2.5, "3", (True,)):
        with pytest.raises(ValueError, match="shape must be a positive int or a tuple of them"):
            LayerNorm(bad)
    with pytest.raises(ValueError, match="eps must be a number >= 0"):
        LayerNorm(3, eps=-1)
    layer = LayerNorm((3, 4))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(3, 4\)\) expected an input ending in \(3, 4\), "
                                         r"i\.e\. \(\.\.\., 3, 4\), got \(4, 3\)"):
        layer(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        layer(np.ones(4))
    with pytest.raises(TypeError, match=r"LayerNorm\(\(3, 4\)\) expected an array of floats, got int64"):
        layer(np.ones((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="expected an input ending in"):
        srcgrad.gradient(cubic, layer, np.ones((2, 4, 3)))


def test_docstring_examples_run():
    assert doctest.testmod(normalise, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("make, shape", [(lambda: batchnorm(), (4, 3)), (lambda: testmode(batchnorm()), (4, 3)),
                                         (lambda: layernorm(3), (4, 3))], ids=["train", "test", "LayerNorm"])
def test_gradient_in_eps_matches_differences(make, shape):
    layer, x, h = make(), RNG.normal(size=shape), 1e-7
    layer.eps = 0.3
    (grad, _) = srcgrad.gradient(cubic, layer, x)
    values = []
    for eps in (0.3 + h, 0.3 - h):
        layer.eps = eps
        values.append(cubic(layer, x))
    np.testing.assert_allclose(grad["eps"], (values[0] - values[1]) / (2 * h), rtol=1e-6)


def assert_cubed_loss_matches_torch(layer, twin, x, c, affine):
    """``sum((layer(x) + c) ** 3)``: srcgrad's value and gradients (the input's, the weight's and bias's when
    ``affine``) against the torch module ``twin`` holding the same weights."""
    import torch

    model_grad, x_grad = srcgrad.gradient(lambda m, x: np.sum((m(x) + c) ** 3), layer, x)
    xt = torch.tensor(x, requires_grad=True)
    out = twin(xt)
    torch.sum((out + torch.from_numpy(c)) ** 3).backward()
    np.testing.assert_allclose(layer(x), out.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x_grad, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    if affine:
        np.testing.assert_allclose(model_grad["weight"], twin.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(model_grad["bias"], twin.bias.grad.numpy(), rtol=1e-10, atol=1e-10)
