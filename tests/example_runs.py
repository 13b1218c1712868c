"""Running a script of examples/ as a user would: a fresh interpreter, in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "EXAMPLES", "run"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(script, *args, tmp_path):
    """Run ``examples/<script>`` with ``args`` in ``tmp_path`` (where it writes), and return what it printed."""
    env = dict(os.environ, SRCGRAD_EXAMPLES_OUT=str(tmp_path), MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout
