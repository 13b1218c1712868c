"""The public API on the seeds' straight-line examples, and the shape of gradient values (SPEC 1)."""

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient


def poly(x):
    return 3 * x ** 2 + 2 * x + 1


def test_seed_polynomial_at_an_int():
    assert srcgrad.gradient(poly, 2) == (14.0,)
    (g,) = srcgrad.gradient(poly, 2)
    assert type(g) is float


def test_seed_affine_scalars():
    assert srcgrad.gradient(lambda W, b, x: W * x + b, 2, 3, 4) == (4.0, 1.0, 2.0)


def test_seed_sum_of_squares():
    f = lambda x, y: np.sum((x - y) ** 2)
    dx, dy = srcgrad.gradient(f, np.array([2.0, 1.0]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(dx, [0.0, 2.0])
    np.testing.assert_array_equal(dy, [0.0, -2.0])


def test_seed_sum_of_squares_with_int_arrays_gives_float_gradients():
    dx, dy = srcgrad.gradient(lambda x, y: np.sum((x - y) ** 2), np.array([2, 1]), np.array([2, 0]))
    assert dx.dtype == np.float64 and dy.dtype == np.float64
    np.testing.assert_array_equal(dx, [0.0, 2.0])


W = np.random.default_rng(0).random((2, 5))
b = np.random.default_rng(1).random(2)


def predict(x):
    return W @ x + b


def loss(x, y):
    y_cap = predict(x)
    return np.sum((y - y_cap) ** 2)


def regression(W, b, x, y):
    return np.sum((y - (W @ x + b)) ** 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_seed_linear_regression_wrt_W_and_b(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.random(5), rng.random(2)
    dW, db, _, _ = check_gradient(regression, rng.random((2, 5)), rng.random(2), x, y)
    assert dW.shape == (2, 5) and db.shape == (2,)


def test_seed_linear_regression_step_lowers_the_loss():
    rng = np.random.default_rng(3)
    Wl, bl, x, y = rng.random((2, 5)), rng.random(2), rng.random(5), rng.random(2)
    before = regression(Wl, bl, x, y)
    dW, db, _, _ = srcgrad.gradient(regression, Wl, bl, x, y)
    assert regression(Wl - 0.1 * dW, bl - 0.1 * db, x, y) < before


def test_unused_argument_gets_zero_of_its_shape():
    assert srcgrad.gradient(lambda x, y: x, 1.0, 2.0) == (1.0, 0.0)
    dx, dy = srcgrad.gradient(lambda x, y: np.sum(x), np.ones(3), np.ones((2, 2)))
    np.testing.assert_array_equal(dy, np.zeros((2, 2)))


def test_float32_stays_float32():
    x = np.array([1.0, 2.0], dtype=np.float32)
    (g,) = srcgrad.gradient(lambda x: np.sum(x * x * 3.0), x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [6.0, 12.0])


def test_structures_are_mirrored():
    def f(pair, items, table):
        return pair[0] * pair[1] + items[1] * 2.0 + table["w"] * 3.0

    dpair, ditems, dtable = srcgrad.gradient(f, (2.0, 5.0), [1.0, 4.0], {"w": 1.5, "name": "w"})
    assert dpair == (5.0, 2.0)
    assert ditems == [0.0, 2.0]
    assert dtable == {"w": 3.0, "name": None}


def test_withgradient_returns_value_and_gradient_from_one_pass():
    value, grads = srcgrad.withgradient(poly, 2.0)
    assert value == 17.0 and grads == (14.0,)


def test_pullback_of_a_vector_function():
    y, back = srcgrad.pullback(lambda x: np.sin(x) * 2.0, np.array([0.0, 1.0]))
    np.testing.assert_allclose(y, 2 * np.sin([0.0, 1.0]))
    (g,) = back(np.array([1.0, 10.0]))
    np.testing.assert_allclose(g, [2.0, 20.0 * np.cos(1.0)])
    # back can be called again (Jacobian rows)
    (g2,) = back(np.array([1.0, 0.0]))
    np.testing.assert_allclose(g2, [2.0, 0.0])


def test_pullback_of_a_tuple_output():
    y, back = srcgrad.pullback(lambda x: (x * 2.0, x * x), 3.0)
    assert y == (6.0, 9.0)
    assert back((1.0, 0.0)) == (2.0,)
    assert back((0.0, 1.0)) == (6.0,)
    assert back((1.0, None)) == (2.0,)


def test_non_scalar_output_is_a_value_error_naming_the_shape():
    with pytest.raises(ValueError) as info:
        srcgrad.gradient(lambda x: x * 2.0, np.ones(3))
    message = str(info.value)
    assert "(3,)" in message and "pullback" in message and "jacobian" in message
    assert "test_api.py" in message
    assert isinstance(info.value, srcgrad.SrcgradError)


def test_zero_dim_array_output_is_a_scalar():
    (g,) = srcgrad.gradient(lambda x: np.sum(x ** 2).reshape(()), np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_the_callers_arrays_are_never_mutated():
    x = np.array([1.0, 2.0, 3.0])
    keep = x.copy()

    def f(x):
        x += 1.0
        x = x * 2.0
        return np.sum(x ** 2)

    check_gradient(f, x)
    np.testing.assert_array_equal(x, keep)


def _from_a_doctest(fn):
    return getattr(getattr(fn, "__code__", None), "co_filename", "").startswith("<doctest")


def test_doc_examples_run():
    """The docstrings' examples run; the rules they register (defrule's registers one for a ``cube``
    of its own) are gone afterwards: a later test that walks every rule must not meet one whose
    source went with the doctest."""
    import doctest
    import importlib

    from srcgrad.rules import registry

    try:
        for name in ("srcgrad.api", "srcgrad.params", "srcgrad.rules.registry"):
            module = importlib.import_module(name)
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
            assert result.failed == 0
    finally:
        for table in (registry.rules, registry.method_rules, registry.attribute_rules):
            for key in [k for k, rule in table.items() if _from_a_doctest(rule.primal) or _from_a_doctest(rule.reverse)]:
                del table[key]
        for table in (registry.nondiff, registry.nondiff_methods, registry.nondiff_attributes):
            table.difference_update([k for k in table if _from_a_doctest(k)])
        srcgrad.clear_cache()
    assert not [rule for rule in registry.rules.values() if _from_a_doctest(rule.reverse)]


def test_returned_gradients_are_arrays_the_user_may_write_into():
    big = np.ones((80, 80))  # its sum's gradient is a broadcast view inside srcgrad
    for x in (np.ones(3), big):
        for _ in range(2):  # the first call, and the short path after it
            (g,) = srcgrad.gradient(lambda x: np.sum(x), x)
            g *= 0.5
            np.testing.assert_array_equal(g, np.full(x.shape, 0.5))
    y, back = srcgrad.pullback(lambda x: np.sum(x), big)
    (g,) = back(1.0)
    g += 1.0
    np.testing.assert_array_equal(big, np.ones((80, 80)))  # and the caller's array is untouched
