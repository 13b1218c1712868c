"""Losses (srcgrad/models/losses.py): values, aggregation, and gradients against finite differences."""

import numpy as np
import pytest

from gradcheck import check_gradient
from srcgrad.models import losses as L
from srcgrad.models import onehot, sigmoid, softmax

RNG = np.random.default_rng(1)
SCORES = RNG.normal(size=(4, 3))
PROBS = softmax(SCORES)
LABELS = onehot([0, 2, 1, 2], 3)
REGRESSION = RNG.normal(size=(4, 3))
BINARY_P = sigmoid(RNG.normal(size=(5,)))
BINARY_Y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])

# loss, prediction, target, the per-sample (or per-element) losses by hand
CASES = [
    (L.mse, REGRESSION, SCORES, (REGRESSION - SCORES) ** 2),
    (L.mae, REGRESSION, SCORES, np.abs(REGRESSION - SCORES)),
    (L.huber, 2 * REGRESSION, SCORES,
     np.where(np.abs(2 * REGRESSION - SCORES) < 1, 0.5 * (2 * REGRESSION - SCORES) ** 2,
              np.abs(2 * REGRESSION - SCORES) - 0.5)),
    (L.crossentropy, PROBS, LABELS, -np.sum(LABELS * np.log(PROBS), axis=-1)),
    (L.logitcrossentropy, SCORES, LABELS, -np.sum(LABELS * np.log(PROBS), axis=-1)),
    (L.binarycrossentropy, BINARY_P, BINARY_Y, -(BINARY_Y * np.log(BINARY_P) + (1 - BINARY_Y) * np.log(1 - BINARY_P))),
    (L.logitbinarycrossentropy, np.log(BINARY_P / (1 - BINARY_P)), BINARY_Y,
     -(BINARY_Y * np.log(BINARY_P) + (1 - BINARY_Y) * np.log(1 - BINARY_P))),
]
IDS = [case[0].__name__ for case in CASES]


@pytest.mark.parametrize("loss, yhat, y, expected", CASES, ids=IDS)
def test_values_with_each_aggregation(loss, yhat, y, expected):
    np.testing.assert_allclose(loss(yhat, y), np.mean(expected), rtol=1e-9)
    np.testing.assert_allclose(loss(yhat, y, agg="mean"), np.mean(expected), rtol=1e-9)
    np.testing.assert_allclose(loss(yhat, y, agg="sum"), np.sum(expected), rtol=1e-9)
    np.testing.assert_allclose(loss(yhat, y, agg="none"), expected, rtol=1e-9)
    np.testing.assert_allclose(loss(yhat, y, agg=np.max), np.max(expected), rtol=1e-9)


@pytest.mark.parametrize("agg", ["mean", "sum"])
@pytest.mark.parametrize("loss, yhat, y, expected", CASES, ids=IDS)
def test_gradient_matches_finite_differences(loss, yhat, y, expected, agg):
    check_gradient(lambda p, t: loss(p, t, agg=agg), yhat, y)


@pytest.mark.parametrize("loss, yhat, y, expected", CASES, ids=IDS)
def test_gradient_with_no_aggregation_and_with_a_function(loss, yhat, y, expected):
    weights = RNG.normal(size=np.shape(expected))
    check_gradient(lambda p: np.sum(weights * loss(p, y, agg="none")), yhat)
    check_gradient(lambda p: loss(p, y, agg=np.sum), yhat)


def test_logit_losses_agree_with_their_probability_versions():
    np.testing.assert_allclose(L.logitcrossentropy(SCORES, LABELS), L.crossentropy(softmax(SCORES), LABELS))
    logits = RNG.normal(size=5)
    np.testing.assert_allclose(L.logitbinarycrossentropy(logits, BINARY_Y),
                               L.binarycrossentropy(sigmoid(logits), BINARY_Y))


def test_logit_losses_are_stable_for_confident_wrong_predictions():
    assert np.isfinite(L.logitbinarycrossentropy(np.array([-1000.0]), np.array([1.0])))
    np.testing.assert_allclose(L.logitbinarycrossentropy(np.array([-1000.0]), np.array([1.0])), 1000.0)
    np.testing.assert_allclose(L.logitcrossentropy(np.array([[1000.0, 0.0]]), np.array([[0.0, 1.0]])), 1000.0)
    # The probability versions stay finite too, thanks to eps.
    assert np.isfinite(L.crossentropy(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])))
    assert np.isfinite(L.binarycrossentropy(np.array([0.0]), np.array([1.0])))


def test_crossentropy_axis():
    np.testing.assert_allclose(L.crossentropy(PROBS.T, LABELS.T, axis=0), L.crossentropy(PROBS, LABELS))
    check_gradient(lambda s: L.logitcrossentropy(s, LABELS.T, axis=0), SCORES.T)


def test_huber_delta():
    err = np.array([0.5, 3.0])
    np.testing.assert_allclose(L.huber(err, 0 * err, delta=2.0, agg="none"), [0.125, 2 * (3.0 - 1.0)])
    check_gradient(lambda p: L.huber(p, 0 * err, delta=2.0), err)


def test_zero_loss_when_prediction_is_the_target():
    assert L.mse(SCORES, SCORES) == 0.0
    assert L.mae(SCORES, SCORES) == 0.0
    assert L.huber(SCORES, SCORES) == 0.0
