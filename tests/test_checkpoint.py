"""srcgrad.checkpoint: the same values, the same gradients, less kept between the forward and the backward pass."""

import copy
import gc
import tracemalloc
import types

import numpy as np
import pytest

import srcgrad
from srcgrad import checkpoint
from srcgrad.calls.checkpoint import CheckpointError
from srcgrad.models import BatchNorm, Chain, Dense, Dropout, relu

from gradcheck import check_gradient

RNG = np.random.default_rng(0)
W = RNG.normal(size=(4, 4)) * 0.5
X = RNG.normal(size=(3, 4))


def block(w, x):
    for _ in range(3):
        x = np.tanh(x @ w)
    return x


block_c = checkpoint(block)  # (made once, at module level)


def loss_inline(w, x):
    h = checkpoint(block)(w, x)
    return np.sum(h ** 2)


def loss_global(w, x):
    return np.sum(block_c(w, x) ** 2)


def loss_plain(w, x):
    return np.sum(block(w, x) ** 2)


def same(a, b, tol=0.0):
    """Gradient structures alike, arrays equal to ``tol``."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            same(a[k], b[k], tol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            same(u, v, tol)
    elif a is None or b is None:
        assert a is b
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


# ------------------------------------------------------------------ values and first derivatives

def test_the_value_is_the_plain_call():
    assert np.array_equal(block_c(W, X), block(W, X))
    assert np.array_equal(checkpoint(np.sin)(X), np.sin(X))


@pytest.mark.parametrize("loss", [loss_inline, loss_global])
@pytest.mark.parametrize("shape", [(3, 4), (4,)])
def test_gradients_equal_the_unchecktpointed_ones(loss, shape):
    x = RNG.normal(size=shape)
    y, grads = srcgrad.withgradient(loss, W, x)
    y0, grads0 = srcgrad.withgradient(loss_plain, W, x)
    assert y == y0
    same(grads, grads0)
    check_gradient(loss, W, x)


def test_a_closure_over_parameters_gets_its_gradient():
    def loss(w, x):
        def layer(x):
            return np.tanh(x @ w)
        return np.sum(checkpoint(layer)(x) ** 2)

    def plain(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    same(srcgrad.gradient(loss, W, X), srcgrad.gradient(plain, W, X), 1e-14)


def test_implicit_parameters_read_from_a_global_get_their_gradient():
    global PARAM
    PARAM = W.copy()

    def layer(x):
        return np.tanh(x @ PARAM)

    layer_c = checkpoint(layer)
    ps = srcgrad.params(PARAM)
    gs = srcgrad.gradient(lambda: np.sum(layer_c(X) ** 2), ps)
    gs0 = srcgrad.gradient(lambda: np.sum(layer(X) ** 2), ps)
    np.testing.assert_array_equal(gs[PARAM], gs0[PARAM])


def test_a_model_as_the_function_or_as_an_argument_gets_its_structural_gradient():
    model = Chain(Dense(4, 5, relu, rng=0), Dense(5, 2, rng=1))
    expected = srcgrad.gradient(lambda m, x: np.sum(m(x) ** 2), model, X)
    same(srcgrad.gradient(lambda m, x: np.sum(checkpoint(m)(x) ** 2), model, X), expected)
    apply = checkpoint(lambda m, x: m(x))
    same(srcgrad.gradient(lambda m, x: np.sum(apply(m, x) ** 2), model, X), expected)


def scaled(x, w, scale=1.0):
    return np.tanh(x @ w) * scale


def test_keyword_arguments_get_their_gradients():
    def loss(w, x, s):
        return np.sum(checkpoint(scaled)(x, w=w, scale=s))

    def plain(w, x, s):
        return np.sum(scaled(x, w=w, scale=s))

    same(srcgrad.gradient(loss, W, X, 2.0), srcgrad.gradient(plain, W, X, 2.0))


def test_a_tuple_output_with_an_unused_part():
    def two(w, x):
        h = np.tanh(x @ w)
        return h, h * 3

    def loss(w, x):
        a, b = checkpoint(two)(w, x)
        return np.sum(a ** 2)

    same(srcgrad.gradient(loss, W, X), srcgrad.gradient(lambda w, x: np.sum(np.tanh(x @ w) ** 2), W, X))
    check_gradient(loss, W, X)


def test_checkpoints_in_a_loop_and_nested():
    def loss(w, x):
        for _ in range(3):
            x = checkpoint(lambda w, x: np.tanh(x @ w))(w, x)
        return np.sum(checkpoint(checkpoint(block))(w, x))

    def plain(w, x):
        for _ in range(3):
            x = np.tanh(x @ w)
        return np.sum(block(w, x))

    same(srcgrad.gradient(loss, W, X), srcgrad.gradient(plain, W, X), 1e-14)


def test_float32_stays_float32():
    w, x = W.astype(np.float32), X.astype(np.float32)
    gw, gx = srcgrad.gradient(loss_global, w, x)
    assert block_c(w, x).dtype == gw.dtype == gx.dtype == np.float32
    same((gw, gx), srcgrad.gradient(loss_plain, w, x))


def test_pullback_through_the_checkpointed_function_itself():
    y, back = srcgrad.pullback(block_c, W, X)
    y0, back0 = srcgrad.pullback(block, W, X)
    dy = RNG.normal(size=y.shape)
    assert np.array_equal(y, y0)
    same(back(dy), back0(dy))


# ------------------------------------------------------------------ forward mode and higher orders

def test_jvp_is_the_jvp_of_f():
    t = (RNG.normal(size=W.shape), RNG.normal(size=X.shape))
    y, dy = srcgrad.jvp(loss_inline, (W, X), t)
    y0, dy0 = srcgrad.jvp(loss_plain, (W, X), t)
    assert y == y0
    assert dy == pytest.approx(dy0, abs=1e-13)
    gw, gx = srcgrad.gradient(loss_plain, W, X)
    assert dy == pytest.approx(np.sum(gw * t[0]) + np.sum(gx * t[1]), abs=1e-12)
    yk, dyk = srcgrad.jvp(lambda w, s: np.sum(checkpoint(scaled)(X, w=w, scale=s)), (W, 2.0), (t[0], 1.0))
    assert dyk == pytest.approx(srcgrad.jvp(lambda w, s: np.sum(scaled(X, w=w, scale=s)), (W, 2.0), (t[0], 1.0))[1],
                                abs=1e-13)


def test_second_order_reverse_over_reverse():
    def g(w):
        return np.sum(srcgrad.gradient(loss_inline, w, X)[0] ** 2)

    def g0(w):
        return np.sum(srcgrad.gradient(loss_plain, w, X)[0] ** 2)

    same(srcgrad.gradient(g, W), srcgrad.gradient(g0, W), 1e-12)


def test_hessian_forward_over_reverse():
    v = RNG.normal(size=3)
    h = srcgrad.hessian(lambda v: np.sum(checkpoint(lambda v: np.tanh(v) * v)(v) ** 2), v)
    h0 = srcgrad.hessian(lambda v: np.sum((np.tanh(v) * v) ** 2), v)
    np.testing.assert_allclose(h, h0, rtol=0, atol=1e-12)


def test_second_order_with_keywords_is_refused_clearly():
    def g(w):
        return np.sum(srcgrad.gradient(lambda w: np.sum(checkpoint(scaled)(X, w=w)), w)[0] ** 2)

    with pytest.raises(srcgrad.NoRuleError, match="higher-order derivative .* keyword arguments"):
        srcgrad.gradient(g, W)


# ------------------------------------------------------------------ the forward run again is the one that ran

GEN = np.random.default_rng(1)


def dropout(x):
    mask = GEN.random(x.shape) > 0.5
    return np.tanh(x) * mask


def test_random_draws_are_replayed_and_the_generator_left_as_the_forward_left_it():
    before = GEN.bit_generator.state
    y, back = srcgrad.pullback(lambda x: np.sum(checkpoint(dropout)(x) ** 2), X)
    after = GEN.bit_generator.state
    (g,) = back(1.0)
    assert GEN.bit_generator.state == after != before
    GEN.bit_generator.state = before
    (g0,) = srcgrad.gradient(lambda x: np.sum(dropout(x) ** 2), X)
    np.testing.assert_array_equal(g, g0)


def test_a_generator_passed_as_an_argument_or_held_by_a_layer_and_the_global_one():
    class Drop:
        def __init__(self, rng):
            self.rng = rng

        def __call__(self, x):
            return x * (self.rng.random(x.shape) < 0.5)

    for make in (lambda: np.random.default_rng(3), lambda: np.random.RandomState(3)):
        layer = Drop(make())
        g = srcgrad.gradient(lambda x: np.sum(checkpoint(layer)(x)), X)[0]
        layer.rng = make()
        np.testing.assert_array_equal(g, srcgrad.gradient(lambda x: np.sum(layer(x)), X)[0])

    def legacy(x):
        return np.tanh(x) * (np.random.rand(*x.shape) > 0.5)

    np.random.seed(0)
    g = srcgrad.gradient(lambda x: np.sum(checkpoint(legacy)(x)), X)[0]
    np.random.seed(0)
    np.testing.assert_array_equal(g, srcgrad.gradient(lambda x: np.sum(legacy(x)), X)[0])


def test_state_bound_anew_by_the_second_run_is_put_back():
    class Counting:
        def __init__(self):
            self.calls = 0
            self.seen = []

        def __call__(self, x):
            self.calls = self.calls + 1
            return np.tanh(x)

    layer = Counting()
    srcgrad.gradient(lambda x: np.sum(checkpoint(layer)(x)), X)
    assert layer.calls == 1


HIDDEN = types.ModuleType("hidden")  # (srcgrad does not look inside modules for generators)
HIDDEN.gen = np.random.default_rng(5)


def noisy(x):
    return x * HIDDEN.gen.random(x.shape)


def test_a_value_that_changes_when_run_again_is_refused():
    y, back = srcgrad.pullback(lambda x: np.sum(checkpoint(noisy)(x)), X)
    with pytest.raises(CheckpointError, match=r"checkpoint\(noisy\) ran its forward pass again .* differently"):
        back(1.0)


def test_an_input_changed_in_place_before_the_backward_pass_is_refused():
    w = W.copy()
    y, back = srcgrad.pullback(lambda x: np.sum(checkpoint(lambda x: np.tanh(x @ w))(x)), X)
    w[0, 0] += 1.0
    with pytest.raises(CheckpointError, match="differently"):
        back(1.0)


def writes_its_argument(x):
    x *= 2
    return np.sin(x)


def test_a_function_that_writes_into_its_parameter_is_refused():
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="changes its parameter 'x' in place"):
        checkpoint(writes_its_argument)


def test_not_callable_is_refused():
    with pytest.raises(TypeError, match="checkpoint.f. needs a function"):
        checkpoint(np.ones(3))


# ------------------------------------------------------------------ the tape shrinks

def deep(w, x):
    for _ in range(50):
        x = np.tanh(x @ w)
    return x


deep_c = checkpoint(deep)


def kept_between_forward_and_backward(loss, w, x):
    """Bytes allocated by ``pullback(loss, w, x)`` and still held when it returns (the forward's tape), and the
    gradient its ``back`` then gives."""
    srcgrad.pullback(loss, w, x)  # (compiled first: the cache is not the tape)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y, back = srcgrad.pullback(loss, w, x)
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return kept, back(1.0)


def test_the_tape_shrinks_for_a_deep_block():
    w = RNG.normal(size=(256, 256)) / 16
    x = RNG.normal(size=(256, 256))
    kept, grads = kept_between_forward_and_backward(lambda w, x: np.sum(deep(w, x)), w, x)
    kept_c, grads_c = kept_between_forward_and_backward(lambda w, x: np.sum(deep_c(w, x)), w, x)
    array = x.nbytes  # 512 KiB
    print(f"kept: {kept / 2**20:.1f} MiB without checkpoint, {kept_c / 2**20:.2f} MiB with ({kept / kept_c:.0f}x)")
    assert kept > 45 * array  # (the 50 outputs of tanh)
    assert kept_c < 2 * array  # (the output; the arguments are the caller's)
    assert kept / kept_c > 25
    same(grads_c, grads, 1e-12)


# ------------------------------------------------------------------ with the model layers that draw or keep state

def test_dropout_inside_a_checkpoint_drops_the_same_entries():
    for rng in (0, None):
        model = Chain(Dense(4, 6, relu, rng=1), Dropout(0.5, rng=rng), Dense(6, 2, rng=2))
        twin = copy.deepcopy(model)
        srcgrad.models.init.seed(5)
        (g,) = srcgrad.gradient(lambda m: np.sum(checkpoint(m)(X) ** 2), model)
        srcgrad.models.init.seed(5)
        (g0,) = srcgrad.gradient(lambda m: np.sum(m(X) ** 2), twin)
        same(g, g0)


def test_batchnorm_running_statistics_move_once():
    x = RNG.normal(size=(8, 4))
    model = Chain(Dense(4, 3, rng=1), BatchNorm(3))
    twin = copy.deepcopy(model)
    (g,) = srcgrad.gradient(lambda m: np.sum(checkpoint(m)(x) ** 2), model)
    (g0,) = srcgrad.gradient(lambda m: np.sum(m(x) ** 2), twin)
    same(g, g0)
    np.testing.assert_array_equal(model.layers[1].running_mean, twin.layers[1].running_mean)
    np.testing.assert_array_equal(model.layers[1].running_var, twin.layers[1].running_var)
