"""Group 1, control flow: branches, loops of every kind, jumps and returns from anywhere.

Inputs are chosen so each ``if`` is taken both ways and each loop runs zero,
one and many times.
"""

import numpy as np
import pytest

from .checks import check_program

rng = np.random.default_rng(1)


# --- if / elif / else ------------------------------------------------------

def three_way(x):
    if x < -1.0:
        y = x * x
    elif x < 1.0:
        y = 3.0 * x + 1.0
    else:
        y = np.exp(x)
    return y


def branch_on_array(x, w):
    if np.sum(x * w) > 0:
        out = np.sum(np.sin(x) * w)
    else:
        out = np.sum(x ** 2) - np.sum(w)
    return out


def nested_ifs(x, y):
    if x > 0:
        if y > 0:
            z = x * y
        else:
            z = x - y * y
    else:
        if y > x:
            z = y ** 3
        else:
            z = x * 2.0
    return z


def if_without_else(x):
    y = x * 2.0
    if x > 0.5:
        y = y * x
    return y + 1.0


def conditional_expression(x, y):
    return x * y if x > y else x + 2.0 * y


def nested_conditional_expression(x):
    return x ** 2 if x > 1.0 else (np.sin(x) if x > -1.0 else -x)


def conditional_in_loop(xs):
    total = 0.0
    for x in xs:
        total = total + (x * x if x > 0 else 0.5 * x)
    return total


# --- for loops -------------------------------------------------------------

def for_range(x, n):
    y = x
    for i in range(n):
        y = y * x + 1.0
    return y


def for_range_start_stop_step(x):
    s = 0.0
    for k in range(1, 8, 3):
        s = s + k * x ** 2
    return s


def for_over_rows(W, v):
    total = 0.0
    for row in W:
        total = total + np.sum(row * v) ** 2
    return total


def for_over_array(x):
    s = 1.0
    for xi in x:
        s = s * np.cos(xi) + xi
    return s


def for_over_list(xs, w):
    total = 0.0
    for x in xs:
        total = total + w * x * x
    return total


def for_over_tuple(x, y, z):
    s = 0.0
    for v in (x, y * 2.0, z * z):
        s = s + np.sin(v)
    return s


def for_over_zip(xs, ys):
    s = 0.0
    for a, b in zip(xs, ys):
        s = s + a * b
    return s


def for_over_enumerate(xs):
    s = 0.0
    for i, x in enumerate(xs):
        s = s + (i + 1) * x ** 2
    return s


def for_over_reversed(coeffs, x):
    acc = 0.0
    for c in reversed(coeffs):
        acc = acc * x + c
    return acc


def enumerate_zip(xs, ys):
    s = 0.0
    for i, (a, b) in enumerate(zip(xs, ys)):
        s = s + i * a + a * b
    return s


def nested_loops(W):
    s = 0.0
    n, m = W.shape
    for i in range(n):
        for j in range(m):
            s = s + W[i, j] * (i - j) + W[i, j] ** 2
    return s


def rnn(W, h, x):
    for t in range(len(x)):
        h = np.tanh(W @ h + x[t])
    return np.sum(h ** 2)


def rnn_over_sequence(W, U, h, xs):
    for x in xs:
        h = np.tanh(W @ h + U @ x)
    return np.sum(h)


def loop_variable_after_loop(xs):
    last = 0.0
    for x in xs:
        last = x
    return last * 3.0 + last ** 2


# --- while loops -----------------------------------------------------------

def halve_until_small(x):
    while x > 0.1:
        x = x / 2
    return x


def halve_array_until_small(x):
    while np.linalg.norm(x) > 0.5:
        x = x * 0.5
    return np.sum(x * x)


def add_until_target(x, target):
    s = 0.0
    steps = 0
    while s < target:
        s = s + x
        steps = steps + 1
    return s * steps


def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-12 * a:
        y = 0.5 * (y + a / y)
    return y


def while_with_counter(x, n):
    i = 0
    y = x
    while i < n:
        y = np.sin(y) + x
        i += 1
    return y


# --- break, continue ------------------------------------------------------

def break_in_for(x, n):
    s = 0.0
    for i in range(n):
        if s > 4.0:
            break
        s = s + x * (i + 1)
    return s


def continue_in_for(xs):
    total = 0.0
    for x in xs:
        if x < 0:
            continue
        total = total + x ** 3
    return total


def break_in_while(x):
    y = x
    while True:
        y = y * 1.5 + 0.1
        if y > 5.0:
            break
    return y


def continue_in_while(x, n):
    i = 0
    s = 0.0
    while i < n:
        i = i + 1
        if i % 2 == 0:
            continue
        s = s + x ** i
    return s


def break_inner_loop_only(W):
    s = 0.0
    for row in W:
        for v in row:
            if v < 0:
                break
            s = s + v * v
    return s


# --- returns --------------------------------------------------------------

def return_from_for(xs, t):
    for x in xs:
        if x > t:
            return x * t
    return t * 0.5


def return_from_while(x):
    k = 0
    while k < 10:
        x = x * 1.1
        if x > 2.0:
            return x * k
        k = k + 1
    return -x


def several_returns(x):
    if x > 2.0:
        return x ** 2
    if x > 0.0:
        return np.sqrt(x)
    if x > -2.0:
        return -x * 3.0
    return np.exp(x)


def return_from_nested_loop(W, t):
    for row in W:
        for v in row:
            if v > t:
                return v * t
    return t


def helper_with_returns(x):
    if x > 0:
        return x * x
    return -x


def calls_with_returns(x, y):
    return helper_with_returns(x) * helper_with_returns(y) + helper_with_returns(x - y)


def fibonacci_like(x, n):
    a, b = x, 1.0
    for _ in range(n):
        a, b = b, a + b * x
    return a * b


def branch_reassign_in_loop(x, y, n):
    for i in range(n):
        if x > y:
            x = x * y
        else:
            y = y + x
    return x * y


def range_with_negative_step(xs):
    s = 0.0
    for i in range(len(xs) - 1, -1, -1):
        s = s * 0.5 + xs[i]
    return s


def return_in_for_in_while(x):
    k = 0
    while k < 5:
        for j in range(3):
            x = x * 1.2
            if x > 4.0:
                return x * j
        k += 1
    return x


def branches_define_different_values(x):
    if x > 0:
        z = x * 3.0
    else:
        z = x
    if x > 1.0:
        w = z * z
    else:
        w = z
    return w


W3 = rng.standard_normal((3, 3)) * 0.5
V3 = rng.standard_normal(3)


CASES = [
    (three_way, [(-2.0,), (0.3,), (1.5,)], None),
    (branch_on_array, [(np.array([1.0, 2.0]), np.array([0.5, 0.25])),
                       (np.array([-1.0, 0.5]), np.array([0.5, 0.25]))], None),
    (nested_ifs, [(1.0, 2.0), (1.0, -2.0), (-1.0, 0.5), (-1.0, -3.0)], None),
    (if_without_else, [(0.2,), (0.9,)], None),
    (conditional_expression, [(2.0, 1.0), (1.0, 2.0)], None),
    (nested_conditional_expression, [(2.0,), (0.3,), (-2.0,)], None),
    (conditional_in_loop, [([1.0, -2.0, 3.0],), ([],), ([-0.5],)], None),
    (for_range, [(0.7, 0), (0.7, 1), (0.7, 5)], [0]),
    (for_range_start_stop_step, [(0.5,), (-1.5,)], None),
    (for_over_rows, [(np.zeros((0, 3)), V3), (W3[:1], V3), (W3, V3)], None),
    (for_over_array, [(np.array([]),), (np.array([0.3]),), (np.array([0.3, -1.2, 2.0]),)], None),
    (for_over_list, [([], 0.5), ([2.0], 0.5), ([1.0, -2.0, 3.0], 1.5)], None),
    (for_over_tuple, [(0.1, 0.2, 0.3), (-1.0, 2.0, 0.5)], None),
    (for_over_zip, [([1.0, 2.0, 3.0], [4.0, 5.0]), ([], []), ([0.5], [-2.0])], None),
    (for_over_enumerate, [([1.0, 2.0, 3.0],), ([-0.5],), ([],)], None),
    (for_over_reversed, [([1.0, 2.0, 3.0], 0.5), ([2.0], 1.5), ([], 1.0)], None),
    (enumerate_zip, [(np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])),
                     (np.array([0.3]), np.array([0.7]))], None),
    (nested_loops, [(W3,), (np.ones((1, 2)),), (np.zeros((0, 2)),)], None),
    (rnn, [(W3, V3, np.zeros((0, 3))), (W3, V3, rng.standard_normal((1, 3))),
           (W3, V3, rng.standard_normal((4, 3)))], None),
    (rnn_over_sequence, [(W3, rng.standard_normal((3, 2)), V3, []),
                         (W3, rng.standard_normal((3, 2)), V3, [rng.standard_normal(2)]),
                         (W3, rng.standard_normal((3, 2)), V3, list(rng.standard_normal((3, 2))))], None),
    (loop_variable_after_loop, [([1.0, 2.0],), ([0.5],)], None),
    (halve_until_small, [(0.05,), (0.15,), (7.0,)], None),
    (halve_array_until_small, [(np.array([0.1, 0.2]),), (np.array([0.5, 0.4]),), (np.array([3.0, -4.0]),)], None),
    (add_until_target, [(0.7, -1.0), (0.7, 0.5), (0.7, 3.0)], None),
    (newton_sqrt, [(0.25,), (2.0,), (9.5,)], None),
    (while_with_counter, [(0.5, 0), (0.5, 1), (0.5, 4)], [0]),
    (break_in_for, [(1.0, 0), (1.0, 2), (1.0, 10)], [0]),
    (continue_in_for, [([1.0, -2.0, 3.0],), ([-1.0, -2.0],), ([],)], None),
    (break_in_while, [(0.3,), (6.0,)], None),
    (continue_in_while, [(0.8, 0), (0.8, 1), (0.8, 5)], [0]),
    (break_inner_loop_only, [(np.array([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5]]),),
                             (np.array([[-1.0, 2.0]]),)], None),
    (return_from_for, [([0.1, 0.5, 0.9], 0.4), ([0.1, 0.2], 0.4), ([], 0.4)], None),
    (return_from_while, [(1.0,), (1.9,), (0.5,)], None),
    (several_returns, [(3.0,), (1.0,), (-1.0,), (-3.0,)], None),
    (return_from_nested_loop, [(np.array([[0.1, 0.2], [0.9, 0.3]]), 0.5),
                               (np.array([[0.1, 0.2]]), 0.5)], None),
    (calls_with_returns, [(1.0, 2.0), (-1.0, 0.5), (2.0, -3.0)], None),
    (fibonacci_like, [(0.5, 0), (0.5, 1), (0.5, 4)], [0]),
    (branch_reassign_in_loop, [(2.0, 0.6, 3), (0.5, 2.0, 3), (1.5, 0.9, 4), (1.0, 2.0, 0)], [0, 1]),
    (range_with_negative_step, [([1.0, 2.0, 3.0],), ([],), ([0.5],)], None),
    (return_in_for_in_while, [(1.0,), (0.01,)], None),
    (branches_define_different_values, [(2.0,), (0.5,), (-1.0,)], None),
]


@pytest.mark.parametrize("fn, inputs, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_control_flow_program(fn, inputs, wrt):
    for args in inputs:
        check_program(fn, *args, wrt=wrt)
