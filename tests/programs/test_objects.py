"""Group 4, objects: attributes, methods, callables, objects built inside, closures, recursion.

The gradient with respect to an object argument is a dict of its fields, and
with respect to a closure a dict of its captured variables; the checker walks
both and compares every float field with finite differences.
"""

import dataclasses

import numpy as np
import pytest

import srcgrad

from .checks import check_program

rng = np.random.default_rng(4)


# --- the seed's Affine --------------------------------------------------------

class Affine:
    def __init__(self, n_in, n_out):
        self.W = rng.standard_normal((n_out, n_in))
        self.b = rng.standard_normal(n_out)

    def __call__(self, x):
        return self.W @ x + self.b


def affine_loss(m, x):
    return np.sum(m(x) ** 2)


def affine_sum(m, x):
    return np.sum(m(x))


# --- attributes and methods ---------------------------------------------------

class Inner:
    def __init__(self, c):
        self.c = c


class Middle:
    def __init__(self, c, scale):
        self.b = Inner(c)
        self.scale = scale


def nested_attribute_read(a, x):
    return np.sum(a.b.c * x) * a.scale


class Network:
    """A method that calls other methods."""

    def __init__(self, W1, W2):
        self.W1 = W1
        self.W2 = W2
        self.name = "net"
        self.width = W1.shape[0]

    def hidden(self, x):
        return np.zeros(self.width) + np.tanh(self.W1 @ x)

    def output(self, x):
        return self.W2 @ self.hidden(x)

    def loss(self, x, y):
        return np.sum((self.output(x) - y) ** 2)


def method_calls_method(net, x, y):
    return net.loss(x, y)


def bound_method_loss(x, y):
    return NET.loss(x, y)


class Scaled:
    def __init__(self, inner, k):
        self.inner = inner
        self.k = k

    def __call__(self, x):
        return self.k * self.inner(x)


def callable_object_of_callable(m, x):
    return np.sum(m(x) ** 2)


class Square:
    def __call__(self, x):
        return x * x


def stateless_callable(x):
    sq = Square()
    return sq(x) + sq(sq(x))


class Polynomial:
    def __init__(self, coeffs):
        self.coeffs = coeffs

    def __call__(self, x):
        acc = 0.0
        for c in reversed(self.coeffs):
            acc = acc * x + c
        return acc

    def derivative_at(self, x):
        acc = 0.0
        n = len(self.coeffs)
        for i in range(n - 1, 0, -1):
            acc = acc * x + i * self.coeffs[i]
        return acc


def object_built_inside(c0, c1, c2, x):
    p = Polynomial([c0, c1, c2])
    return p(x) * p.derivative_at(x)


def object_argument_with_list_field(p, x):
    return p(x) + p.derivative_at(x) ** 2


# --- dataclasses ---------------------------------------------------------------

@dataclasses.dataclass
class Point:
    x: float
    y: float

    def norm2(self):
        return self.x ** 2 + self.y ** 2

    def scaled(self, k):
        return Point(self.x * k, self.y * k)


def dataclass_built_inside(a, b):
    p = Point(a, b * 2.0)
    q = p.scaled(a)
    return q.norm2() + p.x * q.y


def dataclass_argument(p, k):
    return p.scaled(k).norm2() * p.y


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray
    activation: str = "tanh"

    def __call__(self, x):
        z = self.W @ x + self.b
        return np.tanh(z) if self.activation == "tanh" else z


def dataclass_layers(layers, x):
    for layer in layers:
        x = layer(x)
    return np.sum(x ** 2)


# --- methods that change their object -----------------------------------------

class Counter:
    def __init__(self, scale):
        self.scale = scale
        self.total = 0.0

    def add(self, v):
        self.total = self.total + v * self.scale


def method_changes_object(xs, s):
    c = Counter(s)
    for x in xs:
        c.add(x)
    return c.total * c.total


def method_changes_object_keywords(x, y):
    c = Counter(scale=x)
    c.add(v=y)
    c.add(y * y)
    return c.total


def method_changes_argument_object(c, x):
    c.add(x)
    c.add(x * x)
    return c.total * c.scale


class Cell:
    def __init__(self, W, h):
        self.W = W
        self.h = h

    def step(self, x):
        self.h = np.tanh(self.W @ self.h + x)
        return self.h


def stateful_rnn_cell(W, h0, xs):
    cell = Cell(W, h0)
    for x in xs:
        cell.step(x)
    return np.sum(cell.h)


class Accumulator:
    """Changes a list field the way srcgrad asks (bug 7 is refused: see test_refused.py)."""

    def __init__(self):
        self.items = []

    def push(self, v):
        items = self.items
        items.append(v)
        self.items = items

    def total(self):
        s = 0.0
        for v in self.items:
            s = s + v
        return s


def method_appends_to_field(x, y):
    acc = Accumulator()
    acc.push(x * y)
    acc.push(np.sin(x))
    return acc.total() * y


# --- recursion -------------------------------------------------------------------

def power(x, n):
    if n == 0:
        return 1.0
    if n % 2 == 0:
        half = power(x, n // 2)
        return half * half
    return x * power(x, n - 1)


def recursive_power(x, n):
    return power(x, n)


def tree_sum(node, w):
    if isinstance(node, list):
        total = 0.0
        for child in node:
            total = total + tree_sum(child, w) * w
        return total
    return node * node


def recursion_over_nested_lists(tree, w):
    return tree_sum(tree, w)


class Node:
    def __init__(self, value, children):
        self.value = value
        self.children = children

    def depth_weighted(self, depth):
        s = self.value * depth
        for child in self.children:
            s = s + child.depth_weighted(depth + 1)
        return s


def recursive_method(tree, x):
    return tree.depth_weighted(1) * x


# --- functions in containers, closures, lambdas -----------------------------------

def square(t):
    return t * t


def functions_in_a_list(x):
    fs = [np.sin, square, lambda t: t ** 3, np.tanh]
    total = 0.0
    for f in fs:
        total = total + f(x)
    return total


ACTIVATIONS = {"tanh": np.tanh, "square": square, "exp": np.exp}


def functions_in_a_dict(x, name):
    acts = {"double": lambda t: 2.0 * t, "sin": np.sin}
    return ACTIVATIONS[name](x) * acts["sin"](x) + acts["double"](x)


def closure_made_inside(xs, w):
    def scale(t):
        s = t * w
        return s * s
    total = 0.0
    for x in xs:
        total = total + scale(x)
    return total


def lambda_made_inside(x, w):
    f = lambda t: np.sin(t * w) + x
    return f(x) * f(2.0)


def closure_returned_and_called(x, y):
    f = make_affine(x, y)
    return f(3.0) * f(x)


def make_affine(a, b):
    return lambda t: a * t + b


def closure_defined_after_rebinding(x):
    k = 2.0
    k = x
    g = lambda t: t * k
    return g(x) + k


def closure_appends_to_captured_list(x):
    acc = [0.0]

    def add(v):
        acc.append(v * x)
    add(1.0)
    add(x)
    return sum(acc)


def lambda_defaults_bind_values(xs, w):
    fs = [lambda t, c=c: t * c * w for c in xs]
    return sum([f(2.0) for f in fs])


def map_with_lambda(xs, w):
    return sum(map(lambda t: w * t ** 2, xs))


def map_with_method(p, xs):
    return sum(map(p, xs))


def closure_argument(f, x):
    return np.sum(f(x) ** 2)


def make_layer(n_in, n_out):
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: np.tanh(W @ x + b)


def make_scaler(k):
    def scaler(x):
        return k * x
    return scaler


def closure_of_closure(f, x):
    return np.sum(f(x) ** 2)


def make_composed(g, shift):
    return lambda x: g(x) + shift


class Model:
    """An object holding a list of layers and a dict of settings."""

    def __init__(self):
        self.layers = [Affine(3, 4), Affine(4, 2)]
        self.config = {"scale": 0.5, "name": "m"}

    def __call__(self, x):
        for layer in self.layers:
            x = np.tanh(layer(x))
        return x * self.config["scale"]


def model_with_fields_of_structures(m, x):
    return np.sum(m(x) ** 2)


class Base:
    def __init__(self, w):
        self.w = w

    def f(self, x):
        return self.w * x


class Derived(Base):
    def g(self, x):
        return self.f(x) ** 2 + self.w


def inherited_method(obj, x):
    return obj.g(x)


class Child(Base):
    def f(self, x):
        return super().f(x) ** 2 + x


def method_calls_super(obj, x):
    return obj.f(x)


class WithProperty:
    def __init__(self, w):
        self.w = w

    @property
    def w2(self):
        return self.w * self.w

    @staticmethod
    def sq(t):
        return t * t

    @classmethod
    def make(cls, w):
        return cls(w)

    def scaled(self, x):
        return self.w2 * x  # (a property read on self: srcgrad knows the class, and follows the getter)


def property_and_static_methods(p, x):
    return p.scaled(x) + WithProperty.sq(x) + WithProperty.make(x).w * p.w


def property_of_an_argument(p, x):
    return p.w2 * x


def closures_made_in_a_loop(x, w):
    fs = []
    for k in range(3):
        fs.append(lambda t, k=k: t * k * w)
    return sum([f(x) for f in fs])


def list_of_callable_objects(layers, x):
    for layer in layers:
        x = np.tanh(layer(x))
    return np.sum(x)


NET = Network(rng.standard_normal((3, 2)), rng.standard_normal((2, 3)))
X2 = rng.standard_normal(2)
X3 = rng.standard_normal(3)


CASES = [
    (affine_loss, [(Affine(3, 2), X3), (Affine(2, 4), X2)], None),
    (nested_attribute_read, [(Middle(np.array([1.0, -2.0]), 0.5), X2), (Middle(np.array([0.3, 0.1]), -2.0), X2)], None),
    (method_calls_method, [(NET, X2, np.array([0.5, -0.5])),
                           (Network(rng.standard_normal((4, 2)), rng.standard_normal((1, 4))), X2, np.array([1.0]))], None),
    (bound_method_loss, [(X2, np.array([0.5, -0.5])), (-X2, np.array([1.0, 2.0]))], None),
    (callable_object_of_callable, [(Scaled(Affine(3, 2), 1.5), X3), (Scaled(Scaled(Affine(2, 2), 2.0), -0.5), X2)], None),
    (stateless_callable, [(0.5,), (-1.5,)], None),
    (object_built_inside, [(1.0, 2.0, 3.0, 0.5), (-1.0, 0.5, 0.25, -2.0)], None),
    (object_argument_with_list_field, [(Polynomial([1.0, 2.0, 3.0]), 0.5), (Polynomial([0.5, -1.0]), 2.0)], None),
    (dataclass_built_inside, [(1.5, -0.5), (-2.0, 0.25)], None),
    (dataclass_argument, [(Point(1.0, 2.0), 0.5), (Point(-0.5, 0.25), 3.0)], None),
    (dataclass_layers, [([Layer(rng.standard_normal((3, 2)), rng.standard_normal(3)),
                          Layer(rng.standard_normal((1, 3)), rng.standard_normal(1), "linear")], X2),
                        ([], X2)], None),
    (method_changes_object, [([1.0, 2.0, 3.0], 0.5), ([], 2.0), ([-1.0], 1.5)], None),
    (stateful_rnn_cell, [(rng.standard_normal((2, 2)), X2, []), (rng.standard_normal((2, 2)), X2, [X2]),
                         (rng.standard_normal((2, 2)), X2, list(rng.standard_normal((3, 2))))], None),
    (method_appends_to_field, [(0.5, 2.0), (-1.0, 0.25)], None),
    (method_changes_object_keywords, [(0.5, 2.0), (-1.0, 0.25)], None),
    (method_changes_argument_object, [(Counter(0.5), 1.5), (Counter(-2.0), 0.25)], None),
    (recursive_power, [(1.5, 0), (1.5, 1), (1.5, 5), (-0.7, 6)], [0]),
    (recursion_over_nested_lists, [([1.0, [2.0, 3.0], [[0.5]]], 0.5), (2.0, 1.5), ([], 0.3)], None),
    (recursive_method, [(Node(1.0, [Node(2.0, []), Node(0.5, [Node(-1.0, [])])]), 0.5),
                        (Node(3.0, []), 2.0)], None),
    (functions_in_a_list, [(0.5,), (-1.2,)], None),
    (functions_in_a_dict, [(0.5, "tanh"), (0.5, "square"), (-1.0, "exp")], [0]),
    (closure_made_inside, [([1.0, 2.0], 0.7), ([], 0.7), ([0.5], -1.0)], None),
    (lambda_made_inside, [(1.5, 0.3), (-0.5, 2.0)], None),
    (closure_defined_after_rebinding, [(1.5,), (-0.5,)], None),
    (closure_returned_and_called, [(1.5, 0.3), (-0.5, 2.0)], None),
    (map_with_lambda, [([1.0, 2.0], 0.5), ([-1.0], 3.0)], None),
    (map_with_method, [(Polynomial([1.0, 2.0, 3.0]), [0.5, -1.0]), (Polynomial([0.5]), [2.0])], None),
    (closure_argument, [(make_layer(3, 2), X3), (make_layer(2, 2), X2)], None),
    (closure_of_closure, [(make_composed(make_scaler(1.5), 0.25), X2), (make_composed(make_layer(2, 3), -1.0), X2)], None),
    (model_with_fields_of_structures, [(Model(), X3), (Model(), -X3)], None),
    (inherited_method, [(Derived(1.5), 0.5), (Derived(-0.5), 2.0)], None),
    (method_calls_super, [(Child(1.5), 0.5), (Child(-0.5), 2.0)], None),
    (property_and_static_methods, [(WithProperty(1.5), 0.5), (WithProperty(-1.0), 2.0)], None),
    (closures_made_in_a_loop, [(1.5, 0.5), (-0.5, 2.0)], None),
    (list_of_callable_objects, [([Affine(3, 2), Affine(2, 2)], X3), ([], X3)], None),
]


@pytest.mark.parametrize("fn, inputs, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_object_program(fn, inputs, wrt):
    for args in inputs:
        check_program(fn, *args, wrt=wrt)


def test_a_property_read_where_the_class_is_unknown_is_refused():
    """p.w2 on an argument: srcgrad cannot tell a property from a field when it compiles, and a
    property's gradient resolved later (through the getter, at the backward) is wrong once the
    fields change, so it is refused at the user's line; the same read inside a method works."""
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="p.w2 where w2 is a property of WithProperty"):
        srcgrad.gradient(property_of_an_argument, WithProperty(1.5), 0.5)


def test_seed_affine_structural_gradient():
    a = Affine(10, 5)
    x = rng.random(10)
    da, dx = check_program(affine_sum, a, x)
    assert isinstance(da, dict) and set(da) == {"W", "b"}
    np.testing.assert_allclose(da["W"], np.tile(x, (5, 1)))
    np.testing.assert_allclose(da["b"], np.ones(5))
    np.testing.assert_allclose(dx, a.W.sum(axis=0))
    da, dx = check_program(affine_loss, a, x)
    y = a.W @ x + a.b
    np.testing.assert_allclose(da["W"], 2 * np.outer(y, x))
    np.testing.assert_allclose(da["b"], 2 * y)


def test_non_differentiable_fields_get_none():
    net = Network(rng.standard_normal((3, 2)), rng.standard_normal((2, 3)))
    dnet, _, _ = check_program(method_calls_method, net, X2, np.array([0.5, -0.5]))
    assert set(dnet) >= {"W1", "W2"}
    # SPEC 1: None for strings and for integers used as sizes
    assert dnet["name"] is None and dnet["width"] is None
    dm, _ = check_program(model_with_fields_of_structures, Model(), X3)
    assert isinstance(dm["layers"], list) and set(dm["layers"][0]) == {"W", "b"}
    assert isinstance(dm["config"]["scale"], float) and dm["config"].get("name") is None


def test_closure_gradient_is_a_dict_of_captured_variables():
    layer = make_layer(3, 2)
    dlayer, dx = check_program(closure_argument, layer, X3)
    assert set(dlayer) == {"W", "b"}
    scaler = make_composed(make_scaler(1.5), 0.25)
    (dscaler, _) = check_program(closure_of_closure, scaler, X2)
    assert set(dscaler) == {"g", "shift"}
    assert set(dscaler["g"]) == {"k"}
    np.testing.assert_allclose(dscaler["g"]["k"], np.sum(2 * (1.5 * X2 + 0.25) * X2))


def test_dataclass_gradient_is_a_dict_of_fields():
    (dp, dk) = check_program(dataclass_argument, Point(1.0, 2.0), 0.5)
    assert set(dp) == {"x", "y"}
    # f = k^2 (x^2 + y^2) y
    assert dp["x"] == pytest.approx(2 * 0.25 * 1.0 * 2.0)
    assert dp["y"] == pytest.approx(0.25 * (1.0 + 3 * 4.0))
