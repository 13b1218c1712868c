"""The simplifier: chains of guarded steps run under one guard, and signs cancel.

Where the reverse pass cannot tell statically that a step's input is set
(a function returning a tuple, whose caller may use only part of it), it
guards each step with ``if d... is not None:``. A chain of such steps, each
the only source of the next one's input, runs under its first guard and
folds into one expression. These tests pin what the generated code says
and check that the values are those of central differences, for every
combination of cotangents that are and are not ``None``.
"""

import itertools

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient, numerical_gradient

rng = np.random.default_rng(3)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gated(x, c):
    s = sigmoid(x)
    h = s * np.tanh(c)
    return h, c * s


def two_sources(x, c):
    s = np.tanh(x)
    return s * c, s + c  # s has two sources of gradient: its guard stays


def scan(x, n):
    h = x
    out = []
    for i in range(n):
        h = 1.0 / (1.0 + np.exp(-h * 0.5))
        out.append(h)
    return out


def joined_labels(x, y):
    names = ["a", "b"] + ["c"]  # (lists of labels joined with +: nothing flows through them)
    return x * y if len(names) == 3 else x


def backward_source(fn):
    source = srcgrad.adjoint_source(fn)
    return source[source.index("_backward("):]


def check_pullback(fn, args, cotangent):
    """``back(cotangent)`` against central differences of ``sum(cotangent[i] * y[i])``."""
    _, back = srcgrad.pullback(fn, *args)
    grads = back(cotangent)

    def weighted(*a):
        out = fn(*a)
        return sum(np.sum(g * y) for g, y in zip(cotangent, out) if g is not None)

    for i, a in enumerate(args):
        if not isinstance(a, np.ndarray):
            continue
        expected = numerical_gradient(weighted, list(args), i)
        got = grads[i] if grads[i] is not None else np.zeros_like(a)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def test_a_guarded_chain_folds_under_its_first_guard():
    source = backward_source(gated)
    assert "dtotal" not in source and "dexp" not in source and "dneg" not in source
    # One guard per output's cotangent (either may be None), one for s, which both give a gradient.
    assert source.count("is not None") == 3
    assert "dx = exp * (ds / total ** 2)" in source


def test_signs_cancel_and_unit_factors_go_in_gradients():
    source = backward_source(gated)
    assert "-(-" not in source and "* 1.0" not in source and "1.0 *" not in source


@pytest.mark.parametrize("fn", [gated, two_sources], ids=["chain", "two_sources"])
@pytest.mark.parametrize("which", list(itertools.product([True, False], repeat=2)))
def test_pullback_values_for_cotangents_that_are_and_are_not_none(fn, which):
    for _ in range(2):
        x, c = rng.standard_normal(4), rng.standard_normal(4)
        cotangent = tuple(rng.standard_normal(4) if w else None for w in which)
        check_pullback(fn, (x, c), cotangent)


def test_a_step_with_two_sources_keeps_its_guard():
    assert "if ds is not None:" in backward_source(two_sources)


@pytest.mark.parametrize("present", [(0, 2), (1,), (0, 1, 2), ()])
def test_a_loop_whose_outputs_get_gradients_in_some_steps_only(present):
    x = rng.standard_normal(3)
    cotangent = [rng.standard_normal(3) if i in present else None for i in range(3)]
    check_pullback(lambda x: scan(x, 3), (x,), cotangent)


def test_a_loop_of_arrays_against_differences():
    for _ in range(2):
        check_gradient(lambda x: np.sum(scan(x, 4)[-1] * scan(x, 2)[0]), rng.standard_normal(5))


def test_labels_joined_with_plus_still_pass_no_gradient():
    (dx, dy) = srcgrad.gradient(lambda x, y: np.sum(joined_labels(x, y)), rng.standard_normal(2),
                                rng.standard_normal(2))
    assert dx.shape == dy.shape == (2,)


def test_second_order_through_a_folded_chain():
    x = rng.standard_normal(3)
    h = srcgrad.hessian(lambda x: np.sum(sigmoid(x) * x), x)
    s = 1.0 / (1.0 + np.exp(-x))
    expected = np.diag(2 * s * (1 - s) + x * s * (1 - s) * (1 - 2 * s))
    np.testing.assert_allclose(h, expected, rtol=1e-8, atol=1e-10)
