"""examples/spectral_loss.py runs to the end (it checks its own result), with its defaults and with few steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def test_spectral_loss(tmp_path):
    out = run("spectral_loss.py", tmp_path=tmp_path)
    assert "loss 9.4409 ->" in out and "strongest bins of the fitted signal: [3, 7]" in out
    assert np.load(tmp_path / "spectral_loss.npy").shape == (64,)
