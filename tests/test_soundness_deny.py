"""Default deny (issue #16): a derivative comes from source srcgrad read, a rule, or the nograd list.

A callable with none of the three raises ``NoRuleError`` however it reaches
the differentiated code: passed to ``gradient``/``pullback``/``jvp``/
``jacobian`` directly, held in a variable, a closure cell, a default, a
``functools.partial``, a list or a dict. The error names the user's file
and line. Then the rule bugs of the same issue: ``np.r_``/``np.c_``,
``np.linspace``, ``0.0 ** y``, integer arrays, ``np.einsum``'s sublists.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
import types
import warnings

import numpy as np
import pytest
from gradcheck import check_gradient, numerical_gradient

import srcgrad

#: Callables without a rule and without Python source srcgrad would read: ufuncs and NumPy's functions
#: written in Python. (Issue #16's list had np.arccosh, np.deg2rad, np.logaddexp2, np.remainder, np.append,
#: np.kron, np.column_stack, and np.gradient, np.convolve, np.correlate: issue #18 gave them rules, so these are NumPy functions that still have none.)
RULELESS = [np.i0, np.spacing, np.float_power, np.copysign, np.interp, np.polyval, np.unwrap]
UNARY_RULELESS = [np.i0, np.spacing]
X = 2.26
THIS_FILE = __file__


def name_of(fn):
    return fn.__name__


def assert_refused_here(excinfo, name=None):
    """The error names this file (the user's) and, when given, the callable."""
    err = excinfo.value
    assert err.filename == THIS_FILE and isinstance(err.lineno, int), str(err)
    assert "srcgrad.defrule(" in (err.fix or ""), str(err)
    if name is not None:
        assert name in str(err), str(err)


# ------------------------------------------------------------------ passed to the API directly

@pytest.mark.parametrize("fn", RULELESS, ids=name_of)
def test_passed_to_pullback(fn):
    with pytest.raises(srcgrad.NoRuleError) as excinfo:
        srcgrad.pullback(fn, X)[1](1.0)  # (issue #16: returned (0.0,))
    assert_refused_here(excinfo, "np." + fn.__name__)


@pytest.mark.parametrize("fn", UNARY_RULELESS, ids=name_of)
def test_passed_to_gradient_and_jacobian(fn):
    with pytest.raises(srcgrad.NoRuleError) as excinfo:
        srcgrad.gradient(fn, X)
    assert_refused_here(excinfo)
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.jacobian(fn, np.array([X, 1.5]))


@pytest.mark.parametrize("fn", UNARY_RULELESS, ids=name_of)
def test_passed_to_jvp_and_derivative(fn):
    with pytest.raises(srcgrad.NoRuleError) as excinfo:
        srcgrad.jvp(fn, (X,), (1.0,))
    assert_refused_here(excinfo, "np." + fn.__name__)
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.derivative(fn, X)


def test_scipy_special_functions_passed_directly():
    special = pytest.importorskip("scipy.special")
    for fn in (special.dawsn, special.k0, special.k1, special.spence, special.exp10):  # (no rules yet)
        with pytest.raises(srcgrad.NoRuleError) as excinfo:
            srcgrad.pullback(fn, 0.3)[1](1.0)
        assert_refused_here(excinfo, "scipy.special." + fn.__name__)
        with pytest.raises(srcgrad.NoRuleError):
            srcgrad.jvp(fn, (0.3,), (1.0,))
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.gradient(special.kv, 0.3, 0.4)


def test_a_function_with_a_rule_passed_directly_still_differentiates():
    assert srcgrad.gradient(np.sin, 1.0) == pytest.approx((math.cos(1.0),))
    assert srcgrad.derivative(np.sin, 1.0) == pytest.approx(math.cos(1.0))


# ------------------------------------------------------------------ held in a variable, a cell, a default

def make(fun):
    return lambda x: fun(x)


def apply_default(x, fun=np.i0):
    return fun(x) * 2.0


def apply_local(x):
    fun = np.i0
    return fun(x) + x


held = np.i0


def test_held_in_a_global_variable():
    for differentiate in (srcgrad.gradient, srcgrad.derivative):
        with pytest.raises(srcgrad.NoRuleError) as excinfo:
            differentiate(lambda x: held(x), X)
        assert_refused_here(excinfo, "np.i0")


def test_held_in_a_closure_cell():
    for differentiate in (srcgrad.gradient, srcgrad.derivative):
        with pytest.raises(srcgrad.NoRuleError) as excinfo:
            differentiate(make(np.i0), X)
        assert_refused_here(excinfo, "np.i0")
    # The same closure over a function with a rule is differentiated.
    assert srcgrad.gradient(make(np.sinh), 0.5) == pytest.approx((math.cosh(0.5),))


def test_held_in_a_default_argument():
    for differentiate in (srcgrad.gradient, srcgrad.derivative):
        with pytest.raises(srcgrad.NoRuleError) as excinfo:
            differentiate(apply_default, X)
        assert_refused_here(excinfo, "np.i0")
        assert excinfo.value.lineno in (apply_default.__code__.co_firstlineno,
                                        apply_default.__code__.co_firstlineno + 1)
    assert srcgrad.gradient(lambda x: apply_default(x, np.sinh), 0.5) == pytest.approx((2 * math.cosh(0.5),))


def test_held_in_a_local_variable():
    with pytest.raises(srcgrad.NoRuleError) as excinfo:
        srcgrad.gradient(apply_local, X)
    assert_refused_here(excinfo, "np.i0")
    assert excinfo.value.lineno == apply_local.__code__.co_firstlineno + 2  # the line of the call
    assert "apply_local" in str(excinfo.value)
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.derivative(apply_local, X)


def call_first(x, funs):
    return funs[0](x)


def call_entry(x, funs):
    return funs["f"](x)


def test_an_element_of_a_list_or_dict_that_is_called():
    for fn, funs in ((call_first, [np.i0]), (call_entry, {"f": np.i0})):
        with pytest.raises(srcgrad.NoRuleError) as excinfo:
            srcgrad.gradient(lambda x: fn(x, funs), X)
        assert_refused_here(excinfo, "np.i0")
        with pytest.raises(srcgrad.NoRuleError):
            srcgrad.jvp(fn, (X, funs), (1.0, None))
    assert srcgrad.gradient(lambda x: call_first(x, [np.sinh]), 0.5) == pytest.approx((math.cosh(0.5),))


# ------------------------------------------------------------------ functools.partial

def scaled_product(a, b, scale=1.0):
    return np.sum(a * b) * scale


def test_a_partial_of_a_function_with_a_rule_binds_its_keywords():
    x = np.arange(6.0).reshape(2, 3)
    column_sums = functools.partial(np.sum, axis=0)
    f = lambda x: np.sum(column_sums(x) ** 2)
    grad, = check_gradient(f, x)  # (issue #16: zeros)
    np.testing.assert_allclose(grad, np.broadcast_to(2 * x.sum(axis=0), x.shape))
    y, back = srcgrad.pullback(column_sums, x)
    np.testing.assert_array_equal(y, x.sum(axis=0))
    np.testing.assert_array_equal(back(np.array([1.0, 2.0, 3.0]))[0], np.broadcast_to([1.0, 2.0, 3.0], x.shape))
    value, tangent = srcgrad.jvp(column_sums, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(tangent, [2.0, 2.0, 2.0])
    assert srcgrad.jvp(f, (x,), (np.ones_like(x),))[1] == pytest.approx(np.sum(2 * x.sum(axis=0) * 2.0))


def test_a_partial_of_python_code_binds_its_arguments():
    x = np.array([1.0, -2.0, 3.0])
    times_x = functools.partial(scaled_product, x, scale=3.0)
    np.testing.assert_allclose(srcgrad.gradient(times_x, x ** 2)[0], 3.0 * x)
    np.testing.assert_allclose(check_gradient(lambda y: times_x(y) ** 2, x ** 2)[0],
                               2 * times_x(x ** 2) * 3.0 * x)
    assert srcgrad.jvp(times_x, (x ** 2,), (np.ones(3),))[1] == pytest.approx(3.0 * x.sum())


def test_a_partial_passes_gradients_to_the_arrays_it_binds():
    W = np.array([1.0, 2.0, 3.0])
    x = np.array([0.5, -1.0, 2.0])
    bound = functools.partial(scaled_product, W, scale=2.0)
    gs = srcgrad.gradient(lambda: bound(x), srcgrad.params(W))
    np.testing.assert_allclose(gs[W], 2.0 * x)


def partial_made_inside(a, x):
    times_a = functools.partial(np.multiply, a)
    return np.sum(times_a(x) ** 2)


def partial_with_a_keyword(a, x):
    clipped = functools.partial(np.clip, a_min=a)
    return np.sum(clipped(x, 5.0))


def test_a_partial_made_inside_the_function_passes_gradients_to_what_it_binds():
    a, x = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    ga, gx = check_gradient(partial_made_inside, a, x)
    np.testing.assert_allclose(ga, 2 * a * x * x)
    np.testing.assert_allclose(gx, 2 * a * a * x)
    value, tangent = srcgrad.jvp(partial_made_inside, (a, x), (np.ones(2), np.zeros(2)))
    assert (value, tangent) == pytest.approx((partial_made_inside(a, x), np.sum(2 * a * x * x)))
    # A keyword it binds with a gradient is refused (the rule gives gradients by position).
    with pytest.raises(srcgrad.NoRuleError, match="a_min=") as excinfo:
        srcgrad.gradient(partial_with_a_keyword, 0.5, x)
    assert excinfo.value.lineno == partial_with_a_keyword.__code__.co_firstlineno + 1


def test_a_partial_of_a_ruleless_function_is_refused():
    bad = functools.partial(np.i0)
    for differentiate in (srcgrad.gradient, srcgrad.derivative):
        with pytest.raises(srcgrad.NoRuleError) as excinfo:
            differentiate(bad, X)
        assert_refused_here(excinfo, "np.i0")
        with pytest.raises(srcgrad.NoRuleError):
            differentiate(lambda x: bad(x), X)
    nested = functools.partial(functools.partial(np.float_power, 1.0))
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.gradient(lambda x: nested(x), X)


def test_a_partial_of_a_nograd_function_passes_no_gradient():
    biggest = functools.partial(np.argmax, axis=0)
    x = np.array([[1.0, 4.0], [3.0, 2.0]])
    f = lambda x: np.sum(x * biggest(x))
    grad, = check_gradient(f, x)
    np.testing.assert_array_equal(grad, np.broadcast_to(np.argmax(x, axis=0), x.shape))


# ------------------------------------------------------------------ methods of numbers

def test_a_method_of_a_float_is_differentiated_or_refused():
    with pytest.raises(srcgrad.NoRuleError):
        srcgrad.gradient(lambda x: x.__mul__(3.0), 2.0)  # (was a silent 0.0)
    assert srcgrad.gradient(lambda x: x.conjugate() * x, 2.0) == (4.0,)  # (conjugate has a rule: docs/complex.md)
    assert srcgrad.gradient(lambda x: x * float(x.is_integer()), 2.0) == (1.0,)  # a question: no gradient


# ------------------------------------------------------------------ a user's module's arrays

def test_an_array_read_through_a_users_module_is_refused_for_implicit_parameters(tmp_path, monkeypatch):
    config = types.ModuleType("deny_config")
    config.W = np.array([1.0, 3.0])
    monkeypatch.setitem(sys.modules, "deny_config", config)
    source = tmp_path / "deny_module_user.py"
    source.write_text("import numpy as np\nimport deny_config\n\n\ndef loss():\n    return np.sum(deny_config.W ** 2)\n"
                      "\n\ndef scaled(x):\n    return np.sum(deny_config.W * x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import deny_module_user

    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="from deny_config import W"):
        srcgrad.gradient(deny_module_user.loss, srcgrad.params(config.W))  # (was zeros)
    # With respect to an argument the module's array is a constant, as a global's is.
    np.testing.assert_allclose(srcgrad.gradient(deny_module_user.scaled, np.ones(2))[0], config.W)


# ------------------------------------------------------------------ rules: np.r_ and np.c_

x3 = np.array([1.1, 2.3, 3.0])


def check_both_modes(f, x):
    """Reverse mode against central differences, forward mode against reverse, and the plain value."""
    grad, = check_gradient(f, x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = 1.0
        value, tangent = srcgrad.jvp(f, (x,), (e,))
        assert value == pytest.approx(f(x))
        assert tangent == pytest.approx(grad.flat[i], abs=1e-9)
    return grad


def test_r_concatenates_with_gradients():
    grad = check_both_modes(lambda y: np.sum(np.r_[y, y * 2] ** 2), x3)  # (issue #16: zeros)
    np.testing.assert_allclose(grad, 2 * x3 + 8 * x3)
    check_both_modes(lambda y: np.sum(np.r_[y[0], 5.0, y] ** 2), x3)
    check_both_modes(lambda y: np.sum(np.r_["0,2", y, y * 3] ** 2 * np.arange(6.0).reshape(2, 3)), x3)


def test_c_stacks_columns_with_gradients():
    grad = check_both_modes(lambda y: np.sum((np.c_[y, y ** 2] @ np.array([1.0, 3.0])) ** 2), x3)
    assert np.all(grad != 0)


def r_with_a_slice(y):
    return np.sum(np.r_[0:3, y])


def test_r_with_a_slice_is_refused_where_a_gradient_flows_and_constant_elsewhere():
    with pytest.raises(srcgrad.NoRuleError, match="np.arange") as excinfo:
        srcgrad.gradient(r_with_a_slice, x3)
    assert excinfo.value.filename == THIS_FILE
    assert excinfo.value.lineno == r_with_a_slice.__code__.co_firstlineno + 1
    grad, = check_gradient(lambda y: np.sum(y[np.r_[0:2, 2]] ** 2), x3)
    np.testing.assert_allclose(grad, 2 * x3)


# ------------------------------------------------------------------ rules: arrays made from values

def test_linspace_is_linear_in_its_ends():
    f = lambda a, b: np.sum(np.linspace(a, b, 5) ** 2)  # (issue #16: (0.0, 0.0))
    ga, gb = check_gradient(f, 1.0, 2.0)
    t = np.linspace(0.0, 1.0, 5)
    y = np.linspace(1.0, 2.0, 5)
    assert (ga, gb) == pytest.approx((np.sum(2 * y * (1 - t)), np.sum(2 * y * t)))
    assert srcgrad.jvp(f, (1.0, 2.0), (1.0, 0.0))[1] == pytest.approx(ga)
    assert srcgrad.jvp(f, (1.0, 2.0), (0.0, 1.0))[1] == pytest.approx(gb)
    check_both_modes(lambda y: np.sum(np.linspace(y, y * 2, 4, axis=1) ** 3), x3)
    check_both_modes(lambda y: np.sum(np.linspace(y[0], y[2], 4, endpoint=False) ** 2), x3)


def test_linspace_of_integers_is_flat_and_retstep_is_refused():
    assert check_gradient(lambda a: np.sum(np.linspace(a, 9.0, 4, dtype=int) * 1.0) + a, 1.2) == (1.0,)
    with pytest.raises(srcgrad.NoRuleError, match="retstep"):
        srcgrad.gradient(lambda a: np.sum(np.linspace(a, 2.0, 4, retstep=True)[0]), 1.0)


def test_full_arange_meshgrid_heaviside_unique_divmod_pass_their_gradients():
    check_both_modes(lambda y: np.sum(np.full((2, 3), y[1]) ** 2), x3)
    check_both_modes(lambda y: np.sum(np.full_like(y, y[1]) * y), x3)
    check_both_modes(lambda y: np.sum(np.arange(y[0], 4.0, y[1] * 0.5) ** 2), x3)
    check_both_modes(lambda y: np.sum(np.meshgrid(y, y[:2] * 2)[0] * np.meshgrid(y, y[:2] * 2)[1] ** 2), x3)
    grad = check_both_modes(lambda y: np.sum(np.heaviside(np.array([-1.0, 0.0, 2.0]), y) * 3.0), x3)
    np.testing.assert_array_equal(grad, [0.0, 3.0, 0.0])
    check_both_modes(lambda y: np.sum(np.unique(y * np.array([1.0, -1.0, 1.0])) * np.array([1.0, 2.0, 3.0])), x3)
    assert check_gradient(lambda a, b: divmod(a, b)[1] * 3.0 + divmod(a, b)[0], 7.3, 2.0) == \
        pytest.approx((3.0, -9.0))  # (divmod was nograd-listed: the remainder's slope was lost)
    assert srcgrad.jvp(lambda a, b: divmod(a, b)[1], (7.3, 2.0), (1.0, 1.0))[1] == pytest.approx(1.0 - 3.0)


def test_unique_shares_a_tied_values_gradient():
    grad, = srcgrad.gradient(lambda y: np.sum(np.unique(y) * np.array([3.0, 5.0])), np.array([1.0, 1.0, 2.0]))
    np.testing.assert_array_equal(grad, [1.5, 1.5, 5.0])


# ------------------------------------------------------------------ rules: a zero base

@pytest.mark.parametrize("power", [lambda y: 0.0 ** y, lambda y: np.power(0.0, y), lambda y: math.pow(0.0, y),
                                   lambda y: pow(0.0, y), lambda y: np.sum(np.power(np.zeros(2), y))],
                         ids=["operator", "np.power", "math.pow", "pow", "array"])
def test_a_zero_base_is_flat_in_the_exponent(power):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no log(0) on the way: the rule never forms 0 * -inf)
        for y in (2.0, 0.5):
            assert srcgrad.gradient(power, y) == (0.0,)  # (issue #16: nan)
            assert srcgrad.derivative(power, y) == 0.0
            assert srcgrad.hessian(power, y) == 0.0


def test_power_at_a_zero_base_in_the_base_and_away_from_it():
    for f in (lambda x: x ** 2.0, lambda x: math.pow(x, 2.0)):
        assert srcgrad.gradient(f, 0.0) == (0.0,) and srcgrad.derivative(f, 0.0) == 0.0
    for f in (lambda x: x ** 0.0, lambda x: math.pow(x, 0.0)):  # (math.pow's rule raised ZeroDivisionError)
        assert srcgrad.gradient(f, 0.0) == (0.0,) and srcgrad.derivative(f, 0.0) == 0.0
    assert srcgrad.gradient(lambda x: x ** 1.0, 0.0) == (1.0,)
    for f in (lambda x, y: x ** y, lambda x, y: math.pow(x, y)):
        assert check_gradient(f, 2.0, 3.0) == pytest.approx((12.0, 8 * math.log(2.0)))
    assert srcgrad.hessian(lambda x: x ** x, 1.5) == pytest.approx(
        1.5 ** 1.5 * ((math.log(1.5) + 1) ** 2 + 1 / 1.5))


# ------------------------------------------------------------------ rules: integer arrays

@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_an_integer_arrays_gradient_is_float64(dtype):
    x = np.array([1, 2], dtype=dtype)
    grad, = srcgrad.gradient(lambda y: np.sum(y * 100.), x)
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad, [100.0, 100.0])
    np.testing.assert_array_equal(srcgrad.jvp(lambda y: y * 100., (x,), (np.ones(2),))[1], [100.0, 100.0])
    np.testing.assert_array_equal(srcgrad.gradient(lambda y: np.sum(y[[0, 0, 1]] * 100.), x)[0], [200.0, 100.0])


# ------------------------------------------------------------------ rules: einsum's sublist form

A = np.arange(4.0).reshape(2, 2) + 1
B = np.arange(6.0).reshape(2, 3) - 1


@pytest.mark.parametrize("f", [
    lambda a, b: np.sum(np.einsum(a, [0, 1], b, [1, 2])),
    lambda a, b: np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2),
    lambda a, b: np.sum(np.einsum(a, [1, 0], b, [1, 2], [2, 0]) ** 2),
    lambda a, b: np.sum(np.einsum("ij,jk->ik", a, b) ** 2),
], ids=["implicit", "explicit", "transposed", "string"])
def test_einsum_in_either_form(f):
    grads = check_gradient(f, A, B)  # (the sublist form was an AttributeError: '.replace' on an array)
    for i, x in enumerate((A, B)):
        for k in range(x.size):
            e = [np.zeros_like(A), np.zeros_like(B)]
            e[i].flat[k] = 1.0
            assert srcgrad.jvp(f, (A, B), tuple(e))[1] == pytest.approx(grads[i].flat[k])


def einsum_with_an_ellipsis(a):
    b = a * 2.0
    return np.sum(np.einsum(b, [Ellipsis, 0], np.ones(2), [0]))


def test_einsum_sublists_with_an_ellipsis_are_differentiated():
    """(Refused until #18 gave the einsum rule ``...``: tests/rules/test_einsum.py has the rest.)"""
    check_gradient(einsum_with_an_ellipsis, A)


def crossed_in_two_dimensions(a):
    b = a * 2.0
    return np.sum(np.cross(b[0, :2], np.ones(2)))


def test_a_rule_refusing_at_run_time_is_refused_at_the_users_line():
    # (pullback's back is refused too, but is itself differentiable code, so it cannot catch and relocate)
    with pytest.raises(srcgrad.NoRuleError, match="3-vectors"):
        srcgrad.pullback(crossed_in_two_dimensions, A)[1](1.0)
    with pytest.raises(srcgrad.NoRuleError, match="3-vectors") as excinfo:
        srcgrad.gradient(crossed_in_two_dimensions, A)
    assert excinfo.value.filename == THIS_FILE  # (a rule raising at run time: the line of its call)
    assert excinfo.value.lineno == crossed_in_two_dimensions.__code__.co_firstlineno + 2


def test_the_numerical_gradient_oracle_agrees_with_a_partial():
    """(The oracle itself, on a route through functools.partial: the numbers, not only no error.)"""
    p = functools.partial(operator.mul, 3.0)
    f = lambda x: np.sum(p(x) ** 2)
    np.testing.assert_allclose(srcgrad.gradient(f, x3)[0], numerical_gradient(f, (x3,), 0), rtol=1e-6)
