"""adjoint_source and tangent_source: the variant for a call's kinds, the notebook display, what is shown.

What is shown may differ from what runs only where it means exactly the same
(srcgrad/compiler/display.py); each rewrite is checked against the helper it
stands for, on the kinds it is applied for.
"""

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.display import shown
from srcgrad.rules.linalg import matmul_grad_a, matmul_grad_b


def logistic(r, x, n):
    for i in range(n):
        x = r * x * (1.0 - x)
    return x


def regression(W, b, x, y):
    y_cap = W @ x + b
    return np.sum((y - y_cap) ** 2)


def cubic(x):
    return 3 * x ** 3 - 2 * x + 1


def less_than(x):
    return np.sum(np.where(x < 0.5, x, 0.0))


def linear(n_in, n_out):
    W = np.ones((n_out, n_in))
    b = np.zeros(n_out)
    return lambda x: W @ x + b


def over(xs, t):
    total = 0.0
    for x in xs:
        total = total + t * x
    return total


def test_with_numbers_a_loop_shows_the_variant_that_runs_for_numbers():
    general = srcgrad.adjoint_source(logistic)
    numbers = srcgrad.adjoint_source(logistic, 3.2, 0.3, 10)
    assert "unbroadcast" in general and "accum(" in general
    assert "unbroadcast" not in numbers and "accum(" not in numbers
    assert "dr = x * dprod if dr is None else dr + x * dprod" in numbers
    assert len(numbers.splitlines()) < len(general.splitlines())
    # with arrays, the general code's unbroadcasts stay: r may be a number and x a vector
    assert "unbroadcast" in srcgrad.adjoint_source(logistic, 3.2, np.full(3, 0.3), 10)
    assert srcgrad.adjoint_source(logistic) == general  # (asking for a variant leaves the general one as it was)


def test_what_is_shown_for_a_call_is_what_the_call_runs():
    # the variant shown computes the same gradient as srcgrad.gradient for those arguments
    from srcgrad.calls.cache import adjoint_of
    from srcgrad.calls.dispatch import specialised

    entry = specialised(adjoint_of(logistic), (3.2, 0.3, 10), logistic)
    assert entry.kinds == (0, 0, 0)
    assert srcgrad.adjoint_source(logistic, 3.2, 0.3, 10) == shown(entry.source, {"r": 0, "x": 0, "n": 0})


def test_a_str_displayed_highlighted_in_a_notebook():
    source = srcgrad.adjoint_source(less_than)
    assert isinstance(source, str) and type(source) is not str
    assert source.startswith("def less_than_forward(x):") and source == str(source)
    assert repr(source) == repr(str(source))
    page = source._repr_html_()
    assert "<pre" in page and 'class="tok-kw"' in page and "<span" in page
    assert "&lt;" in page and "x < 0.5" not in page  # (escaped)
    assert isinstance(srcgrad.tangent_source(less_than), str)
    assert "<span" in srcgrad.tangent_source(less_than)._repr_html_()


def test_a_sums_negative_term_is_subtracted():
    assert "dx = 9 * x ** 2 * dy - 2 * dy" in srcgrad.adjoint_source(cubic)
    assert "9 * x ** 2 * dx - 2 * dx" in srcgrad.tangent_source(cubic)
    assert "+ -" not in srcgrad.adjoint_source(cubic)
    assert srcgrad.gradient(cubic, 2.0) == (34.0,)


def test_performance_names_are_shown_as_the_operation_they_stand_for():
    general = srcgrad.adjoint_source(regression)
    assert "np.sum(power)" in general and "array_sum" not in general
    assert "matmul_grad_a(dmm, W, x)" in general  # (W's and x's dimensions unknown: the name stays)
    call = srcgrad.adjoint_source(regression, np.ones((2, 3)), np.zeros(2), np.ones(3), np.ones(2))
    assert "dW = np.outer(dmm, x)" in call and "dx = W.T @ dmm" in call
    batch = srcgrad.adjoint_source(regression, np.ones((2, 3)), np.zeros((2, 1)), np.ones((3, 4)), np.ones((2, 4)))
    assert "dW = dmm @ x.T" in batch and "dx = W.T @ dmm" in batch
    assert len(call.splitlines()) == len(general.splitlines())  # (one line each, comments kept)
    # the code that runs keeps the fast helpers
    from srcgrad.calls.cache import adjoint_of
    assert "array_sum(power)" in adjoint_of(regression).source


def test_a_closures_captured_arrays_count_for_a_call():
    layer = linear(3, 2)
    call = srcgrad.adjoint_source(layer, np.ones(3))
    assert "dW = np.outer(dmm, x)" in call and "dx = W.T @ dmm" in call
    assert "matmul_grad_a" in srcgrad.adjoint_source(layer)


PRODUCTS = ("def f_forward(a, b):\n    return (a @ b, (a, b))\n\n"
            "def f_backward(saved, dy):\n    a, b = saved\n"
            "    return (matmul_grad_a(dy, a, b), matmul_grad_b(dy, a, b))\n")


@pytest.mark.parametrize("na, nb", [(2, 2), (2, 1), (1, 1), (1, 2)])
def test_each_product_shown_computes_the_helper_it_stands_for(na, nb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4) if na == 2 else (4,))
    b = rng.standard_normal((4, 5) if nb == 2 else (4,))
    dy = rng.standard_normal(np.shape(a @ b))
    text = shown(PRODUCTS, {"a": na, "b": nb})
    assert "matmul_grad" not in text
    line = text.splitlines()[-1].strip()
    ga, gb = eval(line[len("return "):], {"np": np, "a": a, "b": b, "dy": dy})
    np.testing.assert_array_equal(ga, matmul_grad_a(dy, a, b))
    np.testing.assert_array_equal(gb, matmul_grad_b(dy, a, b))


def test_names_rebound_or_unknown_keep_the_helper():
    source = ("def f_forward(a, b):\n    a = a * 2\n    return (a @ b, (a, b))\n\n"
              "def f_backward(saved, dy):\n    a, b = saved\n    return (matmul_grad_a(dy, a, b),)\n")
    assert "matmul_grad_a(dy, a, b)" in shown(source, {"a": 2, "b": 2})  # (a rebound in the forward)
    assert "matmul_grad_a(dy, a, b)" in shown(source, {"b": 2})
    # a user's own function that happens to be called array_sum is not NumPy's sum
    mine = "def f_forward(x):\n    return (array_sum(x), (x,))\n"
    assert "array_sum(x)" in shown(mine, names={"array_sum": len})
    assert shown("def broken(:\n") == "def broken(:\n"


def test_shown_is_idempotent_and_keeps_every_other_line():
    call = srcgrad.adjoint_source(regression, np.ones((2, 3)), np.zeros(2), np.ones(3), np.ones(2))
    assert shown(call, {"W": 2, "x": 1}) == call
    from srcgrad.calls.cache import adjoint_of
    raw = adjoint_of(regression).source.splitlines()
    assert [a == b for a, b in zip(raw, call.splitlines())].count(False) == 3  # array_sum, dW, dx


def test_a_sequence_argument_that_is_an_array_is_itself():
    call = srcgrad.adjoint_source(over, np.ones(3), 2.0)
    assert "sequence = xs" in call and "as_sequence" not in call and "keep_unless_dict" not in call
    assert "as_sequence(xs)" in srcgrad.adjoint_source(over, [1.0, 2.0], 2.0)  # (a list: unknown kind)


def test_methods_and_differentiable_functions_take_arguments_too():
    class Affine:
        def __init__(self):
            self.W = np.ones((2, 3))

        def __call__(self, x):
            return np.sum(self.W @ x)

    shown_ = srcgrad.adjoint_source(Affine(), np.ones(3))
    assert "def Affine_call_backward" in shown_ and isinstance(shown_, str)
    f = srcgrad.differentiable(logistic)
    assert f.adjoint_source(3.2, 0.3, 10) == srcgrad.adjoint_source(logistic, 3.2, 0.3, 10)
    assert f.tangent_source(3.2, 0.3, 10) == srcgrad.tangent_source(logistic)


def test_arguments_that_do_not_fit_say_so():
    with pytest.raises(TypeError, match="do not fit"):
        srcgrad.adjoint_source(regression, 1.0)
    with pytest.raises(TypeError, match="no Python source"):
        srcgrad.adjoint_source(np.sin, 1.0)


def test_a_matrix_times_a_batch_keeps_the_helper_for_the_matrix_only():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4, 5))
    dy = rng.standard_normal((2, 3, 5))
    line = shown(PRODUCTS, {"a": 2, "b": 3}).splitlines()[-1].strip()
    assert line == "return (matmul_grad_a(dy, a, b), a.T @ dy)"
    np.testing.assert_array_equal(a.T @ dy, matmul_grad_b(dy, a, b))


class Affine:
    def __init__(self):
        self.W = np.ones((2, 3))
        self.b = np.zeros(2)

    def __call__(self, x):
        return self.W @ x + self.b


def test_an_objects_fields_count_for_a_call_when_read_before_any_call():
    call = srcgrad.adjoint_source(Affine(), np.ones(3))
    assert "dW = np.outer(dmm, x)" in call and "dx = W.T @ dmm" in call
    assert "matmul_grad_a(dmm, W, x)" in srcgrad.adjoint_source(Affine())
    source = ("def f_forward(self, x):\n    g(self)\n    W = self.W\n    return (W @ x, (W, x))\n\n"
              "def f_backward(saved, dy):\n    W, x = saved\n    return (matmul_grad_a(dy, W, x),)\n")
    assert "matmul_grad_a(dy, W, x)" in shown(source, {"self.W": 2, "x": 1})  # (read after a call)
    assert "np.outer(dy, x)" in shown(source.replace("    g(self)\n", ""), {"self.W": 2, "x": 1})
