"""Smoke test of the benchmark harness (``python -m benchmarks``).

Every task once, at a tiny size: every *installed* tool's gradient must agree
with the hand-written one, and srcgrad's too. No timing is asserted; the
timing loop runs one call per tool only to exercise the harness. Peers that
are not installed (CI installs only ``.[dev]``) are skipped.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import report, runner, tasks  # noqa: E402

# The fast part: srcgrad, the hand-written gradients and autograd (about 2 s).
FAST_TOOLS = ["srcgrad", "hand", "autograd"]
# Importing PyTorch (~2 s), tangent-ad's transforms (~2 s) and JAX's compiles (~10 s) take
# longer: their test is marked slow. JAX's eager mode runs the jit path's code: not repeated.
SLOW_TOOLS = ["hand", "torch", "tangent", "jax-jit"]
# Peers known not to handle some tasks: their failure is recorded by the harness, not an error here.
MAY_FAIL = {"tangent"}

# srcgrad bugs found by the benchmarks and still open: the srcgrad check is an expected
# failure there (see /tmp/bench_blockers.md at the time of writing). Remove an entry when
# srcgrad is fixed; until then the test reports XPASS once it passes.
KNOWN_SRCGRAD_FAILURES = {}

NAMES = [t.name for t in tasks.TASKS]


def _quiet(*args, **kwargs):
    pass


def _run(name, tool_names):
    return runner.run_task(tasks.BY_NAME[name], size="tiny", tools=tool_names, rounds=1, min_sample=0.0,
                           budget=0.0, min_rounds=1, log=_quiet, keep_grads=True)


@pytest.fixture(scope="module")
def records():
    return {name: _run(name, FAST_TOOLS) for name in NAMES}


def _hand(name):
    task = tasks.BY_NAME[name]
    wrt, consts = tasks.make_inputs(task, "tiny")
    return task, wrt, task.hand(*consts)(*wrt)


def _check_peers(rec, name, tool_names):
    task, _, ref = _hand(name)
    for tool in tool_names:
        e = rec["tools"][tool]
        if e["status"] == "skipped":
            continue
        if e["status"] == "failed":
            assert tool in MAY_FAIL, f"{tool} failed on {name}: {e['error']}\n{e.get('where')}"
            continue
        msg = runner.compare(rec["_grads"][tool], ref, task.rtol, task.atol)
        assert msg is None, f"{tool} on {name}: {msg}"


@pytest.mark.parametrize("name", NAMES)
def test_peers_agree_with_hand_written(records, name):
    _check_peers(records[name], name, [t for t in FAST_TOOLS if t not in ("srcgrad", "hand")])


@pytest.mark.parametrize("name", NAMES)
def test_srcgrad_agrees(records, name):
    rec = records[name]
    e = rec["tools"]["srcgrad"]
    task, wrt, hand = _hand(name)
    bad = e["status"] != "ok" or runner.compare(rec["_grads"]["srcgrad"], hand, task.rtol, task.atol) is not None
    if name in KNOWN_SRCGRAD_FAILURES and bad:
        pytest.xfail(KNOWN_SRCGRAD_FAILURES[name])
    assert e["status"] == "ok", e.get("where") or e
    assert runner.compare(rec["_grads"]["srcgrad"], hand, task.rtol, task.atol) is None
    assert rec["mismatches"] == []
    # gradients keep the arguments' shapes, and float32 stays float32
    assert len(e["grad_dtypes"]) == len(wrt)
    for g, a, dt in zip(rec["_grads"]["srcgrad"], wrt, e["grad_dtypes"]):
        assert np.shape(g) == np.shape(a)
        if isinstance(a, np.ndarray) and a.dtype == np.float32:
            assert dt == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_torch_tangent_jax_agree_with_hand_written(name):
    _check_peers(_run(name, SLOW_TOOLS), name, SLOW_TOOLS[1:])


def test_timings_and_report(records):
    results = list(records.values())
    for rec in results:
        for tool, e in rec["tools"].items():
            if e["status"] == "ok":
                assert e["grad_s"] > 0
    targets = runner.evaluate_targets(results, {"import": {"seconds": 0.1}, "mlp": {"error": "not run"}})
    assert {t["status"] for t in targets} <= {"met", "not met", "not measured"}
    md = report.markdown(report.machine_info(), results, {}, targets, ["--smoke"])
    assert "| srcgrad |" in md and "## Targets" in md


def test_fifty_line_function():
    """The cold-start function: srcgrad's gradient against autograd's (or finite differences)."""
    srcgrad = pytest.importorskip("srcgrad")
    from benchmarks import backends, fifty

    wrt, consts = fifty.inputs(n=6)
    f = fifty.bind(*consts)
    got = srcgrad.gradient(f, *wrt)
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        W = wrt[0]
        eps = 1e-6
        E = np.zeros_like(W)
        E[0, 0] = eps
        fd = (f(W + E, *wrt[1:]) - f(W - E, *wrt[1:])) / (2 * eps)
        assert abs(got[0][0, 0] - fd) < 1e-6 * max(1.0, abs(fd))
        return
    ns = backends.instantiate(anp, fifty)
    ref = autograd.grad(ns.bind(*consts), (0, 1, 2, 3))(*wrt)
    assert runner.compare(got, ref, 1e-7, 1e-10) is None


def test_layer_benchmarks_give_every_tool_the_same_loss():
    """``python -m benchmarks.layers``: each installed tool's training step starts from the same weights."""
    pytest.importorskip("sklearn")
    from benchmarks import layers

    for title, steps, expected in layers.prepared(quick=True):
        assert "srcgrad" in steps
        for tool, (step, feed) in steps.items():
            assert step(*feed) == pytest.approx(expected, rel=1e-12), (title, tool)
