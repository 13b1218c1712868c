"""Nested gradient: differentiating code that itself calls srcgrad.gradient (SPEC 1, seeds)."""

import math

import numpy as np
import pytest

import srcgrad
from gradcheck import numerical_gradient


def f(x):
    return 3 * x ** 2 + 2 * x + 1


def df(x):
    return srcgrad.gradient(f, x)[0]


def d2f(x):
    return srcgrad.gradient(df, x)[0]


def test_seed_second_derivative():
    assert df(2) == 14.0
    assert d2f(2) == 6.0
    assert df(1) == 8.0 and d2f(1) == 6.0


def wave(x):
    return math.sin(x) * math.exp(-x) + math.log(1 + x ** 2)


def piecewise(x):
    if x > 0:
        y = x ** 3
    else:
        y = np.sin(x)
    return y


def square(x):
    return x * x


def nested_calls(x):
    return square(np.tanh(x)) * 2.0


@pytest.mark.parametrize("fn", [wave, piecewise, nested_calls])
@pytest.mark.parametrize("x", [0.7, -0.4, 1.3])
def test_second_derivative_matches_differences_of_the_first(fn, x):
    first = lambda x: srcgrad.gradient(fn, x)[0]
    second = srcgrad.gradient(first, x)[0]
    assert second == pytest.approx(numerical_gradient(first, (x,), 0), rel=1e-5, abs=1e-6)


def loss(w):
    return np.sum(np.tanh(w) ** 2 * np.array([1.0, 2.0, 3.0]))


def weighted_gradient(w):
    return np.sum(srcgrad.gradient(loss, w)[0] * np.array([0.5, -1.0, 2.0]))


@pytest.mark.parametrize("seed", [0, 1])
def test_second_order_through_arrays(seed):
    w = np.random.default_rng(seed).normal(size=3)
    (g,) = srcgrad.gradient(weighted_gradient, w)
    np.testing.assert_allclose(g, numerical_gradient(weighted_gradient, (w,), 0), rtol=1e-5, atol=1e-7)


def test_second_derivative_source_is_generated_code_differentiated_again():
    source = srcgrad.adjoint_source(df)
    assert "def df_forward" in source and "def df_backward" in source


def cubic_sum(x):
    return np.sum(x ** 3)


def coupled(x):
    return x[0] * x[1] ** 2 + np.sin(x[0] * x[2])


def log_sum_exp(x):
    return np.log(np.sum(np.exp(x)))


def quadratic(x):
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 1.0]])
    return x @ A @ x


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[1]) ** 2 + 100 * (x[2] - x[1] ** 2) ** 2


def recurrent(x):
    h = x
    for i in range(3):
        h = np.tanh(1.5 * h + 0.1 * h[::-1])
    return np.sum(h ** 2) + np.sum(x * h)


INPUTS = np.array([[0.5, -1.0, 0.2], [1.0, 0.3, -0.7], [-0.4, 0.8, 0.6]])
TARGETS = np.array([0.3, -0.2, 0.5])


def loop_loss(w):
    total = 0.0
    for k in range(len(TARGETS)):
        prediction = np.tanh(INPUTS[k] @ w)
        total = total + (prediction - TARGETS[k]) ** 2
    return total


@pytest.mark.parametrize("fn", [cubic_sum, coupled, log_sum_exp, quadratic, rosenbrock, recurrent, loop_loss])
def test_hessian_matches_finite_differences_of_the_gradient(fn):
    x = np.array([0.3, -0.7, 1.1])
    H = srcgrad.hessian(fn, x)
    assert H.shape == (3, 3)
    grad = lambda x: srcgrad.gradient(fn, x)[0]
    numeric = np.stack([numerical_gradient(lambda x: grad(x)[i], (x,), 0) for i in range(3)])
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-5)


def test_jacobian_shapes_and_values():
    A = np.arange(6.0).reshape(2, 3)
    J, K = srcgrad.jacobian(lambda x, s: np.tanh(A @ x) * s, np.array([0.1, 0.2, 0.3]), 2.0)
    assert J.shape == (2, 3) and K.shape == (2,)
    z = A @ np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(J, 2.0 * (1 - np.tanh(z) ** 2)[:, None] * A)
    np.testing.assert_allclose(K, np.tanh(z))


def test_differentiable_transforms_at_definition():
    @srcgrad.differentiable
    def g(x):
        return x ** 3

    assert g(2.0) == 8.0 and g.gradient(2.0) == (12.0,)
    assert "def g_backward" in g.adjoint_source()
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        @srcgrad.differentiable
        def bad(x):
            yield x


class Scaled:
    def __init__(self, k):
        self.k = k

    @srcgrad.differentiable
    def energy(self, x):
        return self.k * x ** 2


def test_differentiable_methods():
    s = Scaled(3.0)
    assert s.energy(2.0) == 12.0
    assert s.energy.gradient(2.0) == (12.0,)


def test_stop_gradient():
    assert srcgrad.gradient(lambda x: x * srcgrad.stop_gradient(x), 3.0) == (3.0,)


# ---------------------------------------------------------------- loops, and third order
# Each derivative is checked against central differences of the one below it.


def derivatives(fn, order):
    """``[fn, fn', fn'', ...]`` up to ``order``, each the gradient of the one before."""
    out = [fn]
    for _ in range(order):
        out.append(lambda x, lower=out[-1]: srcgrad.gradient(lower, x)[0])
    return out


def carried(x):
    y = x
    for i in range(3):
        y = y * y + np.sin(y)  # the carried value feeds itself
    return y


def cubic(x):
    return 3 * x ** 3 + 2 * x ** 2


def transcendental(x):
    return np.sin(x) * np.exp(0.5 * x) + np.log(1 + x ** 2)


def squared_twice(x):
    y = x
    y = y * y
    y = y * y
    return y


def squared_twice_in_a_loop(x):
    y = x
    for i in range(2):
        y = y * y
        y = y * y
    return y


def while_loop(x):
    y = x
    k = 0
    while k < 3:
        y = np.sin(y) * y + x
        k = k + 1
    return y


def branch_in_loop(x):
    y = x
    for i in range(4):
        if y > 1.0:
            y = np.log(y) + x
        else:
            y = y * y + 0.5 * x
    return y


def appended_then_summed(x):
    ys = []
    y = x
    for i in range(3):
        y = np.sin(y) + y * x
        ys.append(y)
    total = 0.0
    for v in ys:
        total = total + v * v
    return total


def stops_early(x):
    y = x
    for i in range(5):
        if y > 2.0:
            break
        y = y * 1.7 + np.cos(y)
    return y


LOOPS_AND_FRIENDS = [carried, cubic, transcendental, squared_twice, squared_twice_in_a_loop, while_loop,
                     branch_in_loop, appended_then_summed, stops_early]


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("fn", LOOPS_AND_FRIENDS)
@pytest.mark.parametrize("x", [0.4, 0.9, -0.6])
def test_nth_derivative_matches_differences_of_the_one_below(fn, order, x):
    lower, nth = derivatives(fn, order)[-2:]
    assert nth(x) == pytest.approx(numerical_gradient(lower, (x,), 0), rel=1e-5, abs=1e-5)


def test_known_values_at_second_and_third_order():
    d3 = derivatives(cubic, 3)[3]
    assert d3(0.3) == pytest.approx(18.0) and d3(-2.0) == pytest.approx(18.0)
    _, _, d2, d3 = derivatives(squared_twice, 3)  # x ** 4 (an earlier attempt gave 8x² for d2)
    assert d2(1.5) == pytest.approx(12 * 1.5 ** 2) and d3(1.5) == pytest.approx(24 * 1.5)
    _, _, d2, d3 = derivatives(squared_twice_in_a_loop, 3)  # x ** 16
    assert d2(0.9) == pytest.approx(240 * 0.9 ** 14) and d3(0.9) == pytest.approx(3360 * 0.9 ** 13)


def with_default(x, k=3.0):
    return k * np.sin(x) * x


def test_a_parameter_left_to_its_default_inside_a_nested_gradient():
    first = lambda x: srcgrad.gradient(with_default, x)[0]
    for x in (0.5, -1.2):
        assert srcgrad.gradient(first, x)[0] == pytest.approx(numerical_gradient(first, (x,), 0), rel=1e-6)


# ---------------------------------------------------------------- functions of arrays, through loops

V = np.array([0.3, -1.0, 0.5])


@pytest.mark.parametrize("fn", [recurrent, loop_loss])
@pytest.mark.parametrize("seed", [0, 1])
def test_hessian_vector_product_through_a_loop(fn, seed):
    x = 0.5 * np.random.default_rng(seed).normal(size=3)
    grad_along_v = lambda x: srcgrad.gradient(fn, x)[0] @ V
    (hv,) = srcgrad.gradient(grad_along_v, x)
    np.testing.assert_allclose(hv, numerical_gradient(grad_along_v, (x,), 0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn", [recurrent, loop_loss])
@pytest.mark.parametrize("seed", [0, 1])
def test_full_second_derivative_by_gradient_inside_gradient(fn, seed):
    x = 0.5 * np.random.default_rng(seed).normal(size=3)
    rows = [lambda x, i=i: srcgrad.gradient(fn, x)[0][i] for i in range(3)]
    H = np.stack([srcgrad.gradient(row, x)[0] for row in rows])
    numeric = np.stack([numerical_gradient(row, (x,), 0) for row in rows])
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(srcgrad.hessian(fn, x), H, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [recurrent, loop_loss])
@pytest.mark.parametrize("seed", [0, 1])
def test_third_order_through_arrays_and_loops(fn, seed):
    x = 0.5 * np.random.default_rng(seed).normal(size=3)
    curvature_along_v = lambda x: srcgrad.gradient(lambda x: srcgrad.gradient(fn, x)[0] @ V, x)[0] @ V
    (g,) = srcgrad.gradient(curvature_along_v, x)
    np.testing.assert_allclose(g, numerical_gradient(curvature_along_v, (x,), 0), rtol=1e-5, atol=1e-6)


def test_second_order_through_a_chain_which_applies_its_layers_in_a_loop():
    from srcgrad.models import Chain, Dense, tanh

    model = Chain(Dense(3, 4, tanh, rng=0), Dense(4, 1, rng=1))
    along_v = lambda x: srcgrad.gradient(lambda x: np.sum(model(x)), x)[0] @ V
    for seed in (0, 1):
        x = np.random.default_rng(seed).normal(size=3)
        np.testing.assert_allclose(srcgrad.gradient(along_v, x)[0], numerical_gradient(along_v, (x,), 0),
                                   rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- pullback and withgradient inside
def by_pullback(x):
    y, back = srcgrad.pullback(squared_twice_in_a_loop, x)
    return back(1.0)[0] * y


def by_withgradient(x):
    y, (g,) = srcgrad.withgradient(carried, x)
    return g + np.sin(y)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("fn", [by_pullback, by_withgradient])
@pytest.mark.parametrize("x", [0.4, -0.6])
def test_pullback_and_withgradient_inside_differentiated_code(fn, order, x):
    lower, nth = derivatives(fn, order)[-2:]
    assert nth(x) == pytest.approx(numerical_gradient(lower, (x,), 0), rel=1e-5, abs=1e-5)


# ---------------------------------------------------------------- what is refused, and how
def cube_scaled(x, k=1.0):
    return k * x ** 3


def calls_with_a_keyword(x, helper=cube_scaled):
    return helper(x, k=2.0)  # (held in a variable: called at run time; a global would be spliced in)


def test_a_keyword_call_inside_a_nested_gradient():
    first = lambda x: srcgrad.gradient(calls_with_a_keyword, x)[0]
    for x in (1.5, -0.7):
        assert first(x) == pytest.approx(6 * x ** 2)
        assert srcgrad.gradient(first, x)[0] == pytest.approx(numerical_gradient(first, (x,), 0), rel=1e-6)
        assert srcgrad.hessian(calls_with_a_keyword, x) == pytest.approx(12 * x)


def spliced_with_a_keyword(x):
    return cube_scaled(x, k=2.0)


def test_a_keyword_call_to_a_spliced_helper_differentiates_at_any_order():
    first = lambda x: srcgrad.gradient(spliced_with_a_keyword, x)[0]
    second = lambda x: srcgrad.gradient(first, x)[0]
    for x in (1.5, -0.7):
        assert first(x) == pytest.approx(6 * x ** 2)
        assert second(x) == pytest.approx(12 * x)
        assert srcgrad.gradient(second, x)[0] == pytest.approx(12.0)
