"""Group 2, containers and unpacking: tuples, lists, dicts, nesting, starred names, comprehensions.

Gradients of containers have the containers' structure; every float leaf
inside is checked against finite differences.
"""

import numpy as np
import pytest

from .checks import check_program

rng = np.random.default_rng(2)


# --- tuples ----------------------------------------------------------------

def tuple_build_and_index(x, y):
    t = (x * y, x + y, 3.0)
    return t[0] * t[1] + t[-1] * t[0]


def pair(x):
    return x * x, np.sin(x)


def tuple_from_helper(x):
    a, b = pair(x)
    return a * b + a


def tuple_argument(t):
    a, b, c = t
    return a * b * np.sum(c) + np.sum(t[2] ** 2)


def swap(x, y):
    a, b = x, y * 2.0
    a, b = b, a
    return a ** 2 + 3.0 * b


def tuple_slicing(x, y, z):
    t = (x, y, z, x * z)
    u = t[1:3]
    w = t[::2]
    return u[0] * u[1] + w[1] * w[0]


# --- lists -------------------------------------------------------------------

def list_append(xs):
    out = []
    for x in xs:
        out.append(np.tanh(x))
    out.append(xs[0] * 2.0)
    return np.sum(np.stack(out) ** 2)


def list_extend(x, ys):
    out = [x]
    out.extend(ys)
    out.extend([x * x, ys[0] * x])
    total = 0.0
    for v in out:
        total = total + v * v
    return total


def list_indexing(xs):
    return xs[0] * xs[-1] + xs[1] * xs[1]


def list_slicing(xs):
    head = xs[:2]
    tail = xs[2:]
    odd = xs[1::2]
    return head[0] * tail[-1] + sum(odd) * head[1]


def list_of_arrays(arrays, w):
    total = 0.0
    for a in arrays:
        total = total + np.sum(a * w)
    return total + np.sum(arrays[0] * arrays[-1])


def list_element_replaced(xs, y):
    out = list(xs)
    out[1] = out[1] * y
    out[0] = y
    return out[0] * out[1] + out[2]


def list_of_lists(rows):
    total = 0.0
    for i in range(len(rows)):
        for j in range(len(rows[i])):
            total = total + rows[i][j] * (i + 1) * rows[i][0]
    return total


def length_and_mean(xs):
    return sum(xs) / len(xs)


# --- dicts -------------------------------------------------------------------

def dict_literal(x, y):
    d = {"a": x, "b": y * y, "scale": 2.0}
    return d["a"] * d["b"] * d["scale"]


def dict_setitem(x, y):
    d = {}
    d["first"] = x * 2.0
    d["second"] = d["first"] * y
    d["first"] = d["first"] + y
    return d["first"] * d["second"]


def dict_int_keys(xs):
    d = {}
    for i in range(len(xs)):
        d[i] = xs[i] ** 2
    return d[0] + 2.0 * d[len(xs) - 1]


def mlp(params, x):
    h = np.tanh(params["W1"] @ x + params["b1"])
    return params["W2"] @ h + params["b2"]


def dict_of_arrays_params(params, x, y):
    return np.sum((mlp(params, x) - y) ** 2)


def dict_items(d):
    s = 0.0
    for key, v in d.items():
        s = s + np.sum(v * v) * len(key)
    return s


def dict_iteration(d):
    s = 0.0
    for key in d:
        s = s + np.sum(d[key] ** 3)
    return s


# --- nested structures ------------------------------------------------------

def nested_structure(model, x):
    h = x
    for layer in model["layers"]:
        h = np.tanh(layer["W"] @ h + layer["b"])
    return np.sum(h * model["scale"])


def list_of_tuples(pairs, x):
    total = 0.0
    for w, b in pairs:
        total = total + (w * x + b) ** 2
    return total


def tuple_of_dicts(t):
    first, second = t
    return first["a"] * second["b"] + np.sum(second["v"] ** 2) * first["a"]


def built_nested(x, y):
    s = {"pts": [(x, y), (y, x * x)], "w": [1.0, 2.0]}
    total = 0.0
    for (a, b), w in zip(s["pts"], s["w"]):
        total = total + w * a * b
    return total


# --- unpacking ---------------------------------------------------------------

def starred_head(xs):
    first, *rest = xs
    return first * sum(rest)


def starred_tail_and_middle(xs):
    *init, last = xs
    a, *mid, b = xs
    return last * init[0] + a * b * len(mid) + sum(mid)


def nested_unpacking(t):
    (a, b), c = t
    return a * b + c * c


def unpack_array_rows(W):
    r0, r1 = W
    return np.sum(r0 * r1) + np.sum(r1)


def unpack_in_for(pairs):
    s = 0.0
    for a, (b, c) in pairs:
        s = s + a * b - c
    return s


# --- *args -------------------------------------------------------------------

def weighted(a, b, c):
    return a + 2.0 * b + 3.0 * c * a


def star_args_at_call(xs):
    return weighted(*xs) + weighted(xs[0], *xs[1:])


def total_of(*values):
    s = 0.0
    for v in values:
        s = s + v * v
    return s


def star_args_in_signature(x, y):
    return total_of(x, y, x * y) + total_of() + total_of(y)


def star_args_forwarded(xs):
    return total_of(*xs) * total_of(*xs[1:])


# --- comprehensions ----------------------------------------------------------

def list_comprehension_with_condition(xs):
    return sum([x * x for x in xs if x > 0]) + sum([2.0 * x for x in xs if x <= 0])


def nested_list_comprehension(W):
    return sum([W[i, j] * W[j, i] for i in range(W.shape[0]) for j in range(W.shape[1]) if i != j])


def dict_comprehension(xs):
    d = {i: x * x for i, x in enumerate(xs) if i % 2 == 0}
    return d[0] * 2.0 + d[2 * len(d) - 2] * x_last(xs)


def x_last(xs):
    return xs[-1]


def generator_in_sum(xs, w):
    return sum(w * x ** 2 for x in xs if x > 0)


def sum_map(xs):
    return sum(map(np.sin, xs)) + sum(map(lambda t: t ** 2, xs))


def sum_zip_comprehension(xs, ys):
    return sum(a * b for a, b in zip(xs, ys))


def sum_enumerate_comprehension(xs):
    return sum([i * x * x for i, x in enumerate(xs)])


def comprehension_over_rows(W, v):
    return sum([np.sum(row * v) ** 2 for row in W])


def comprehension_builds_array(x):
    return np.sum(np.array([x * i for i in range(4)]) ** 2)


def map_zip_lists(xs, ys):
    prods = list(map(lambda a, b: a * b, xs, ys))
    return sum(prods) + prods[0] * prods[-1]


def dict_get(d, x):
    return d.get("a", 1.0) * x + d.get("missing", 2.0) * x


def enumerate_with_start(xs):
    s = 0.0
    for i, x in enumerate(xs, 1):
        s = s + i * x * x
    return s


def sorted_values(xs):
    s = sorted(xs)
    return s[0] * 2.0 + s[-1]


def builtin_min_max_abs(x, y):
    return max(x, y) * min(x, y) + abs(x - y)


def sum_with_start(xs):
    return sum(xs, 1.0) * sum([x * x for x in xs], 0.5)


def zip_three(xs, ys, zs):
    return sum(a * b * c for a, b, c in zip(xs, ys, zs))


def tuple_star_return(x):
    a, *rest = split3(x)
    return a * sum(rest)


def list_repetition(x, y):
    ys = [x] * 3
    return sum(ys) * y


def list_alias_write(x):
    rows = [[x, 0.0], [1.0, x * x]]
    row = rows[0]
    row[1] = x * 3.0
    return rows[0][1] * rows[1][1] + row[0]


def split3(x):
    return x, x * 2.0, x ** 3


W3 = rng.standard_normal((3, 3)) * 0.5


def params_dict():
    return {"W1": rng.standard_normal((4, 3)) * 0.5, "b1": rng.standard_normal(4),
            "W2": rng.standard_normal((2, 4)) * 0.5, "b2": rng.standard_normal(2)}


def nested_model():
    return {"layers": [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(3)},
                       {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(2)}],
            "scale": 1.5}


CASES = [
    (tuple_build_and_index, [(1.5, -0.5), (0.3, 2.0)], None),
    (tuple_from_helper, [(0.7,), (-1.3,)], None),
    (tuple_argument, [((1.0, 2.0, np.array([0.5, -1.0])),), ((-1.0, 0.5, np.array([2.0])),)], None),
    (swap, [(1.0, 2.0), (-0.5, 0.25)], None),
    (tuple_slicing, [(1.0, 2.0, 3.0), (-0.5, 0.5, 1.5)], None),
    (list_append, [([0.5, -1.0, 2.0],), ([0.3],)], None),
    (list_extend, [(1.5, [2.0, -1.0]), (-0.5, [0.25])], None),
    (list_indexing, [([1.0, 2.0, 3.0],), ([0.5, -1.5],)], None),
    (list_slicing, [([1.0, 2.0, 3.0, 4.0],), ([0.5, -1.5, 2.5],)], None),
    (list_of_arrays, [([np.array([1.0, 2.0]), np.array([0.5, -1.0])], np.array([0.3, 0.7])),
                      ([np.array([2.0, -2.0])], np.array([1.0, 0.5]))], None),
    (list_element_replaced, [([1.0, 2.0, 3.0], 0.5), ([-1.0, 0.5, 2.0], 2.0)], None),
    (list_of_lists, [([[1.0, 2.0], [3.0]],), ([[0.5, -1.0, 2.0], [1.5, 0.5], [2.0]],)], None),
    (length_and_mean, [([1.0, 2.0, 4.0],), ([3.0],)], None),
    (dict_literal, [(1.0, 2.0), (-0.5, 3.0)], None),
    (dict_setitem, [(1.0, 2.0), (-0.5, 3.0)], None),
    (dict_int_keys, [([1.0, 2.0, 3.0],), ([0.5],)], None),
    (dict_of_arrays_params, [(params_dict(), rng.standard_normal(3), rng.standard_normal(2)),
                             (params_dict(), rng.standard_normal(3), rng.standard_normal(2))], None),
    (dict_items, [({"a": np.array([1.0, 2.0]), "bb": np.array([0.5])},), ({},)], None),
    (dict_iteration, [({"a": np.array([1.0, 2.0]), "b": np.array([0.5])},), ({"z": np.array([-1.0])},)], None),
    (nested_structure, [(nested_model(), rng.standard_normal(2)), (nested_model(), rng.standard_normal(2))], None),
    (list_of_tuples, [([(1.0, 2.0), (0.5, -1.0)], 0.7), ([], 0.7), ([(2.0, 0.0)], -1.0)], None),
    (tuple_of_dicts, [(({"a": 2.0}, {"b": 3.0, "v": np.array([1.0, -1.0])}),),
                      (({"a": -0.5}, {"b": 1.0, "v": np.array([0.25])}),)], None),
    (built_nested, [(1.0, 2.0), (-0.5, 0.75)], None),
    (starred_head, [([1.0, 2.0, 3.0],), ([2.0],)], None),
    (starred_tail_and_middle, [([1.0, 2.0, 3.0, 4.0],), ([0.5, -1.0],)], None),
    (nested_unpacking, [(((1.0, 2.0), 3.0),), (((-1.0, 0.5), -2.0),)], None),
    (unpack_array_rows, [(W3[:2],), (np.ones((2, 4)),)], None),
    (unpack_in_for, [([(1.0, (2.0, 3.0)), (0.5, (-1.0, 2.0))],), ([],)], None),
    (star_args_at_call, [([1.0, 2.0, 3.0],), ((-1.0, 0.5, 2.0),)], None),
    (star_args_in_signature, [(1.0, 2.0), (-0.5, 3.0)], None),
    (star_args_forwarded, [([1.0, 2.0, 3.0],), ([0.5, -1.0],)], None),
    (list_comprehension_with_condition, [([1.0, -2.0, 3.0],), ([-1.0],), ([],)], None),
    (nested_list_comprehension, [(W3,), (np.ones((2, 2)),)], None),
    (dict_comprehension, [([1.0, 2.0, 3.0],), ([0.5, 1.5],)], None),
    (generator_in_sum, [([1.0, -2.0, 3.0], 0.5), ([-1.0, 2.0], 2.0)], None),
    (sum_map, [([0.5, 1.0],), ([-2.0],)], None),
    (sum_zip_comprehension, [([1.0, 2.0, 3.0], [0.5, -1.0, 2.0]), ([1.0], [2.0, 3.0])], None),
    (sum_enumerate_comprehension, [([1.0, 2.0, 3.0],), ([0.5],)], None),
    (comprehension_over_rows, [(W3, np.array([1.0, -1.0, 0.5])), (np.zeros((0, 3)), np.ones(3))], None),
    (comprehension_builds_array, [(0.5,), (-2.0,)], None),
    (map_zip_lists, [([1.0, 2.0], [3.0, 4.0]), ([0.5], [-2.0])], None),
    (dict_get, [({"a": 2.0}, 1.5), ({}, 1.5)], None),
    (enumerate_with_start, [([1.0, 2.0],), ([3.0],), ([],)], None),
    (sorted_values, [([3.0, 1.0, 2.0],), ([0.5, -1.0],)], None),
    (builtin_min_max_abs, [(1.5, 0.5), (-0.5, 2.0)], None),
    (sum_with_start, [([1.0, 2.0],), ([],)], None),
    (zip_three, [([1.0, 2.0], [3.0, 4.0], [0.5, 0.25]), ([1.0], [2.0, 3.0], [])], None),
    (tuple_star_return, [(1.5,), (-0.5,)], None),
    (list_repetition, [(1.5, 2.0), (-0.5, 0.25)], None),
]


@pytest.mark.parametrize("fn, inputs, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_container_program(fn, inputs, wrt):
    for args in inputs:
        check_program(fn, *args, wrt=wrt)


def test_gradient_of_a_dict_argument_is_a_dict_of_the_same_keys():
    p = params_dict()
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    dp, dx, dy = check_program(dict_of_arrays_params, p, x, y)
    assert isinstance(dp, dict) and set(dp) == {"W1", "b1", "W2", "b2"}
    for key in p:
        assert dp[key].shape == p[key].shape


def test_gradient_of_nested_structures_keeps_the_structure():
    model = nested_model()
    dmodel, _ = check_program(nested_structure, model, rng.standard_normal(2))
    assert isinstance(dmodel["layers"], list) and len(dmodel["layers"]) == 2
    assert set(dmodel["layers"][1]) == {"W", "b"}
    assert isinstance(dmodel["scale"], float)
    (dt,) = check_program(tuple_argument, (1.0, 2.0, np.array([0.5, -1.0])))
    assert isinstance(dt, tuple) and len(dt) == 3
