"""The three examples of issue #19's layers run to the end on a reduced size, learn, and draw their plots.

examples/digits_cnn.py (a CNN on the digits), examples/char_lstm.py (an LSTM on the Zen of Python) and
examples/autoencoder.py (a convolutional autoencoder). Each asserts its full-size figure itself; here
each runs a few epochs or steps and must already have learnt something.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from example_runs import run

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def assert_pictures(tmp_path, out, names):
    if HAS_MATPLOTLIB:
        for name in names:
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in out and list(tmp_path.iterdir()) == []


def test_digits_cnn(tmp_path):
    pytest.importorskip("sklearn")
    out = run("digits_cnn.py", "--epochs", "3", tmp_path=tmp_path)
    assert re.search(r"Conv\(\(3, 3\), 1, 32, relu, pad=1\), +# 320 parameters", out)
    accuracy = float(re.search(r"test accuracy (\S+)% after 3 epochs", out).group(1))
    assert accuracy > 85.0  # (98.9% after the full 15 epochs)
    assert_pictures(tmp_path, out, ["digits_cnn_loss.png"])


def test_char_lstm(tmp_path):
    out = run("char_lstm.py", "--steps", "40", tmp_path=tmp_path)
    first, last = map(float, re.search(r"loss from (\S+) to (\S+)", out).groups())
    assert first == pytest.approx(3.81, abs=0.01)  # log(45): a uniform guess among 45 characters
    assert last < first - 1.5
    sample = re.search(r"sample: '(.*)'", out).group(1)
    assert sample.startswith("Beautiful ") and len(sample) > 40
    assert_pictures(tmp_path, out, ["char_lstm_loss.png"])


def test_autoencoder(tmp_path):
    pytest.importorskip("sklearn")
    out = run("autoencoder.py", "--epochs", "3", tmp_path=tmp_path)
    untrained, trained = map(float, re.search(r"untrained (\S+), trained (\S+)", out).groups())
    assert trained < untrained / 2
    assert_pictures(tmp_path, out, ["autoencoder_reconstructions.png", "autoencoder_loss.png"])
