"""Every script in examples/ runs to the end (each checks its own results with asserts).

Each runs in a fresh interpreter, in a temporary directory, with short
settings where the script has them, so the whole file takes seconds.
"""

from __future__ import annotations

import importlib.util

import pytest

from example_runs import EXAMPLES, ROOT, run


def test_every_example_has_a_test():
    """Each script in examples/ is run by a test: ``run("name.py", ...)`` here or in another test file."""
    tests = " ".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    untested = sorted(p.name for p in EXAMPLES.glob("*.py") if f'run("{p.name}"' not in tests)
    assert not untested, f"examples no test runs: {untested}"


def test_seed_gentle_introduction(tmp_path):
    out = run("seed_gentle_introduction.py", tmp_path=tmp_path)
    assert "df(2)  = 14.0" in out and "d2f(2) = 6.0" in out
    assert "Chain(x -> x^2, x -> x + 1)(5) = 26" in out


def test_seed_notebook_basics(tmp_path):
    out = run("seed_notebook_basics.py", tmp_path=tmp_path)
    assert "f(1) = 6  df(1) = 8.0  d2f(1) = 6.0" in out
    assert "m(5) = 26" in out


def test_seed_linear_regression(tmp_path):
    out = run("seed_linear_regression.py", "--epochs", "20", tmp_path=tmp_path)
    assert "gradient(f, 2, 2) = (14.0, 1.0)" in out
    assert "(callback) loss" in out
    plot = tmp_path / "linear_regression_loss.png"
    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "no plot" in out and not plot.exists()


def test_layers_by_hand(tmp_path):
    out = run("layers_by_hand.py", tmp_path=tmp_path)
    assert "def Affine_call_backward(saved, dy):" in out


def test_digits_mlp(tmp_path):
    pytest.importorskip("sklearn")
    out = run("digits_mlp.py", tmp_path=tmp_path)  # asserts at least 94% test accuracy itself
    assert "test accuracy" in out.splitlines()[-1]


def test_show_generated_source(tmp_path):
    out = run("show_generated_source.py", tmp_path=tmp_path)
    assert out.count("gradients agree with finite differences") == 8
    assert "h_tape" in out and "pullback(act, x)" in out and "pullback(sigmoid" not in out
    one = run("show_generated_source.py", "branch", tmp_path=tmp_path)
    assert one.count("gradients agree") == 1
