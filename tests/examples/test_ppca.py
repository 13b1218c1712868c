"""examples/ppca.py runs to the end: probabilistic PCA by gradient descent through slogdet and solve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
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


def test_ppca_recovers_the_closed_form_optimum(tmp_path):
    out = run("ppca.py", tmp_path=tmp_path)
    assert "recovered the closed-form optimum" in out
    assert list(tmp_path.iterdir()) == []  # (it writes nothing)
