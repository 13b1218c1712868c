"""examples/gaussian_process.py runs to the end: a GP's kernel fitted through scipy.stats.multivariate_normal."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("scipy.stats")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(script, *args, tmp_path):
    env = dict(os.environ, SRCGRAD_EXAMPLES_OUT=str(tmp_path), MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_gaussian_process(tmp_path):
    out = run("gaussian_process.py", "--steps", "300", tmp_path=tmp_path)
    assert "Adam's log likelihood -37.6056, L-BFGS's -37.6056" in out
    assert out.strip().endswith("ok")
