"""Issue 16: the cache serves a function only what was compiled for what it holds; bounded memory;
the source read is the running code's (or a clear refusal); deep recursion.

Each repro here gave another function's derivative, or the new text's, with no error.
"""

import gc
import importlib
import linecache
import sys
import textwrap
import types

import numpy as np
import pytest

import srcgrad
from srcgrad.calls import cache
from srcgrad.errors import SourceNotFoundError, StaleSourceError
from srcgrad.calls import dispatch

from gradcheck import check_gradient

X = np.array([1.0, 2.0, 3.0])


def make(fun):
    return lambda x: fun(x)


# ------------------------------------------------------------ two closures of one def


def test_two_closures_over_different_functions_get_their_own_gradients():
    srcgrad.clear_cache()
    (g_sum,) = srcgrad.gradient(make(np.sum), X)
    (g_prod,) = srcgrad.gradient(make(np.prod), X)
    np.testing.assert_allclose(g_sum, np.ones(3))
    np.testing.assert_allclose(g_prod, [6.0, 3.0, 2.0])
    # Alternating, each keeps its own compiled entry (no recompiling on each switch).
    sums, prods = make(np.sum), make(np.prod)
    misses = srcgrad.cache_info().misses
    for _ in range(3):
        np.testing.assert_allclose(srcgrad.gradient(prods, X)[0], [6.0, 3.0, 2.0])
        np.testing.assert_allclose(srcgrad.gradient(sums, X)[0], np.ones(3))
    assert srcgrad.cache_info().misses == misses


def test_two_closures_in_forward_mode():
    srcgrad.clear_cache()
    assert srcgrad.jvp(make(np.sin), (1.0,), (1.0,)) == (np.sin(1.0), np.cos(1.0))
    assert srcgrad.jvp(make(np.cos), (1.0,), (1.0,)) == (np.cos(1.0), -np.sin(1.0))
    assert srcgrad.derivative(make(np.sin), 0.5) == np.cos(0.5)
    assert srcgrad.derivative(make(np.tanh), 0.5) == pytest.approx(1 - np.tanh(0.5) ** 2)


def test_closures_called_inside_differentiated_code_through_the_direct_tables():
    srcgrad.clear_cache()
    fs = [make(np.sin), make(np.cos)]

    def total(x):
        return fs[0](x) + fs[1](x) * 2.0

    for x in (0.3, 0.7):  # (the second time through cache.direct)
        assert srcgrad.gradient(total, x)[0] == pytest.approx(np.cos(x) - 2.0 * np.sin(x))
    check_gradient(total, 0.4)


def loop_of(fun):
    def power(x, n):
        y = x
        for _ in range(n):
            y = fun(y)
        return y
    return power


def test_closures_with_a_loop_through_the_direct_loop_table():
    srcgrad.clear_cache()
    sines, tanhs = loop_of(np.sin), loop_of(np.tanh)

    def both(x):
        return sines(x, 3) + tanhs(x, 2)

    for x in (0.3, 0.6, 0.9):
        value, (g,) = srcgrad.withgradient(both, x)
        assert value == both(x)
        assert g == pytest.approx(check_gradient(both, x)[0], rel=1e-6)


# ------------------------------------------------------------ one code, other globals


def test_one_code_object_in_two_namespaces(tmp_path):
    path = tmp_path / "shared_code.py"
    path.write_text("def f(x):\n    return g(x) * 2.0\n")
    code = compile(path.read_text(), str(path), "exec")
    a, b = {"g": np.sin}, {"g": np.cos}
    exec(code, a)
    exec(code, b)
    assert a["f"].__code__ is b["f"].__code__
    srcgrad.clear_cache()
    assert srcgrad.gradient(a["f"], 1.0) == (2.0 * np.cos(1.0),)
    assert srcgrad.gradient(b["f"], 1.0) == (-2.0 * np.sin(1.0),)
    # types.FunctionType(code, other_globals): the same.
    c = types.FunctionType(a["f"].__code__, {"g": np.exp})
    assert srcgrad.gradient(c, 1.0) == (2.0 * np.exp(1.0),)
    assert srcgrad.jvp(c, (1.0,), (1.0,))[1] == 2.0 * np.exp(1.0)
    assert srcgrad.gradient(a["f"], 1.0) == (2.0 * np.cos(1.0),)


# ------------------------------------------------------------ rebinding after the first gradient


def square(x):
    return x * x


def cube(x):
    return x * x * x


helper = square


def calls_helper(x):
    return helper(x) + 1.0


def test_a_global_helper_rebound_after_the_first_gradient():
    global helper
    srcgrad.clear_cache()
    try:
        assert srcgrad.gradient(calls_helper, 2.0) == (4.0,)
        helper = cube
        assert srcgrad.gradient(calls_helper, 2.0) == (12.0,)
        assert srcgrad.jvp(calls_helper, (2.0,), (1.0,))[1] == 12.0
    finally:
        helper = square


def replaced(x):
    return x * x


def calls_replaced(x):
    return replaced(x) * 3.0


def test_a_helper_whose_code_is_replaced():
    srcgrad.clear_cache()
    old = replaced.__code__
    try:
        assert srcgrad.gradient(calls_replaced, 2.0) == (12.0,)
        replaced.__code__ = cube.__code__
        assert calls_replaced(2.0) == 24.0
        assert srcgrad.gradient(calls_replaced, 2.0) == (36.0,)
        assert srcgrad.jvp(calls_replaced, (2.0,), (1.0,))[1] == 36.0
    finally:
        replaced.__code__ = old


g = np.sin


def calls_g(x):
    return g(x)


def test_a_global_numpy_function_rebound():
    global g
    srcgrad.clear_cache()
    try:
        assert srcgrad.gradient(calls_g, 1.0) == (np.cos(1.0),)
        assert srcgrad.derivative(calls_g, 1.0) == np.cos(1.0)
        g = np.cos
        assert srcgrad.gradient(calls_g, 1.0) == (-np.sin(1.0),)
        assert srcgrad.derivative(calls_g, 1.0) == -np.sin(1.0)
    finally:
        g = np.sin


def with_default(x, act=np.sin):
    return act(x)


def test_a_default_argument_holding_a_function():
    srcgrad.clear_cache()
    assert srcgrad.gradient(with_default, 1.0) == (np.cos(1.0),)
    old = with_default.__defaults__
    try:
        with_default.__defaults__ = (np.cos,)
        assert srcgrad.gradient(with_default, 1.0) == (-np.sin(1.0),)
    finally:
        with_default.__defaults__ = old

    def defaults_of(act):
        def f(x, a=act):
            return a(x) * 2.0
        return f

    assert srcgrad.gradient(defaults_of(np.sin), 1.0) == (2.0 * np.cos(1.0),)
    assert srcgrad.gradient(defaults_of(np.exp), 1.0) == (2.0 * np.exp(1.0),)


def uses_np_sin(x):
    return np.sin(x) * 2.0


def test_patching_np_sin_keeps_value_and_gradient_together(monkeypatch):
    srcgrad.clear_cache()
    assert srcgrad.gradient(uses_np_sin, 1.0) == (2.0 * np.cos(1.0),)
    monkeypatch.setattr(np, "sin", lambda x: x ** 3)
    value, (grad,) = srcgrad.withgradient(uses_np_sin, 1.5)
    assert value == uses_np_sin(1.5) == 2.0 * 1.5 ** 3
    assert grad == pytest.approx(6.0 * 1.5 ** 2)  # the patched function's, not np.sin's rule
    assert srcgrad.jvp(uses_np_sin, (1.5,), (1.0,))[1] == pytest.approx(6.0 * 1.5 ** 2)
    monkeypatch.undo()
    assert srcgrad.gradient(uses_np_sin, 1.0) == (2.0 * np.cos(1.0),)


W = np.array([1.0, 2.0])


def reads_global_array(x):
    return np.sum(W * x)


def test_rebinding_a_global_array_does_not_recompile():
    """A guard on data checks its type and dtype, not its identity: a training loop's rebinding is free."""
    global W
    srcgrad.clear_cache()
    old = W
    try:
        assert srcgrad.gradient(reads_global_array, 1.0) == (3.0,)
        misses = srcgrad.cache_info().misses
        for k in range(3):
            W = W * 2.0
            assert srcgrad.gradient(reads_global_array, 1.0) == (np.sum(W),)
        assert srcgrad.cache_info().misses == misses
    finally:
        W = old


# ------------------------------------------------------------ bounded memory


def test_a_notebook_cell_run_again_does_not_grow_the_cache(monkeypatch):
    """Each run defines a new function (new code); entries of old ones go, and an old code's id
    reused by a new code object never finds the old entry."""
    monkeypatch.setattr(cache, "MAX_CODES", 16)
    srcgrad.clear_cache()
    gc.collect()
    generated = len([name for name in linecache.cache if name.startswith("<srcgrad:")])
    filename = "<notebook cell>"
    for run in range(120):
        k = 2 + run % 3
        text = f"def f(x):\n    return x ** {k} + 1.0\n"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        namespace = {}
        exec(compile(text, filename, "exec"), namespace)
        f = namespace["f"]
        assert srcgrad.gradient(f, 2.0) == (k * 2.0 ** (k - 1),)
        assert srcgrad.gradient(f, 2.0) == (k * 2.0 ** (k - 1),)  # (through cache.direct)
    assert srcgrad.cache_info().size <= 16
    assert len(cache.direct) <= 3 * 16
    assert len(cache._codes) <= 16
    gc.collect()  # (the generated source of a dropped entry goes with its last function)
    assert len([name for name in linecache.cache if name.startswith("<srcgrad:")]) - generated <= 4 * 16
    linecache.cache.pop(filename, None)


def cubes_through_a_pullback(x):
    y, back = srcgrad.pullback(lambda z: z ** 3, x)
    return back(1.0)[0] * x


def test_a_closure_outliving_its_evicted_generated_function_can_be_differentiated(monkeypatch):
    """A generated function's source went when the function did, though a closure it made (the
    ``back`` of a pullback, its code from the same file) was still alive: differentiating that
    closure later was a SourceNotFoundError naming srcgrad's own generated file. The source now
    stays while any of the file's code objects does."""
    monkeypatch.setattr(cache, "MAX_CODES", 2)
    srcgrad.clear_cache()
    _, back = srcgrad.pullback(lambda z: np.sin(z) * z, 0.7)
    for k in range(6):  # (evicts the entries the pullback made; only back keeps their code alive)
        assert srcgrad.gradient(lambda x, k=k: x ** 2 * k, 1.0) == (2.0 * k,)
    gc.collect()
    # back(dy)[0] as a function of dy is linear: its derivative is the first derivative itself
    assert srcgrad.derivative(lambda dy: back(dy)[0], 1.0) == pytest.approx(np.cos(0.7) * 0.7 + np.sin(0.7))
    assert srcgrad.hessian(cubes_through_a_pullback, 0.5) == pytest.approx(18 * 0.5)  # (3 x ** 3)


def test_an_evicted_function_is_compiled_again_and_right(monkeypatch):
    monkeypatch.setattr(cache, "MAX_CODES", 4)
    srcgrad.clear_cache()
    fs = [make(fun) for fun in (np.sin, np.cos, np.exp, np.tanh)]
    others = [loop_of(np.sin) for _ in range(6)]
    for k in range(2):
        for other in others:
            assert srcgrad.gradient(other, 0.5, 1)[0] == np.cos(0.5)
        assert srcgrad.gradient(fs[0], 0.5) == (np.cos(0.5),)
        assert srcgrad.gradient(fs[2], 0.5) == (np.exp(0.5),)
        assert srcgrad.gradient(lambda x: x ** 2 * 3.0, 0.5) == (3.0,)
    assert len(cache._codes) <= 4


# ------------------------------------------------------------ the source is the running code's


MODULE = """\
import numpy as np


def f(x):
    return x ** 2


class C:
    def m(self, x):
        return x ** 2


def outer():
    def inner(x):
        return x ** 2
    return inner


lam = lambda x: x ** 2
"""


@pytest.fixture
def edited_module(tmp_path, monkeypatch):
    """A module imported, then its file edited (same length: ``** 2`` becomes ``** 3``), not reloaded."""
    name = f"edited_{abs(hash(str(tmp_path)))}"
    path = tmp_path / f"{name}.py"
    path.write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module, path
    sys.modules.pop(name, None)
    linecache.cache.pop(str(path), None)


@pytest.mark.parametrize("which", ["f", "method", "nested", "lambda"])
@pytest.mark.parametrize("edit", ["same length", "longer"])
def test_a_file_edited_after_import_is_refused(edited_module, which, edit):
    module, path = edited_module
    fn = {"f": module.f, "method": module.C().m, "nested": module.outer(), "lambda": module.lam}[which]
    new = "x ** 3" if edit == "same length" else "np.sin(x) * x ** 3"
    path.write_text(MODULE.replace("x ** 2", new))
    linecache.checkcache(str(path))  # (as a traceback printed meanwhile does)
    srcgrad.clear_cache()
    assert fn(2.0) == 4.0
    with pytest.raises(StaleSourceError) as info:
        srcgrad.gradient(fn, 2.0)
    message = str(info.value)
    assert str(path) in message and "reload" in message and "importlib.reload" in message
    assert isinstance(info.value, SourceNotFoundError)
    with pytest.raises(StaleSourceError):
        srcgrad.jvp(fn, (2.0,), (1.0,))
    importlib.reload(module)
    fresh = {"f": module.f, "method": module.C().m, "nested": module.outer(), "lambda": module.lam}[which]
    check_gradient(fresh, 2.0)


def test_the_old_text_still_in_linecache_is_the_running_code(edited_module):
    """linecache read the file before the edit: that text is the code's, and its gradient is right."""
    module, path = edited_module
    linecache.getlines(str(path))
    path.write_text(MODULE.replace("x ** 2", "x ** 3"))
    srcgrad.clear_cache()
    assert srcgrad.gradient(module.f, 2.0) == (4.0,)


def test_an_edit_elsewhere_in_the_file_is_not_refused(edited_module):
    module, path = edited_module
    path.write_text(MODULE + textwrap.dedent("""

        def added_later(x):
            return x * 5.0
        """))
    linecache.checkcache(str(path))
    srcgrad.clear_cache()
    assert srcgrad.gradient(module.f, 3.0) == (6.0,)
    assert srcgrad.gradient(module.outer(), 3.0) == (6.0,)
    assert srcgrad.gradient(module.lam, 3.0) == (6.0,)


# ------------------------------------------------------------ deep recursion


def recursive_sum(x, n):
    if n == 0:
        return 0.0
    return x * x + recursive_sum(x, n - 1)


def is_even(x, n):
    return x if n == 0 else is_odd(x * 1.5, n - 1)


def is_odd(x, n):
    return x if n == 0 else is_even(np.sin(x), n - 1)


@pytest.mark.parametrize("depth", [800, 900])
def test_a_recursion_python_allows_differentiates(depth):
    """Under Python's default limit (1000) the plain function runs at these depths; so does srcgrad."""
    assert recursive_sum(1.5, depth) == pytest.approx(2.25 * depth)
    value, (g, _) = srcgrad.withgradient(recursive_sum, 1.5, depth)
    assert value == recursive_sum(1.5, depth)
    assert g == pytest.approx(3.0 * depth)
    assert srcgrad.derivative(lambda x: recursive_sum(x, depth), 1.5) == pytest.approx(3.0 * depth)


def test_a_deep_mutual_recursion():
    check_gradient(lambda x: is_even(x, 600), 0.3)
    assert srcgrad.jvp(lambda x: is_even(x, 600), (0.3,), (1.0,))[0] == is_even(0.3, 600)


def test_the_recursion_limit_is_raised_once_and_never_lowered(monkeypatch):
    monkeypatch.setattr(cache, "_room_made", False)
    old = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(1000)
        cache._make_room_for_recursion()
        assert sys.getrecursionlimit() == 3 * 1000 + 200
        sys.setrecursionlimit(1500)  # (the program's own choice, later: left alone)
        cache._make_room_for_recursion()
        assert sys.getrecursionlimit() == 1500
        monkeypatch.setattr(cache, "_room_made", False)
        sys.setrecursionlimit(50_000)
        cache._make_room_for_recursion()
        assert sys.getrecursionlimit() == 50_000
    finally:
        sys.setrecursionlimit(old)


def loss_of(x, y):
    return np.sum((W * x - y) ** 2)


def test_a_new_closure_over_new_arguments_each_step_does_not_recompile():
    """``lambda: loss(*args)`` made afresh each step (as ``srcgrad.optim.train`` does) reuses one entry."""
    srcgrad.clear_cache()
    ps = srcgrad.params(W)
    for step in range(4):
        args = (np.full(2, 1.0 + step), np.zeros(2))
        value, grads = srcgrad.withgradient(lambda: loss_of(*args), ps)
        assert value == loss_of(*args)
        np.testing.assert_allclose(grads[W], 2.0 * (W * args[0]) * args[0])
        if step == 0:
            misses = srcgrad.cache_info().misses
    assert srcgrad.cache_info().misses == misses
