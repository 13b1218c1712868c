"""What the property tests (and the second-order rule tests) found, each reduced to a minimal program.

A test marked ``xfail(strict=True)`` pins a bug another part of issue #16 is fixing: it fails today,
and when the fix lands it passes, which strict turns red so that the marker is removed. Each reason
names the cause: modes (a composition of modes), aliasing (writes into arrays), other (SPEC or a rule).

The tests without a marker are bugs found here and fixed in the rules (srcgrad/rules/):
each was a rule whose gradient could not be differentiated again (an error naming srcgrad's own
file, or an internal TypeError) or, for take and sort, was differentiated to a wrong number without
an error.
"""

import math

import numpy as np
import pytest
from gradcheck import check_gradient
from rules.specs import HEADER, load

import srcgrad

SOURCE = HEADER + '''
V = np.array([0.5, 1.0, 2.0])


def sorted_first(a, b):
    return sorted([a, b])[0] * a


def d_sorted_first(a, b):
    return srcgrad.gradient(sorted_first, a, b)[0]


def tensordot_square(a):
    return np.tensordot(a, a, 1)


def d_tensordot_square(a):
    return np.sum(V * srcgrad.gradient(tensordot_square, a)[0])


def einsum_square(a):
    return np.einsum("i,i->", a, a)


def d_einsum_square(a):
    return np.sum(V * srcgrad.gradient(einsum_square, a)[0])


def item_cube(a):
    return a.item() ** 3


def d_item_cube(a):
    return srcgrad.gradient(item_cube, a)[0]


def item_at(a):
    return a.item(-1) ** 3 + a.item(1, 0) ** 2


def d_item_at(a):
    return np.sum(srcgrad.gradient(item_at, a)[0])


def take_cube(a):
    return np.sum(np.take(a, [0, 2, 2], axis=1) ** 3)


def d_take_cube(a):
    return np.sum(srcgrad.gradient(take_cube, a)[0])


def sort_cube(a):
    return np.sum(np.sort(a, axis=None) ** 3 * np.arange(6.0))


def d_sort_cube(a):
    return np.sum(srcgrad.gradient(sort_cube, a)[0])


def logsumexp_weighted(x):
    return scipy.special.logsumexp(x, b=[1.0, 2.0, 0.5, 1.5])


def d_logsumexp_weighted(x):
    return np.sum(np.array([1.0, 1.5, 0.5, 1.25]) * srcgrad.gradient(logsumexp_weighted, x)[0])


def logsumexp_weighted_array(x):
    return scipy.special.logsumexp(x, b=np.array([1.0, 2.0, 0.5, 1.5]))


def d_logsumexp_weighted_array(x):
    return np.sum(np.array([1.0, 1.5, 0.5, 1.25]) * srcgrad.gradient(logsumexp_weighted_array, x)[0])


def astype_cube(a):
    return np.sum(a.astype(np.float64) ** 3)


def d_astype_cube(a):
    return np.sum(srcgrad.gradient(astype_cube, a)[0])


def spectral_norm(a):
    return np.linalg.norm(a, 2)


def d_spectral_norm(a):
    return np.sum(srcgrad.gradient(spectral_norm, a)[0])


def square(x):
    return x ** 2


def d_square_by_jvp(x):
    return srcgrad.jvp(square, (x,), (1.0,))[1]


def d_square_by_pullback(x, v):
    y, back = srcgrad.pullback(square, x)
    return back(v)[0]


def doubling(x, *rest):
    return x * 2.0


def through_a_starred_call(x):
    return doubling(x, *())


def max_after_a_loop(x):
    v = x
    for i in range(1):
        v = math.sin(v)
    return max(x + 10.0, v)


def d_max_after_a_loop(x):
    return srcgrad.gradient(max_after_a_loop, x)[0]


def into_0d(x):
    g = np.zeros(())
    g[()] = x ** 2
    return g * 1.0


def doubled(v):
    return v * 2.0


W = np.array([[1.036], [1.312], [1.119]])


def scaled_copy(x):
    v = np.sum(x, axis=1, keepdims=True).copy()
    v *= 2.5
    return np.sum(W * v)


def scaled_through_a_second_name(x):
    y = np.sum(x, axis=1)
    z = y
    z *= 3.0
    return np.sum(y)


def written_through_a_view(x):
    y = np.log1p(x * x + 0.5)
    v = y[:1]
    v[0, -1] = x.item(1, 2)
    return np.sum(y)
'''


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    return load(tmp_path_factory.mktemp("found"), SOURCE)


X = np.array([0.3, -0.2, 0.9])


# ------------------------------------------------------------------ fixed here (rules)

def test_take_is_differentiated_twice(m):
    """take's rule scattered with np.add.at (in place, no rule), so its second derivative was silently zero."""
    a = np.array([[0.3, -0.2, 0.9], [0.4, 1.1, -0.7]])
    (h,) = check_gradient(m.d_take_cube, a, rtol=1e-4)
    expected = 6 * a * np.array([1.0, 0.0, 2.0])  # column 2 is read twice
    np.testing.assert_allclose(h, expected)
    _, dh = srcgrad.jvp(m.d_take_cube, (a,), (np.ones_like(a),))
    np.testing.assert_allclose(dh, np.sum(expected))


def test_sort_is_differentiated_twice(m):
    """sort's rule wrote with np.put_along_axis (in place, no rule), so its second derivative was silently wrong."""
    a = np.array([[0.3, -0.2, 0.9], [0.4, 1.1, -0.7]])
    (h,) = check_gradient(m.d_sort_cube, a, rtol=1e-4)
    rank = np.argsort(np.argsort(a, axis=None)).reshape(a.shape)
    np.testing.assert_allclose(h, 6 * a * rank)
    _, dh = srcgrad.jvp(m.d_sort_cube, (a,), (np.ones_like(a),))
    np.testing.assert_allclose(dh, np.sum(6 * a * rank))


def test_astype_is_differentiated_twice(m):
    """astype's rule called np.dtype, which has no rule: the second derivative was a NoRuleError."""
    a = np.array([0.3, -0.2, 0.9])
    (h,) = check_gradient(m.d_astype_cube, a, rtol=1e-4)
    np.testing.assert_allclose(h, 6 * a)
    _, dh = srcgrad.jvp(m.d_astype_cube, (a,), (np.ones(3),))
    np.testing.assert_allclose(dh, np.sum(6 * a))


def test_item_is_differentiated_twice(m):
    """item's rule wrote through ``g.flat[i]``, which srcgrad refused when differentiating the rule again."""
    a = np.array([[0.3, -0.2, 0.9], [0.4, 1.1, -0.7]])
    (h,) = check_gradient(m.d_item_at, a, rtol=1e-4)
    expected = np.zeros_like(a)
    expected[1, 2], expected[1, 0] = 6 * a[1, 2], 2.0
    np.testing.assert_allclose(h, expected)


def test_item_of_a_0d_array_is_differentiated_twice(m):
    (h,) = check_gradient(m.d_item_cube, np.array(0.5), rtol=1e-4)
    np.testing.assert_allclose(h, 3.0)


def test_item_is_differentiated_twice_in_forward_mode(m):
    """item's rule called item_grad(dy, x, *index), and forward mode fails over a starred call."""
    _, dy = srcgrad.jvp(m.d_item_cube, (np.array(0.5),), (np.array(1.0),))
    assert dy == pytest.approx(3.0)
    a = np.array([[0.3, -0.2, 0.9], [0.4, 1.1, -0.7]])
    _, dy = srcgrad.jvp(m.d_item_at, (a,), (np.ones_like(a),))
    assert dy == pytest.approx(6 * a[1, 2] + 2.0)


def test_logsumexp_with_weights_in_a_list_is_differentiated_twice(m):
    """logsumexp's rule multiplied by ``b`` as given: a list, whose gradient was an internal TypeError."""
    x = np.array([0.3, -0.2, 0.9, 0.1])
    (h,) = check_gradient(m.d_logsumexp_weighted, x, rtol=1e-4)
    (expected,) = srcgrad.gradient(m.d_logsumexp_weighted_array, x)
    np.testing.assert_allclose(h, expected)


# ------------------------------------------------------------------ modes

def test_forward_over_reverse_through_sorted(m):
    # d/da of sorted([a, b])[0] * a = 2a for a < b, so its jvp along (1, 0) is 2.
    _, dy = srcgrad.jvp(m.d_sorted_first, (0.3, 0.7), (1.0, 0.0))
    assert dy == pytest.approx(2.0)


def test_forward_over_reverse_through_tensordot(m):
    _, dy = srcgrad.jvp(m.d_tensordot_square, (X,), (X,))
    assert dy == pytest.approx(2 * np.sum(m.V * X))


def test_forward_over_reverse_through_einsum(m):
    _, dy = srcgrad.jvp(m.d_einsum_square, (X,), (X,))
    assert dy == pytest.approx(2 * np.sum(m.V * X))


def test_forward_mode_through_a_starred_call(m):
    assert srcgrad.jvp(m.through_a_starred_call, (0.5,), (1.0,)) == pytest.approx((1.0, 2.0))


def test_reverse_over_reverse_of_max_after_a_loop(m):
    # max picks x + 10, so the first derivative is 1 and the second 0.
    assert srcgrad.gradient(m.d_max_after_a_loop, 0.7) == (0.0,)
    # At -20 the sine wins: the first derivative is cos x, the second -sin x.
    assert srcgrad.gradient(m.d_max_after_a_loop, -20.0) == pytest.approx((-math.sin(-20.0),))


def test_forward_over_pullback(m):
    # back(v)[0] = 2 x v, so its derivative along x is 2 v.
    _, dy = srcgrad.jvp(m.d_square_by_pullback, (0.5, 1.0), (1.0, 0.0))
    assert dy == pytest.approx(2.0)


def test_reverse_over_forward(m):
    assert srcgrad.gradient(m.d_square_by_jvp, 0.5) == pytest.approx((2.0,))


def test_forward_over_forward(m):
    _, dy = srcgrad.jvp(m.d_square_by_jvp, (0.5,), (1.0,))
    assert dy == pytest.approx(2.0)


# ------------------------------------------------------------------ aliasing / writes into arrays

def test_assignment_into_a_0d_array(m):
    # (its gradient, a 0-d array's, may be a number: g[()] of it is all of it)
    assert srcgrad.gradient(m.into_0d, 0.5) == pytest.approx((1.0,))
    assert srcgrad.jvp(m.into_0d, (0.5,), (1.0,))[1] == pytest.approx(1.0)
    assert srcgrad.hessian(m.into_0d, 0.5) == pytest.approx(2.0)


def test_write_through_a_second_name(m):
    x = np.arange(6.0).reshape(2, 3)
    value, (g,) = srcgrad.withgradient(m.scaled_through_a_second_name, x)
    assert value == m.scaled_through_a_second_name(x)
    np.testing.assert_allclose(g, np.full((2, 3), 3.0))


def test_write_through_a_view(m):
    x = np.random.default_rng(0).standard_normal((2, 3))
    value, _ = srcgrad.withgradient(m.written_through_a_view, x)
    assert value == m.written_through_a_view(x)
    check_gradient(m.written_through_a_view, x)


# ------------------------------------------------------------------ other

def test_forward_value_of_an_augmented_product_is_the_plain_value(m):
    for seed in range(20):
        x = np.random.default_rng(seed).standard_normal((3, 4))
        y, _ = srcgrad.jvp(m.scaled_copy, (x,), (x,))
        assert y == m.scaled_copy(x), f"seed {seed}"


def test_spectral_norm_is_differentiated_twice(m):
    # (#18: norm's rule for ord=2 calls np.linalg.svd, differentiated through svd's own rule)
    a = np.array([[2.0, 0.3, 0.1], [0.2, 1.0, -0.4]])
    check_gradient(m.d_spectral_norm, a, rtol=1e-4)


def test_gradient_of_a_size_1_array(m):
    # (SPEC: gradient accepts a size-1 array as its scalar output, as PyTorch and autograd do)
    (g,) = srcgrad.gradient(m.doubled, np.array([1.5]))
    np.testing.assert_allclose(g, [2.0])
    y, (g,) = srcgrad.withgradient(m.doubled, np.array([[1.5]]))
    assert y.shape == (1, 1) and g.shape == (1, 1) and g[0, 0] == 2.0
    np.testing.assert_allclose(srcgrad.hessian(lambda x: m.doubled(x) ** 2, np.array([1.5])), [[8.0]])
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        srcgrad.gradient(m.doubled, np.array([1.5, 2.0]))


def expand_then_second_name(x0):
    v1 = x0 + x0
    v3 = np.expand_dims(v1, 0)  # (a new array when v1 is a number, a view when it is an array)
    v4 = v3
    v4 += 1.0
    return np.sum(v3)


def test_a_second_name_of_a_view_of_a_number_is_refused_not_lost():
    """Found by test_programs_writing_through_second_names_and_views: the write into v4 reached v3 in
    Python, but srcgrad asked only whether v4 shares the number v1, and lost it (value 2.0, not 3.0)."""
    for run in (lambda: srcgrad.withgradient(expand_then_second_name, 1.0),
                lambda: srcgrad.jvp(expand_then_second_name, (1.0,), (1.0,))):
        with pytest.raises(srcgrad.UnsupportedSyntaxError, match="shares memory with 'v3'") as caught:
            run()
        assert caught.value.filename == __file__
    x = np.array([1.0, 2.0])  # (an array: v3 is a view of v1, and the write is rebased through both)
    value, (grad,) = srcgrad.withgradient(expand_then_second_name, x)
    assert value == expand_then_second_name(x.copy())
    check_gradient(expand_then_second_name, x)
