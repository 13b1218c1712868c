"""Issue #16, "Also found": programs that crashed inside srcgrad, now right (checked against central
differences and the plain function's value) or refused clearly.

Loops over a dict's ``.items()`` that is not a local name, namedtuple arguments, and
``list.extend`` in a loop; at the end, what #18's constructors turned up. (Saving, kept templates and training have their own test files.)
"""

import collections
import functools
import typing

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient, numerical_gradient

WEIGHTS = {"a": 2.0, "b": 3.0}
PARAMS = {"a": np.array([1.0, 2.0]), "b": np.array([3.0])}


# ---------------------------------------------------------------- for over a dict's .items()

def over_global_items(x):
    s = 0.0
    for k, v in WEIGHTS.items():
        s = s + v * x * x
    return s


def over_global_values(x):
    s = 0.0
    for v in WEIGHTS.values():
        s = s + np.sin(v * x)
    return s


def over_global_keys(x):
    s = 0.0
    for k in WEIGHTS.keys():
        s = s + WEIGHTS[k] * x
    return s


def comprehension_over_constant_display(x):
    d = {k: v * x for k, v in {"a": 2.0, "b": 3.0}.items()}
    return d["a"] * d["b"]


def comprehension_over_active_display(x):
    d = {k: v * x for k, v in {"a": x, "b": 3.0}.items()}
    return d["a"] + d["b"] ** 2


def loop_over_active_display_values(x):
    s = 0.0
    for v in {"a": x, "b": np.cos(x)}.values():
        s = s + v * x
    return s


def sum_over_a_view(x):
    return sum(v * x for v in WEIGHTS.values())


@pytest.mark.parametrize("f", [over_global_items, over_global_values, over_global_keys,
                               comprehension_over_constant_display, comprehension_over_active_display,
                               loop_over_active_display_values, sum_over_a_view])
def test_loops_over_dict_views(f):
    (g,) = check_gradient(f, 0.7)
    assert srcgrad.withgradient(f, 0.7)[0] == pytest.approx(f(0.7))
    assert isinstance(g, float)


@pytest.mark.parametrize("f", [loop_over_active_display_values, over_global_items])
def test_a_loop_over_a_view_in_forward_mode(f):
    y, dy = srcgrad.jvp(f, (0.7,), (1.0,))
    assert y == pytest.approx(f(0.7))
    assert dy == pytest.approx(numerical_gradient(f, [0.7], 0))


def test_implicit_parameters_in_a_global_dict_read_through_items():
    """The arrays of a global dict reached by ``.items()`` are parameters: their gradient is not lost."""
    def loss():
        s = 0.0
        for k, v in PARAMS.items():
            s = s + np.sum(v ** 2) * (2.0 if k == "a" else 1.0)
        return s

    ps = srcgrad.params(PARAMS)
    gs = srcgrad.gradient(loss, ps)
    np.testing.assert_allclose(gs[PARAMS["a"]], 4.0 * PARAMS["a"])
    np.testing.assert_allclose(gs[PARAMS["b"]], 2.0 * PARAMS["b"])


# ---------------------------------------------------------------- namedtuples

Point = collections.namedtuple("Point", "a b")


class Layer(typing.NamedTuple):
    w: np.ndarray
    scale: float


def by_name_and_position(p):
    a, b = p
    s = 0.0
    for v in p:
        s = s + v * v
    return a * b + p[1] + s + p.a * np.sin(p.b)


def numeric_point(f, p):
    def flat(a, b):
        return f(Point(a, b))
    return Point(numerical_gradient(flat, [p.a, p.b], 0), numerical_gradient(flat, [p.a, p.b], 1))


@pytest.mark.parametrize("f", [lambda p: p.a * p.b, lambda p: p[0] ** 2 * p[1], by_name_and_position])
def test_a_namedtuple_argument_gets_a_namedtuple_of_gradients(f):
    p = Point(1.3, -0.4)
    (g,) = srcgrad.gradient(f, p)
    assert type(g) is Point
    np.testing.assert_allclose(g, numeric_point(f, p), rtol=1e-6)
    assert srcgrad.withgradient(f, p)[0] == pytest.approx(f(p))


def test_a_typed_namedtuple_holding_an_array():
    def f(layer):
        return np.sum(np.tanh(layer.w) ** 2) * layer[1]

    layer = Layer(np.array([0.3, -1.2, 0.5]), 1.7)
    (g,) = srcgrad.gradient(f, layer)
    assert type(g) is Layer
    np.testing.assert_allclose(g.w, numerical_gradient(lambda w: f(Layer(w, 1.7)), [layer.w], 0), rtol=1e-6)
    assert g.scale == pytest.approx(numerical_gradient(lambda s: f(Layer(layer.w, s)), [1.7], 0))


def test_a_namedtuple_in_forward_mode():
    p, t = Point(1.3, -0.4), Point(0.5, 2.0)
    y, dy = srcgrad.jvp(by_name_and_position, (p,), (t,))
    assert y == pytest.approx(by_name_and_position(p))
    expected = np.dot(numeric_point(by_name_and_position, p), t)
    assert dy == pytest.approx(expected, rel=1e-6)


def test_a_namedtuple_built_inside_is_differentiated():
    """(Refused until #18: building one is now ``namedtuple_of``'s rule; tests/test_calling_conventions.py
    checks it in every mode.)"""
    def build(x):
        p = Point(x, b=2.0 * x)
        return p.a * p.b

    assert srcgrad.gradient(build, 1.5)[0] == pytest.approx(4 * 1.5)
    assert srcgrad.jvp(build, (1.5,), (1.0,))[1] == pytest.approx(4 * 1.5)
    assert srcgrad.hessian(build, 1.5) == pytest.approx(4.0)


# ---------------------------------------------------------------- list.extend in a loop

def extend_in_a_loop(x):
    out = []
    for i in range(3):
        out.extend([x * i, np.sin(x)])
        out.append(x * x)
    return sum(out)


def extend_by_a_tuple_in_a_while_loop(x):
    out = [x]
    n = 0
    while n < 3:
        out.extend((x ** 2, out[-1] * x))
        n += 1
    return sum(out)


def extend_in_a_comprehension_loop(xs):
    out = []
    for x in xs:
        out.extend([x, x * x])
    return sum(v * v for v in out)


@pytest.mark.parametrize("f, arg", [(extend_in_a_loop, 0.8), (extend_by_a_tuple_in_a_while_loop, 0.9),
                                    (extend_in_a_comprehension_loop, [0.5, -1.5, 2.0])])
def test_list_extend_in_a_loop(f, arg):
    check_gradient(f, arg)
    assert srcgrad.withgradient(f, arg)[0] == pytest.approx(f(arg))


def test_list_extend_in_a_loop_forward_and_second_order():
    y, dy = srcgrad.jvp(extend_in_a_loop, (0.8,), (1.0,))
    assert y == pytest.approx(extend_in_a_loop(0.8))
    assert dy == pytest.approx(numerical_gradient(extend_in_a_loop, [0.8], 0))
    d2 = srcgrad.gradient(lambda x: srcgrad.gradient(extend_in_a_loop, x)[0], 0.8)[0]
    first = lambda x: srcgrad.gradient(extend_in_a_loop, x)[0]  # noqa: E731
    assert d2 == pytest.approx(numerical_gradient(first, [0.8], 0), rel=1e-5)


# ---------------------------------------------------------------- losses of mismatched shapes

from srcgrad.models import losses  # noqa: E402

ELEMENTWISE = [losses.mse, losses.mae, losses.huber, losses.crossentropy, losses.logitcrossentropy,
               losses.binarycrossentropy, losses.logitbinarycrossentropy]


@pytest.mark.parametrize("loss", ELEMENTWISE, ids=lambda f: f.__name__)
def test_a_prediction_and_target_of_different_shapes_are_refused(loss):
    """An (8, 1) prediction against an (8,) target broadcast to (8, 8) and gave a wrong loss silently."""
    yhat, y = np.full((8, 1), 0.3), np.linspace(0.1, 0.9, 8)
    message = rf"{loss.__name__}: the prediction has shape \(8, 1\) but the target \(8,\).*broadcast to \(8, 8\)"
    with pytest.raises(ValueError, match=message):
        loss(yhat, y)
    with pytest.raises(ValueError, match=message):
        srcgrad.gradient(lambda p: loss(p, y), yhat)


@pytest.mark.parametrize("loss", ELEMENTWISE, ids=lambda f: f.__name__)
def test_matching_shapes_and_scalar_targets_still_work(loss):
    yhat, y = np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    check_gradient(lambda p: loss(p, y), yhat)
    assert srcgrad.withgradient(lambda p: loss(p, y), yhat)[0] == pytest.approx(loss(yhat, y))
    check_gradient(lambda p: loss(p, 1.0), yhat)


# ---------------------------------------------------------------- integer arrays narrower than 64 bits

def _int8_loss(y):
    return np.sum(y ** 2 * 50)


def _int8_sin(y):
    return np.sum(np.sin(y))


@pytest.mark.parametrize("f, slope", [(_int8_loss, lambda y: 100.0 * y), (_int8_sin, np.cos)])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8])
def test_a_narrow_integer_array_gets_the_float64_gradient_not_an_overflowed_one(f, slope, dtype):
    # (in int8, 100 * y wraps round to -56 for y = 4, and np.sin of it is float16)
    y = np.array([3, 4], dtype=dtype)
    want = slope(np.array([3.0, 4.0]))
    value, (g,) = srcgrad.withgradient(f, y)
    assert value == f(y) and type(value) is type(f(y))  # the value is the user's, wrapped round or not
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, want, rtol=1e-13)
    np.testing.assert_allclose(srcgrad.gradient(f, y)[0], want, rtol=1e-13)  # (again: the cached way)
    np.testing.assert_allclose(srcgrad.pullback(f, y)[1](1.0)[0], want, rtol=1e-13)
    value, tangent = srcgrad.jvp(f, (y,), (np.ones(2),))
    assert value == f(y)
    np.testing.assert_allclose(tangent, np.sum(want), rtol=1e-13)


def _index_and_value(w, i):
    return np.sum(w[i] * i)


def test_a_narrow_integer_array_that_is_also_an_index_is_refused_where_it_gets_a_gradient():
    i = np.array([1, 0], dtype=np.int32)
    with pytest.raises(TypeError, match="(?s)dtype int32.*astype"):
        srcgrad.gradient(_index_and_value, np.ones(2), i)
    with pytest.raises(TypeError, match="(?s)dtype int32.*astype"):
        srcgrad.pullback(_index_and_value, np.ones(2), i)[1](1.0)


def test_int64_arrays_get_float64_gradients_and_narrow_labels_pass():
    (g,) = srcgrad.gradient(_int8_loss, np.arange(3))
    assert g.dtype == np.float64 and np.array_equal(g, [0.0, 100.0, 200.0])
    labels = np.array([1, 0], dtype=np.int32)  # an index: no gradient flows into it, so nothing to refuse

    def nll(w, labels):
        return -np.sum(w[np.arange(2), labels])

    gw, glabels = srcgrad.gradient(nll, np.ones((2, 2)), labels)
    assert np.array_equal(gw, [[0.0, -1.0], [-1.0, 0.0]]) and np.array_equal(glabels, [0.0, 0.0])


# ---------------------------------------------------------------- array rules chosen by name

class Temperature:
    """A user's class with a field and a method named like an array's (``.T``, ``.sum()``)."""

    def __init__(self, T):
        self.T = T

    def sum(self):
        return self.T * 2.0


def field_named_T(x, box):
    return np.sum(box.T * x)


def method_named_sum(x, box):
    return box.sum() * x


def built_inside(x):
    box = Temperature(x * 3.0)
    return box.T * 2.0


def arrays_by_name(x, W):
    return (x @ W.T).sum() + W.mean() + (x * 2.0).reshape(-1).sum()


@pytest.mark.parametrize("f, args", [
    (field_named_T, (1.5, Temperature(np.array([1.0, 2.0])))),
    (method_named_sum, (1.5, Temperature(2.0))),
    (built_inside, (1.5,)),
])
def test_a_users_field_or_method_named_like_an_arrays_is_refused_not_given_the_array_rule(f, args):
    """``box.T`` ran the user's field, and srcgrad gave it the transpose's gradient: zeros, or an
    internal IndexError. Now the array rule is applied only to arrays and numbers; anything else is
    refused at the user's line."""
    with pytest.raises(srcgrad.errors.UnsupportedSyntaxError, match=r"where box is a Temperature") as info:
        srcgrad.gradient(f, *args)
    assert "test_soundness_misc.py" in str(info.value) and "a name NumPy's arrays do not have" in str(info.value)


def test_array_rules_by_name_on_arrays_are_unchanged_in_both_modes():
    x, W = np.arange(6.0).reshape(2, 3) / 7, np.arange(12.0).reshape(4, 3) / 5
    gx, gW = check_gradient(arrays_by_name, x, W)  # (against central differences)
    value, tangent = srcgrad.jvp(arrays_by_name, (x, W), (x, W))
    assert value == arrays_by_name(x, W)
    assert tangent == pytest.approx(np.sum(gx * x) + np.sum(gW * W), rel=1e-9)
    # Only W, whose kind is not known, is checked, once; what NumPy made is known to be an array.
    assert srcgrad.adjoint_source(arrays_by_name).count("expect_numeric") == 1


# ---------------------------------------------------------------- forward mode crashes

def dict_comprehension(x):
    d = {k: v * x for k, v in {"a": 1.0, "b": 2.0}.items()}
    return d["a"] + d["b"] * x


cubed = lambda x: x ** 3  # noqa: E731


def through_a_lambda_rule(x):
    return cubed(x) * 2.0


def test_a_dict_comprehension_in_forward_mode():
    """Its tangent is built item by item into the zero tangent of {}, which was None (a TypeError)."""
    assert srcgrad.jvp(dict_comprehension, (1.5,), (1.0,)) == pytest.approx((1.5 + 2 * 1.5 ** 2, 1.0 + 4 * 1.5))
    assert srcgrad.gradient(dict_comprehension, 1.5) == pytest.approx((1.0 + 4 * 1.5,))


def test_a_rule_written_as_a_lambda_in_forward_mode():
    """Forward mode injected the rule under its name, '<lambda>': generated code did not compile."""
    from srcgrad.rules import registry

    srcgrad.defrule(cubed)(lambda dy, y, x: (3 * x ** 2 * dy,))
    try:
        assert srcgrad.jvp(through_a_lambda_rule, (2.0,), (1.0,)) == pytest.approx((16.0, 24.0))
        assert srcgrad.gradient(through_a_lambda_rule, 2.0) == pytest.approx((24.0,))
    finally:
        registry.rules.pop(cubed, None)
        registry._changed(cubed)


# ---------------------------------------------------------------- a loop over an attribute's .items()

class Weighted:
    def __init__(self):
        self.W = {"a": np.array([1.0, 2.0]), "b": np.array([3.0])}

    def __call__(self, x):
        s = 0.0
        for k, v in self.W.items():
            s = s + np.sum(v * x)
        return s


class Pairs:
    """A user's class with its own items(): not a dict, so the loop is refused, not read as one."""

    def __init__(self, v):
        self.v = v

    def items(self):
        return [("a", self.v)]


class HoldsPairs:
    def __init__(self, v):
        self.W = Pairs(v)

    def __call__(self, x):
        s = 0.0
        for k, v in self.W.items():
            s = s + v * x
        return s


def call_model(m, x):
    return m(x)


def test_a_loop_over_an_attributes_items_in_every_mode():
    """It was a NoRuleError for dict.items; now a dict held in a field is walked like a local one."""
    m = Weighted()
    dm, dx = srcgrad.gradient(call_model, m, 2.0)
    assert dx == pytest.approx(6.0)
    np.testing.assert_allclose(dm["W"]["a"], [2.0, 2.0])
    np.testing.assert_allclose(dm["W"]["b"], [2.0])
    assert srcgrad.jvp(call_model, (m, 2.0), (None, 1.0)) == pytest.approx((12.0, 6.0))
    assert srcgrad.hessian(lambda x: call_model(m, x) ** 2, 2.0) == pytest.approx(2 * 6.0 ** 2)


def test_a_loop_over_the_items_of_a_users_class_is_refused():
    with pytest.raises(srcgrad.errors.UnsupportedSyntaxError, match=r"\.items\(\) of a Pairs") as info:
        srcgrad.gradient(call_model, HoldsPairs(2.0), 1.5)
    assert "test_soundness_misc.py" in str(info.value)


# ---------------------------------------------------------------- indexing into a user's container

def first_layer_by_index(m, x):
    return np.sum(m[0].W ** 2) + np.sum(m(x))


def first_layer_by_field(m, x):
    return np.sum(m.layers[0].W ** 2) + np.sum(m(x))


def test_indexing_into_a_chain_goes_through_its_getitem_in_both_modes():
    """m[0] ran Chain.__getitem__; reverse mode was an internal TypeError and forward mode gave the
    layer a zero tangent (a silent wrong jvp). Both now follow the method's source."""
    from srcgrad import models

    m = models.Chain(models.Dense(3, 2), models.Dense(2, 1))
    x = np.random.default_rng(1).standard_normal((4, 3))
    by_index = srcgrad.gradient(first_layer_by_index, m, x)
    by_field = srcgrad.gradient(first_layer_by_field, m, x)
    for layer, expected in zip(by_index[0]["layers"], by_field[0]["layers"]):
        np.testing.assert_allclose(layer["W"], expected["W"], rtol=1e-12)
        np.testing.assert_allclose(layer["b"], expected["b"], rtol=1e-12)
    np.testing.assert_allclose(by_index[1], by_field[1], rtol=1e-12)
    tangent = {"layers": [{"W": np.ones((2, 3)), "b": np.zeros(2)}, {"W": np.zeros((1, 2)), "b": np.zeros(1)}]}
    value, dy = srcgrad.jvp(first_layer_by_index, (m, x), (tangent, np.zeros_like(x)))
    assert value == first_layer_by_index(m, x)
    assert dy == pytest.approx(np.sum(by_field[0]["layers"][0]["W"]), rel=1e-12)


# ---------------------------------------------------------------- objects changed in forward mode

class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return np.tanh(self.W @ x + self.b)


class Total:
    def __init__(self):
        self.total = 0.0

    def add(self, v):
        self.total = self.total + v


AFFINE_W = np.array([[0.2, -0.1, 0.4], [0.3, 0.5, -0.2]])


def field_set_from_the_input(x):
    layer = Affine(AFFINE_W, np.zeros(2))
    layer.b = layer.b + x[:2]
    return np.sum(layer(x))


def added_by_a_method(x):
    t = Total()
    for v in x:
        t.add(v * v)
    return t.total


def test_a_field_set_in_forward_mode_carries_its_tangent():
    """layer.b = layer.b + x[:2] rebinds no name: forward mode dropped the field's tangent, so jvp and
    hessian (forward over reverse) were silently wrong."""
    x = np.array([0.35, 0.7, 0.15])
    (g,) = check_gradient(field_set_from_the_input, x)
    t = np.array([0.3, -0.5, 0.8])
    value, dy = srcgrad.jvp(field_set_from_the_input, (x,), (t,))
    assert value == field_set_from_the_input(x)
    assert dy == pytest.approx(g @ t, rel=1e-10)
    rows = [numerical_gradient(lambda z, i=i: srcgrad.gradient(field_set_from_the_input, z)[0][i], [x], 0)
            for i in range(3)]
    np.testing.assert_allclose(srcgrad.hessian(field_set_from_the_input, x), rows, rtol=1e-5, atol=1e-7)


def test_a_method_changing_its_object_is_refused_in_forward_mode_and_at_second_order():
    x = np.array([0.35, 0.7, 0.15])
    assert srcgrad.gradient(added_by_a_method, x)[0] == pytest.approx(2 * x)
    for run in (lambda: srcgrad.jvp(added_by_a_method, (x,), (x,)), lambda: srcgrad.hessian(added_by_a_method, x)):
        with pytest.raises(srcgrad.UnsupportedSyntaxError, match="for its effect on its object") as info:
            run()
        assert "test_soundness_misc.py" in str(info.value)


# ---------------------------------------------------------------- properties, super().__init__, classmethods

class Squared:
    def __init__(self, w):
        self.w = w

    @property
    def sq(self):
        return self.w * self.w

    @classmethod
    def tripled(cls, v):
        return cls(v * 3.0)

    def total(self):
        return np.sum(self.sq)


class Doubled(Squared):
    def __init__(self, w):
        super().__init__(w * 2.0)


def through_a_property(x):
    return np.sum(Squared(x).sq)


def through_a_method_reading_a_property(x):
    return Squared(x).total()


def through_a_parents_init(x):
    return Doubled(x).total()


def through_a_classmethod(x):
    return np.sum(Squared.tripled(x).w ** 2)


def property_of_an_argument(p):
    return np.sum(p.sq)


@pytest.mark.parametrize("f, slope", [
    (through_a_property, lambda x: 2 * x),
    (through_a_method_reading_a_property, lambda x: 2 * x),
    (through_a_parents_init, lambda x: 8 * x),
    (through_a_classmethod, lambda x: 18 * x),
])
def test_properties_a_parents_init_and_classmethods_are_differentiated(f, slope):
    """p.sq, a property, was differentiated as a field (a zero gradient), and super().__init__(w)
    as a constant (a zero too)."""
    x = np.array([0.35, 0.7, 0.15])
    np.testing.assert_allclose(check_gradient(f, x)[0], slope(x), rtol=1e-9)
    # (an object made inside the function is not differentiated twice yet: a clear refusal, where a
    # classmethod's was an internal AttributeError)
    with pytest.raises(srcgrad.NoRuleError, match="higher-order derivative through making a (Squared|Doubled)"):
        srcgrad.hessian(f, x)


def test_a_property_of_an_object_whose_class_is_unknown_is_refused():
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="p.sq where sq is a property of Squared") as info:
        srcgrad.gradient(property_of_an_argument, Squared(np.ones(2)))
    assert "test_soundness_misc.py" in str(info.value)


class Cached:
    def __init__(self, w):
        self.w = w

    @functools.cached_property
    def sq(self):
        return self.w * self.w

    def total(self):
        return np.sum(self.sq)


def through_a_cached_property(x):
    return Cached(x).total()


def test_another_descriptor_written_in_python_is_refused_even_where_the_class_is_known():
    """Only a property's getter is followed; functools.cached_property would otherwise be a field."""
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="self.sq where sq is a cached_property of Cached"):
        srcgrad.gradient(through_a_cached_property, np.array([1.0, 2.0]))


# ------------------------------------------------------------------ a method named like an array's, on a known object

class Tripler:
    def sum(self, x):
        return 3.0 * x


TRIPLER = Tripler()


def through_a_global_objects_sum(x):
    return TRIPLER.sum(x * x)


def test_a_global_objects_method_named_sum_is_its_own_method():
    """``TRIPLER.sum(v)`` is Tripler's method: NumPy's ``.sum`` rule would take ``v`` for an axis (a zero)."""
    assert srcgrad.gradient(through_a_global_objects_sum, 1.5) == pytest.approx((9.0,))
    assert srcgrad.jvp(through_a_global_objects_sum, (1.5,), (1.0,))[1] == pytest.approx(9.0)


def scipy_distribution_mean(m):
    return scipy.stats.norm.mean(m, 2.0)


def test_a_library_objects_method_named_mean_is_refused_not_a_zero():
    """Was a silent 0.0: ``scipy.stats.norm.mean`` got NumPy's ``.mean`` rule, ``m`` taken for its axis."""
    global scipy
    scipy = pytest.importorskip("scipy")
    pytest.importorskip("scipy.stats")
    for differentiate in (lambda f: srcgrad.gradient(f, 1.5), lambda f: srcgrad.jvp(f, (1.5,), (1.0,))):
        with pytest.raises(srcgrad.NoRuleError, match="scipy.stats.norm.mean"):
            differentiate(scipy_distribution_mean)


class Node:
    def __init__(self, w):
        self.w = w
        self.me = self


def through_an_object_that_holds_itself(x, node):
    return x * 2.0


def test_an_argument_that_holds_itself_gets_a_gradient_not_a_recursion_error():
    """``gradient(g, x, scipy.stats.norm.logpdf)`` recursed forever over the distribution's fields."""
    dx, dnode = srcgrad.gradient(through_an_object_that_holds_itself, 1.5, Node(np.ones(2)))
    assert dx == 2.0
    np.testing.assert_array_equal(dnode["w"], np.zeros(2))
    assert dnode["me"] is None


def alternating(x, n=2):
    return x * (-1) ** n + x * (-2.5) ** 3


def test_a_negative_literal_raised_to_a_power_keeps_its_parentheses():
    """Generated code printed (-1) ** n as -1 ** n, which is -(1 ** n): a wrong value and gradient, silently."""
    value, (dx,) = srcgrad.withgradient(alternating, 1.5)
    assert value == alternating(1.5) and dx == pytest.approx(1.0 - 2.5 ** 3)
    assert srcgrad.jvp(alternating, (1.5,), (1.0,))[0] == alternating(1.5)
    # (and the exponent's zero tangent met log(-1): the tangent was NaN)
    assert srcgrad.jvp(alternating, (1.5,), (1.0,))[1] == pytest.approx(1.0 - 2.5 ** 3)
    assert "(-1) ** n" in srcgrad.adjoint_source(alternating)


# ---------------------------------------------------------------- #18: wrong or lost gradients found while adding constructors

def list_rebuilt_in_a_loop(x):
    items = []
    for i in range(3):
        col = [1.0]
        col.append(x[i])
        items.append(tuple(col))
    return items[1][0] * items[1][1]


def list_filled_by_an_inner_loop(x):
    rows = [x, x * 2]
    items = []
    for i in range(3):
        col = []
        for row in rows:
            col.append(row[i])
        items.append(tuple(col))
    return items[1][0] * items[1][1]


@pytest.mark.parametrize("fn", [list_rebuilt_in_a_loop, list_filled_by_an_inner_loop])
def test_a_list_made_again_in_each_iteration_starts_with_no_gradient(fn):
    """``col = [...]`` emitted no code in the backward, so ``dcol`` kept what was left of the later
    iteration's gradient: ``x[0]`` got 0.7 (the first function), or an IndexError (the second)."""
    for x in (np.array([0.3, 0.7, 1.1]), np.array([-1.2, 0.4, 2.0])):
        check_gradient(fn, x)
        v = np.array([0.5, -1.0, 2.0])
        expected = numerical_gradient(lambda z: np.sum(srcgrad.gradient(fn, z)[0] * v), [x], 0)
        np.testing.assert_allclose(srcgrad.hessian(fn, x) @ v, expected, atol=1e-6)


def starred_items(x):
    rows = (x, 2.0 * x)
    items = (1.0, *rows, x[::-1])
    listed = [*x]
    return items[1][0] + items[3][1] + listed[2] * 3.0


def test_a_starred_item_of_a_display_gets_the_gradients_of_its_items():
    """``[*rows]`` took the gradient of its items for the gradient of ``rows`` itself: zeros, or a crash."""
    x = np.array([0.3, 0.7, 1.1])
    dx, = srcgrad.gradient(starred_items, x)
    np.testing.assert_allclose(dx, [1.0, 1.0, 3.0])
    np.testing.assert_allclose(srcgrad.jvp(starred_items, (x,), (np.ones(3),))[1], 5.0)


class Squares:
    def __init__(self, w):
        self.w = w

    def total(self):
        return np.sum(self.w ** 2)


def method_held_in_a_name(o):
    m = o.total
    return m()


def method_called(o):
    return o.total()


def method_times(x, o):
    return o.total() * x[0]


def test_a_bound_method_read_as_a_value_passes_its_object_the_gradient():
    """``m = o.total`` gave ``o`` the gradient ``{"total": dm}``, as for a field: ``o.w`` got zeros. The
    generated code of ``o.total()`` reads the method that way, so a second derivative lost it too."""
    w = np.array([0.3, 0.7, 1.1])
    o = Squares(w)
    np.testing.assert_allclose(srcgrad.gradient(method_held_in_a_name, o)[0]["w"], 2 * w)
    twice = srcgrad.gradient(lambda o: np.sum(srcgrad.gradient(method_called, o)[0]["w"]), o)[0]["w"]
    np.testing.assert_allclose(twice, [2.0, 2.0, 2.0])
    v = np.array([0.5, -1.0, 2.0])
    second = srcgrad.gradient(lambda z: np.sum(srcgrad.gradient(method_times, z, Squares(z))[0] * v), w)[0]
    np.testing.assert_allclose(second, 2 * w * v[0])


def test_forward_mode_through_a_method_carries_its_objects_tangent():
    """``jvp`` of ``o.total() * x[0]`` with a tangent for ``o`` dropped it: 0.895 for 1.885."""
    x, v = np.array([0.3, 0.7, 1.1]), np.array([0.5, -1.0, 2.0])
    o = Squares(x)
    _, dy = srcgrad.jvp(method_times, (x, o), (v, {"w": v}))
    assert dy == pytest.approx(o.total() * v[0] + 2 * np.sum(x * v) * x[0])


def drawn_from_x(x):
    return np.sum(np.random.default_rng(0).normal(x, 1.0) * x)


def test_a_draw_from_a_parameter_is_refused_not_a_constant():
    """With a fixed seed ``rng.normal(x, 1)`` is ``x + z``: treating it as a constant lost the ``x``."""
    x = np.array([0.3, 0.7, 1.1])
    for run in (lambda: srcgrad.gradient(drawn_from_x, x), lambda: srcgrad.jvp(drawn_from_x, (x,), (x,))):
        with pytest.raises(srcgrad.NoRuleError, match="draws random numbers from parameters") as caught:
            run()
        assert caught.value.filename.endswith("test_soundness_misc.py")


class Accumulator:
    def __init__(self):
        self.total = 0.0

    def add(self, v, k=1.0):
        self.total = self.total + v * k


def added_with_options(x):
    acc = Accumulator()
    options = {"k": 2.0}
    acc.add(x[0], **options)
    return acc.total


def test_a_method_called_for_its_effect_with_spread_arguments_is_refused():
    """``acc.add(x[0], **options)`` as a statement was not followed into ``add``: its change to ``acc``
    was lost and the gradient was zeros. It is refused at its line."""
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="for its effect with") as caught:
        srcgrad.gradient(added_with_options, np.array([0.3, 0.7]))
    assert caught.value.filename.endswith("test_soundness_misc.py")


class Scaled:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return self.w * x


class Holder:
    def __init__(self, f):
        self.f = f

    def __call__(self, x):
        return self.f(x)

    def doubled(self, x):
        return 2.0 * self.f(x)


def test_forward_mode_through_a_callable_field_carries_the_fields_tangent():
    """``self.f(x)`` with ``f`` a layer held in a field was given the tangent of ``self``, not of ``self.f``:
    jvp in the layer's weight gave 0 where the answer is 3. (Reverse mode was right.)"""
    h, x = Holder(Scaled(np.array([2.0]))), np.array([3.0])
    for run in (lambda m: m(x), lambda m: m.doubled(x)):
        y, t = srcgrad.jvp(run, (h,), ({"f": {"w": np.array([1.0])}},))
        (g,) = srcgrad.gradient(lambda m: np.sum(run(m)), h)
        np.testing.assert_allclose(t, g["f"]["w"] * 1.0)
        assert float(t[0]) == (3.0 if run(h)[0] == 6.0 else 6.0)


def picked(u, x):
    return u[np.argmax(x)]


@srcgrad.defrule(picked, forward="linear")
def picked_rule(dy, y, u, x):
    return (np.eye(len(u))[np.argmax(x)] * dy, None)


def test_a_linear_rule_passed_as_a_value_gives_no_tangent_through_an_argument_without_gradient():
    """``forward="linear"`` is linear in each argument that carries a gradient. A call the compiler sees left
    out ``x`` (its reverse rule gives None); the same rule passed in as a value added ``picked(u, dx)``
    too: a tangent of 4 where the answer is 1."""
    u, x = np.array([1.0, 2.0, 3.0]), np.array([0.0, 5.0, 1.0])
    du, dx = np.ones(3), np.array([0.0, 0.0, 9.0])
    inline = srcgrad.jvp(lambda u, x: picked(u, x), (u, x), (du, dx))[1]
    passed = srcgrad.jvp(lambda u, x, fn: fn(u, x), (u, x, picked), (du, dx, None))[1]
    assert inline == passed == 1.0


def test_a_closure_that_returns_a_captured_variable_reads_its_cell():
    """``def scale(): return k`` compiled as a callee (implicit parameters) read ``k`` as a global of the
    generated code: a NameError. Its forward takes the closure now, in both modes."""
    k = 2.0
    x = np.ones(3)

    def scale():
        return k

    assert np.array_equal(srcgrad.gradient(lambda: np.sum(x * scale()), srcgrad.params(x))[x], [2.0, 2.0, 2.0])
    assert srcgrad.jvp(lambda v: np.sum(v * scale()), (x,), (np.ones(3),))[1] == 6.0
    assert srcgrad.gradient(lambda v: v * scale(), 3.0) == (2.0,)


class Spread:
    def __init__(self, w):
        self.w = w

    def __call__(self, *xs):
        return xs[0] * self.w


def test_second_order_through_a_callable_object_whose_call_takes_star_args():
    """An object whose ``__call__`` takes ``*xs``, called at second order, was dispatched as a bound method
    (AttributeError: no ``__self__``)."""
    p, x = Spread(np.array([3.0, 4.0])), np.array([1.0, 2.0])
    np.testing.assert_allclose(srcgrad.hessian(lambda x: np.sum(p(x) ** 3), x), np.diag(6 * p.w ** 3 * x))


SHUFFLER = np.random.default_rng(0)


def shuffled_by_a_global_generator(w, a):
    s = np.sum(a * w)
    SHUFFLER.shuffle(a)
    return s


def shuffled_by_a_local_generator(w, a):
    rng = np.random.default_rng(0)
    s = np.sum(a * w)
    rng.shuffle(a)
    return s


def shuffled_by_np_random(w, a):
    s = np.sum(a * w)
    np.random.shuffle(a)
    return s


def added_at(w, a):
    s = np.sum(a * w)
    np.add.at(a, [0], 5.0)
    return s


@pytest.mark.parametrize("f", [shuffled_by_a_global_generator, shuffled_by_a_local_generator, shuffled_by_np_random,
                               added_at], ids=lambda f: f.__name__)
def test_a_write_in_place_by_a_generator_or_ufunc_at_is_refused(f):
    """``rng.shuffle(a)`` and ``np.add.at(a, i, v)`` after ``a`` was used were run as constants: the backward
    pass read the shuffled (or added-to) ``a``, and dw came out [2, 0, 1] where the answer is [0, 1, 2]."""
    a = np.array([0.0, 1.0, 2.0])
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="shuffle|writes into") as caught:
        srcgrad.gradient(f, np.ones(3), a.copy())
    assert caught.value.filename.endswith("test_soundness_misc.py")
    assert "permutation" in caught.value.fix or "bincount" in caught.value.fix


def test_shuffling_by_indexing_is_differentiated():
    """The rewrite the refusal suggests: a gather with a permutation drawn as a constant."""
    def f(w, a):
        s = np.sum(a * w)
        a = a[np.random.default_rng(0).permutation(len(a))]
        return s + np.sum(a * w) * 0.0 + a[0]

    a = np.array([0.0, 1.0, 2.0])
    gw, ga = srcgrad.gradient(f, np.ones(3), a)
    np.testing.assert_array_equal(gw, a)
    first = np.random.default_rng(0).permutation(3)[0]
    np.testing.assert_array_equal(ga, np.ones(3) + (np.arange(3) == first))


@srcgrad.nograd
def bumped_in_place(a):
    a += 1.0


@srcgrad.nograd
def reported(a, k=1):
    return float(np.sum(a)) * k


def kept_then_bumped(w, a):
    s = np.sum(a * w)
    bumped_in_place(a)
    return s


def kept_then_reported(w, a):
    s = np.sum(a * w)
    n = reported(a, k=2)
    reported(w)
    return s * n


def test_a_users_nograd_function_that_writes_into_an_array_is_refused():
    """srcgrad does not read a nograd function: ``bumped_in_place(a)`` after ``s = np.sum(a * w)`` changed the
    ``a`` the backward pass read, and dw came out [1, 1] where the answer is [0, 0]. Its arrays are read-only
    while it runs, and the write is refused; the caller's array is left as it was."""
    a = np.zeros(2)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="writes into an array it is given") as caught:
        srcgrad.gradient(kept_then_bumped, np.ones(2), a)
    assert caught.value.filename.endswith("test_soundness_misc.py")
    assert np.array_equal(a, [0.0, 0.0]) and a.flags.writeable


def test_a_users_nograd_function_that_only_reads_runs_in_every_mode_and_is_shown_as_written():
    w, a = np.ones(2), np.ones(2)
    gw, ga = srcgrad.gradient(kept_then_reported, w, a)
    np.testing.assert_array_equal(gw, [4.0, 4.0])  # (n = 4 is a constant)
    np.testing.assert_array_equal(ga, [4.0, 4.0])
    assert srcgrad.jvp(kept_then_reported, (w, a), (np.ones(2), np.zeros(2)))[1] == 8.0
    np.testing.assert_array_equal(srcgrad.hessian(lambda w: kept_then_reported(w, a), w), np.zeros((2, 2)))
    shown = srcgrad.adjoint_source(kept_then_reported)
    assert "n = reported(a, k=2)" in shown and "locked_call" not in shown
    assert w.flags.writeable and a.flags.writeable
