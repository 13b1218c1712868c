"""Variants: compiled code computes only the gradients its caller uses.

``gradient(f, W, b)`` asks for the arguments' gradients, so nothing inside
computes the gradient of data a closure captured, of globals, or of
arguments a call passes that do not depend on ``W`` or ``b``. The values
of the gradients that are computed are those of the full adjoint.
"""

import operator

import numpy as np
import pytest

import srcgrad
from srcgrad.calls import cache
from srcgrad.calls import dispatch
from gradcheck import check_gradient

rng = np.random.default_rng(7)


def loss(W, b, X, Y):
    h = np.tanh(X @ W + b)
    return np.sum((h - Y) ** 2)


def bind(X, Y, objective=loss):
    # (The objective is captured, not read as a global: a global helper would be spliced in.)
    def bound_loss(W, b):
        return objective(W, b, X, Y)

    return bound_loss


# (The helpers below are called through a captured name: a global one would be spliced in.)
def calling(fn):
    def call(a, b):
        return fn(a, b)

    return call


def calling_with(fn, n):
    """``fn(a, n)`` or ``fn(a, b, n)``."""
    def call(a, *b):
        return fn(a, *b, n) if b else fn(a, n)

    return call


def summed(fn):
    def call(a, b):
        return np.sum(fn(a, b))

    return call


def variants_of(fn):
    return {entry.wants: entry for entry in cache._entries.values() if entry.fn.__code__ is fn.__code__}


@pytest.mark.parametrize("seed", [0, 1])
def test_data_captured_by_a_closure_gets_no_gradient_and_the_rest_is_exact(seed):
    r = np.random.default_rng(seed)
    X, Y = r.normal(size=(6, 4)), r.normal(size=(6, 3))
    W, b = r.normal(size=(4, 3)), r.normal(size=3)
    f = bind(X, Y)
    srcgrad.clear_cache()
    dW, db = srcgrad.gradient(f, W, b)
    check_gradient(f, W, b)
    # The callee was compiled for W and b only: its backward never forms dX or dY.
    (variant,) = variants_of(loss).values()
    assert variant.wants == (False, True, True, False, False)
    assert "dX" not in variant.source and "dY" not in variant.source
    # The full adjoint (what adjoint_source shows) computes them, and agrees on dW, db.
    assert "dX" in srcgrad.adjoint_source(loss)
    y, back = srcgrad.pullback(loss, W, b, X, Y)
    full = back(1.0)
    np.testing.assert_allclose(dW, full[0], rtol=1e-12)
    np.testing.assert_allclose(db, full[1], rtol=1e-12)


def test_implicit_parameters_still_reach_captured_arrays():
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    W, b = rng.normal(size=(4, 2)), rng.normal(size=2)
    gs = srcgrad.gradient(lambda: loss(W, b, X, Y), srcgrad.params(W, b))
    dW, db = srcgrad.gradient(loss, W, b, X, Y)[:2]
    np.testing.assert_allclose(gs[W], dW, rtol=1e-12)
    np.testing.assert_allclose(gs[b], db, rtol=1e-12)


class Scaled:
    def __init__(self, w):
        self.w = w

    def __call__(self, x, k):
        return np.sum(np.sin(self.w * x) * k)

    def apply(self, x, k):
        return self(x, k)


def uses_some(obj, x, k):
    return obj.apply(x, k) + obj(x, 2.0 * k)


@pytest.mark.parametrize("seed", [0, 1])
def test_methods_objects_and_keywords_called_with_some_constant_arguments(seed):
    r = np.random.default_rng(seed)
    obj, x, k = Scaled(r.normal(size=3)), r.normal(size=3), r.normal(size=3)
    check_gradient(lambda x: uses_some(obj, x, k), x)
    check_gradient(lambda k: uses_some(obj, x, k), k)
    check_gradient(lambda w: uses_some(Scaled(w), x, k), obj.w)
    f = lambda x, k: loss(W=x, b=k, X=np.ones((2, 3)), Y=np.zeros((2, 3)))  # keywords
    check_gradient(f, r.normal(size=(3, 3)), r.normal(size=3))


def poly(x):
    return 3.0 * x ** 2 + 2.0 * x + 1.0


def test_the_short_path_sees_a_rule_registered_later():
    srcgrad.clear_cache()
    assert srcgrad.gradient(poly, 2.0) == (14.0,)
    assert srcgrad.gradient(poly, 2.0) == (14.0,)  # through cache.direct
    assert cache.direct
    try:
        srcgrad.defrule(poly)(lambda dy, y, x: (dy * 100.0,))
        assert srcgrad.gradient(poly, 2.0) == (100.0,)
    finally:
        from srcgrad.rules import registry

        del registry.rules[poly]
        registry._changed(poly)
    assert srcgrad.gradient(poly, 2.0) == (14.0,)


def power_sum(x, n):
    total = 0.0
    for _ in range(n):
        total = total + x
    return total * x


def test_the_short_path_of_a_loop_function_picks_the_variant_for_each_call():
    """A function with a loop, called again from compiled code, is taken from ``cache.direct_loops``: each
    call still gets the variant for its arguments' kinds (a number, then an array), and a rule registered
    later replaces it."""
    srcgrad.clear_cache()
    f = calling(power_sum)  # (through a closure: called by generated code, not pasted in)
    for _ in range(2):
        assert srcgrad.gradient(f, 3.0, 4) == (24.0, 0.0)  # d(n x^2)/dx; n, an int, has none
        (g, _) = srcgrad.gradient(lambda x, n: np.sum(f(x, n)), np.array([1.0, 2.0]), 3)
        np.testing.assert_array_equal(g, [6.0, 12.0])
    assert cache.direct_loops
    assert {e.kinds for e in cache._entries.values() if e.fn is power_sum} >= {None, (0, 0), (1, 0)}
    try:
        srcgrad.defrule(power_sum)(lambda dy, y, x, n: (dy * 100.0, None))
        assert srcgrad.gradient(f, 3.0, 4)[0] == 100.0
    finally:
        from srcgrad.rules import registry

        del registry.rules[power_sum]
        registry._changed(power_sum)
    assert srcgrad.gradient(f, 3.0, 4)[0] == 24.0


def with_default(x, scale=2.0):
    return scale * x ** 2


def test_the_short_path_keeps_defaults_keywords_and_shapes():
    for _ in range(2):  # the first call compiles; the second may take the short path
        assert srcgrad.gradient(with_default, 3.0) == (12.0,)
        assert srcgrad.gradient(with_default, 3.0, 1.0) == (6.0, 9.0)
        x = np.array([1.0, 2.0])
        (g,) = srcgrad.gradient(lambda x: np.sum(with_default(x)), x)
        np.testing.assert_array_equal(g, [4.0, 8.0])
        x32 = np.ones(2, np.float32)
        (g,) = srcgrad.gradient(lambda x: np.sum(x * 2), x32)
        assert g.dtype == np.float32
        (g,) = srcgrad.gradient(lambda x: 2.0, np.ones(3))  # no dependence: zeros of x's shape
        np.testing.assert_array_equal(g, np.zeros(3))


def test_second_order_through_a_variant():
    X = rng.normal(size=(4, 3))

    def inner(w):
        return np.sum(np.tanh(X @ w))

    def slope(w):
        return srcgrad.gradient(inner, w)[0]

    w = rng.normal(size=3)
    H = srcgrad.jacobian(slope, w)[0]
    t = np.tanh(X @ w)
    expected = X.T @ np.diag(-2 * t * (1 - t ** 2)) @ X
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- number loops
def horner(c, x):
    y = 0.0
    for i in range(c.shape[0]):
        y = y * x + c[i]
    return y


def logistic(r, x0, n):
    x = x0
    for i in range(n):
        x = r * x * (1.0 - x)
    return x


def damped(x, steps):
    total = 0.0
    k = 0
    while k < steps:
        if x > 0:
            total = total + np.sin(x) * k
        else:
            total = total - x
        x = x * 0.9 - 0.1
        k = k + 1
    return total


def specialised(fn):
    return [entry for entry in cache._entries.values() if entry.fn.__code__ is fn.__code__ and entry.kinds]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_loop_over_numbers_is_compiled_without_unbroadcast_and_stays_exact(seed):
    r = np.random.default_rng(seed)
    c = r.normal(size=7)
    srcgrad.clear_cache()
    check_gradient(horner, c, float(r.uniform(-1, 1)))
    check_gradient(calling_with(logistic, 5), float(r.uniform(2.5, 3.5)), float(r.uniform(0.2, 0.8)))
    check_gradient(calling_with(damped, 6), float(r.uniform(-0.5, 2.0)))
    for fn in (horner, logistic):
        (entry,) = specialised(fn)
        assert "unbroadcast" not in entry.source
        assert "accum(" not in entry.source.replace("accum(dc", "")  # inline, for a number
        assert "unbroadcast" in srcgrad.adjoint_source(fn)  # the general adjoint keeps it


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_loop_with_arrays_gets_its_own_variant(seed):
    r = np.random.default_rng(seed)
    c = r.normal(size=5)
    # Numbers first, then arrays: a vector of points, and a scalar rate with a vector of starts
    # (its gradient sums over the starts, which only unbroadcast does).
    check_gradient(horner, c, 0.3)
    check_gradient(summed(calling(horner)), c, r.uniform(-1, 1, size=4))
    check_gradient(summed(calling_with(logistic, 4)), 3.1, r.uniform(0.2, 0.8, size=3))
    check_gradient(calling_with(logistic, 4), 3.1, np.float64(0.4))
    check_gradient(summed(calling_with(logistic, 4)), np.array(3.1), np.array(0.4))
    assert {entry.kinds for entry in specialised(logistic)} == {(0, 0, 0), (0, 1, 0)}  # (0-d arrays are numbers)


# ------------------------------------------------- index reads add in place
def mixed(a):
    t = a * 1.0
    s = 0.0
    for i in range(3):
        s = s + t[i] * a[i]  # t and a are read whole below too: no in-place adding into them
    return s + np.sum(t * a)


def reads(v):
    return v[0] * v[1] + v[0] ** 2 + v[2] * v[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_of_index_reads_add_in_place_only_into_their_own_buffer(seed):
    r = np.random.default_rng(seed)
    c = r.normal(size=6)
    (dc, _) = check_gradient(horner, c, 0.7)  # dc = index_add(dc, ...) at every step
    assert "index_add(dc" in srcgrad.adjoint_source(horner)
    check_gradient(mixed, r.normal(size=4))
    assert "index_add" not in srcgrad.adjoint_source(mixed)
    v = r.normal(size=3)
    check_gradient(reads, v)
    # A caller's cotangent is never written into.
    y, back = srcgrad.pullback(lambda v: np.stack([v[0] * 2.0, v[1]]) + 0.0, v)
    dy = np.array([1.0, 3.0])
    back(dy)
    np.testing.assert_array_equal(dy, [1.0, 3.0])


def test_index_reads_at_second_order():
    v = np.array([0.5, -1.0, 2.0])
    expected = np.array([[2.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(srcgrad.hessian(reads, v), expected, atol=1e-12)
    (H,) = srcgrad.jacobian(lambda v: srcgrad.gradient(reads, v)[0], v)  # reverse over reverse
    np.testing.assert_allclose(H, expected, atol=1e-12)


def test_second_order_through_a_number_loop():
    # The code that runs keeps its tapes in lists; higher order reads its push/pop twin.
    source = srcgrad.adjoint_source(logistic)
    assert "tape.append((x, diff, prod))" in source and "push(" not in source and "pop(" not in source
    d = lambda x0: srcgrad.gradient(lambda x: logistic(3.2, x, 3), x0)[0]
    for x0 in (0.3, 0.6):
        h = 1e-5
        expected = (d(x0 + h) - d(x0 - h)) / (2 * h)
        got = srcgrad.gradient(d, x0)[0]
        np.testing.assert_allclose(got, expected, rtol=1e-6)


# A loop called with numbers must still be right where a carried value turns out not to be a number.
def grows_into_a_vector(x, w):
    y = 0.0
    for i in range(3):
        y = y + x * w  # w is a vector: so is y, from the first step
    return np.sum(y * y)


def param_becomes_a_vector(x, v):
    for i in range(2):
        x = x * v + 0.5
    return np.sum(np.sin(x))


def rows_of_a_matrix(c, x):
    y = 0.0
    for i in range(c.shape[0]):
        y = y * x + c[i]  # c[i] is a row
    return np.sum(y ** 2)


def counter_and_nested_loops(x, n):
    total = 0.0
    for i in range(n):
        for j in range(i):
            total = total + x ** 2 * j - np.cos(total)
        x = x * 0.9
    return total


def through_a_call(x, w):
    y = 0.0
    for i in range(2):
        y = y + spread(x, w)
    return np.sum(y)


def spread(x, w):
    return x * w


@pytest.mark.parametrize("seed", [0, 1])
def test_number_variants_keep_array_values_as_arrays(seed):
    r = np.random.default_rng(seed)
    x, w, v = float(r.uniform(0.2, 0.9)), r.normal(size=3), r.normal(size=4)
    check_gradient(grows_into_a_vector, x, w)
    check_gradient(param_becomes_a_vector, x, v)
    check_gradient(rows_of_a_matrix, r.normal(size=(3, 2)), x)
    check_gradient(lambda x: counter_and_nested_loops(x, 4), x)
    check_gradient(lambda x: counter_and_nested_loops(x, 4), np.float32(x), rtol=1e-2, atol=1e-3)
    check_gradient(through_a_call, x, w)


def test_values_taped_together_share_one_list_and_a_backward_can_run_twice():
    source = srcgrad.adjoint_source(rows_of_a_matrix)
    assert "tape.append((y, c_i, prod))" in source and "y, c_i, prod = next(tape)" in source
    c, x = np.arange(6.0).reshape(3, 2) / 5, 0.7
    y, back = srcgrad.pullback(rows_of_a_matrix, c, x)
    first, second = back(1.0), back(2.0)  # the saved list is read, never emptied
    np.testing.assert_allclose(second[0], 2 * first[0])
    np.testing.assert_allclose(second[1], 2 * first[1])
    check_gradient(rows_of_a_matrix, c, x)


def carried_and_reread(x, n):
    total = 0.0
    h = x
    for i in range(n):
        e = np.exp(h)
        total = total + np.sum(e * h)
        h = np.sin(h) + e
    return total


def test_a_value_still_read_after_the_step_pops_waits_under_another_name():
    source = srcgrad.adjoint_source(carried_and_reread)
    popped = next(line for line in source.splitlines() if "= next(tape)" in line)
    # h is popped when the rule for sin needs it, total comes with it (nothing reads it in between),
    # total_out is still read as this step's value after that line: it waits as total_out_popped.
    assert popped.strip().startswith("h, ") and " total, " in popped and "total_out_popped" in popped
    assert "total_out = total_out_popped" in source
    for n in (1, 3):
        check_gradient(lambda x: carried_and_reread(x, n), rng.normal(size=4))


def test_stages_show_the_twin_and_the_code_that_runs():
    from srcgrad.compiler import stages

    seen = stages(rows_of_a_matrix)
    assert "push(" in seen["simplify"] and "pop(" in seen["simplify"]  # the twin higher order reads
    assert seen["tapes as lists"] == cache.adjoint_of(rows_of_a_matrix).source  # what runs
    assert "np.sum(power)" in srcgrad.adjoint_source(rows_of_a_matrix)  # (what is shown reads as NumPy)
    assert "tapes as lists" not in stages(poly)  # no loop, no tapes


# ------------------------------------------------- a loop's general variant is finished when used
def general(fn):
    return [entry for entry in cache._entries.values() if entry.fn.__code__ is fn.__code__ and not entry.kinds]


not_differentiable = np.frompyfunc(operator.pos, 1, 1)  # (no Python source and no rule: it needs one)


def uses_an_unknown_function(x, n):
    y = x
    for i in range(n):
        y = y * 2.0 + not_differentiable(y)
    return y


def test_a_loop_called_with_numbers_compiles_only_its_number_variant():
    c = np.array([1.0, -2.0, 0.5])
    srcgrad.clear_cache()
    horner_called = calling(horner)  # (called at run time: a global call would splice horner in)
    check_gradient(lambda x: horner_called(c, x), 0.7)  # horner's wanted gradients: x's only, a narrowed variant
    (entry,) = general(horner)
    assert entry.wants is not None and "forward" not in entry.__dict__ and "depends_on" not in entry.__dict__
    assert len(specialised(horner)) == 1
    # Read, it is finished then: the same code as compiled at once.
    assert entry.source == srcgrad.compiler.compile_adjoint(horner, wants=entry.wants).finish()["source"]
    assert entry.has_self_grad is False and "forward" in entry.__dict__


def test_a_loop_over_other_values_runs_its_general_variant():
    srcgrad.clear_cache()
    check_gradient(lambda v: over_a_list([v, 2.0 * v, v * v]), 0.3)
    assert not specialised(over_a_list)


def over_a_list(xs):
    total = 0.0
    for x in xs:
        total = total + x * x
    return total


def test_an_unfinished_variant_fails_where_the_compiled_one_would_and_takes_a_later_rule():
    srcgrad.clear_cache()
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.gradient(lambda x: uses_an_unknown_function(x, 3), 1.5)  # raised by the number variant
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.gradient(lambda x: uses_an_unknown_function(x, 3), 1.5)
    from srcgrad.rules import registry

    try:
        srcgrad.defrule(not_differentiable)(lambda dy, y, v: (dy,))  # the cache asks the unfinished entry
        assert srcgrad.gradient(lambda x: uses_an_unknown_function(x, 3), 1.5) == (27.0,)
    finally:
        registry.rules.pop(not_differentiable)
        registry._changed(not_differentiable)
