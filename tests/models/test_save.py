"""Saving and loading (srcgrad/models/save.py): round trips, atomic writes, refusing a mismatch whole."""

import os

import numpy as np
import pytest

from srcgrad.models import Chain, Dense, functor, load, relu, save


def model():
    return Chain(Dense(2, 4, relu), Dense(4, 1))


def test_round_trip(tmp_path):
    a, b = model(), model()
    path = tmp_path / "model.npz"
    save(path, a)
    assert not np.array_equal(a[0].W, b[0].W)
    w_before = b[0].W
    assert load(path, b) is b
    for (x, y) in [(a[0].W, b[0].W), (a[0].b, b[0].b), (a[1].W, b[1].W), (a[1].b, b[1].b)]:
        np.testing.assert_array_equal(x, y)
    assert b[0].W is w_before, "load writes into the existing arrays, so params and optimiser state stay valid"
    x = np.random.default_rng(0).random((3, 2))
    np.testing.assert_array_equal(a(x), b(x))


def test_file_holds_named_arrays(tmp_path):
    path = tmp_path / "m.npz"
    save(str(path), model())
    with np.load(path) as f:
        assert sorted(f.files) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]


def test_saves_non_trainable_fields_too(tmp_path):
    @functor("W")
    class Scaled:
        def __init__(self):
            self.W = np.ones(2)
            self.scale = np.full(2, 3.0)

    a, b = Scaled(), Scaled()
    a.scale[:] = 7.0
    save(tmp_path / "s.npz", a)
    load(tmp_path / "s.npz", b)
    np.testing.assert_array_equal(b.scale, 7.0)


def test_save_overwrites_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    save(path, model())
    assert os.listdir(tmp_path) == ["m.npz"]
    load(path, model())


def test_interrupted_save_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path / "m.npz", model())
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    original = model()
    save(path, original)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save(path, model())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def snapshot(m):
    return [a.copy() for a in (m[0].W, m[0].b, m[1].W, m[1].b)]


def assert_unchanged(m, snap):
    for a, b in zip((m[0].W, m[0].b, m[1].W, m[1].b), snap):
        np.testing.assert_array_equal(a, b)


def test_load_refuses_different_shapes_whole(tmp_path):
    path = tmp_path / "wide.npz"
    save(path, Chain(Dense(2, 4, relu), Dense(4, 2)))  # the last layer differs
    target = model()
    snap = snapshot(target)
    with pytest.raises(ValueError, match=r"layers\.1\.W has shape \(2, 4\) in the file but \(1, 4\)"):
        load(path, target)
    assert_unchanged(target, snap)  # layer 0 matched, yet was not written either


def test_load_refuses_missing_and_unexpected_names(tmp_path):
    path = tmp_path / "short.npz"
    save(path, Chain(Dense(2, 4, relu)))
    target = model()
    snap = snapshot(target)
    with pytest.raises(ValueError, match=r"layers\.1\.W is missing from the file"):
        load(path, target)
    assert_unchanged(target, snap)

    long_path = tmp_path / "long.npz"
    save(long_path, Chain(Dense(2, 4, relu), Dense(4, 1), Dense(1, 1)))
    with pytest.raises(ValueError, match=r"layers\.2\.W is in the file but not in the model"):
        load(long_path, target)
    assert_unchanged(target, snap)


def test_load_refuses_a_float_into_an_int_array(tmp_path):
    save(tmp_path / "f.npz", {"n": np.array([1.5])})
    target = {"n": np.array([1])}
    with pytest.raises(ValueError, match="float64 in the file but int64"):
        load(tmp_path / "f.npz", target)
    assert target["n"][0] == 1


def test_load_casts_float64_into_float32(tmp_path):
    save(tmp_path / "f.npz", {"w": np.array([0.5])})
    target = {"w": np.zeros(1, np.float32)}
    load(tmp_path / "f.npz", target)
    assert target["w"].dtype == np.float32 and target["w"][0] == 0.5


def test_bare_array(tmp_path):
    save(tmp_path / "a.npz", np.arange(3.0))
    target = np.zeros(3)
    load(tmp_path / "a.npz", target)
    np.testing.assert_array_equal(target, [0.0, 1.0, 2.0])
