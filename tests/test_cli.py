"""The command line: python -m srcgrad show FILE.py:FUNCTION, explore, and demo."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


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


SCRIPT = textwrap.dedent("""
    import numpy as np
    from dataclasses import dataclass

    N = 3
    open(MARKER, "w").write("ran")   # top-level code: must not run for show
    print("TRAINING")

    def f(x):
        return np.sum(x ** N)

    @dataclass
    class Layer:
        scale: float = 2.0

        def __call__(self, x):
            return self.scale * helper(x)

    def helper(x):
        return np.tanh(x)

    W = np.ones(3)

    def uses_global(x):
        return np.sum(W * x)

    if __name__ == "__main__":
        print("MAIN")
""")


def _script(tmp_path, name="script"):
    marker = tmp_path / "marker.txt"
    (tmp_path / f"{name}.py").write_text(f"MARKER = {str(marker)!r}\n" + SCRIPT)
    return tmp_path / f"{name}.py", marker


def test_show_reads_a_function_without_running_the_files_top_level_code(tmp_path):
    file, marker = _script(tmp_path)
    result = run("show", f"{file}:f")
    assert result.returncode == 0, result.stderr
    assert "def f_backward" in result.stdout and "TRAINING" not in result.stdout and "MAIN" not in result.stdout
    assert result.stderr == "" and not marker.exists()
    method = run("show", f"{file}:Layer.__call__")  # (a dataclass, a helper it calls, a constant it reads)
    assert method.returncode == 0, method.stderr
    assert "def Layer_call_backward" in method.stdout and method.stderr == "" and not marker.exists()


def test_show_imports_the_file_when_the_function_needs_its_top_level_code_and_says_so(tmp_path):
    file, marker = _script(tmp_path)
    result = run("show", f"{file}:uses_global")
    assert result.returncode == 0, result.stderr
    assert "def uses_global_backward" in result.stdout
    assert result.stderr.strip() == ("srcgrad: reading uses_global needs the file's top-level code "
                                     "(line 23 assigns W); importing script.py runs it")
    assert marker.exists() and "TRAINING" in result.stdout and "MAIN" not in result.stdout


def test_a_decorator_or_default_the_file_defines_means_importing_it(tmp_path):
    (tmp_path / "deco.py").write_text(textwrap.dedent("""
        print("TOP")

        def traced(fn):
            print("DECORATING")
            return fn

        @traced
        def f(x):
            return x * x

        def g(x, k=len("ab")):
            return x * k
    """))
    decorated = run("show", f"{tmp_path / 'deco.py'}:f")
    assert decorated.returncode == 0 and "TOP" in decorated.stdout
    assert "line 8 defines f with a def statement that runs more than definitions" in decorated.stderr
    plain = run("show", f"{tmp_path / 'deco.py'}:g")  # (a builtin called in a default: fine)
    assert plain.returncode == 0 and "TOP" not in plain.stdout and plain.stderr == ""


def test_bad_targets_give_clear_errors(tmp_path):
    file, marker = _script(tmp_path)
    (tmp_path / "broken.py").write_text("def f(x):\n    return x +\n")
    cases = {
        ("show", "script.py"): "expected FILE.py:FUNCTION",
        ("show", "nowhere.py:f"): "no such file: nowhere.py",
        ("show", "script.py:f-g"): "is not a function's name",
        ("show", "script.py:nothing"): "script.py has no 'nothing'",
        ("show", "script.py:Layer.nothing"): "script.py has no 'Layer.nothing'",
        ("show", "broken.py:f"): "broken.py:2: cannot read the file: invalid syntax",
        ("show", "script.py:N"): "script.py:N is a int, not a function",
        ("show", "script.py:Layer"): "is a class; name one of its methods",
        ("explore", "script.py:f", "--args", "(1.0,"): "is not a Python expression",
        ("explore", "script.py:f", "--args", "undefined_name"): "NameError",
    }
    for args, message in cases.items():
        result = run(*args, cwd=tmp_path)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)


def test_explore_writes_a_page_and_prints_its_path(tmp_path):
    import srcgrad

    if not hasattr(srcgrad, "explore"):
        pytest.skip("srcgrad.explore (the explorer) is not there yet")
    file, marker = _script(tmp_path)
    page = tmp_path / "page.html"
    result = run("explore", f"{file}:f", "--args", "np.array([1.0, 2.0, 3.0])", "-o", str(page), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(page) and page.is_file() and not marker.exists()
    text = page.read_text()
    assert "data-line" in text and "data-from" in text
    default = run("explore", f"{file}:f", "--args", "(np.ones(3),)", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert (tmp_path / default.stdout.strip()).is_file()  # (a default name, in the directory it ran in)
