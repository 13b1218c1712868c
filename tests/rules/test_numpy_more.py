"""Rules for the rest of NumPy (issue #18): more elementwise maths, ``cumprod``, ``trace`` over any two axes,
the split and join families, ``roll rot90 diagonal tril triu pad diff partition``, ``kron cross``.

The same five checks as tests/rules/test_numpy.py (inline, dynamic, rule shapes, forward mode, both
against central differences), over more than one shape and the keywords NumPy takes; second order in
tests/rules/test_second_order.py. Then what the rules refuse, and the calls that failed before.
"""

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad

from .specs import Spec, check_second_order, define, params, table_tests

UNARY = [(), (3,), (2, 3)]
BINARY = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((3, 1), (4,)), ((2, 3), ())]


def functions(fn, name, domain, *calls):
    """One spec per ``(arguments, shapes)`` of ``name(...)``."""
    return [Spec(fn, f"{name}({arguments})", shapes, domain=domain) for arguments, shapes in calls]


#: np.arccosh needs x > 1: its argument is shifted off the "pos" domain (0.5 to 2).
SPECS = [
    Spec(np.arccosh, "np.arccosh(a + 1.0)", UNARY, domain="pos", dynamic="fn(a + 1.0)"),
    *[Spec(fn, f"np.{fn.__name__}(a)", UNARY) for fn in (np.deg2rad, np.radians, np.rad2deg, np.degrees)],
    Spec(np.sinc, "np.sinc(a)", UNARY),
    Spec(np.sinc, "np.sinc(a * 0.0)", [(3,)], id="np.sinc-at-zero"),
    Spec(np.nan_to_num, "np.nan_to_num(a)", UNARY),
    Spec(np.nan_to_num, "np.nan_to_num(np.log(a - 0.5), neginf=-3.0)", [(3,), (2, 3)], domain="pos",
         dynamic="fn(np.log(a - 0.5), neginf=-3.0)", id="np.nan_to_num-of-infinities"),
    Spec(np.real_if_close, "np.real_if_close(a)", UNARY),
    Spec(np.real_if_close, "np.real_if_close(a + 0j)", [(3,), (2, 3)], dynamic="fn(a + 0j)",
         id="np.real_if_close-of-complex"),
    Spec(np.logaddexp2, "np.logaddexp2(a, b)", BINARY),
    Spec(np.remainder, "np.remainder(a, b)", BINARY, domain=("real", "pos")),
    Spec(np.mod, "np.mod(a, b)", [((3,), ()), ((2, 3), (3,))], domain=("real", "pos")),

    # reductions
    *functions(np.amax, "np.amax", "real", ("a", [(4,), (3, 4)]), ("a, axis=1, keepdims=True", [(3, 4)])),
    *functions(np.amin, "np.amin", "real", ("a", [(4,), (3, 4)]), ("a, axis=0", [(3, 4)])),
    *functions(np.cumprod, "np.cumprod", "nonzero", ("a", [(4,), (3, 4)]), ("a, axis=0", [(3, 4)]),
               ("a, axis=-1", [(2, 3, 4)]), ("a, 1", [(3, 4)])),
    Spec("cumprod", "a.cumprod()", [(4,), (3, 4)], domain="nonzero", kind="method"),
    Spec("cumprod", "a.cumprod(axis=1)", [(3, 4)], domain="nonzero", kind="method"),
    *functions(np.trace, "np.trace", "real", ("a, offset=1", [(3, 4, 2, 2), (3, 3, 2)]),
               ("a, -1, 1, 2", [(2, 3, 4)]), ("a, axis1=2, axis2=0", [(3, 2, 4)]), ("a, 0, -1, -2", [(2, 3, 3)])),
    Spec("trace", "a.trace(1, 2, 3)", [(2, 2, 3, 4)], kind="method"),

    # moved, masked, differenced
    *functions(np.roll, "np.roll", "real", ("a, 1", [(4,), (2, 3)]), ("a, -2, axis=1", [(2, 3)]),
               ("a, (1, 2), axis=(0, 1)", [(2, 3)]), ("a, shift=3, axis=0", [(4, 2)])),
    *functions(np.rollaxis, "np.rollaxis", "real", ("a, 2", [(2, 3, 4)]), ("a, 0, 3", [(2, 3, 4)]),
               ("a, -1, start=1", [(2, 3, 4)]), ("a, 1", [(2, 3)])),
    *functions(np.rot90, "np.rot90", "real", ("a", [(2, 3), (2, 3, 4)]), ("a, 2", [(2, 3)]), ("a, k=-1", [(2, 3)]),
               ("a, 1, axes=(1, 2)", [(2, 3, 4)])),
    Spec(np.flipud, "np.flipud(a)", [(3,), (2, 3)]),
    *functions(np.diagonal, "np.diagonal", "real", ("a", [(3, 3), (3, 4), (4, 3)]), ("a, 1", [(3, 4), (4, 3)]),
               ("a, offset=-2", [(4, 3)]), ("a, 0, 1, 2", [(2, 3, 3)]), ("a, 1, axis1=2, axis2=0", [(3, 2, 4)])),
    Spec("diagonal", "a.diagonal()", [(3, 3), (2, 3)], kind="method"),
    Spec("diagonal", "a.diagonal(-1, 1, 2)", [(2, 3, 4)], kind="method"),
    *functions(np.tril, "np.tril", "real", ("a", [(3, 3), (3, 4), (2, 3, 3)]), ("a, -1", [(3, 4)]),
               ("a, k=1", [(4, 3)])),
    *functions(np.triu, "np.triu", "real", ("a", [(3, 3), (3, 4), (2, 3, 3)]), ("a, 1", [(3, 4)]),
               ("a, k=-1", [(4, 3)])),
    *functions(np.pad, "np.pad", "real", ("a, 1", [(3,), (2, 3)]), ("a, (1, 2)", [(3,), (2, 3)]),
               ("a, ((0, 1), (2, 0))", [(2, 3)]), ("a, 1, constant_values=2.5", [(3,)]),
               ("a, 2, mode='edge'", [(3,), (2, 3)]), ("a, (2, 1), mode='reflect'", [(4,), (3, 4)]),
               ("a, 2, 'symmetric'", [(3,), (2, 3)]), ("a, ((1, 2), (3, 0)), mode='wrap'", [(2, 3)])),
    *functions(np.diff, "np.diff", "real", ("a", [(4,), (3, 4)]), ("a, 2", [(5,), (3, 4)]),
               ("a, axis=0", [(3, 4)]), ("a, 1, 0", [(3, 2)]), ("a, n=3, axis=-1", [(2, 5)]),
               ("a, 0", [(3,)])),
    *functions(np.diff, "np.diff", "real", ("a, 1, -1, b", [((4,), ()), ((2, 3), (2, 1))]),
               ("a, 2, 0, b, c", [((3, 2), (1, 2), (2, 2))]), ("a, append=b", [((4,), ())]),
               ("a, prepend=b, axis=0", [((3, 2), (1, 2))])),
    *functions(np.partition, "np.partition", "real", ("a, 1", [(4,), (3, 4)]), ("a, 2, axis=0", [(3, 4)]),
               ("a, (0, 2)", [(4,)]), ("a, 3, axis=None", [(2, 3)])),

    # joined and split
    *functions(np.array_split, "np.array_split", "real", ("a, 2", [(5,), (5, 2)]), ("a, 3, axis=1", [(2, 4)]),
               ("a, [1, 3]", [(4,)])),
    Spec(np.array_split, "np.array_split(a, 3)[0]", [(5,)], id="np.array_split-3-one-piece"),
    *functions(np.hsplit, "np.hsplit", "real", ("a, 2", [(4,), (3, 4)]), ("a, [1]", [(2, 3, 2)])),
    *functions(np.vsplit, "np.vsplit", "real", ("a, 2", [(4, 3)]), ("a, [1, 2]", [(3, 2, 2)])),
    Spec(np.vsplit, "np.vsplit(a, 2)[1]", [(4, 3)], id="np.vsplit-2-one-piece"),
    *functions(np.dsplit, "np.dsplit", "real", ("a, 2", [(2, 3, 4)]), ("a, [1]", [(1, 2, 3)])),
    Spec(np.column_stack, "np.column_stack([a, b])", [((3,), (3,)), ((3, 2), (3,)), ((3, 2), (3, 1))]),
    Spec(np.column_stack, "np.column_stack((a, b, c))", [((2,), (2, 2), (2,))]),
    Spec(np.row_stack, "np.row_stack([a, b])", [((3,), (3,)), ((2, 3), (3,))]),
    Spec(np.row_stack, "np.row_stack((a, b), dtype=np.float64)", [((3,), (3,))]),
    Spec(np.vstack, "np.vstack([a, b], dtype=np.float64, casting='same_kind')", [((3,), (2, 3))]),
    Spec(np.hstack, "np.hstack([a, b], dtype=np.float64)", [((3,), (2,))]),
    Spec(np.dstack, "np.dstack([a, b])", [((3,), (3,)), ((2, 3), (2, 3)), ((2, 3, 2), (2, 3, 1))]),
    *functions(np.append, "np.append", "real", ("a, b", [((3,), (2,)), ((2, 3), ()), ((2, 2), (3,))]),
               ("a, b, axis=0", [((2, 3), (1, 3))]), ("a, b, 1", [((2, 3), (2, 2))]),
               ("a, 5.0", [(3,)])),

    # products
    Spec(np.kron, "np.kron(a, b)", [((2,), (3,)), ((2, 3), (2, 2)), ((2, 2), (3,)), ((3,), (2, 2)), ((), (3,)),
                                    ((2, 1, 2), (2, 3))]),
    *functions(np.cross, "np.cross", "real", ("a, b", [((3,), (3,)), ((4, 3), (3,)), ((2, 3), (2, 3))]),
               ("a, b, axis=0", [((3, 2), (3, 2))]), ("a, b, axisa=0", [((3, 2), (2, 3))]),
               ("a, b, axisa=0, axisb=1, axisc=0", [((3, 4), (4, 3))])),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(
    SPECS, dynamic=[spec for spec in SPECS if spec.kind == "function"])


#: Second order for several rows of each rule, beyond the one per rule of test_second_order.
SECOND = [spec for spec in SPECS if spec.primal in (np.trace, np.pad, np.diff, np.diagonal, np.cumprod, np.cross)]


@pytest.mark.parametrize("spec, case", params(SECOND, last_case_only=True))
def test_second_order_of_every_row(spec, case, tmp_path_factory):
    check_second_order(spec, case, tmp_path_factory)


# ------------------------------------------------------------------ refused, clearly

@pytest.mark.parametrize("call, message", [
    ("np.pad(a, 1, mode='mean')", "mode='mean'"),
    ("np.pad(a, 1, mode='linear_ramp')", "mode='linear_ramp'"),
    ("np.pad(a, 1, mode='reflect', reflect_type='odd')", "reflect_type='odd'"),
    ("np.cross(a[:2], a[1:])", "3-vectors"),
])
def test_what_the_rules_refuse(call, message, tmp_path):
    f = define(tmp_path, f"def f(a):\n    return np.sum({call})\n")
    with pytest.raises(srcgrad.NoRuleError, match=message) as excinfo:
        srcgrad.gradient(f, np.array([0.5, 1.0, 2.0]))
    assert excinfo.value.filename.endswith(".py") and "rulespec" in excinfo.value.filename


def test_unwrap_is_still_refused_at_the_users_line(tmp_path):
    """np.unwrap has no rule: refused at the user's line, not traced into NumPy's source."""
    f = define(tmp_path, "def f(a):\n    return np.sum(np.unwrap(a))\n")
    with pytest.raises(srcgrad.NoRuleError, match="np.unwrap") as excinfo:
        srcgrad.gradient(f, np.array([0.5, 1.0, 2.0]))
    assert excinfo.value.lineno == f.__code__.co_firstlineno + 1


# ------------------------------------------------------------------ calls that failed before

def test_trace_with_an_offset_of_a_4d_array(tmp_path):
    """np.trace(x, offset=1) of a 4-d array: the other axes batch (the rule put the eye on the wrong axes)."""
    f = define(tmp_path, "def f(a):\n    return np.sum(np.trace(a, offset=1) ** 2)\n")
    a = np.random.default_rng(0).standard_normal((3, 4, 2, 5))
    grad, = check_gradient(f, a)
    expected = np.zeros_like(a)
    for i in range(3):
        if i + 1 < 4:
            expected[i, i + 1] = 2 * np.trace(a, offset=1)
    np.testing.assert_allclose(grad, expected)


def test_row_stack_takes_vstacks_keywords(tmp_path):
    """np.row_stack passes dtype= and casting= on to vstack, whose rule took neither."""
    f = define(tmp_path, "def f(a, b):\n    return np.sum(np.row_stack([a, b]) * np.arange(6.0).reshape(2, 3))\n")
    ga, gb = check_gradient(f, np.ones(3), np.zeros(3))
    np.testing.assert_array_equal(ga, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(gb, [3.0, 4.0, 5.0])


def test_nan_to_num_passes_no_gradient_where_it_replaced(tmp_path):
    f = define(tmp_path, "def f(a):\n    return np.sum(np.nan_to_num(a * 2.0, posinf=7.0) * 3.0)\n")
    grad, = srcgrad.gradient(f, np.array([np.nan, 2.0, np.inf, -np.inf]))
    np.testing.assert_array_equal(grad, [0.0, 6.0, 0.0, 0.0])
    assert srcgrad.jvp(f, (np.array([np.nan, 2.0]),), (np.ones(2),))[1] == 6.0


def test_partition_with_ties(tmp_path):
    """Equal values are interchangeable: whichever of a tie a place holds, the gradient is the same."""
    f = define(tmp_path, "def f(a):\n    return np.sum(np.partition(a, 1) * np.array([1.0, 2.0, 3.0, 4.0]))\n")
    grad, = srcgrad.gradient(f, np.array([3.0, 1.0, 3.0, 0.0]))
    assert sorted(grad[[0, 2]]) == [3.0, 4.0] and list(grad[[1, 3]]) == [2.0, 1.0]
