"""DataLoader (srcgrad/optim/data.py): batches along the first axis."""

import numpy as np
import pytest

from srcgrad.models import init
from srcgrad.optim import DataLoader

X = np.arange(20.0).reshape(10, 2)
Y = np.arange(10)


def test_batches_of_a_single_array():
    batches = list(DataLoader(X, batchsize=4))
    assert [b.shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate(batches), X)


def test_default_batchsize_is_one_and_keeps_the_batch_axis():
    batches = list(DataLoader(X))
    assert len(batches) == 10 and batches[0].shape == (1, 2)


def test_tuples_give_tuples_of_matching_samples():
    for x, y in DataLoader((X, Y), batchsize=3, shuffle=True, rng=0):
        np.testing.assert_array_equal(x[:, 0] / 2, y)


def test_dicts_give_dicts():
    batch = next(iter(DataLoader({"x": X, "y": Y}, batchsize=2)))
    assert set(batch) == {"x", "y"} and batch["x"].shape == (2, 2)


def test_len_and_partial():
    assert len(DataLoader(X, batchsize=4)) == 3
    assert len(DataLoader(X, batchsize=4, partial=False)) == 2
    assert [b.shape[0] for b in DataLoader(X, batchsize=4, partial=False)] == [4, 4]
    assert len(DataLoader(X, batchsize=5)) == 2


def test_shuffle_covers_every_sample_once_in_a_new_order_each_pass():
    loader = DataLoader(Y, batchsize=3, shuffle=True, rng=1)
    first = np.concatenate(list(loader))
    second = np.concatenate(list(loader))
    assert sorted(first) == sorted(second) == list(Y)
    assert not np.array_equal(first, second)


def test_shuffle_is_reproducible_from_a_seed():
    a = np.concatenate(list(DataLoader(Y, batchsize=3, shuffle=True, rng=7)))
    b = np.concatenate(list(DataLoader(Y, batchsize=3, shuffle=True, rng=7)))
    np.testing.assert_array_equal(a, b)
    init.seed(2)
    c = np.concatenate(list(DataLoader(Y, shuffle=True)))
    init.seed(2)
    np.testing.assert_array_equal(np.concatenate(list(DataLoader(Y, shuffle=True))), c)


def test_mismatched_sample_counts_are_refused():
    with pytest.raises(ValueError, match="same number of samples"):
        DataLoader((X, Y[:5]))


def test_bad_batchsize():
    with pytest.raises(ValueError, match="batchsize"):
        DataLoader(X, batchsize=0)


def test_repr():
    assert repr(DataLoader((X, Y), batchsize=4, shuffle=True)) == "DataLoader(10 samples, batchsize=4, shuffle=True)"
