"""examples/spectral_loss.py runs to the end (it checks its own result), with its defaults and with few steps."""

from __future__ import annotations

import numpy as np

from example_runs import run


def test_spectral_loss(tmp_path):
    out = run("spectral_loss.py", tmp_path=tmp_path)
    assert "loss 9.4409 ->" in out and "strongest bins of the fitted signal: [3, 7]" in out
    assert np.load(tmp_path / "spectral_loss.npy").shape == (64,)
