"""Reading parts of arrays and sequences: slices, fancy indices, split pieces."""

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient


def tail_squares(a):
    return np.sum(a[1:] ** 2)


def columns_from(a, d):
    return np.sum(a[:, d:] ** 2) + np.sum(a[::2, :d] * 3.0)


def fancy(a):
    return np.sum(a[[0, 2, 2]] ** 2)


def pieces(a):
    out = np.split(a, 2)
    return np.sum(out[0]) + 2 * np.sum(out[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_slices_with_only_a_lower_bound(seed):
    rng = np.random.default_rng(seed)
    check_gradient(tail_squares, rng.random(4))
    check_gradient(columns_from, rng.random((3, 5)), 2, wrt=[0])


def test_repeated_fancy_indices_add_up():
    (g,) = check_gradient(fancy, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [2.0, 0.0, 12.0])


def test_items_of_a_list_result_accumulate():
    (g,) = srcgrad.gradient(pieces, np.arange(4.0))
    np.testing.assert_allclose(g, [1.0, 1.0, 2.0, 2.0])


def test_numpy_method_held_in_a_variable():
    def f(a):
        total = a.sum
        return np.sum(total(axis=0) ** 2)

    check_gradient(f, np.random.default_rng(2).random((3, 4)))
