"""Train and test mode (srcgrad/models/modes.py): ``trainmode``/``testmode`` reach every layer."""

import doctest

import numpy as np

from srcgrad.models import Chain, Dense, relu
from srcgrad.models import modes
from srcgrad.models.dropout import Dropout
from srcgrad.models.functor import children
from srcgrad.models.modes import testmode, trainmode
from srcgrad.models.normalise import BatchNorm, LayerNorm


class Custom:
    """A user's layer with its own mode."""

    def __init__(self, inner=None):
        self.training = True
        self.inner = inner


class Slotted:
    __slots__ = ("training", "W")

    def __init__(self):
        self.training = True
        self.W = np.ones(2)


def _all_training(model, expected):
    found = []
    stack, seen = [model], set()
    while stack:
        part = stack.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        if isinstance(part, (Dropout, BatchNorm, Custom, Slotted)):
            found.append(part.training)
        stack.extend(children(part).values())
    return found and all(flag is expected for flag in found)


def test_layers_start_in_train_mode():
    for layer in (Dropout(0.5), BatchNorm(3), Custom(), Slotted()):
        assert layer.training is True
    assert not hasattr(LayerNorm(3), "training") and not hasattr(Dense(2, 2), "training")


def test_switches_every_layer_inside_and_returns_the_model():
    inner = Dropout(0.2)
    captured = BatchNorm(2)
    closure = lambda x: captured(x)  # noqa: E731 (a closure over a layer)
    model = Chain(
        Dense(2, 2, relu),
        Chain(Dropout(0.5), Chain(inner)),
        [BatchNorm(2), (Dropout(0.1),)],
        {"head": Custom(Custom(Dropout(0.3))), "slots": Slotted()},
        closure,
        BatchNorm(2).__call__,  # a bound method stands for its layer
    )
    assert testmode(model) is model
    assert _all_training(model, False)
    assert captured.training is False and inner.training is False
    assert model.layers[-1].__self__.training is False
    assert trainmode(model) is model
    assert _all_training(model, True)
    assert captured.training is True and model.layers[-1].__self__.training is True


def test_changes_only_bool_training_fields():
    class Dataset:
        def __init__(self):
            self.training = np.arange(3)  # a field that happens to be named training

    class Holder:
        def __init__(self):
            self.data = Dataset()
            self.drop = Dropout(0.5)

    holder = testmode(Holder())
    np.testing.assert_array_equal(holder.data.training, np.arange(3))
    assert holder.drop.training is False
    dense = testmode(Dense(2, 2))
    assert not hasattr(dense, "training")


def test_shared_layers_and_cycles():
    shared = Dropout(0.5)
    model = Chain(shared, shared, Chain(shared))
    testmode(model)
    assert shared.training is False
    loop = Custom()
    loop.inner = loop  # refers back to itself
    pair = Custom(Custom())
    pair.inner.inner = pair
    assert testmode(loop) is loop and loop.training is False
    testmode(pair)
    assert pair.training is False and pair.inner.training is False


def test_a_deep_model_does_not_hit_the_recursion_limit():
    model = Dropout(0.5)
    for _ in range(3000):
        model = Chain(model)
    testmode(model)
    layer = model
    while isinstance(layer, Chain):
        layer = layer[0]
    assert layer.training is False


def test_modes_change_what_layers_compute():
    x = np.random.default_rng(0).normal(size=(8, 3))
    model = Chain(BatchNorm(3), Dropout(0.5, rng=0))
    assert (model(x) == 0).any()
    testmode(model)
    bn = model[0]
    np.testing.assert_allclose(model(x), (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5), rtol=1e-14)
    before = model[0].running_mean.copy()
    model(x)
    np.testing.assert_array_equal(model[0].running_mean, before)
    trainmode(model)
    model(x)
    assert (model[0].running_mean != before).all()


def test_testmode_is_not_collected_as_a_test():
    assert testmode.__test__ is False


def test_docstring_examples_run():
    assert doctest.testmod(modes).failed == 0
