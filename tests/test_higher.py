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
