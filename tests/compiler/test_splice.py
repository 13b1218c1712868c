"""Splice: small helpers of the caller's module are pasted in place of their calls.

Each test checks values (against central differences and against the same
helper called at run time through ``pullback``), and what the generated
code holds: a spliced helper leaves no ``pullback`` behind; one that must
stay a call does.
"""

import itertools
import sys

import numpy as np
import pytest

import srcgrad
from srcgrad.calls import cache
from gradcheck import check_gradient

rng = np.random.default_rng(11)
W = rng.normal(size=(3, 4))


def affine(W, b, x):
    return W @ x + b


def squash(z, scale=1.0):
    y = np.tanh(z * scale)
    return y


def loss(W, b, x):
    h = squash(affine(W, b, x), scale=0.5)
    return np.sum(h ** 2)


def called_at_run_time(W, b, x, helper=affine):
    h = squash(helper(W, b, x), scale=0.5)  # (squash is spliced; helper is an argument)
    return np.sum(h ** 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_spliced_helper_gives_the_gradient_of_the_call(seed):
    r = np.random.default_rng(seed)
    args = (r.normal(size=(3, 4)), r.normal(size=3), r.normal(size=4))
    grads = check_gradient(loss, *args)
    through_pullback = srcgrad.gradient(called_at_run_time, *args)
    for g, h in zip(grads, through_pullback):
        np.testing.assert_allclose(g, h, rtol=1e-12)
    source = srcgrad.adjoint_source(loss)
    assert "pullback" not in source and "np.tanh(" in source and "matmul_grad_a" in source
    assert "pullback(helper" in srcgrad.adjoint_source(called_at_run_time)


def shadowing_caller(x):
    y = x * 2.0  # the helper has a local y too, and a parameter named like the caller's x
    z = squash(y)
    return np.sum(z * y)


def reassigns_its_parameter(x, n):
    x = x * 0.5 + np.sin(x)
    x = x * n
    return x


def caller_keeps_its_value(x):
    y = reassigns_its_parameter(x, 3.0)
    return np.sum(y * x)  # x must still be the caller's x


@pytest.mark.parametrize("seed", [0, 1])
def test_names_do_not_clash_and_a_parameter_the_helper_reassigns_is_a_copy(seed):
    r = np.random.default_rng(seed)
    check_gradient(shadowing_caller, r.normal(size=3))
    check_gradient(caller_keeps_its_value, r.normal(size=4))
    assert "pullback" not in srcgrad.adjoint_source(caller_keeps_its_value)


def inner_step(h, w):
    return np.tanh(w * h + 0.1)


def middle(h, w, k):
    for j in range(k):
        h = inner_step(h, w)
    return h


def outer(w, h0):
    s = 0.0
    h = h0
    for t in range(3):
        h = middle(h, w, 2)
        s = s + np.sum(h)
    return s


def once(w, h0):
    return np.sum(middle(h0, w, 3))


def variants(fn):
    return [entry for entry in cache._entries.values() if entry.fn.__code__ is fn.__code__ and entry.kinds]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_helper_with_a_loop_is_spliced_into_a_caller_that_loops(seed):
    r = np.random.default_rng(seed)
    srcgrad.clear_cache()
    check_gradient(outer, r.normal(size=3), r.normal(size=3))
    check_gradient(outer, float(r.normal()), float(r.normal()))  # (the variant for numbers)
    # middle (a loop) and inner_step inside it are pasted into outer's loop: no call per turn.
    source = srcgrad.adjoint_source(outer)
    loops = [line for line in source.splitlines() if line.lstrip().startswith("for ")]
    assert "pullback" not in source and "np.tanh" in source and len(loops) == 4  # two forward, two backward
    (numbers,) = [entry for entry in variants(outer) if entry.kinds == (0, 0)]
    lines = numbers.source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("for j in reversed"))
    indent = len(lines[start]) - len(lines[start].lstrip())
    inside = itertools.takewhile(lambda line: len(line) - len(line.lstrip()) > indent, lines[start + 1:])
    pasted_loop = "\n".join(inside)
    assert "dw" in pasted_loop and "unbroadcast" not in pasted_loop and "accum" not in pasted_loop  # numbers, known


@pytest.mark.parametrize("seed", [0, 1])
def test_a_helper_with_a_loop_called_from_straight_line_code_stays_a_call(seed):
    r = np.random.default_rng(seed)
    srcgrad.clear_cache()
    check_gradient(once, r.normal(size=3), r.normal(size=3))
    check_gradient(once, float(r.normal()), float(r.normal()))
    # Compiled on its own, middle is specialised to its arguments' kinds; inner_step is pasted into it.
    assert "pullback" in srcgrad.adjoint_source(once)
    inside = srcgrad.adjoint_source(middle)
    assert "pullback" not in inside and "np.tanh" in inside
    assert {entry.kinds for entry in variants(middle)} == {(1, 1, 0), (0, 0, 0)}


def second_order_helper(x):
    return squash(x, 2.0) * x


@pytest.mark.parametrize("x", [0.3, -1.1])
def test_second_and_third_derivatives_through_a_spliced_helper(x):
    d1 = lambda x: srcgrad.gradient(second_order_helper, x)[0]
    d2 = lambda x: srcgrad.gradient(d1, x)[0]
    t = np.tanh(2 * x)
    s = 1 - t ** 2  # d tanh(2x)/dx = 2 s
    assert d1(x) == pytest.approx(2 * s * x + t)
    assert d2(x) == pytest.approx(-8 * t * s * x + 4 * s)
    h = 1e-5
    assert srcgrad.gradient(d2, x)[0] == pytest.approx((d2(x + h) - d2(x - h)) / (2 * h), rel=1e-5)


def reads_global_weights(x):
    return np.sum(affine(W, 1.0, x) ** 2)


def test_globals_a_spliced_helper_reads_are_implicit_parameters():
    x = rng.normal(size=4)
    gs = srcgrad.gradient(lambda: reads_global_weights(x), srcgrad.params(W))
    expected = 2 * np.outer(W @ x + 1.0, x)
    np.testing.assert_allclose(gs[W], expected, rtol=1e-12)


# ------------------------------------------------------------------ rebinding
def tripled(x):
    return 3.0 * x


def uses_tripled(x):
    return tripled(x) * x


def test_rebinding_the_helper_recompiles_the_caller():
    module = sys.modules[__name__]
    original = module.tripled
    srcgrad.clear_cache()
    try:
        for _ in range(2):  # the second call takes the short path
            assert srcgrad.gradient(uses_tripled, 2.0) == (12.0,)
            assert srcgrad.gradient(lambda x: uses_tripled(x) + 0.0, 2.0) == (12.0,)  # (nested: the direct table)
        module.tripled = lambda x: 5.0 * x
        for _ in range(2):
            assert srcgrad.gradient(uses_tripled, 2.0) == (20.0,)
            assert srcgrad.gradient(lambda x: uses_tripled(x) + 0.0, 2.0) == (20.0,)
    finally:
        module.tripled = original
    assert srcgrad.gradient(uses_tripled, 2.0) == (12.0,)


def test_a_rule_registered_later_for_the_helper_takes_effect():
    assert srcgrad.gradient(uses_tripled, 1.0) == (6.0,)
    try:
        srcgrad.defrule(tripled)(lambda dy, y, x: (dy * 100.0,))
        assert srcgrad.gradient(uses_tripled, 1.0) == (103.0,)  # 100 * x + tripled(x)
    finally:
        from srcgrad.rules import registry

        del registry.rules[tripled]
        registry._changed(tripled)
    assert srcgrad.gradient(uses_tripled, 1.0) == (6.0,)


# ------------------------------------------------------------ what stays a call
def writes_into_its_argument(v):
    v[0] = v[0] * 2.0
    return v


def calls_a_writer(x):
    y = x * 1.0
    z = writes_into_its_argument(y)
    return np.sum(z * y)  # Python: y was changed too


def recursive(x, n):
    if n == 0:
        return x
    return recursive(np.sin(x), n - 1)


def calls_recursive(x):
    return recursive(x, 3)


def with_star_args(*xs):
    return xs[0] * xs[1]


def calls_star_args(x):
    return with_star_args(x, x)


def with_a_lambda(x):
    f = lambda t: t * x
    return f(2.0)


def calls_with_a_lambda(x):
    return with_a_lambda(x)


def make_scaler(k):
    def scale(x):
        return k * x

    return scale


scale_by_3 = make_scaler(3.0)


def calls_a_closure(x):
    return scale_by_3(x) * x


@pytest.mark.parametrize("fn, helper", [
    (calls_recursive, "recursive"),  # (spliced once: the call inside it stays a call)
    (calls_star_args, "with_star_args"),
    (calls_with_a_lambda, "with_a_lambda"),
    (calls_a_closure, "scale_by_3"),
    (lambda x: np.sum(np.linalg.norm(x) * x), None),  # (a library function: its rule, inline)
])
def test_what_is_not_spliced_stays_a_call_with_the_same_values(fn, helper):
    for x in (np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])):
        check_gradient(lambda x: np.sum(fn(x)), x)
    source = srcgrad.adjoint_source(fn)
    if helper is not None:
        assert "pullback" in source and helper in source


def test_a_helper_that_writes_into_its_argument_is_refused_at_the_call():
    # Python changes the caller's array too, which neither a call nor a splice would show
    # (compiler/aliasing.py refuses it, naming both lines).
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match=r"test_splice.py:\d+.*writes_into_its_argument") as info:
        srcgrad.adjoint_source(calls_a_writer)
    assert "v[0] = ..." in str(info.value)


def test_the_stage_shows_in_the_pipeline():
    stages = srcgrad.compiler.stages(loss)
    assert list(stages)[:5] == ["parse", "normalise", "splice", "transform", "simplify"]
    assert "np.tanh" in stages["splice"] and "squash(" not in stages["splice"]
    assert "splice" not in srcgrad.compiler.stages(inner_step)  # (nothing to paste in)


def test_entries_record_what_they_spliced():
    srcgrad.clear_cache()
    srcgrad.gradient(loss, W, np.zeros(3), np.ones(4))
    (entry,) = [e for e in cache._entries.values() if e.fn is loss]
    assert {name for name, _ in entry.spliced.helpers} == {"affine", "squash"}
    assert affine in entry.depends_on and squash in entry.depends_on


def two_values(x, y):
    return np.sin(x) * y, y


def unpacks_a_helper(x, y):
    a, b = two_values(x, y)
    b, a = two_values(b, a)  # (its values in swapped names: taken one at a time, still right)
    return np.sum(a * b)


def keeps_the_tuple(x, y):
    pair = two_values(x, y)
    a, b = pair
    return np.sum(a * b * pair[0])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_returned_tuple_unpacked_at_once_is_never_built(seed):
    r = np.random.default_rng(seed)
    x, y = r.normal(size=3), r.normal(size=3)
    check_gradient(unpacks_a_helper, x, y)
    check_gradient(keeps_the_tuple, x, y)
    assert "gather" not in srcgrad.adjoint_source(unpacks_a_helper)
    assert "gather" in srcgrad.adjoint_source(keeps_the_tuple)  # (read twice: the tuple stays)


offset = 3.0


def reads_offset(x):
    return x * offset


def has_a_local_offset(x):
    offset = x + 1.0
    return offset * x


def pastes_both(x):
    return reads_offset(x) * has_a_local_offset(x)


@pytest.mark.parametrize("x", [0.4, -1.3])
def test_a_local_pasted_later_never_takes_the_name_of_a_global_pasted_earlier(x):
    (g,) = check_gradient(pastes_both, x)
    assert g == pytest.approx(3.0 * (3 * x ** 2 + 2 * x))
    assert "offset_2 = " in srcgrad.adjoint_source(pastes_both)
