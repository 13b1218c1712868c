"""Calls inside differentiated code: user functions, closures, methods, callables, keywords, defaults."""

import math

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient

rng = np.random.default_rng(7)


def square(x):
    return x * x


def twice_square(x):
    return 2.0 * square(x) + square(3.0)


def test_calling_another_user_function():
    assert srcgrad.gradient(twice_square, 1.5) == (6.0,)


def linear(n_in, n_out):
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: W @ x + b


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


linear1 = linear(5, 3)
linear2 = linear(3, 2)


def model(x):
    return linear2(sigmoid(linear1(x)))


@pytest.mark.parametrize("seed", [0, 1])
def test_seed_closure_layers(seed):
    x = np.random.default_rng(seed).random(5)
    check_gradient(lambda x: np.sum(model(x) ** 2), x)


def test_closure_gradient_is_a_dict_of_captured_variables():
    x = rng.random(5)
    (dlayer, dx) = srcgrad.gradient(lambda layer, x: np.sum(layer(x)), linear1, x)
    assert set(dlayer) == {"W", "b"}
    np.testing.assert_allclose(dlayer["W"], np.tile(x, (3, 1)))
    np.testing.assert_allclose(dlayer["b"], np.ones(3))


def test_one_compiled_adjoint_serves_every_closure_of_the_same_code():
    srcgrad.clear_cache()
    x = rng.random(5)
    srcgrad.gradient(lambda x: np.sum(linear1(x)), x)
    size = srcgrad.cache_info().size
    srcgrad.gradient(lambda x: np.sum(linear1(x)), x)  # a new lambda: one more entry at most
    other = linear(5, 4)
    srcgrad.gradient(lambda x: np.sum(other(x)), x)
    # The inner lambda of linear() was compiled once for all three closures
    # (in the one variant these calls need: x is wanted, the closure's W and b are not).
    entries = srcgrad.calls.cache._entries.values()
    codes = [e for e in entries if e.fn.__code__.co_name == "<lambda>"
             and e.fn.__code__.co_firstlineno == linear.__code__.co_firstlineno + 3]
    assert len(codes) == 1
    assert srcgrad.cache_info().size >= size


def apply(f, x):
    return f(x)


def test_functions_passed_as_arguments():
    assert srcgrad.gradient(lambda x: apply(square, x), 3.0) == (6.0,)
    (g,) = srcgrad.gradient(lambda x: apply(np.sin, x), 0.5)
    assert g == pytest.approx(math.cos(0.5))
    cube = lambda t: t ** 3
    (g,) = srcgrad.gradient(lambda x: apply(cube, x), 2.0)
    assert g == pytest.approx(12.0)


def scaled(x, scale=2.0, *, shift=1.0):
    return scale * x + shift * x * x


def test_keyword_and_default_arguments():
    f = lambda x: scaled(x) + scaled(x, 4.0) + scaled(x, shift=3.0) + scaled(x, scale=0.5, shift=0.0)
    check_gradient(f, 1.25)
    check_gradient(f, -0.5)


def test_gradient_flows_to_keyword_arguments():
    f = lambda x, s: scaled(x, shift=s)
    check_gradient(f, 2.0, 3.0)


class Affine:
    def __init__(self, n_in, n_out):
        self.W = rng.standard_normal((n_out, n_in))
        self.b = rng.standard_normal(n_out)

    def __call__(self, x):
        return self.W @ x + self.b

    def energy(self, x):
        return np.sum(self(x) ** 2)


def test_callable_object_structural_gradient():
    a = Affine(10, 5)
    x = rng.random(10)
    da, dx = srcgrad.gradient(lambda m, x: np.sum(m(x)), a, x)
    assert set(da) == {"W", "b"}
    np.testing.assert_allclose(da["W"], np.tile(x, (5, 1)))
    np.testing.assert_allclose(da["b"], np.ones(5))
    np.testing.assert_allclose(dx, a.W.sum(axis=0))


def test_method_calling_another_method():
    a = Affine(3, 2)
    x = rng.random(3)
    (dx,) = srcgrad.gradient(a.energy, x)
    expected = 2 * a.W.T @ (a.W @ x + a.b)
    np.testing.assert_allclose(dx, expected)


def fact(x, n):
    if n <= 1:
        result = x
    else:
        result = x * fact(x, n - 1)
    return result


def test_recursion():
    (g, _) = srcgrad.gradient(fact, 1.5, 4)
    assert g == pytest.approx(4 * 1.5 ** 3)


def test_math_module_functions():
    check_gradient(lambda x: math.sin(x) * math.exp(x) + math.sqrt(x) + math.log(x), 0.7)


def c_function(x):
    return x


def test_no_rule_for_a_c_function_names_it_and_the_fix():
    with pytest.raises(srcgrad.NoRuleError) as info:
        srcgrad.gradient(lambda x: np.sum(np.float_power(x, 2.0)), np.ones(4))
    message = str(info.value)
    assert "float_power" in message and "@srcgrad.defrule" in message
    assert "test_calls.py:" in message


def test_numpy_functions_implemented_in_python_are_not_traced():
    # np.linspace-style library code is never read: a function from numpy without a rule is refused.
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.gradient(lambda x: np.sum(np.polyval(x, 2.0)), np.ones(3))


def total(first, *rest, scale=1.0):
    out = first * scale
    for r in rest:
        out = out + r * scale
    return out


def test_star_args_in_signatures():
    check_gradient(lambda a, b, c: total(a, b, c, scale=2.0), 1.0, 2.0, 3.0)
    check_gradient(lambda a: total(a), 1.5)
    check_gradient(lambda a, b: total(a, *b), 1.5, (2.0, 3.0))
