"""Group 5, non-differentiable code: it runs, passes zero gradient, and never errors or gives nan.

Comparisons, ``int()``, ``len``, ``isinstance``, ``range``, ``np.argmax``,
``np.floor``, ``.shape``, integer counters, strings and ``print`` mix with
differentiable code; the gradient is checked against finite differences
(inputs are away from the jumps of step functions), and some exactly.
"""

import numpy as np
import pytest

import srcgrad

from .checks import check_program


# --- comparisons and booleans ---------------------------------------------------

def comparison_as_factor(x):
    return np.sum((x > 0) * x ** 2 + (x <= 0) * 3.0 * x)


def boolean_logic_in_condition(x, y):
    if x > 0 and not y < 0:
        return x * y
    elif x > 0 or y > 1.0:
        return x + y
    return x - y


def comparison_chain(x):
    return x * x if 0.0 < x < 1.0 else 2.0 * x


def equality_and_identity(x, mode):
    if mode == "square" and mode is not None:
        return x * x
    return x * 3.0


def np_where_with_comparison(x):
    return np.sum(np.where(x > 0.5, x ** 2, -x))


def any_all(x):
    if np.all(x > 0):
        return np.sum(np.log(x))
    if np.any(x > 0):
        return np.sum(x ** 2)
    return np.sum(x)


# --- int, len, range, isinstance -----------------------------------------------

def int_of_value(x):
    return x * int(x) + int(x * 10) % 3


def len_for_mean(x):
    return np.sum(x ** 2) / len(x)


def range_from_data(x):
    s = 0.0
    for i in range(int(x) + 1):
        s = s + x * i
    return s


def isinstance_dispatch(x):
    if isinstance(x, np.ndarray):
        return np.sum(x ** 3)
    if isinstance(x, (list, tuple)):
        return sum(x) * 2.0
    return x ** 3


def integer_arithmetic_on_indices(x):
    n = len(x)
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s = s + x[i] * ((n - i) // 2)
        else:
            s = s - x[(i * 3) % n] * abs(i - n)
    return s


def max_min_of_ints(xs, ys):
    n = min(len(xs), len(ys))
    m = max(n, 1)
    return sum([xs[i] * ys[i] for i in range(n)]) / m


def float_of_int(x):
    k = float(len(x))
    return np.sum(x) * k + k


# --- numpy functions with zero derivative -----------------------------------------

def argmax_pick(x):
    return x[np.argmax(x)] * 2.0 + np.sum(x)


def argmax_of_scores(W, v):
    scores = W @ v
    best = int(np.argmax(scores))
    return scores[best] ** 2 + np.sum(W[best])


def floor_fraction(x):
    return np.sum(x - np.floor(x)) + np.sum(np.floor(x) * x)


def sign_times(x):
    return np.sum(np.sign(x) * x ** 2)


def shape_queries(x):
    rows, cols = x.shape
    scale = x.size + x.ndim + x.shape[0]
    return np.sum(np.ones(x.shape) * x) * scale + rows * cols


def zeros_like_and_arange(x):
    base = np.zeros_like(x) + np.arange(len(x))
    return np.sum(base * x ** 2)


def dtype_query(x):
    if x.dtype == np.float64:
        return np.sum(x * 2.0)
    return np.sum(x)


# --- integer loop counters ---------------------------------------------------------

def powers_with_counter(x):
    s = 0.0
    for i in range(4):
        s = s + (i + 1) * x ** i
    return s


def array_powers_with_counter(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(x ** i)
    return total


def counter_in_while(x):
    i = 0
    s = 0.0
    while i < 3:
        s = s + x ** i / (i + 1)
        i += 1
    return s


# --- strings and print ------------------------------------------------------------

def string_operations(x, name):
    label = name.upper() + "_" + str(len(name))
    if label.startswith("TANH"):
        y = np.tanh(x)
    else:
        y = x * 2.0
    tag = f"{label}:{len(label)}"
    return y * len(tag) + len(" ".join(["a", "b"]))


def prints_value(x):
    y = x * x
    print("y is", y)
    print(f"x = {x:.2f}")
    return y + x


def helper_prints(x):
    print("helper got", x)
    return x * 2.0


def print_in_helper_and_loop(x):
    s = 0.0
    for i in range(2):
        print("step", i)
        s = s + helper_prints(x)
    return s


def argmax_argmin_methods(x):
    return x[x.argmax()] + x[x.argmin()] * 2.0 + x[np.argmin(x)]


def ceil_and_round(x):
    return np.sum(x * np.ceil(x) + np.round(x))


def isnan_isfinite(x):
    return np.sum(np.where(np.isfinite(x), x ** 2, 0.0)) + np.sum(np.isnan(x))


def astype_int(x):
    return np.sum(x * x.astype(int))


def argsort_as_index(x):
    order = np.argsort(x)
    return np.sum(x[order] * np.arange(len(x)))


def count_nonzero_factor(x):
    return np.sum(x) * np.count_nonzero(x > 0)


def round_builtin(x):
    return x * float(round(x)) + round(x * 2.0)


def stop_gradient_part(x, y):
    return x * srcgrad.stop_gradient(y * x) + y


CASES = [
    (comparison_as_factor, [(np.array([1.0, -2.0, 0.5]),), (np.array([-0.3]),)], None),
    (boolean_logic_in_condition, [(1.0, 2.0), (1.0, -2.0), (-1.0, 2.0), (-1.0, 0.5)], None),
    (comparison_chain, [(0.5,), (1.5,), (-0.5,)], None),
    (equality_and_identity, [(1.5, "square"), (1.5, "other")], [0]),
    (np_where_with_comparison, [(np.array([1.0, 0.2, -1.0]),), (np.array([0.7]),)], None),
    (any_all, [(np.array([1.0, 2.0]),), (np.array([1.0, -2.0]),), (np.array([-1.0, -2.0]),)], None),
    (int_of_value, [(1.35,), (-2.75,), (0.45,)], None),
    (len_for_mean, [(np.array([1.0, 2.0, 3.0]),), (np.array([0.5]),)], None),
    (range_from_data, [(0.5,), (1.5,), (3.7,)], None),
    (isinstance_dispatch, [(np.array([1.0, -2.0]),), ([1.0, 2.0],), ((0.5,),), (1.5,)], None),
    (integer_arithmetic_on_indices, [(np.array([1.0, 2.0, 3.0, 4.0]),), (np.array([0.5]),)], None),
    (max_min_of_ints, [([1.0, 2.0, 3.0], [0.5, -1.0]), ([], [1.0]), ([2.0], [3.0])], None),
    (float_of_int, [(np.array([1.0, 2.0]),), (np.array([0.5, 1.0, 1.5]),)], None),
    (argmax_pick, [(np.array([0.3, 2.0, -1.0]),), (np.array([5.0, 1.0]),)], None),
    (argmax_of_scores, [(np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([1.0, 0.5])),
                        (np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([-1.0, -0.5]))], None),
    (floor_fraction, [(np.array([1.3, -0.7, 2.5]),), (np.array([0.1]),)], None),
    (sign_times, [(np.array([1.0, -2.0, 0.5]),), (np.array([-0.3]),)], None),
    (shape_queries, [(np.ones((2, 3)) * 0.5,), (np.arange(4.0).reshape(4, 1),)], None),
    (zeros_like_and_arange, [(np.array([1.0, 2.0, 3.0]),), (np.array([-0.5]),)], None),
    (dtype_query, [(np.array([1.0, 2.0]),), (np.array([-3.0]),)], None),
    (powers_with_counter, [(0.0,), (1.5,), (-0.5,)], None),
    (array_powers_with_counter, [(np.array([0.0, 1.0, -2.0]),), (np.zeros(2),)], None),
    (counter_in_while, [(0.0,), (2.0,)], None),
    (string_operations, [(0.5, "tanh"), (0.5, "relu")], [0]),
    (prints_value, [(1.5,), (-0.5,)], None),
    (stop_gradient_part, [(1.5, 2.0), (-0.5, 0.25)], []),
    (print_in_helper_and_loop, [(1.5,), (-0.5,)], None),
    (argmax_argmin_methods, [(np.array([0.3, 2.0, -1.0]),), (np.array([1.0, 2.0]),)], None),
    (ceil_and_round, [(np.array([0.3, 2.2, -1.4]),), (np.array([1.2]),)], None),
    (isnan_isfinite, [(np.array([0.3, 2.2]),), (np.array([-1.5]),)], None),
    (astype_int, [(np.array([0.3, 2.2]),), (np.array([-1.7]),)], None),
    (argsort_as_index, [(np.array([0.3, 2.2, -1.0]),), (np.array([1.2]),)], None),
    (count_nonzero_factor, [(np.array([0.3, -2.2, 1.0]),), (np.array([-1.2]),)], None),
    (round_builtin, [(1.3,), (2.8,), (-0.6,)], None),
]


@pytest.mark.parametrize("fn, inputs, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_nondifferentiable_program(fn, inputs, wrt):
    for args in inputs:
        check_program(fn, *args, wrt=wrt)


def test_integer_powers_at_zero_give_no_nan_and_no_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = srcgrad.gradient(powers_with_counter, 0.0)
        (ga,) = srcgrad.gradient(array_powers_with_counter, np.zeros(3))
        (gw,) = srcgrad.gradient(counter_in_while, 0.0)
    # d/dx (1 + 2x + 3x^2 + 4x^3) at 0 is 2
    assert g == 2.0
    np.testing.assert_array_equal(ga, np.ones(3))
    assert gw == 0.5


def test_exact_zero_gradients():
    (g,) = srcgrad.gradient(argmax_pick, np.array([0.3, 2.0, -1.0]))
    np.testing.assert_array_equal(g, [1.0, 3.0, 1.0])
    (g,) = srcgrad.gradient(floor_fraction, np.array([1.3, -0.7]))
    np.testing.assert_allclose(g, [1.0 + 1.0, 1.0 - 1.0])
    (g,) = srcgrad.gradient(int_of_value, 2.5)
    assert g == 2.0
    (g,) = srcgrad.gradient(dtype_query, np.array([1.0, 2.0], dtype=np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [1.0, 1.0])  # float32 takes the other branch: sum(x)
    gx, gy = srcgrad.gradient(stop_gradient_part, 1.5, 2.0)
    # x * stop(y x) + y: d/dx = stop(y x) = 3, d/dy = 1
    assert (gx, gy) == (3.0, 1.0)


def test_string_and_int_arguments_get_zero_or_none():
    gx, gname = srcgrad.gradient(string_operations, 0.5, "tanh")
    assert gname is None
    assert gx == pytest.approx((1 - np.tanh(0.5) ** 2) * len("TANH_4:6"))
    # SPEC 1: an int argument gets a float gradient
    gx, gn = srcgrad.gradient(lambda x, n: x * n, 2.0, 3)
    assert (gx, gn) == (3.0, 2.0) and isinstance(gn, float)


def test_print_in_helpers_and_loops_prints_once_per_call_in_order(capsys):
    value, (g,) = srcgrad.withgradient(print_in_helper_and_loop, 1.5)
    out = capsys.readouterr().out
    assert out.splitlines() == ["step 0", "helper got 1.5", "step 1", "helper got 1.5"]
    assert (value, g) == (6.0, 4.0)


def test_print_still_prints_during_the_forward_pass(capsys):
    value, (g,) = srcgrad.withgradient(prints_value, 1.5)
    out = capsys.readouterr().out
    assert "y is 2.25" in out
    assert "x = 1.50" in out
    assert out.count("y is") == 1
    assert value == 3.75 and g == 4.0
