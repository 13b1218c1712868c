"""The cache: reuse, staleness on new code or new rules, clean after errors, thread safety."""

import threading

import numpy as np
import pytest

import srcgrad


def poly(x):
    return 3 * x ** 2 + 2 * x + 1


def test_second_call_reuses_the_compiled_adjoint():
    srcgrad.clear_cache()
    srcgrad.gradient(poly, 1.0)
    info = srcgrad.cache_info()
    assert info.misses == 1 and info.size == 1
    srcgrad.gradient(poly, 2.0)
    assert srcgrad.cache_info().misses == 1
    assert srcgrad.cache_info().hits >= 1


def test_new_code_object_gives_a_new_entry():
    srcgrad.clear_cache()
    namespace = {}
    import linecache

    for k, source in enumerate(["def g(x):\n    return x * 2.0\n", "def g(x):\n    return x * 3.0\n"]):
        filename = f"<cell-{k}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)
        assert srcgrad.gradient(namespace["g"], 1.0) == (2.0 + k,)
    assert srcgrad.cache_info().size == 2


def opaque(x):
    return x * x


def calls_opaque(x):
    return opaque(x) + 1.0


def test_registering_a_rule_invalidates_and_takes_effect():
    srcgrad.clear_cache()
    assert srcgrad.gradient(calls_opaque, 3.0) == (6.0,)

    @srcgrad.defrule(opaque)
    def opaque_rule(dy, y, x):
        return (100.0 * dy,)

    try:
        assert srcgrad.gradient(calls_opaque, 3.0) == (100.0,)
    finally:
        from srcgrad.rules import registry

        registry.rules.pop(opaque)
        registry._changed(opaque)
    assert srcgrad.gradient(calls_opaque, 3.0) == (6.0,)


def _cached(fn):
    """Whether some compiled variant of ``fn``'s adjoint is in the cache."""
    from srcgrad.calls import cache

    return any(entry.fn.__code__ is fn.__code__ for entry in cache._entries.values())


def test_a_rule_for_an_inlined_callable_drops_the_entries_that_inlined_it():
    from srcgrad.rules import registry

    f = lambda x: np.sum(np.sin(x))
    srcgrad.gradient(f, np.ones(2))
    assert _cached(f)
    original = registry.lookup(np.sin)
    try:
        srcgrad.defrule(np.sin, broadcast=False)(lambda dy, y, x: (dy * 0.0,))
        assert not _cached(f)
        (g,) = srcgrad.gradient(f, np.ones(2))
        np.testing.assert_array_equal(g, [0.0, 0.0])
    finally:
        registry.rules[np.sin] = original
        registry._changed(np.sin)
    (g,) = srcgrad.gradient(f, np.ones(2))
    np.testing.assert_allclose(g, np.cos([1.0, 1.0]))


def loss_a(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


def loss_b(W, x):
    return np.sum(np.exp(-(W @ x) ** 2))


def test_eight_threads_same_and_different_functions():
    srcgrad.clear_cache()
    rng = np.random.default_rng(0)
    W, x = rng.random((3, 4)), rng.random(4)
    expected = {f: srcgrad.gradient(f, W, x) for f in (loss_a, loss_b)}
    srcgrad.clear_cache()
    barrier = threading.Barrier(8)
    errors = []

    def work(f):
        try:
            barrier.wait()
            for _ in range(20):
                got = srcgrad.gradient(f, W, x)
                for g, e in zip(got, expected[f]):
                    np.testing.assert_allclose(g, e)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(loss_a if i % 2 else loss_b,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert srcgrad.cache_info().size == 2


def test_the_same_code_in_two_modules_reads_each_modules_globals(tmp_path):
    import importlib.util

    for name, w in (("mod_a", 1.0), ("mod_b", 100.0)):
        (tmp_path / f"{name}.py").write_text(f"W = {w}\n\ndef f(x):\n    return W * x\n")
    modules = []
    for name in ("mod_a", "mod_b"):
        spec = importlib.util.spec_from_file_location(name, tmp_path / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    assert modules[0].f.__code__ == modules[1].f.__code__  # equal by value...
    assert srcgrad.gradient(modules[0].f, 2.0) == (1.0,)
    assert srcgrad.gradient(modules[1].f, 2.0) == (100.0,)  # ...but not one entry


def loop_of_sines(x):
    for i in range(3):
        x = np.sin(x) * 1.5
    return x


def test_a_new_rule_drops_the_traceable_twins_of_the_entries_it_drops():
    from srcgrad.calls import cache
    from srcgrad.rules import registry
    from srcgrad.calls import dispatch

    srcgrad.clear_cache()
    srcgrad.gradient(loop_of_sines, 0.3)
    entries = [e for e in cache._entries.values() if e.fn is loop_of_sines]
    assert entries and all(e.forward in cache.twins for e in entries)
    original = registry.lookup(np.sin)
    try:
        srcgrad.defrule(np.sin, broadcast=False)(lambda dy, y, x: (dy * np.cos(x),))
        assert not any(e.forward in cache.twins or e.backward in cache.twins for e in entries)
    finally:
        registry.rules[np.sin] = original
        registry._changed(np.sin)
    (g,) = srcgrad.gradient(loop_of_sines, 0.3)
    assert g == pytest.approx((loop_of_sines(0.3 + 1e-6) - loop_of_sines(0.3 - 1e-6)) / 2e-6, rel=1e-6)
