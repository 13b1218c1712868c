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


@pytest.mark.parametrize("dy", [2.5, np.float32(2.5), np.float64(2.5), np.array(2.5), 2, np.complex128(1 + 2j)])
def test_unreduce_of_a_full_sum_is_np_full(dy):
    """The fast path for a number's gradient spread over a small array: ``np.full``'s values and dtype."""
    from srcgrad.rules.shaping import unreduce

    for x in (np.zeros((2, 3)), np.zeros(5, np.float32), np.zeros(5000)):
        spread = unreduce(dy, x)
        expected = np.full(x.shape, dy)
        assert spread.dtype == expected.dtype and spread.shape == x.shape
        np.testing.assert_array_equal(spread, expected)


#: ``a @ b`` as einsum: the matrix fast paths (2-D ``a``), then the general (1-D, batched) ones.
MATMULS = [((3, 4), (4, 5), "ik,kj->ij"), ((3, 4), (4,), "ik,k->i"), ((4,), (4, 5), "k,kj->j"), ((4,), (4,), "k,k->"),
           ((2, 3, 4), (4, 5), "bik,kj->bij"), ((3, 4), (2, 4, 5), "ik,bkj->bij"), ((2, 3, 4), (4,), "bik,k->bi")]


@pytest.mark.parametrize("ashape, bshape, spec", MATMULS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_gradients_agree_with_einsum(ashape, bshape, spec, dtype):
    """Both sides of ``a @ b`` against einsum's contraction of ``dy`` with the other side."""
    from srcgrad.rules.linalg import matmul_grad_a, matmul_grad_b

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(ashape).astype(dtype), rng.standard_normal(bshape).astype(dtype)
    dy = rng.standard_normal(np.shape(a @ b)).astype(dtype)
    a_idx, rest = spec.split(",")
    b_idx, y_idx = rest.split("->")
    for got, want in ((matmul_grad_a(dy, a, b), np.einsum(f"{y_idx},{b_idx}->{a_idx}", dy, b)),
                      (matmul_grad_b(dy, a, b), np.einsum(f"{y_idx},{a_idx}->{b_idx}", dy, a))):
        assert np.shape(got) == want.shape and np.result_type(got) == dtype
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_accum_adds_lists_and_tuples_slot_by_slot_with_none_as_zero():
    from srcgrad.runtime.accumulate import accum

    a, b = np.ones(3), np.arange(3.0)
    for kind in (list, tuple):
        total = accum(kind([a, None, None, {"w": a}]), kind([b, b, None, {"w": b, "v": a}]))
        assert type(total) is kind and len(total) == 4 and total[2] is None
        np.testing.assert_array_equal(total[0], a + b)
        assert total[1] is b and set(total[3]) == {"w", "v"}
        np.testing.assert_array_equal(total[3]["w"], a + b)
    nested = accum([[a, None], None], [[None, b], [a]])
    assert nested[0][0] is a and nested[0][1] is b and nested[1] == [a]
