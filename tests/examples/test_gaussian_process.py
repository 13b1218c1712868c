"""examples/gaussian_process.py runs to the end: a GP's kernel fitted through scipy.stats.multivariate_normal."""

import pytest

from example_runs import run


pytest.importorskip("scipy.stats")


def test_gaussian_process(tmp_path):
    out = run("gaussian_process.py", "--steps", "300", tmp_path=tmp_path)
    assert "Adam's log likelihood -37.6056, L-BFGS's -37.6056" in out
    assert out.strip().endswith("ok")
