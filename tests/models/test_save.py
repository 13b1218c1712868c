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
    def broken_write(file, array, **options):
        file.write(b"half an array")
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", broken_write)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path / "m.npz", model())
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    original = model()
    save(path, original)
    before = path.read_bytes()

    def broken_write(file, array, **options):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken_write)
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


def test_a_dotted_key_and_a_nested_key_are_kept_apart(tmp_path):
    """Issue #16: ``{"a.b": x}`` beside ``{"a": {"b": y}}`` were both ``a.b``; one was dropped."""
    saved = {"a.b": np.array([1.0, 2.0]), "a": {"b": np.array([3.0])}, "c%2E": np.array([4.0])}
    save(tmp_path / "m.npz", saved)
    with np.load(tmp_path / "m.npz") as f:
        assert sorted(f.files) == ["a%2Eb", "a.b", "c%252E"]
    target = {"a.b": np.zeros(2), "a": {"b": np.zeros(1)}, "c%2E": np.zeros(1)}
    load(tmp_path / "m.npz", target)
    np.testing.assert_array_equal(target["a.b"], [1.0, 2.0])
    np.testing.assert_array_equal(target["a"]["b"], [3.0])
    np.testing.assert_array_equal(target["c%2E"], [4.0])


def test_a_file_of_the_nested_model_does_not_load_into_the_dotted_one(tmp_path):
    save(tmp_path / "nested.npz", {"a": {"b": np.ones(1)}})
    target = {"a.b": np.zeros(1)}
    with pytest.raises(ValueError, match=r"a%2Eb is missing from the file; a\.b is in the file but not in the model"):
        load(tmp_path / "nested.npz", target)
    assert target["a.b"][0] == 0.0


def test_keys_equal_as_strings_are_refused_not_dropped(tmp_path):
    both = {0: np.ones(1), "0": np.zeros(1)}
    with pytest.raises(ValueError, match=r"\[0\] and \['0'\] would both be named '0'"):
        save(tmp_path / "m.npz", both)
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match="cannot load into this model"):
        load(tmp_path / "m.npz", both)


@pytest.mark.parametrize("name", ["file", "allow_pickle", "args"])
def test_arrays_named_like_savez_arguments(tmp_path, name):
    save(tmp_path / "m.npz", {name: np.arange(3.0)})
    target = {name: np.zeros(3)}
    load(tmp_path / "m.npz", target)
    np.testing.assert_array_equal(target[name], [0.0, 1.0, 2.0])


def test_a_npy_file_loads_into_a_model_of_one_array(tmp_path):
    np.save(tmp_path / "w.npy", np.arange(4.0).reshape(2, 2))
    target = {"W": np.zeros((2, 2))}
    assert load(tmp_path / "w.npy", target) is target
    np.testing.assert_array_equal(target["W"], [[0.0, 1.0], [2.0, 3.0]])
    with pytest.raises(ValueError, match=r"W has shape \(2, 2\) in the file but \(4,\) in the model"):
        load(tmp_path / "w.npy", {"W": np.zeros(4)})


def test_a_npy_file_into_a_model_of_several_arrays_is_refused_clearly(tmp_path):
    np.save(tmp_path / "w.npy", np.ones(4))
    target = model()
    snap = snapshot(target)
    with pytest.raises(ValueError, match=r"a \.npy file of one array, but the model has 4 arrays"):
        load(tmp_path / "w.npy", target)
    assert_unchanged(target, snap)


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"\x80\x04K\x01."])
def test_a_file_that_is_not_npz_is_refused_clearly(tmp_path, content):
    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(ValueError, match=r"bad\.npz: it is not an \.npz file of arrays such as save\(\) writes"):
        load(tmp_path / "bad.npz", model())


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    save(path, model())
    assert os.stat(path).st_mode & 0o777 == 0o644
    os.chmod(path, 0o640)
    save(path, model())
    assert os.stat(path).st_mode & 0o777 == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, umask):
    old = os.umask(umask)
    try:
        save(tmp_path / "m.npz", model())
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "m.npz").st_mode & 0o777 == 0o666 & ~umask
    assert os.stat(tmp_path / "m.npz").st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777


def test_save_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "real.npz").write_bytes(b"old")
    os.symlink(tmp_path / "real.npz", tmp_path / "link.npz")
    save(tmp_path / "link.npz", {"w": np.ones(2)})
    assert os.path.islink(tmp_path / "link.npz")
    target = {"w": np.zeros(2)}
    load(tmp_path / "real.npz", target)
    np.testing.assert_array_equal(target["w"], [1.0, 1.0])
