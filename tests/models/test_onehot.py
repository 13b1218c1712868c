"""One-hot encoding (srcgrad/models/onehot.py)."""

import numpy as np
import pytest

from srcgrad.models import onecold, onehot


def test_single_label():
    np.testing.assert_array_equal(onehot(2, 4), [0, 0, 1, 0])
    np.testing.assert_array_equal(onehot("b", "abc"), [0, 1, 0])


def test_batch_of_labels_is_samples_by_classes():
    y = onehot([1, 0, 1], [0, 1])
    assert y.shape == (3, 2) and y.dtype == np.float64
    np.testing.assert_array_equal(y, [[0, 1], [1, 0], [0, 1]])
    np.testing.assert_array_equal(onehot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_unknown_label_is_an_error():
    with pytest.raises(ValueError, match="label 5 is not one of the classes"):
        onehot(5, 3)


def test_onecold_inverts_onehot():
    classes = ["cat", "dog", "fish"]
    labels = ["dog", "fish", "cat"]
    assert list(onecold(onehot(labels, classes), classes)) == labels
    assert onecold(onehot("fish", classes), classes) == "fish"
    np.testing.assert_array_equal(onecold(onehot([2, 1], 3)), [2, 1])


def test_onecold_of_scores_and_axis():
    assert onecold(np.array([0.1, 0.7, 0.2])) == 1
    np.testing.assert_array_equal(onecold(np.array([[0.9, 0.1], [0.2, 0.8]]), axis=0), [0, 1])
