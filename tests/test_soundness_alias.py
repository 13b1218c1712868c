"""Aliasing the NumPy way (issue 16, items 4-6): writes through views, second names, out=,
in-place methods and helpers give Python's value and the right derivative, or are refused
with the user's file and line (srcgrad/compiler/aliasing.py).

Every program runs three ways: plainly (on copies of its inputs), through reverse mode
(value and gradient, the gradient against central differences) and through forward mode
(value and tangent, against the same differences).
"""

import importlib.util
import itertools
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from gradcheck import numerical_gradient

A = np.array([1.0, 2.0, 3.0])
C = np.array([0.5, 0.25, 1.0])
A6 = np.arange(1.0, 7.0) / 4.0


# --- writes through views of a local array ----------------------------------------------

def slice_aug(a, c):
    y = a * 1.0 + c
    v = y[:1]
    v *= 10
    return np.sum(y)


def slice_store(a, c):
    y = a * 1.0 + c
    v = y[:1]
    v[0] = a[1] * 4.0
    return np.sum(y * y)


def reshape_view(a):
    y = a * 1.0 + 1.0
    v = y.reshape(2, 3)
    v[0, 1] = 7.0 * a[0]
    return np.sum(y * y)


def reshape_store_directly(a):
    y = a * 1.0
    y.reshape(3, 2)[1:] *= 3.0
    return np.sum(y * a)


def transpose_attribute(a):
    y = np.reshape(a * 2.0, (2, 3))
    y.T[0] = a[:2] ** 2
    return np.sum(y * y)


def ravel_view(a):
    y = np.reshape(a * 1.0, (2, 3))
    v = y.ravel()
    v *= a
    return np.sum(y * y)


def transpose_function(a):
    y = np.reshape(a * 1.0, (2, 3))
    v = np.transpose(y)
    v[1] = 3.0
    return np.sum(y * y)


def transpose_axes(a):
    y = np.reshape(a * 1.0, (1, 2, 3))
    v = y.transpose(2, 0, 1)
    v[0] = a[5] * 2.0
    return np.sum(y * y)


def asarray_view(a):
    y = a * 1.0
    v = np.asarray(y)
    v *= 2.0
    return np.sum(y * a)


def swapaxes_view(a):
    y = np.reshape(a * 1.0, (2, 3))
    v = np.swapaxes(y, 0, 1)
    v[0] = a[3:5]
    return np.sum(y * y)


def squeeze_view(a):
    y = np.reshape(a * 1.0, (1, 6))
    v = np.squeeze(y)
    v[2] = a[0] * a[1]
    return np.sum(y * y)


def new_axis_view(a):
    y = a * 1.0
    v = y[..., None]
    v *= 3.0
    return np.sum(y * a)


def column_view(a):
    y = np.reshape(a * 1.0, (2, 3))
    v = y[:, 0]
    v *= a[:2]
    return np.sum(y * y)


def base_written_view_read(a):
    y = a * 1.0
    v = y[2:]
    y[3] = 10.0 * a[0]
    return np.sum(v * v)


def view_of_a_view(a):
    y = np.reshape(a * 1.0, (2, 3))
    row = y[1]
    part = row[1:]
    part *= a[:2]
    return np.sum(y * y) + np.sum(row)


def slice_in_a_loop(a):
    y = a * 1.0
    for i in range(3):
        r = y[i:i + 1]
        r *= 2.0 + i
    return np.sum(y * y)


def advanced_index_copies(a):
    y = a * 1.0
    v = y[[0, 1]]
    v *= 10.0
    return np.sum(y * y) + np.sum(v)


def scalar_item_is_rebound(a):
    y = a * 1.0
    v = y[0]
    v *= 10.0
    return np.sum(y) + v


def two_views_of_one_base(a):
    y = a * 1.0
    v = y[:2]
    w = y[1:]
    v *= 2.0
    return np.sum(w * w)


def view_in_one_branch(a):
    y = a * 1.0
    if a[0] > 5.0:
        v = y[:1]
    else:
        v = a * 2.0
    v *= 10.0
    return np.sum(y * v[0])


def view_of_a_parameter(a):
    v = a[:2]
    v *= 3.0
    return np.sum(a * a)


# --- second names ----------------------------------------------------------------------

def second_name_aug(a, c):
    y = a * 1.0 + c
    z = y
    z *= 3
    return np.sum(y)


def second_name_store(a):
    y = a * 2.0
    z = y
    z[0] = 10.0
    return np.sum(y * a)


def second_name_of_a_number(x):
    y = x * 2.0
    z = y
    z *= 3.0
    return y + z


def second_name_in_a_loop(a):
    y = a * 1.0
    z = y
    for i in range(3):
        z[i] = z[i] * 3.0
    return np.sum(y * a)


def second_name_of_a_list(a):
    lst = [a * 1.0, a * 2.0]
    z = lst
    z.append(a * 3.0)
    return np.sum(lst[2]) + len(lst)


def second_name_of_a_dict(a):
    d = {"k": a * 1.0}
    e = d
    e["j"] = a * 5.0
    return np.sum(d["j"])


def row_of_a_list(x):
    rows = [[1.0, 2.0], [3.0, 4.0]]
    row = rows[0]
    row[1] = x * 3.0
    return rows[0][1] + x


def item_of_an_item(x):
    rows = [[0.0, 0.0], [0.0, 0.0]]
    rows[0][1] = x
    return rows[0][1] * 2.0 + rows[1][0]


def element_of_a_row_of_a_parameter(W, x):
    W[0][1] = x * 3.0
    return np.sum(W * W)


# --- out= and in-place methods ----------------------------------------------------------

def out_keyword(a):
    y = np.zeros(3)
    np.multiply(a, 3, out=y)
    return np.sum(y * a)


def out_into_its_input(a):
    y = a * 1.0
    np.exp(y, out=y)
    return np.sum(y)


def out_returned(a):
    y = a * 1.0
    r = np.sin(a, out=y)
    r *= 2.0
    return np.sum(y)


def out_positional(a):
    b = a * 1.0
    c = np.zeros(3)
    np.arctan(b, c)
    return np.sum(c * a)


def fill_method(a):
    y = a * 2.0
    y.fill(2.0)
    return np.sum(y * a)


def fill_with_a_value(a, c):
    y = a * 2.0
    y.fill(c[0])
    return np.sum(y * a)


def sort_method(a):
    y = a * 2.0
    y.sort()
    return np.sum(y * np.arange(3))


def sort_through_a_view(a):
    y = np.reshape(a * 1.0, (2, 3))
    v = y[1]
    v.sort()
    return np.sum(y * np.arange(6).reshape(2, 3))


# --- the top-level function's own parameters --------------------------------------------

def writes_into_its_parameter(x):
    x[0] = 0.0
    return np.sum(x * x)


def augments_its_parameter(x, w):
    x *= w
    return np.sum(x * x)


REVERSE_AND_FORWARD = [
    (slice_aug, (A, C)), (slice_store, (A, C)), (reshape_view, (A6,)), (reshape_store_directly, (A6,)),
    (transpose_attribute, (A6,)), (ravel_view, (A6,)), (transpose_function, (A6,)), (transpose_axes, (A6,)),
    (asarray_view, (A,)), (swapaxes_view, (A6,)), (squeeze_view, (A6,)), (new_axis_view, (A,)),
    (column_view, (A6,)), (base_written_view_read, (A6,)), (view_of_a_view, (A6,)), (slice_in_a_loop, (A,)),
    (advanced_index_copies, (A,)), (two_views_of_one_base, (A,)), (view_in_one_branch, (A,)), (scalar_item_is_rebound, (A,)), (view_of_a_parameter, (A,)),
    (second_name_aug, (A, C)), (second_name_store, (A,)), (second_name_of_a_number, (1.5,)),
    (second_name_in_a_loop, (A,)), (second_name_of_a_list, (A,)), (second_name_of_a_dict, (A,)),
    (row_of_a_list, (1.5,)), (item_of_an_item, (1.5,)),
    (element_of_a_row_of_a_parameter, (np.arange(4.0).reshape(2, 2), 1.5)),
    (out_keyword, (A,)), (out_into_its_input, (A,)), (out_returned, (A,)), (out_positional, (A,)),
    (fill_method, (A,)), (fill_with_a_value, (A, C)), (sort_method, (np.array([3.0, 1.0, 2.0]),)),
    (sort_through_a_view, (np.array([6.0, 5.0, 4.0, 1.0, 3.0, 2.0]),)),
    (writes_into_its_parameter, (A,)), (augments_its_parameter, (A, C)),
]


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _numerical(fn, args):
    return [numerical_gradient(fn, list(_copies(args)), i) for i in range(len(args))]


def _ids(cases):
    return [fn.__name__ for fn, _ in cases]


@pytest.mark.parametrize("fn, args", REVERSE_AND_FORWARD, ids=_ids(REVERSE_AND_FORWARD))
def test_reverse_mode_gives_pythons_value_and_the_right_gradient(fn, args):
    expected = fn(*_copies(args))
    value, grads = srcgrad.withgradient(fn, *_copies(args))
    assert value == pytest.approx(expected, rel=1e-12)
    for got, want in zip(grads, _numerical(fn, args)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, args", REVERSE_AND_FORWARD, ids=_ids(REVERSE_AND_FORWARD))
def test_forward_mode_gives_pythons_value_and_the_right_tangent(fn, args):
    expected = fn(*_copies(args))
    directions = tuple(np.linspace(0.5, 1.5, np.size(a)).reshape(np.shape(a)) for a in args)
    value, tangent = srcgrad.jvp(fn, _copies(args), directions)
    assert value == pytest.approx(expected, rel=1e-12)
    want = sum(np.sum(g * d) for g, d in zip(_numerical(fn, args), directions))
    assert tangent == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_the_repro_is_twelve_not_three():
    a, c = np.array([1.0]), np.array([0.0])
    y = a * 1.0 + c
    assert srcgrad.withgradient(slice_aug, a, c)[0] == 10.0 == np.sum(slice_aug(a.copy(), c.copy()))
    assert srcgrad.withgradient(slice_aug, A, C)[0] == slice_aug(A.copy(), C.copy()) == 21.25
    assert np.sum(y) == 1.0  # (srcgrad's answer used to be the sum before the write)


def test_the_top_level_function_does_not_change_the_callers_array():
    # Python changes x in place; srcgrad differentiates the function of its input and leaves the
    # caller's array as it was (SPEC: srcgrad does not mutate the caller's arguments).
    x = A.copy()
    value, (g,) = srcgrad.withgradient(writes_into_its_parameter, x)
    np.testing.assert_array_equal(x, A)
    assert value == writes_into_its_parameter(A.copy())
    np.testing.assert_allclose(g, [0.0, 4.0, 6.0])
    value, tangent = srcgrad.jvp(writes_into_its_parameter, (x,), (np.ones(3),))
    np.testing.assert_array_equal(x, A)
    assert tangent == pytest.approx(10.0)


def test_a_writes_generated_source_reads_as_the_rebuilt_base():
    source = srcgrad.adjoint_source(slice_aug)
    assert "shares = viewed(v, y" in source and "y = with_item(y, index, v_2)" in source


def test_second_order_through_a_write_into_a_view():
    def slope(a):
        return srcgrad.gradient(view_write_cubed, a)[0][0]

    h = srcgrad.gradient(slope, np.array([0.5, 2.0]))[0]
    np.testing.assert_allclose(h, [162 * 0.5, 0.0], rtol=1e-6)  # d2/da0^2 of (3 a0)^3


def test_hessian_through_a_view_and_a_second_name():
    a = np.array([0.5, 1.2, 0.7])
    hessian = srcgrad.hessian(view_then_second_name, a)

    def slope(x):
        return srcgrad.gradient(view_then_second_name, x)[0]

    eps = 1e-5
    numerical = np.array([(slope(a + eps * e) - slope(a - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(hessian, numerical, atol=1e-5)


def view_then_second_name(a):
    y = a * 1.0
    v = y[:2]
    v *= a[2]
    z = y
    z[2] = a[0] * a[1]
    return np.sum(y ** 3)


def view_write_cubed(a):
    y = a * 1.0
    v = y[:1]
    v *= 3.0
    return np.sum(y ** 3)


# --- refused, with the user's file and line ------------------------------------------

def flipped_view_read_after_write(a):
    y = np.reshape(a * 1.0, (2, 3))
    d = np.flip(y)
    y[0, 0] = 5.0  # refused
    return np.sum(d)


def same_array_twice(x, w):
    x[0] = 0.0  # refused
    return np.sum(x * w)


def out_into_a_slice(a):
    y = np.zeros(3)
    np.multiply(a, 2.0, out=y[:2])  # refused
    return np.sum(y)


def out_inside_an_expression(a):
    y = np.zeros(3)
    return np.sum(np.exp(a, out=y))  # refused


def rows_of_a_loop(a):
    y = np.reshape(a * 1.0, (2, 3))
    for row in y:
        row *= 2.0  # refused
    return np.sum(y * y)


def view_in_the_branch_taken(a):
    y = a * 1.0
    if a[0] < 5.0:
        v = y[:1]
    else:
        v = a * 2.0
    v *= 10.0  # refused
    return np.sum(y)


def first_part(x):
    return x[:1]


def view_from_a_helper(a):
    y = a * 1.0
    v = first_part(y)
    v *= 10.0  # refused
    return np.sum(y)


def doubles_a_view_of(x):
    v = x[:1]
    v *= 2.0
    return np.sum(x)


def helper_writes_through_a_view(a):
    y = a * 1.0
    s = doubles_a_view_of(y)  # refused
    return s + np.sum(y * y)


def list_insert(a, b):
    lst = [a]
    lst.insert(0, b)  # refused
    return lst[0] * 2.0


def list_pop(a, b):
    lst = [a, b]
    v = lst.pop()  # refused
    return v * 3.0 + lst[0]


def list_sort(a, b):
    lst = [a, b]
    lst.sort()  # refused
    return lst[0]


def put_method(a):
    y = a * 1.0
    y.put([0], 5.0)  # refused
    return np.sum(y)


def copyto_call(a):
    y = np.zeros(3)
    np.copyto(y, a)  # refused
    return np.sum(y)


def writes_a_global(a):
    BUFFER[0] = a[0]  # refused
    return np.sum(BUFFER)


BUFFER = np.zeros(3)


def scale_into(h, v):
    h[0] = v * 2.0


def append_into(lst, v):
    lst.append(v)


def store_into(d, v):
    d["k"] = v


def augment(x):
    x += 1.0
    return x


def helper_fills(a):
    h = np.zeros(2)
    scale_into(h, a)  # refused
    return np.sum(h)


def helper_appends(a):
    lst = [a]
    append_into(lst, a * 3.0)  # refused
    return lst[-1]


def helper_stores(a):
    d = {"j": a}
    store_into(d, a * 2.0)  # refused
    return d["k"]


def helper_through_another(a):
    h = np.zeros(2)
    calls_scale_into(h, a)  # refused
    return np.sum(h)


def calls_scale_into(h, v):
    scale_into(h, v)


def helper_augments_an_array(a):
    y = a * 1.0
    augment(y)  # refused
    return np.sum(y)


def nested_helper_fills(a):
    def fill_first(h, v):
        h[0] = v * 2.0

    y = np.zeros(2)
    fill_first(y, a)  # refused
    return np.sum(y)


def helper_augments_a_number(x):
    return augment(x) * 2.0


REFUSED = [
    (flipped_view_read_after_write, (A6,), "shares memory with 'd'"),
    (rows_of_a_loop, (A6,), "shares memory with 'y'"),
    (view_in_the_branch_taken, (A,), "shares memory with 'y'"),
    (view_from_a_helper, (A,), "shares memory with 'y'"),
    (helper_writes_through_a_view, (A,), "doubles_a_view_of"),
    (out_into_a_slice, (A,), "out= argument that is not a local"),
    (out_inside_an_expression, (A,), "out= argument inside a larger expression"),
    (put_method, (A,), ".put()"),
    (list_insert, (1.0, 2.0), "list.insert()"),
    (list_pop, (1.0, 2.0), "list.pop()"),
    (list_sort, (1.0, 2.0), "list.sort()"),
    (copyto_call, (A,), "np.copyto"),
    (writes_a_global, (A,), "global"),
    (helper_fills, (1.5,), "scale_into"),
    (helper_appends, (1.5,), "append_into"),
    (helper_stores, (1.5,), "store_into"),
    (helper_through_another, (1.5,), "calls_scale_into"),
    (helper_augments_an_array, (A,), "augment"),
    (nested_helper_fills, (1.5,), "fill_first"),
]


def _marked_line(fn):
    import inspect

    lines, first = inspect.getsourcelines(fn)
    (offset,) = [i for i, text in enumerate(lines) if "# refused" in text]
    return first + offset


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn, args, what", REFUSED, ids=[fn.__name__ for fn, _, _ in REFUSED])
def test_refused_with_file_line_and_fix(fn, args, what, mode):
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        if mode == "reverse":
            srcgrad.gradient(fn, *_copies(args))
        else:
            srcgrad.jvp(fn, _copies(args), tuple(np.ones_like(a) for a in args))
    message = str(info.value)
    assert f"{Path(__file__).name}:{_marked_line(fn)}" in message
    assert what in message and "Fix:" in message


def test_a_helper_refusal_names_the_helpers_line_and_the_fix():
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.gradient(helper_fills, 1.5)
    message = str(info.value)
    assert f"{Path(__file__).name}:{scale_into.__code__.co_firstlineno + 1}: 'h[0] = ...'" in message
    assert "h = scale_into(h, a)" in message and "return h" in message


def test_the_same_array_passed_twice_is_refused_where_it_is_written():
    x = A.copy()
    where = f"{Path(__file__).name}:{_marked_line(same_array_twice)}.*shares memory with 'w'"
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match=where):
        srcgrad.gradient(same_array_twice, x, x)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match=where):
        srcgrad.jvp(same_array_twice, (x, x), (np.ones(3), np.ones(3)))
    np.testing.assert_allclose(srcgrad.gradient(same_array_twice, A.copy(), C.copy())[1], [0.0, 2.0, 3.0])


def test_a_nested_helper_that_returns_its_new_value_is_followed():
    def copies_then_fills(a):
        def fill_first(h, v):
            h = h.copy()
            h[0] = v * 2.0
            return h

        y = np.zeros(2)
        y = fill_first(y, a)
        return np.sum(y)

    assert srcgrad.gradient(copies_then_fills, 1.5) == (2.0,)
    assert srcgrad.derivative(copies_then_fills, 1.5) == 2.0


class Regulariser:
    def add_term(self, terms, w):
        terms.append(np.sum(w * w))

    def fill_first(self, h, v):
        h[0] = v


def method_appends(w, reg):
    terms = [np.sum(w)]
    reg.add_term(terms, w)  # refused
    return terms[0] + terms[-1]


def function_value_fills(w, fill_first):
    h = np.zeros(2)
    fill_first(h, w[0])  # refused
    return np.sum(h)


def method_whose_write_is_not_read(w, reg):
    h = np.zeros(2)
    reg.fill_first(h, w[0])
    return w[0] * 2.0


@pytest.mark.parametrize("fn, args", [
    (method_appends, (A[:2], Regulariser())),
    (function_value_fills, (A[:2], scale_into)),
    (function_value_fills, (A[:2], Regulariser().fill_first)),
], ids=["method", "function value", "bound method"])
def test_a_callee_known_only_at_run_time_is_checked_before_the_call(fn, args):
    where = f"{Path(__file__).name}:{_marked_line(fn)}.*changes its parameter"
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match=where):
        srcgrad.gradient(fn, *args)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match=where):
        srcgrad.jvp(fn, args, (np.ones(2), None))
    assert srcgrad.gradient(method_whose_write_is_not_read, A[:2], Regulariser())[0].tolist() == [2.0, 0.0]


def fills_and_returns(h, v):
    h[0] = v * 2.0
    return h


def follows_the_fix(a):
    h = np.zeros(2)
    h = fills_and_returns(h, a)
    return np.sum(h)


def test_the_fix_the_refusal_suggests_is_accepted():
    assert srcgrad.gradient(follows_the_fix, 1.5) == (2.0,)
    assert srcgrad.derivative(follows_the_fix, 1.5) == 2.0


def test_a_helper_augmenting_a_number_is_not_refused():
    assert srcgrad.gradient(helper_augments_a_number, 1.5) == (2.0,)
    assert srcgrad.derivative(helper_augments_a_number, 1.5) == 2.0


def test_a_helper_whose_write_nobody_reads_again_is_not_refused():
    def fills_then_returns(x):
        return np.sum(filled_copy(x, np.zeros(3)))

    np.testing.assert_allclose(srcgrad.gradient(fills_then_returns, A)[0], [2.0, 2.0, 2.0])


def filled_copy(x, out):
    out[:] = x * 2.0
    return out


def test_helpers_from_another_module_are_refused_in_both_modes(tmp_path):
    module = _module(tmp_path, "other_helpers", """
        import numpy as np


        def fill(h, v):
            h[0] = v * 2.0


        def add_term(terms, v):
            terms.append(v * v)


        def remember(d, v):
            d["reg"] = v * 0.5
    """)
    caller = _module(tmp_path, "caller_module", """
        import numpy as np
        from other_helpers import fill, add_term, remember


        def uses_fill(a):
            h = np.zeros(2)
            fill(h, a)
            return np.sum(h)


        def uses_append(a):
            terms = [a]
            add_term(terms, a)
            return terms[0] + terms[-1]


        def uses_dict(a):
            d = {}
            remember(d, a)
            return d["reg"]
    """)
    for fn, line, helper_line in [(caller.uses_fill, 7, 5), (caller.uses_append, 13, 9), (caller.uses_dict, 19, 13)]:
        for run in (lambda: srcgrad.gradient(fn, 1.5), lambda: srcgrad.derivative(fn, 1.5),
                    lambda: srcgrad.jvp(fn, (1.5,), (1.0,))):
            with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
                run()
            assert f"caller_module.py:{line}" in str(info.value)
            assert f"other_helpers.py:{helper_line}" in str(info.value)


def _module(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    sys.path.insert(0, str(tmp_path))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(tmp_path))
    return module


# --- property: any view kind x any write kind x any read ----------------------------

VIEWS = {
    "same": "v = y",
    "slice": "v = y[:, 1:]",
    "row": "v = y[1]",
    "column": "v = y[:, 0]",
    "T": "v = y.T",
    "reshape": "v = y.reshape(3, 2)",
    "ravel": "v = y.ravel()",
    "transpose": "v = np.transpose(y)",
    "new_axis": "v = y[..., None]",
    "asarray": "v = np.asarray(y)",
    "advanced": "v = y[[0, 1]]",
    "copy": "v = y.copy()",
    "flip": "v = np.flip(y)",
    "swapaxes": "v = y.swapaxes(0, 1)",
}
WRITES = {
    "times": "v *= 3.0",
    "plus_active": "v += a[0]",
    "store_all": "v[...] = 2.0 * a[1]",
    "store_first": "v[0] = a[2] ** 2",
    "fill": "v.fill(a[3])",
    "out": "np.multiply(v, a[4], out=v)",
    "base_times": "y *= 1.5",
    "base_store": "y[0, 0] = a[5] * 4.0",
}
READS = {
    "base": "np.sum(y * y)",
    "view": "np.sum(v * v)",
    "both": "np.sum(y * y) + np.sum(v)",
}
_generated = Path(tempfile.mkdtemp(prefix="srcgrad_alias_"))
_counter = itertools.count()


def _pattern(view, write, read):
    name = f"pattern_{next(_counter)}"
    module = _module(_generated, name, f"""
        import numpy as np


        def f(a):
            y = np.reshape(a * 1.0 + 0.5, (2, 3))
            {VIEWS[view]}
            {WRITES[write]}
            return {READS[read]}
    """)
    return module.f


def test_aliasing_patterns_follow_python_or_are_refused():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    @hypothesis.settings(max_examples=50, deadline=None, derandomize=True)
    @hypothesis.given(st.sampled_from(sorted(VIEWS)), st.sampled_from(sorted(WRITES)), st.sampled_from(sorted(READS)))
    def check(view, write, read):
        f = _pattern(view, write, read)
        a = np.linspace(0.3, 1.4, 6)
        try:
            expected = f(a.copy())
        except (ValueError, TypeError, IndexError):
            return  # Python refuses it too (a read-only view, a shape that does not broadcast)
        try:
            value, (g,) = srcgrad.withgradient(f, a.copy())
            fvalue, tangent = srcgrad.jvp(f, (a.copy(),), (np.ones(6),))
        except srcgrad.UnsupportedSyntaxError as error:
            assert "Fix:" in str(error)
            return
        assert value == pytest.approx(expected, rel=1e-12) and fvalue == pytest.approx(expected, rel=1e-12)
        want = numerical_gradient(f, [a.copy()], 0)
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
        assert tangent == pytest.approx(np.sum(want), rel=1e-5, abs=1e-6)

    check()


def evens(v):
    return v[::2]


def odds(v):
    return v[1::2]


def write_into_evens_read_odds(x):
    y = x * 1.0
    a = evens(y)
    b = odds(y)
    a *= 3.0
    return np.sum(a) + np.sum(b * b)


def write_into_evens_read_all(x):
    y = x * 1.0
    a = evens(y)
    b = y[:]
    a *= 3.0
    return np.sum(a) + np.sum(b * b)


def test_interleaved_slices_that_share_no_element_are_not_refused():
    """np.may_share_memory says yes for x[::2] and x[1::2]; the write is refused only where the
    arrays really share memory (np.shares_memory), so this one runs, and is right."""
    x = np.arange(6.0)
    value, (g,) = srcgrad.withgradient(write_into_evens_read_odds, x)
    assert value == write_into_evens_read_odds(x)
    np.testing.assert_allclose(g, numerical_gradient(write_into_evens_read_odds, [x], 0), rtol=1e-6)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="shares memory"):
        srcgrad.gradient(write_into_evens_read_all, x)
