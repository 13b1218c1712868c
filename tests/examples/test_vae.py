"""examples/vae.py runs to the end: a variational autoencoder on the digits, trained through srcgrad's gradient."""

from __future__ import annotations

import importlib.util
import re

import pytest

from example_runs import run


pytest.importorskip("sklearn")


def test_vae(tmp_path):
    out = run("vae.py", "--epochs", "3", tmp_path=tmp_path)

    error = float(re.search(r"gradient check: max relative error (\S+) on 10 entries", out).group(1))
    assert error < 1e-5

    untrained, trained, gain = map(float, re.search(
        r"test ELBO: untrained (\S+), trained (\S+), improved by (\S+) nats per image", out).groups())
    assert untrained == pytest.approx(-47.76, abs=0.05)  # the seeded initial weights and noise
    assert trained > untrained + 10 and gain == pytest.approx(trained - untrained, abs=0.011)

    picture = tmp_path / "vae_reconstructions.png"
    if importlib.util.find_spec("matplotlib") is not None:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["vae_reconstructions.png"]
    else:
        assert "no picture" in out and list(tmp_path.iterdir()) == []
