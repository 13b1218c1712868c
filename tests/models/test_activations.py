"""Activations (srcgrad/models/activations.py): values, stability, and gradients against finite differences."""

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient
from srcgrad.models import activations as A

RNG = np.random.default_rng(0)
# Away from 0, where relu and friends have a kink that finite differences straddle.
X = np.array([[-2.5, -1.2, -0.3, 0.4], [0.9, 1.7, -0.6, 3.1]])
WEIGHTS = RNG.normal(size=X.shape)

ELEMENTWISE = [
    (A.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (A.relu, lambda x: np.where(x > 0, x, 0.0)),
    (A.leakyrelu, lambda x: np.where(x > 0, x, 0.01 * x)),
    (A.tanh, np.tanh),
    (A.softplus, lambda x: np.log(1 + np.exp(x))),
    (A.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    (A.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    (A.swish, lambda x: x / (1 + np.exp(-x))),
    (A.identity, lambda x: x),
]
NORMALISING = [A.softmax, A.logsoftmax]


@pytest.mark.parametrize("act, reference", ELEMENTWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_elementwise_values(act, reference):
    np.testing.assert_allclose(act(X), reference(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", [a for a, _ in ELEMENTWISE] + NORMALISING, ids=lambda f: f.__name__)
def test_gradient_matches_finite_differences(act):
    # Weighted, so softmax's sum-to-one does not make every gradient zero.
    check_gradient(lambda x: np.sum(WEIGHTS * act(x)), X)


@pytest.mark.parametrize("act", [a for a, _ in ELEMENTWISE], ids=lambda f: f.__name__)
def test_elementwise_on_a_float(act):
    (g,) = check_gradient(lambda x: act(x) * 1.0, 0.7)
    assert isinstance(g, float)


def test_keyword_arguments_are_differentiated_through():
    check_gradient(lambda x: np.sum(WEIGHTS * A.leakyrelu(x, a=0.2)), X)
    check_gradient(lambda x: np.sum(WEIGHTS * A.elu(x, alpha=0.5)), X)
    check_gradient(lambda x: np.sum(WEIGHTS * A.softmax(x, axis=0)), X)
    check_gradient(lambda x: np.sum(WEIGHTS * A.logsoftmax(x, axis=0)), X)


def test_sigma_is_sigmoid():
    assert A.σ is A.sigmoid


def test_softmax_normalises_along_the_last_axis_by_default():
    s = A.softmax(X)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)
    np.testing.assert_allclose(A.softmax(X, axis=0).sum(axis=0), 1.0)
    np.testing.assert_allclose(np.exp(A.logsoftmax(X)), s)


@pytest.mark.parametrize("act", [a for a, _ in ELEMENTWISE] + NORMALISING, ids=lambda f: f.__name__)
def test_large_inputs_give_finite_values_and_gradients(act):
    big = np.array([-1000.0, -50.0, 50.0, 800.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.all(np.isfinite(act(big)))
    (g,) = srcgrad.gradient(lambda x: np.sum(act(x)), big)
    assert np.all(np.isfinite(g))


def test_stable_values_at_the_extremes():
    np.testing.assert_allclose(A.sigmoid(np.array([-800.0, 800.0])), [0.0, 1.0])
    np.testing.assert_allclose(A.softplus(np.array([-800.0, 800.0])), [0.0, 800.0])
    np.testing.assert_allclose(A.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    np.testing.assert_allclose(A.logsoftmax(np.array([0.0, -1000.0])), [0.0, -1000.0])


def test_float32_stays_float32():
    x = X.astype(np.float32)
    for act in [a for a, _ in ELEMENTWISE] + NORMALISING:
        assert act(x).dtype == np.float32, act.__name__
