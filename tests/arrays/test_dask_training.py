"""DataLoader and train on Dask data (issue 21): chunk-aligned lazy batches, an epoch equal to NumPy's, and
Dask arrays of unknown chunk sizes refused where srcgrad needs a shape, saying how to fix it."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import srcgrad  # noqa: E402
from srcgrad.models import Chain, Dense, init, mse, relu  # noqa: E402
from srcgrad.optim import Adam, DataLoader, Descent, setup, train  # noqa: E402


def _refuse(*args, **kwargs):
    raise AssertionError("a Dask array was computed")


def _data(n=120, d=3, chunk=30):
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((n, d))
    Yn = (Xn @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((n, 1)))
    return Xn, Yn, da.from_array(Xn, chunks=(chunk, d)), da.from_array(Yn, chunks=(chunk, 1))


# ---- DataLoader ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batchsize", [None, 30])
def test_batches_are_the_chunks_lazily(batchsize):
    Xn, Yn, X, Y = _data()
    with dask.config.set(scheduler=_refuse):
        loader = DataLoader((X, Y), batchsize=batchsize)
        batches = list(loader)
    assert len(loader) == len(batches) == 4 and loader.batchsize == 30
    for i, (x, y) in enumerate(batches):
        assert isinstance(x, da.Array) and isinstance(y, da.Array)
        assert x.chunks == ((30,), (3,)) and y.chunks == ((30,), (1,))  # (one chunk each: no rechunking)
        assert x.npartitions == 1  # (the chunk itself, not pieces of two)
        np.testing.assert_array_equal(x.compute(), Xn[30 * i:30 * (i + 1)])
        np.testing.assert_array_equal(y.compute(), Yn[30 * i:30 * (i + 1)])


def test_irregular_chunks_and_partial():
    Xn = np.arange(20.0).reshape(10, 2)
    X = da.from_array(Xn, chunks=((4, 4, 2), (2,)))
    assert [b.shape[0] for b in DataLoader(X, batchsize=None)] == [4, 4, 2]
    assert [b.shape[0] for b in DataLoader(X, batchsize=4)] == [4, 4, 2]
    assert [b.shape[0] for b in DataLoader(X, batchsize=4, partial=False)] == [4, 4]
    assert len(DataLoader(X, batchsize=None, partial=False)) == 2


def test_another_batchsize_gives_lazy_slices_across_chunks():
    Xn, Yn, X, Y = _data()
    with dask.config.set(scheduler=_refuse):
        batches = list(DataLoader((X, Y), batchsize=50))
    assert [x.shape[0] for x, _ in batches] == [50, 50, 20]
    np.testing.assert_array_equal(np.concatenate([x.compute() for x, _ in batches]), Xn)


def test_shuffle_shuffles_the_order_of_the_chunks_lazily():
    Xn, Yn, X, Y = _data()
    loader = DataLoader((X, Y), batchsize=None, shuffle=True, rng=3)
    with dask.config.set(scheduler=_refuse):
        first, second = list(loader), list(loader)
    starts = [int(np.flatnonzero((Xn == x.compute()[0]).all(axis=1))[0]) for x, _ in first]
    assert sorted(starts) == [0, 30, 60, 90]  # (each chunk once, whole, its samples in their order)
    for x, y in first:
        start = int(np.flatnonzero((Xn == x.compute()[0]).all(axis=1))[0])
        np.testing.assert_array_equal(x.compute(), Xn[start:start + 30])
        np.testing.assert_array_equal(y.compute(), Yn[start:start + 30])
    orders = {tuple(int(np.flatnonzero((Xn == x.compute()[0]).all(axis=1))[0]) for x, _ in DataLoader(
        (X, Y), batchsize=None, shuffle=True, rng=seed)) for seed in range(6)}
    assert len(orders) > 1
    assert [x.shape for x, _ in second] == [(30, 3)] * 4


def test_a_numpy_array_beside_a_dask_one_is_cut_at_the_chunks():
    Xn, Yn, X, _ = _data()
    batches = list(DataLoader((X, Yn), batchsize=None))
    assert [type(y) for _, y in batches] == [np.ndarray] * 4
    np.testing.assert_array_equal(batches[1][1], Yn[30:60])


def test_batchsize_none_needs_dask_and_alike_chunks():
    with pytest.raises(ValueError, match="batchsize=None"):
        DataLoader(np.zeros((4, 2)), batchsize=None)
    X = da.zeros((10, 2), chunks=(5, 2))
    with pytest.raises(ValueError, match="same chunks"):
        DataLoader((X, da.zeros(10, chunks=2)), batchsize=None)
    assert len(DataLoader((X, da.zeros(10, chunks=2)), batchsize=5)) == 2  # (a batchsize: lazy slices)


def test_unknown_chunk_sizes_are_refused_by_the_dataloader():
    _, _, X, _ = _data()
    Xu = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match=r"unknown.*compute_chunk_sizes\(\)"):
        DataLoader(Xu, batchsize=None)
    Xu.compute_chunk_sizes()
    assert sum(b.shape[0] for b in DataLoader(Xu, batchsize=None)) == Xu.shape[0]


# ---- train -----------------------------------------------------------------------------------------------

def _model():
    init.seed(0)
    return Chain(Dense(3, 8, relu), Dense(8, 1))


@pytest.mark.parametrize("rule", [lambda: Descent(0.05), lambda: Adam(0.01)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_an_epoch_on_dask_data_equals_the_epoch_on_numpy(rule, shuffle):
    Xn, Yn, X, Y = _data()
    loss = lambda m, x, y: mse(m(x), y)
    lazy, eager = _model(), _model()
    lazy_state, eager_state = setup(rule(), lazy), setup(rule(), eager)
    loader = DataLoader((X, Y), batchsize=None, shuffle=shuffle, rng=5)
    # (the NumPy epoch runs over the same batches, in the same order, computed beforehand)
    numpy_batches = [(x.compute(), y.compute()) for x, y in DataLoader((X, Y), batchsize=None, shuffle=shuffle,
                                                                       rng=5)]
    train(loss, lazy, loader, lazy_state)
    train(loss, eager, numpy_batches, eager_state)
    for a, b in zip(srcgrad.params(lazy), srcgrad.params(eager)):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    start = _model()
    assert not np.allclose(list(srcgrad.params(start))[0], list(srcgrad.params(lazy))[0])  # (it did train)


def test_an_unshuffled_epoch_equals_numpy_dataloader():
    """The same epoch through NumPy's own DataLoader with batchsize = the chunk size."""
    Xn, Yn, X, Y = _data()
    loss = lambda m, x, y: mse(m(x), y)
    lazy, eager = _model(), _model()
    train(loss, lazy, DataLoader((X, Y), batchsize=None), setup(Descent(0.05), lazy))
    train(loss, eager, DataLoader((Xn, Yn), batchsize=30), setup(Descent(0.05), eager))
    for a, b in zip(srcgrad.params(lazy), srcgrad.params(eager)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_a_nan_loss_on_dask_data_stops_training():
    Xn, Yn, X, Y = _data()
    Yn = Yn.copy()
    Yn[40] = np.nan
    Y = da.from_array(Yn, chunks=(30, 1))
    model = _model()
    before = [p.copy() for p in srcgrad.params(model)]
    loader = DataLoader((X, Y), batchsize=None)
    with pytest.raises(FloatingPointError, match="loss is nan"):
        train(lambda m, x, y: mse(m(x), y), model, loader, setup(Descent(0.05), model))
    # (the first chunk's step ran; the second's nan loss stopped before the update)
    after = list(srcgrad.params(model))
    assert all(np.all(np.isfinite(p)) for p in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


# ---- unknown chunk sizes in the gradient -----------------------------------------------------------------

def _unknown():
    rng = np.random.default_rng(1)
    X = da.from_array(rng.standard_normal((100, 3)), chunks=(25, 3))
    return X[X[:, 0] > 0]


@pytest.mark.parametrize("f", [
    lambda X: np.mean(X),
    lambda X: np.sum(X ** 2),
    lambda X: np.mean(X, axis=0).sum(),
    lambda X: np.mean((X @ np.ones(3)) ** 2),
], ids=["mean", "sum", "mean-axis", "matmul"])
def test_unknown_chunk_sizes_in_a_gradient_say_to_compute_them(f):
    X = _unknown()
    with pytest.raises(ValueError, match=r"chunk sizes are unknown.*compute_chunk_sizes\(\)"):
        srcgrad.gradient(f, X)
    X.compute_chunk_sizes()
    (g,) = srcgrad.gradient(f, X)
    np.testing.assert_allclose(g.compute(), srcgrad.gradient(f, X.compute())[0], rtol=0, atol=1e-12)


def test_a_numpy_weight_with_an_unknown_sized_batch():
    X = _unknown()
    w = np.ones(3)
    loss = lambda w, X: np.mean((X @ w) ** 2)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        srcgrad.gradient(loss, w, X)
    X.compute_chunk_sizes()
    gw, _ = srcgrad.gradient(loss, w, X)
    np.testing.assert_allclose(gw, srcgrad.gradient(loss, w, X.compute())[0], rtol=0, atol=1e-12)


def test_after_compute_chunk_sizes_the_gradient_stays_lazy():
    """compute_chunk_sizes computes the sizes only: the gradient is then a lazy Dask array in X's chunks."""
    X = _unknown().compute_chunk_sizes()
    with dask.config.set(scheduler=_refuse):
        (g,) = srcgrad.gradient(lambda X: np.mean(X ** 2), X)
    assert isinstance(g, da.Array) and g.chunks == X.chunks
