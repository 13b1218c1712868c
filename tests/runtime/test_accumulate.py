"""The gradient arithmetic generated code calls (srcgrad/runtime/accumulate.py)."""

import numpy as np
import pytest

from srcgrad.runtime.accumulate import unbroadcast

#: (gradient shape, value shape): a bias, a column, a middle axis, both kinds at once, to a number.
SUMS = [((128, 10), (10,)), ((128, 256), (256,)), ((128, 10), (128, 1)), ((1000, 5, 2), (1, 5, 2)),
        ((4, 3, 2), (3, 1)), ((2, 3, 4), (1, 1, 4)), ((2, 3), ()), ((3,), ()), ((5,), (1,)), ((1, 3), (3,))]


@pytest.mark.parametrize("gshape, shape", SUMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unbroadcast_sums_an_array_as_np_sum_does(gshape, shape, dtype):
    """The arrays' path (``np.add.reduce`` itself) gives ``np.sum``'s values exactly, in the gradient's dtype."""
    g = np.random.default_rng(0).standard_normal(gshape).astype(dtype)
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    expected = np.reshape(np.sum(g, axis=axes, keepdims=True), shape)
    values = [np.zeros(shape, dtype)] + ([dtype(0.0), 0.0] if shape == () else [])  # (0-d, NumPy and Python numbers)
    for x in values:
        summed = unbroadcast(g, x)
        assert np.shape(summed) == shape and np.result_type(summed) == dtype
        np.testing.assert_array_equal(summed, expected)


def test_unbroadcast_of_a_number_to_a_number():
    assert unbroadcast(np.float32(2.0), np.float32(1.0)) == 2.0
    assert unbroadcast(2.0, 1.0) == 2.0
    assert unbroadcast(np.ones(3), 1.0) == 3.0


def test_unbroadcast_leaves_a_gradient_of_the_right_shape_alone():
    g = np.ones((2, 3))
    assert unbroadcast(g, np.zeros((2, 3))) is g
    assert unbroadcast(None, np.zeros(3)) is None
