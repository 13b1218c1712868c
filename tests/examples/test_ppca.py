"""examples/ppca.py runs to the end: probabilistic PCA by gradient descent through slogdet and solve."""

from __future__ import annotations

from example_runs import run


def test_ppca_recovers_the_closed_form_optimum(tmp_path):
    out = run("ppca.py", tmp_path=tmp_path)
    assert "recovered the closed-form optimum" in out
    assert list(tmp_path.iterdir()) == []  # (it writes nothing)
