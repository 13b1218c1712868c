"""Idioms with a gradient of their own: log-sum-exp, log-softmax and softmax, shifted by a maximum.

None of them depends on the shift ``m``. The transform gives ``z`` the
textbook formula and ``m`` nothing, where op by op ``m`` would get two terms
that cancel and pass them through the maximum's gradient. These tests pin
when the patterns are recognised (and when they must not be: a shift that is
not one number along the summed axis), and check values against central
differences, with the pattern's pieces also used elsewhere, inside a loop,
in float32 and at second order.
"""

import re

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient
from srcgrad.models import activations

WEIGHTS = np.linspace(-1.0, 2.0, 12)

rng = np.random.default_rng(11)


def rows(z):
    zmax = np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z - zmax), axis=1, keepdims=True)) + zmax
    return np.sum(lse * np.arange(1.0, z.shape[0] + 1)[:, None])


def cross_entropy(z, y):
    zmax = np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z - zmax), axis=1, keepdims=True)) + zmax
    return -np.sum(y * (z - lse)) / z.shape[0]


def last_axis_methods(z):
    m = z.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
    return np.sum(lse ** 2)


def whole(z):
    m = np.max(z)
    return np.log(np.sum(np.exp(z - m))) + m


def shift_used_again(z):
    m = np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)) + m
    return np.sum(lse) + 0.5 * np.sum(m ** 2)


def pieces_used_again(z):
    m = np.max(z, axis=0, keepdims=True)
    e = np.exp(z - m)
    total = np.sum(e, axis=0, keepdims=True)
    lse = np.log(total) + m
    return np.sum(np.sin(lse)) + np.sum(e * z) + np.sum(total)


def row_shift_column_sum(z):
    m = np.max(z, axis=1, keepdims=True)  # one number per row, summed down the columns: not the idiom
    return np.sum(np.log(np.sum(np.exp(z - m), axis=0, keepdims=True)) + m)


def dropped_axis(z):
    m = np.max(z, axis=1, keepdims=True)  # the sum drops its axis: (n,) + (n, 1) is not a log-sum-exp
    return np.sum(np.log(np.sum(np.exp(z - m), axis=1)) + m)


def other_shift(z, w):
    m = np.max(w, axis=1, keepdims=True)  # a shift from another array: lse depends on it
    return np.sum(np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)) + m)


def in_a_loop(z):
    total = 0.0
    for i in range(z.shape[0]):
        row = z[i] * (i + 1.0)
        m = np.max(row)
        total = total + (np.log(np.sum(np.exp(row - m))) + m) * row[0]
    return total


def log_softmax_rows(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    return np.sum(WEIGHTS[:z.size].reshape(z.shape) * (shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))))


def softmax_columns(z):
    e = np.exp(z - np.min(z, axis=0, keepdims=True))  # (a minimum shifts as well as a maximum)
    p = e / np.sum(e, axis=0, keepdims=True)
    return np.sum(WEIGHTS[:z.size].reshape(z.shape) * p) + np.sum(np.log(e))  # (e is read again)


def library_activations(z):
    return np.sum(WEIGHTS[:z.size].reshape(z.shape) * (activations.softmax(z) + activations.logsoftmax(z, 0)))


def backward_source(fn):
    source = srcgrad.adjoint_source(fn)
    return source[source.index("_backward("):]


SOFTMAX_TIMES_COTANGENT = re.compile(r"\bd\w+ = (d\w+ \+ )?(exp|e) \* \(d\w+ / total\w*\)")


@pytest.mark.parametrize("fn", [rows, last_axis_methods, whole, in_a_loop, pieces_used_again])
def test_the_shift_gets_no_gradient_from_the_log_sum_exp(fn):
    back = backward_source(fn)
    assert len(SOFTMAX_TIMES_COTANGENT.findall(back)) == 1, back
    if fn is not pieces_used_again:  # (there exp is read again: its own gradient reaches the shift)
        assert "extremum_grad" not in back and "dexp" not in back, back
        saved = back.splitlines()[1]
        assert "zmax" not in saved and " m," not in saved, back  # the shift is not even kept


def test_a_shift_used_again_gets_only_its_other_gradient():
    back = backward_source(shift_used_again)
    assert SOFTMAX_TIMES_COTANGENT.search(back), back
    assert "dm = 2 * m * dpower" in back and back.count("dm") == 2, back  # (set once, read once)


@pytest.mark.parametrize("fn", [row_shift_column_sum, dropped_axis, other_shift])
def test_a_shift_that_is_not_one_number_along_the_sum_is_differentiated_op_by_op(fn):
    back = backward_source(fn)
    assert not SOFTMAX_TIMES_COTANGENT.search(back), back
    assert "ddiff = exp * dexp" in back and "extremum_grad(dm, m," in back, back


@pytest.mark.parametrize("fn", [rows, last_axis_methods, whole, shift_used_again, pieces_used_again,
                                row_shift_column_sum, dropped_axis, in_a_loop, log_softmax_rows, softmax_columns,
                                library_activations])
@pytest.mark.parametrize("shape", [(3, 4), (5, 2)])
def test_values_match_central_differences(fn, shape):
    for scale in (1.0, 30.0):  # (large values: the shift is what keeps exp finite)
        check_gradient(fn, scale * rng.standard_normal(shape), rtol=1e-5, atol=1e-6 * scale)


def test_cross_entropy_and_another_shift():
    z = rng.standard_normal((6, 4))
    y = np.eye(4)[rng.integers(0, 4, 6)]
    check_gradient(cross_entropy, z, y)
    check_gradient(other_shift, z, rng.standard_normal((6, 3)))
    # The softmax minus the labels, over the batch: what a person writes by hand.
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    (dz,) = srcgrad.gradient(lambda z: cross_entropy(z, y), z)
    np.testing.assert_allclose(dz, (p - y) / 6, rtol=1e-12, atol=1e-15)


def test_float32_stays_float32():
    z = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    (dz,) = srcgrad.gradient(lambda z: cross_entropy(z, y), z)
    assert dz.dtype == np.float32
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    np.testing.assert_allclose(dz, (p - y) / 4, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, textbook", [
    (activations.logsoftmax, "dx = dy - exp * (unbroadcast(dy, total) / total)"),
    (activations.softmax, "dx = y * (dy - unbroadcast(y * dy, total))"),
])
def test_log_softmax_and_softmax_read_as_the_textbook_writes_them(fn, textbook):
    back = backward_source(fn)
    assert textbook in back and "extremum_grad" not in back, back
    assert back.count("\n") == 5, back  # (the saved values, one comment, one line, the return)


def test_the_axis_may_be_a_name_bound_once():
    # activations.softmax(x, axis): the same name in the maximum and the sum is the same axis
    for axis in (0, 1, -1, None):
        check_gradient(lambda z: np.sum(WEIGHTS[:z.size].reshape(z.shape) * activations.softmax(z, axis)),
                       rng.standard_normal((3, 4)))


def gradient_by_differences(fn, z, eps=1e-6):
    columns = []
    for i in range(z.size):
        step = np.zeros(z.size)
        step[i] = eps
        up = srcgrad.gradient(fn, z + step.reshape(z.shape))[0]
        down = srcgrad.gradient(fn, z - step.reshape(z.shape))[0]
        columns.append(((up - down) / (2 * eps)).ravel())
    return np.array(columns).T


@pytest.mark.parametrize("fn", [log_softmax_rows, softmax_columns, library_activations])
def test_second_order_through_the_closed_forms(fn):
    z = rng.standard_normal((3, 4))
    H = srcgrad.hessian(fn, z).reshape(z.size, z.size)
    np.testing.assert_allclose(H, gradient_by_differences(fn, z), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n", [3, 5])
def test_hessian_is_the_softmax_jacobian(n):
    z = rng.standard_normal(n)
    p = np.exp(z) / np.sum(np.exp(z))
    np.testing.assert_allclose(srcgrad.hessian(whole, z), np.diag(p) - np.outer(p, p), rtol=1e-9, atol=1e-12)
