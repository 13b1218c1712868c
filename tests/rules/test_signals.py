"""Rules for ``np.gradient np.convolve np.correlate np.astype`` (srcgrad/rules/signals.py).

The table checks each against central differences, inline and passed in, in both modes; np.gradient's
spacings (a scalar step, coordinates) are arguments differentiated like ``f``. Below it: the type
np.gradient returns (an array for one axis, a tuple for several, in both modes), every mode and keyword,
second order beyond the table's first row, complex arguments (np.correlate conjugates ``v``), NumPy's own
errors for bad input, and autograd's gradients where autograd has the function.
"""

import builtins

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad

from .specs import Spec, check_forward_over_reverse, check_second_order, define, keyword_variants, params, table_tests

#: Coordinates along an axis: increasing, unevenly spaced (``b`` drawn from "pos").
COORDS = "np.cumsum(b)"

SPECS = [
    Spec(np.gradient, "np.gradient(a)", [(5,), (2,), (3, 4), (2, 3, 3)]),
    Spec(np.gradient, "np.gradient(a, axis=0)", [(4,), (3, 4)]),
    Spec(np.gradient, "np.gradient(a, axis=(-1,))", [(3, 4)]),
    Spec(np.gradient, "np.gradient(a, axis=(1, 0), edge_order=2)", [(3, 4)]),
    Spec(np.gradient, "np.gradient(a, edge_order=2)", [(3,), (5,), (3, 4)]),
    Spec(np.gradient, "np.gradient(a, 0.5, edge_order=2)", [(5,), (3, 4)]),
    Spec(np.gradient, "np.gradient(a, b)", [((5,), ()), ((3, 4), ()), ((4,), "0d")], domain=("real", "pos")),
    Spec(np.gradient, "np.gradient(a, b, edge_order=2)", [((5,), ()), ((3, 4), ())], domain=("real", "pos")),
    Spec(np.gradient, f"np.gradient(a, {COORDS})", [((5,), (5,)), ((2,), (2,))], domain=("real", "pos")),
    Spec(np.gradient, f"np.gradient(a, {COORDS}, edge_order=2)", [((3,), (3,)), ((6,), (6,))], domain=("real", "pos")),
    Spec(np.gradient, f"np.gradient(a, {COORDS}, axis=1)", [((3, 4), (4,))], domain=("real", "pos")),
    Spec(np.gradient, f"np.gradient(a, c, {COORDS}, edge_order=2)", [((3, 4), (4,), ())], domain=("real", "pos", "pos")),
    Spec(np.gradient, f"np.gradient(a, {COORDS}, 2.0, axis=(0, 1))", [((4, 3), (4,))], domain=("real", "pos")),
    Spec(np.convolve, "np.convolve(a, b)", [((5,), (3,)), ((3,), (5,)), ((4,), (4,)), ((), (3,)), ((1,), (1,))]),
    Spec(np.convolve, "np.convolve(a, b, 'same')", [((5,), (3,)), ((3,), (6,)), ((6,), (2,)), ((2,), (2,))]),
    Spec(np.convolve, "np.convolve(a, b, mode='valid')", [((5,), (3,)), ((3,), (5,)), ((4,), (4,))]),
    Spec(np.convolve, "np.convolve(a, b, 1)", [((4,), (3,))]),
    Spec(np.correlate, "np.correlate(a, b)", [((5,), (3,)), ((3,), (5,)), ((4,), (4,))]),
    Spec(np.correlate, "np.correlate(a, b, 'same')", [((5,), (3,)), ((2,), (4,)), ((3,), (6,)), ((5,), (2,))]),
    Spec(np.correlate, "np.correlate(a, b, mode='full')", [((5,), (3,)), ((3,), (5,)), ((1,), (3,))]),
    Spec(np.correlate, "np.correlate(a, b, 2)", [((3,), (4,))]),
    Spec(np.astype, "np.astype(a, np.float64)", [(3,), (2, 3), "0d"]),
    Spec(np.astype, "np.astype(a, 'float64', copy=False)", [(3,)]),
    Spec(np.astype, "np.astype(a, complex).real", [(3,)]),
    Spec(np.astype, "np.astype(a, int) + a", [(3,)], dynamic="fn(a, int) + a"),
    Spec(np.astype, "np.astype(a, bool) * a", [(3,)], dynamic="fn(a, bool) * a"),
    Spec(np.astype, "np.astype(a, np.float64, device='cpu')", [(3,)]),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)

KEYWORD_SPECS = keyword_variants(SPECS)
(test_keyword_inline, test_keyword_dynamic, test_keyword_rule_shapes, test_keyword_forward,
 test_keyword_forward_dynamic) = table_tests(KEYWORD_SPECS)


#: Second order for every mode and keyword (tests/rules/test_second_order.py takes each rule's first row).
TWICE = [spec for spec in SPECS if spec.primal is not np.astype]


@pytest.mark.parametrize("spec, case", params(TWICE, last_case_only=True))
def test_every_row_to_second_order(spec, case, tmp_path_factory):
    check_second_order(spec, case, tmp_path_factory)
    check_forward_over_reverse(spec, case, tmp_path_factory)


# ------------------------------------------------------------------ what np.gradient returns

F = np.random.default_rng(3).standard_normal((4, 5))


def test_one_axis_is_an_array_and_several_a_tuple_in_both_modes(tmp_path):
    """As NumPy 2 returns them: the tangent of ``np.gradient(f)`` is a tuple of arrays too."""
    f = define(tmp_path, "def f(a):\n    return np.gradient(a)\n")
    g = define(tmp_path, "def f(a):\n    return np.gradient(a, axis=1)\n")
    for fn in (f, g):
        y, dy = srcgrad.jvp(fn, (F,), (np.ones_like(F),))
        expected = fn(F)
        assert type(y) is type(expected) and type(dy) is type(expected)
        assert type(expected) is (tuple if fn is f else np.ndarray)
    _, dy = srcgrad.jvp(f, (F,), (F,))
    np.testing.assert_allclose(dy[0], np.gradient(F)[0], rtol=1e-12)  # (linear: its tangent along F is itself)
    np.testing.assert_allclose(dy[1], np.gradient(F)[1], rtol=1e-12)


def test_parts_of_the_tuple_unpacked_indexed_or_left_unused(tmp_path):
    """Each part's gradient is that of the part alone: a part not used sends nothing back."""
    weights = np.random.default_rng(4).uniform(0.5, 1.5, F.shape)
    unpacked = define(tmp_path, "def f(a):\n    d0, d1 = np.gradient(a)\n    return np.sum(W * d0 ** 2) + np.sum(d1)\n")
    indexed = define(tmp_path, "def f(a):\n    return np.sum(W * np.gradient(a, 2.0)[1])\n")
    alone = define(tmp_path, "def f(a):\n    return np.sum(W * np.gradient(a, 2.0, axis=1))\n")
    for fn in (unpacked, indexed, alone):
        fn.__globals__["W"] = weights
    check_gradient(unpacked, F)
    np.testing.assert_allclose(srcgrad.gradient(indexed, F)[0], srcgrad.gradient(alone, F)[0], rtol=1e-12)


@pytest.mark.parametrize("call", [
    "np.gradient(a, 2)",                              # an integer step: a constant
    "np.gradient(a, np.arange(5) ** 2, axis=-1)",     # integer coordinates: constants
    "np.gradient(a, 0.5, 0.25, axis=[0, 1])",         # a list of axes
    "np.gradient(a, np.array(0.5))",                  # a 0-d step, shared by both axes
    "np.gradient(a, [0.0, 0.5, 1.5, 3.0], axis=0)",   # coordinates as a list
    "np.gradient(a, edge_order=2.0)",                 # NumPy reads any edge_order but 1 as the second order
])
def test_more_spacings_and_keywords(call, tmp_path):
    f = define(tmp_path, f"def f(a):\n    out = {call}\n    parts = out if isinstance(out, tuple) else [out]\n"
                         "    return builtins.sum([np.sum(np.sin(p)) for p in parts])\n")
    check_gradient(f, F)
    _, dy = srcgrad.jvp(f, (F,), (F[::-1],))
    eps = 1e-6
    np.testing.assert_allclose(dy, (f(F + eps * F[::-1]) - f(F - eps * F[::-1])) / (2 * eps), rtol=1e-6)


def test_a_step_shared_by_every_axis_gets_the_sum_of_their_gradients(tmp_path):
    """``np.gradient(f, h)`` divides every axis's differences by ``h``: d/dh of the sum is ``-sum(y) / h``."""
    f = define(tmp_path, "def f(a, h):\n    d0, d1 = np.gradient(a, h)\n    return np.sum(d0) + np.sum(d1)\n")
    _, gh = srcgrad.gradient(f, F, 0.5)
    np.testing.assert_allclose(gh, -f(F, 0.5) / 0.5, rtol=1e-12)
    _, dh = srcgrad.jvp(f, (F, 0.5), (np.zeros_like(F), 1.0))
    np.testing.assert_allclose(dh, -f(F, 0.5) / 0.5, rtol=1e-12)


# ------------------------------------------------------------------ complex arguments

def complex_numeric(f, z, eps=1e-6):
    """docs/complex.md's gradient ``df/dx - i df/dy`` of a real ``f`` at ``z``, by central differences."""
    g = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = eps
        dx = (f(z + step) - f(z - step)) / (2 * eps)
        dy = (f(z + 1j * step) - f(z - 1j * step)) / (2 * eps)
        g[index] = dx - 1j * dy
    return g


@pytest.mark.parametrize("call", ["np.convolve(a, b, 'same')", "np.correlate(a, b, 'full')", "np.correlate(b, a)",
                                  "np.gradient(a, edge_order=2)"])
def test_complex_arguments(call, tmp_path):
    """A complex ``a`` (and ``b``): np.correlate conjugates its second argument, which the gradient undoes."""
    rng = np.random.default_rng(6)
    b = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    f = define(tmp_path, f"def f(a, b):\n    y = {call}\n    return np.sum(np.real(y) ** 2 + np.sin(np.imag(y)))\n")
    z = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    ga, gb = srcgrad.gradient(f, z, b)
    np.testing.assert_allclose(ga, complex_numeric(lambda v: f(v, b), z), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, complex_numeric(lambda v: f(z, v), b), rtol=1e-6, atol=1e-8)


def test_a_real_argument_with_a_complex_one_gets_a_real_gradient(tmp_path):
    f = define(tmp_path, "def f(a):\n    return np.sum(np.abs(np.correlate(a, np.array([1.0, 2j, -1.0]), 'same')))\n")
    x = np.random.default_rng(7).standard_normal(5)
    (g,) = srcgrad.gradient(f, x)
    assert g.dtype == np.float64
    check_gradient(f, x)


# ------------------------------------------------------------------ bad input: NumPy's own errors

@pytest.mark.parametrize("call, error, message", [
    ("np.convolve(a, a, 'bad')", ValueError, "mode must be one of"),
    ("np.correlate(a, a, 'f')", ValueError, "Use one of"),
    ("np.convolve(a, a, 3)", ValueError, "must be 0, 1, or 2"),
    ("np.convolve(a, np.zeros(0))", ValueError, "cannot be empty"),
    ("np.gradient(a, edge_order=3)", ValueError, "greater than 2"),
    ("np.gradient(a[:2], edge_order=2)", ValueError, "too small"),
    ("np.gradient(a, 1.0, 2.0)", TypeError, "invalid number of arguments"),
    ("np.gradient(a, np.arange(4.0))", ValueError, "must match"),
    ("np.astype(a, np.float64, device='gpu')", ValueError, "[Dd]evice"),
])
def test_bad_input_raises_numpys_error(call, error, message, tmp_path):
    """The primal runs first, in both modes: NumPy's error, not a gradient of something else."""
    f = define(tmp_path, f"def f(a):\n    return np.sum({call})\n")
    x = np.arange(5.0)
    with pytest.raises(error, match=message):
        srcgrad.gradient(f, x)
    with pytest.raises(error, match=message):
        srcgrad.jvp(f, (x,), (np.ones(5),))


# ------------------------------------------------------------------ the same as autograd's

@pytest.mark.parametrize("call, shape", [("np.gradient(x)", (6,)), ("np.gradient(x)", (5, 6)),
                                         ("np.gradient(x, axis=0)", (5, 4)), ("np.gradient(x, axis=1)", (3, 6))])
def test_np_gradient_agrees_with_autograd(call, shape, tmp_path):
    """autograd's np.gradient rule takes ``axis=`` only (no spacing, edge_order 1)."""
    pytest.importorskip("autograd")
    import autograd
    import autograd.numpy as anp

    several = len(shape) > 1 and "axis" not in call  # (autograd's tuple is a SequenceBox: not isinstance tuple)
    body = f"    y = {call}\n    parts = {'y' if several else '[y]'}\n" \
           "    return builtins.sum(np.sum(np.sin(p) * (k + 1)) for k, p in enumerate(parts))\n"
    f = define(tmp_path, f"def f(x):\n{body}")
    theirs = {}
    exec(f"def f(x):\n{body}", {"np": anp, "builtins": builtins}, theirs)
    x = np.random.default_rng(8).standard_normal(shape)
    np.testing.assert_allclose(srcgrad.gradient(f, x)[0], autograd.grad(theirs["f"])(x), rtol=1e-10, atol=1e-12)
