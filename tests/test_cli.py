"""The command line: python -m srcgrad show FILE.py:FUNCTION, and demo."""

import subprocess
import sys
import textwrap


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "srcgrad", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_show_prints_the_adjoint_of_a_function_in_a_file(tmp_path):
    source = textwrap.dedent("""
        import numpy as np

        def f(x):
            return 3 * x ** 2 + 2 * x + 1

        class Affine:
            def __call__(self, x):
                return np.tanh(self.W @ x)
    """)
    (tmp_path / "model.py").write_text(source)
    result = run("show", str(tmp_path / "model.py") + ":f")
    assert result.returncode == 0, result.stderr
    assert "def f_backward(saved, dy):" in result.stdout
    assert "dx = 6 * x * dy + 2 * dy" in result.stdout
    method = run("show", str(tmp_path / "model.py") + ":Affine.__call__")
    assert method.returncode == 0 and "dself = {'W': dW}" in method.stdout
    forward = run("show", "--mode", "forward", str(tmp_path / "model.py") + ":f")
    assert forward.returncode == 0, forward.stderr
    assert "def f_tangent(x, dx):" in forward.stdout and "6 * x * dx + 2 * dx" in forward.stdout
    stages = run("show", "--stages", str(tmp_path / "model.py") + ":f")
    assert stages.returncode == 0
    for stage in ("parse", "normalise", "transform", "simplify"):
        assert f"after {stage}" in stages.stdout


def test_show_reports_unsupported_code_with_file_and_line(tmp_path):
    (tmp_path / "bad.py").write_text("def g(x):\n    yield x\n")
    result = run("show", str(tmp_path / "bad.py") + ":g")
    assert result.returncode == 1
    assert "bad.py:2" in result.stderr and "yield" in result.stderr


def test_show_with_a_missing_function_says_so(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    result = run("show", str(tmp_path / "m.py") + ":nothing")
    assert result.returncode != 0 and "has no 'nothing'" in result.stderr


def test_demo_runs_and_exits_zero():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "d2f(2) = gradient(df, 2)[0] -> 6.0" in result.stdout
    assert "Chain(" in result.stdout and "epoch 300" in result.stdout
