"""Walking a model's structure (srcgrad/models/functor.py): which arrays are parameters, and their names."""

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, functor, named_arrays, relu, trainable
from srcgrad.models.functor import child, count, leaves, mirror


@functor("W")
class OnlyW:
    def __init__(self):
        self.W = np.ones((2, 2))
        self.mask = np.ones(2)

    def __call__(self, x):
        return self.W @ x * self.mask


class WithTrainableMethod:
    def __init__(self):
        self.W = np.ones(2)
        self.running_mean = np.zeros(2)

    def trainable(self):
        return {"W": self.W}

    def __call__(self, x):
        return self.W * x - self.running_mean


@functor
class Plain:
    def __init__(self):
        self.W = np.ones(2)


def test_names_follow_fields_and_positions():
    model = Chain(Dense(2, 3, relu), Dense(3, 1))
    assert [name for name, _ in named_arrays(model)] == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    assert named_arrays(model)[0][1] is model[0].W


def test_containers_and_closures():
    W = np.ones(3)
    f = lambda x: W * x
    tree = {"f": f, "list": [np.zeros(1), "text", 3], "tuple": (np.zeros(2),)}
    assert [name for name, _ in named_arrays(tree)] == ["f.W", "list.0", "tuple.0"]


def test_integer_arrays_and_other_values_are_not_parameters():
    model = {"w": np.ones(2), "index": np.arange(3), "n": 4, "name": "x", "fn": np.sum, "module": np}
    assert [name for name, _ in named_arrays(model)] == ["w"]
    # save writes every numeric array, trainable or not
    assert [name for name, _ in named_arrays(model, trainable_only=False)] == ["w", "index"]


def test_functor_narrows_the_trainable_fields():
    assert list(trainable(OnlyW())) == ["W"]
    assert [name for name, _ in named_arrays(OnlyW())] == ["W"]
    assert [name for name, _ in named_arrays(OnlyW(), trainable_only=False)] == ["W", "mask"]
    assert OnlyW.__trainable__ == ("W",)


def test_bare_functor_keeps_every_field():
    assert Plain.__trainable__ is None
    assert [name for name, _ in named_arrays(Plain())] == ["W"]


def test_trainable_method_narrows_the_fields():
    assert [name for name, _ in named_arrays(WithTrainableMethod())] == ["W"]


def test_functor_rejects_non_names():
    with pytest.raises(TypeError):
        functor(3)


def test_shared_arrays_appear_once_at_their_first_path():
    first = Dense(2, 2)
    second = Dense(2, 2)
    second.W = first.W
    names = [name for name, _ in named_arrays(Chain(first, second))]
    assert names == ["layers.0.W", "layers.0.b", "layers.1.b"]
    assert count(Chain(first, second)) == 4 + 2 + 2


def test_cycles_are_walked_once():
    a = Plain()
    a.parent = a
    assert [name for name, _ in named_arrays(a)] == ["W"]


def test_mirror_builds_a_tree_like_the_model():
    model = Chain(Dense(2, 3), np.tanh)
    tree = mirror(lambda a: a.shape, model)
    assert tree == {"layers": [{"W": (3, 2), "b": (3,), "activation": None}, None]}
    shared = np.ones(2)
    marks = mirror(lambda a: object(), [shared, shared])
    assert marks[0] is marks[1]


def test_child_reads_fields_items_and_captured_variables():
    W = np.ones(1)
    f = lambda: W
    assert child(f, "W") is W
    assert child(Plain(), "W").shape == (2,)
    assert child((1, 2), 1) == 2


def test_leaves_paths():
    paths = [path for path, _ in leaves({"a": [np.ones(1), {"b": np.ones(1)}]})]
    assert paths == [("a", 0), ("a", 1, "b")]


def test_params_respects_functor():
    # srcgrad.params collects a model's parameters the way optimisers and save see them.
    layer = OnlyW()
    ps = srcgrad.params(layer)
    assert len(ps) == 1 and layer.W in ps and layer.mask not in ps
    assert len(srcgrad.params(WithTrainableMethod())) == 1
    assert len(srcgrad.params(Chain(Dense(2, 3), Dense(3, 1)))) == 4


def test_trainable_method_must_return_a_dict():
    class Bad:
        def trainable(self):
            return ("W",)

    with pytest.raises(TypeError, match=r"trainable\(\) should return a dict"):
        named_arrays(Bad())


def test_a_bound_method_stands_for_its_object():
    class Scale:
        def __init__(self):
            self.w = np.array([2.0])

        def apply(self, x):
            return self.w * x

    s = Scale()
    model = Chain(s.apply)
    assert [name for name, _ in named_arrays(model)] == ["layers.0.w"]
    assert mirror(lambda a: a.shape, model) == {"layers": [{"w": (1,)}]}
    assert child(s.apply, "w") is s.w
