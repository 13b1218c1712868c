"""Group 3, array mutation: element, slice, mask and row assignment, augmented assignment, loops.

Every check also asserts that srcgrad left the caller's arrays as they were,
including for programs that write into their own arguments.
"""

import numpy as np
import pytest

import srcgrad

from .checks import check_program

rng = np.random.default_rng(3)


# --- element assignment -----------------------------------------------------

def set_element(x):
    y = np.zeros(3)
    y[1] = x * 2.0
    y[2] = x ** 2
    return np.sum(y * np.array([1.0, 2.0, 3.0])) + y[1] * y[2]


def fill_by_index(x):
    out = np.zeros(len(x))
    for i in range(len(x)):
        out[i] = np.sin(x[i]) * (i + 1)
    return np.sum(out ** 2)


def fill_matrix_by_index(a, b):
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = a[i] * b[j] + a[i] ** 2
    return np.sum(out * out)


def negative_index(x):
    y = x.copy()
    y[-1] = y[0] * y[-1]
    return np.sum(y ** 2)


def overwrite_element(x):
    y = np.ones(2)
    y[0] = x
    y[0] = y[0] * 3.0 + y[1]
    y[0] = y[0] * x
    return y[0] + y[1]


def read_before_write(x):
    y = x * 1.0
    old = y[0]
    y[0] = 5.0
    return old * y[0] + np.sum(y * x)


def recurrence_through_array(x):
    y = np.zeros_like(x)
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] * 0.5 + x[i] ** 2
    return np.sum(y)


def set_element_in_while(x):
    y = x * 1.0
    i = 0
    while y[i] < 10.0 and i < len(y) - 1:
        y[i + 1] = y[i + 1] + y[i] * 2.0
        i = i + 1
    return np.sum(y ** 2)


# --- slices, masks, rows ----------------------------------------------------

def set_slice(x, v):
    y = np.zeros(5)
    y[1:3] = v
    y[3:] = x[:2] * v[0]
    return np.sum((y + x) ** 2)


def set_slice_from_own_values(x):
    y = x.copy()
    y[1:] = y[:-1] * 2.0
    return np.sum(y * x)


def set_mask(x):
    y = x * 1.0
    y[y > 0.5] = 0.0
    return np.sum(y * x)


def set_mask_from_values(x, w):
    y = x * w
    mask = x < 0
    y[mask] = x[mask] ** 2
    return np.sum(y)


def set_fancy(x, v):
    y = np.zeros(4)
    y[[0, 3]] = v * x[1]
    return np.sum(y * np.arange(1.0, 5.0)) + y[3] * x[0]


def set_row(W, v):
    out = W * 1.0
    out[1, :] = v * out[0, :]
    return np.sum(out ** 2)


def set_column(W, v):
    out = W.copy()
    out[:, 0] = v
    return np.sum(out @ out.T)


def set_2d_mask(W):
    out = W * 2.0
    out[W < 0] = W[W < 0] * 0.1
    return np.sum(out ** 2)


# --- augmented assignment ---------------------------------------------------

def row_augassign(W, v):
    out = W * 1.0
    out[1, :] += v
    out[0, :] *= v
    return np.sum(out ** 2)


def row_augassign_in_loop(W, v):
    out = W.copy()
    for i in range(out.shape[0]):
        out[i, :] += v * i
        out[i, :] -= out[0, :] * 0.5
    return np.sum(out ** 2)


def augassign_arrays(x, y):
    z = x.copy()
    z += y
    z *= x
    z -= 0.5 * y
    z /= 2.0 + y ** 2
    z **= 2
    return np.sum(z)


def augassign_element(x):
    y = x * 1.0
    y[0] += x[1] * 2.0
    y[1] *= y[0]
    y[2] -= y[1]
    y[2] /= 3.0
    return np.sum(y * x)


def augassign_slice_overlapping(x):
    y = x * 1.0
    y[1:] -= y[:-1]
    return np.sum(y ** 2)


def augassign_mask(x):
    y = x.copy()
    y[y > 0] *= 2.0
    y[y < 0] += 1.0
    return np.sum(y * y * x)


def augassign_scalar_in_loop(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
        s *= 0.9
    return s


# --- writing into arguments -------------------------------------------------

def writes_into_argument(x):
    x[0] = x[1] * 2.0
    x[1:] += 1.0
    return np.sum(x ** 2)


def augassign_on_argument(x, y):
    x += y
    x *= y
    return np.sum(x)


def argument_mutated_in_loop(x):
    for i in range(1, len(x)):
        x[i] = x[i] + x[i - 1]
    return np.sum(x ** 2)


def mutation_through_helper(x):
    y = x * 1.0
    scale_first(y, 3.0)
    return np.sum(y * y)


def scale_first(y, s):
    y[0] = y[0] * s


# --- repeated fancy indices --------------------------------------------------

def repeated_fancy_read(x):
    return np.sum(x[[0, 2, 2]])


def repeated_fancy_read_squared(x):
    y = x[[1, 1, 0, 1]]
    return np.sum(y ** 2)


# --- aliasing, steps, ellipsis -------------------------------------------------

def alias_then_write(x):
    y = x * 2.0
    z = y
    z[0] = 10.0
    return np.sum(y * x)


def step_slice_and_ellipsis(x):
    y = x * 1.0
    y[::2] = y[::2] ** 2
    y[..., 0] = 3.0 * x[0]
    return np.sum(y * x)


def element_augassign_in_double_loop(a, b):
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] += a[i] * b[j]
            out[i, j] *= a[i]
    return np.sum(out ** 2)


def write_in_while_with_break(x):
    y = np.zeros(4)
    i = 0
    while True:
        y[i] = x[i] * (i + 1.0)
        if y[i] > 2.0 or i == 3:
            break
        i += 1
    return np.sum(y ** 2)


def write_then_return_from_loop(x):
    y = x * 1.0
    for i in range(len(y)):
        y[i] = y[i] ** 2
        if y[i] > 1.0:
            return np.sum(y)
    return np.sum(y) * 2.0


def recursive_fill(x, i, out):
    if i == len(x):
        return out
    out[i] = x[i] * out[i - 1] if i > 0 else x[i]
    return recursive_fill(x, i + 1, out)


def recursion_fills_array(x):
    return np.sum(recursive_fill(x, 0, np.zeros(len(x))))


def write_in_branches(x):
    y = x.copy()
    if y[0] > 0:
        y[0] = y[0] * 3.0
    else:
        y[1] = -y[0]
    if np.sum(x) > 0:
        y[1:] = y[:-1] * y[1:]
    return np.sum(y * y)


X3 = np.array([0.3, 0.8, -0.2])
X4 = np.array([1.0, -2.0, 0.5, 1.5])
W23 = rng.standard_normal((2, 3))
W33 = rng.standard_normal((3, 3))


CASES = [
    (set_element, [(1.5,), (-0.3,)], None),
    (fill_by_index, [(X3,), (np.array([2.0]),), (np.array([]),)], None),
    (fill_matrix_by_index, [(np.array([1.0, 2.0]), np.array([0.5, -1.0, 2.0])), (np.array([0.3]), np.array([0.7]))], None),
    (negative_index, [(X3,), (X4,)], None),
    (overwrite_element, [(1.5,), (-0.5,)], None),
    (read_before_write, [(X3,), (X4,)], None),
    (recurrence_through_array, [(X3,), (np.array([0.5]),), (X4,)], None),
    (set_element_in_while, [(np.array([1.0, 2.0, 3.0]),), (np.array([20.0, 1.0]),), (np.array([4.0, 5.0, 0.5]),)], None),
    (set_slice, [(np.array([0.3, 0.8, -0.2, 1.0, 2.0]), np.array([0.5, -1.0])), (np.array([2.0, 1.0, 0.0, -1.0, 3.0]), np.array([1.5, 0.25]))], None),
    (set_slice_from_own_values, [(X3,), (X4,)], None),
    (set_mask, [(X3,), (np.array([0.9, 0.1, 0.7]),)], None),
    (set_mask_from_values, [(X4, np.array([0.5, 1.0, 2.0, -1.0])), (X3, np.array([1.0, 2.0, 3.0]))], None),
    (set_fancy, [(X3, 0.5), (X4, -2.0)], None),
    (set_row, [(W23, np.array([0.5, -1.0, 2.0])), (np.ones((2, 3)), np.array([1.0, 2.0, 3.0]))], None),
    (set_column, [(W33, 0.5), (W23, -1.5)], None),
    (set_2d_mask, [(W33,), (W23,)], None),
    (row_augassign, [(W23, np.array([0.5, -1.0, 2.0])), (W33, np.array([1.0, 0.1, 3.0]))], None),
    (row_augassign_in_loop, [(W23, np.array([0.5, -1.0, 2.0])), (W33[:1], np.array([1.0, 2.0, 3.0])),
                             (np.zeros((0, 3)), np.ones(3))], None),
    (augassign_arrays, [(X3, np.array([1.0, 2.0, -0.5])), (X4, np.array([0.5, 0.5, 0.25, -1.0]))], None),
    (augassign_element, [(X3,), (X4[:3],)], None),
    (augassign_slice_overlapping, [(X3,), (X4,)], None),
    (augassign_mask, [(X3,), (X4,)], None),
    (augassign_scalar_in_loop, [(X3,), (np.array([]),), (np.array([2.0]),)], None),
    (writes_into_argument, [(X3.copy(),), (X4.copy(),)], None),
    (augassign_on_argument, [(X3.copy(), np.array([1.0, 2.0, -0.5])), (np.array([0.5]), np.array([2.0]))], None),
    (argument_mutated_in_loop, [(X3.copy(),), (np.array([1.0]),), (X4.copy(),)], None),
    (repeated_fancy_read, [(X3,), (X4,)], None),
    (repeated_fancy_read_squared, [(X3,), (X4,)], None),
    (write_in_while_with_break, [(np.array([0.5, 0.9, 0.2, 3.0]),), (np.array([3.0, 1.0, 1.0, 1.0]),),
                                 (np.array([0.1, 0.1, 0.1, 0.1]),)], None),
    (write_then_return_from_loop, [(np.array([0.5, 2.0, 0.1]),), (np.array([0.5, 0.2]),)], None),
    (recursion_fills_array, [(np.array([0.5, 2.0, 0.1]),), (np.array([1.5]),)], None),
    (write_in_branches, [(np.array([1.0, 2.0]),), (np.array([-1.0, 2.0]),), (np.array([-1.0, -2.0, 0.5]),)], None),
    (step_slice_and_ellipsis, [(X3,), (X4,)], None),
    (element_augassign_in_double_loop, [(np.array([1.0, 2.0]), np.array([0.5, -1.0, 2.0])),
                                        (np.array([0.3]), np.array([]))], None),
]


@pytest.mark.parametrize("fn, inputs, wrt", CASES,
                         ids=[(c.values if hasattr(c, "values") else c)[0].__name__ for c in CASES])
def test_mutation_program(fn, inputs, wrt):
    for args in inputs:
        check_program(fn, *args, wrt=wrt)


def test_repeated_fancy_index_counts_each_occurrence():
    (g,) = srcgrad.gradient(repeated_fancy_read, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0])
    x = np.array([1.0, 2.0, 3.0])
    (g,) = srcgrad.gradient(repeated_fancy_read_squared, x)
    np.testing.assert_allclose(g, [2.0 * x[0], 3 * 2.0 * x[1], 0.0])


@pytest.mark.parametrize("fn, args", [
    (writes_into_argument, (np.array([0.3, 0.8, -0.2]),)),
    (augassign_on_argument, (np.array([0.3, 0.8]), np.array([1.0, 2.0]))),
    (argument_mutated_in_loop, (np.array([0.3, 0.8, -0.2]),)),
    (set_mask, (np.array([0.9, 0.1, 0.7]),)),
], ids=["writes_into_argument", "augassign_on_argument", "argument_mutated_in_loop", "set_mask"])
def test_callers_arrays_are_never_modified(fn, args):
    kept = [a.copy() for a in args]
    srcgrad.gradient(fn, *args)
    srcgrad.withgradient(fn, *args)
    y, back = srcgrad.pullback(fn, *args)
    back(1.0)
    for a, k in zip(args, kept):
        np.testing.assert_array_equal(a, k)
    # and the value srcgrad computes is what Python computes on a fresh copy
    assert y == pytest.approx(fn(*[k.copy() for k in kept]))


def test_gradient_keeps_the_arguments_float32_dtype_through_mutation():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    (g,) = srcgrad.gradient(fill_by_index, x)
    assert g.dtype == np.float32
    expected = 2 * np.sin(x.astype(float)) * np.cos(x.astype(float)) * np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(g, expected, rtol=1e-5)


def test_a_helper_writing_into_an_array_it_was_given_is_refused_at_the_call():
    # Python changes the caller's y; srcgrad would not (compiler/aliasing.py): refused, naming both lines.
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match=r"test_mutation.py:\d+.*scale_first.*"
                                                            r"test_mutation.py:\d+: 'y\[0\] = \.\.\.'"):
        srcgrad.gradient(mutation_through_helper, np.array([0.3, 0.8]))
