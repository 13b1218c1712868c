"""Everyday Python inside differentiated code: jumps, mutation, comprehensions (issue 3, first part).

Each program is checked against central finite differences at several inputs,
covering both sides of every branch.
"""

import dataclasses

import numpy as np
import pytest

import srcgrad
from gradcheck import check_gradient


def early(x):
    if x > 0:
        return x * x
    return -x * 3.0


def accumulate_until(x, n):
    s = 0.0
    for i in range(n):
        if s > 5.0:
            break
        s = s + x * i
    return s


def skip_negatives(xs):
    total = 0.0
    for x in xs:
        if x < 0:
            continue
        total = total + x ** 2
    return total


def grow_until(x):
    while True:
        x = x * 1.5
        if x > 10.0:
            break
    return x


def first_above(xs, t):
    for x in xs:
        if x > t:
            return x * 2.0
    return 0.0


def fill(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x * (i + 1)
    return np.sum(y ** 2)


def masked(x):
    y = x * 1.0
    y[y > 0.5] = 0.0
    y[0] += x[1] * 2.0
    return np.sum(y * x)


def rows(W):
    out = W * 1.0
    out[1, :] = out[0, :] * 3.0
    return np.sum(out ** 2)


def built(xs):
    out = []
    for x in xs:
        out.append(x * x)
    out.extend([xs[0], xs[1]])
    return np.sum(np.stack(out))


def comprehensions(xs):
    return sum([x * x for x in xs if x > 0]) + sum(x * 2.0 for x in xs)


def dict_comprehension(xs):
    d = {i: x * x for i, x in enumerate(xs)}
    return d[0] + d[2] * 3.0


def nested_comprehension(rows):
    return sum([a * b for row in rows for a, b in zip(row, row[1:])])


def with_lambda(x, w):
    f = lambda t: t * w + x
    return f(2.0) * f(x)


def with_def(xs, w):
    def scale(t):
        s = t * w
        return s * s
    return sum(map(scale, xs))


def apply_twice(x):
    g = lambda t: np.sin(t) * x
    return g(g(x))


def map_two(xs, ys):
    return sum(map(lambda a, b: a * b, xs, ys))


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return self.W @ x + self.b


def build_and_use(W, b, x):
    layer = Affine(W, b)
    return np.sum(layer(x) ** 2)


@dataclasses.dataclass
class Point:
    x: float
    y: float

    def norm2(self):
        return self.x ** 2 + self.y ** 2


def points(a, b):
    p = Point(a, b * 2.0)
    return p.norm2() * p.x


class Counter:
    def __init__(self, scale):
        self.scale = scale
        self.total = 0.0

    def add(self, v):
        self.total = self.total + v * self.scale


def stateful(xs, s):
    c = Counter(s)
    for x in xs:
        c.add(x)
    return c.total


def joined(x, y):
    parts = (x * 2.0,) + tuple([y, x * y])
    more = [x] + [p * 3.0 for p in parts]
    return parts[2] * more[0] + more[1]


class Inner:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return self.w * x


class Wrapper:
    def __init__(self, k, inner):
        self.k = k
        self.inner = inner

    def __call__(self, x):
        return self.k * self.inner(x)

    def twice(self, x):
        return self.helper(x) * 2.0

    def helper(self, x):
        return self.k * x


def wrapped(k, w, x):
    s = Wrapper(k, Inner(w))
    return s(x) + s.twice(x)


def max_times_min(x, y):
    return max(x, y) * min(x, y)


def smallest_and_largest(xs):
    s = sorted(xs)
    return s[0] * 2.0 + s[-1]


def repeated(x):
    ys = [x] * 3
    return sum(ys)


def keyword_method(x):
    c = Counter(0.5)
    c.add(v=x)
    return c.total


def find_or_scale(xs, t):
    for x in xs:
        if x > t:
            found = x * 3.0
            break
    else:
        found = t * 2.0
    return found


def while_else(x):
    while x < 10.0:
        x = x * 1.5
    else:
        x = x + 1.0
    return x


RNG = np.random.default_rng(0)

CASES = [
    (early, [(1.5,), (-1.5,)], None),
    (accumulate_until, [(1.3, 10), (0.2, 4), (1.0, 0)], [0]),
    (skip_negatives, [(np.array([1.0, -2.0, 3.0]),), (np.array([-1.0, -2.0]),)], None),
    (grow_until, [(0.7,), (11.0,)], None),
    (first_above, [([0.1, 0.5, 0.9], 0.4), ([0.1, 0.2], 0.4), ([0.9], 0.4)], None),
    (fill, [(1.3,), (-0.4,)], None),
    (masked, [(np.array([0.3, 0.8, -0.2]),), (np.array([0.9, 0.1, 0.7]),)], None),
    (rows, [(np.arange(6.0).reshape(2, 3),), (np.ones((2, 3)) * 0.5,)], None),
    (built, [([1.0, 2.0, 3.0],), ([0.5, -1.0],)], None),
    (comprehensions, [([1.0, -2.0, 3.0],), ([-1.0],)], None),
    (dict_comprehension, [([1.0, -2.0, 3.0],), ([0.5, 0.5, 0.5],)], None),
    (nested_comprehension, [([[1.0, 2.0, 3.0], [0.5, 4.0]],)], None),
    (with_lambda, [(1.5, 0.3), (-0.5, 2.0)], None),
    (with_def, [([1.0, 2.0], 0.7)], None),
    (apply_twice, [(0.4,), (-1.2,)], None),
    (map_two, [([1.0, 2.0], [3.0, 4.0])], None),
    (build_and_use, [(RNG.random((2, 3)), RNG.random(2), RNG.random(3))], None),
    (points, [(1.5, -0.5), (-2.0, 0.25)], None),
    (stateful, [([1.0, 2.0, 3.0], 0.5), ([], 2.0)], [1]),
    (joined, [(1.5, -0.5), (0.2, 2.0)], None),
    (wrapped, [(1.5, 2.0, 0.5), (-0.5, 1.0, 2.0)], None),
    (max_times_min, [(1.5, 0.5), (0.5, 1.5)], None),
    (smallest_and_largest, [([3.0, 1.0, 2.0],), ([0.5, 4.0, -1.0],)], None),
    (repeated, [(1.5,)], None),
    (keyword_method, [(1.5,), (-2.0,)], None),
    (find_or_scale, [([0.1, 0.5, 0.9], 0.4), ([0.1, 0.2], 0.4)], None),
    (while_else, [(0.7,), (12.0,)], None),
]


def test_callable_field_gradient_sits_under_its_field():
    (ds, _) = srcgrad.gradient(lambda s, x: s(x) + s.twice(x), Wrapper(1.5, Inner(2.0)), 0.5)
    assert ds == {"k": 2.0, "inner": {"w": 0.75}}


def late_binding(x):
    k = 2.0
    g = lambda t: t * k
    k = x
    return g(x)


def test_rebinding_a_captured_variable_is_refused():
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.gradient(late_binding, 1.5)
    assert "captured" in str(info.value) and "test_language.py" in str(info.value)


@pytest.mark.parametrize("fn, inputs, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_program_matches_finite_differences(fn, inputs, wrt):
    for args in inputs:
        check_gradient(fn, *args, wrt=wrt)


def test_assignment_into_an_array_never_touches_the_callers_array():
    x = np.array([0.3, 0.8, -0.2])
    keep = x.copy()
    srcgrad.gradient(masked, x)
    np.testing.assert_array_equal(x, keep)
    assert masked(x) == pytest.approx(masked(keep))
