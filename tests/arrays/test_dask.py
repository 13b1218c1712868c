"""Gradients on chunked Dask arrays stay Dask arrays, lazily (SPEC section 7, issue 21's first slice).

For a loss over a Dask batch ``X, y`` and a NumPy weight ``w``: the gradients of ``X`` and ``y`` are
Dask arrays in their arguments' chunks, not computed until the test computes them; the gradient of
``w`` is a NumPy array, as ``w`` is, computed by Dask's chunked reductions in one ``dask.compute``.
"""

import numpy as np
import pytest

dask = pytest.importorskip("dask.array")
import dask as dask_core  # noqa: E402  (after the skip: the package, for its config and scheduler)

import srcgrad  # noqa: E402


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z)


def least_squares(w, X, y):
    return np.mean((X @ w - y) ** 2)


LOSSES = [logistic, least_squares]


def _data(n=1000, d=5, chunk=250):
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((n, d))
    yn = (Xn[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(float)
    wn = 0.1 * rng.standard_normal(d)
    return wn, Xn, yn, dask.from_array(Xn, chunks=(chunk, d)), dask.from_array(yn, chunks=chunk)


class _Counting:
    """A scheduler that counts how often Dask is asked to compute (Dask's synchronous one underneath)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return dask_core.get(*args, **kwargs)


def _refuse(*args, **kwargs):
    raise AssertionError("a Dask array was computed")


@pytest.mark.parametrize("loss", LOSSES)
def test_the_loss_of_a_dask_batch_is_a_scalar_output_and_its_gradients_stay_lazy(loss):
    """The 0-d Dask value is a scalar for gradient; the gradients of X and y are Dask arrays, none computed."""
    wn, Xn, yn, X, y = _data()
    with dask_core.config.set(scheduler=_refuse):
        gX, gy = srcgrad.gradient(lambda X, y: loss(wn, X, y), X, y)
    assert isinstance(gX, dask.Array) and isinstance(gy, dask.Array)
    assert gX.chunks == X.chunks and gy.chunks == y.chunks  # (never one chunk of the whole batch)
    assert gX.dtype == np.float64 and gy.dtype == np.float64
    _, rX, ry = srcgrad.gradient(loss, wn, Xn, yn)
    np.testing.assert_allclose(gX.compute(), rX, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gy.compute(), ry, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_a_numpy_weight_gets_a_numpy_gradient_computed_by_dask_once(loss):
    """``w`` is NumPy, so its gradient is: one ``dask.compute`` of Dask's reductions; X's and y's stay lazy."""
    wn, Xn, yn, X, y = _data()
    rw, rX, ry = srcgrad.gradient(loss, wn, Xn, yn)  # (the NumPy gradient first: the cache serves both)
    counting = _Counting()
    with dask_core.config.set(scheduler=counting):
        gw, gX, gy = srcgrad.gradient(loss, wn, X, y)
        assert counting.calls == 1  # (w's gradient; X's and y's not yet)
        assert type(gw) is np.ndarray and gw.dtype == np.float64 and gw.shape == wn.shape
        assert isinstance(gX, dask.Array) and isinstance(gy, dask.Array)
        np.testing.assert_allclose(gw, rw, rtol=0, atol=1e-12)
        np.testing.assert_allclose(gX.compute(), rX, rtol=0, atol=1e-12)
        np.testing.assert_allclose(gy.compute(), ry, rtol=0, atol=1e-12)
    # (and the cached NumPy path is unchanged by having seen Dask arrays)
    again = srcgrad.gradient(loss, wn, Xn, yn)
    for a, b in zip(again, (rw, rX, ry)):
        assert type(a) is np.ndarray
        np.testing.assert_array_equal(a, b)


def test_withgradient_gives_the_value_lazily_too():
    wn, Xn, yn, X, y = _data()
    with dask_core.config.set(scheduler=_refuse):
        value, (gX,) = srcgrad.withgradient(lambda X: logistic(wn, X, yn), X)
    assert isinstance(value, dask.Array) and value.shape == ()
    assert isinstance(gX, dask.Array)
    np.testing.assert_allclose(value.compute(), logistic(wn, Xn, yn), rtol=0, atol=1e-12)


def test_a_float32_batch_gets_a_float32_seed_and_gradient():
    wn, Xn, yn, X, y = _data()
    X32 = X.astype(np.float32)
    with dask_core.config.set(scheduler=_refuse):
        (gX,) = srcgrad.gradient(lambda X: least_squares(wn.astype(np.float32), X, y.astype(np.float32)), X32)
    assert isinstance(gX, dask.Array) and gX.dtype == np.float32
    (ref,) = srcgrad.gradient(lambda X: least_squares(wn.astype(np.float32), X, yn.astype(np.float32)),
                              Xn.astype(np.float32))
    np.testing.assert_allclose(gX.compute(), ref, rtol=1e-5, atol=1e-6)


def test_an_unused_dask_argument_gets_lazy_zeros_in_its_chunks():
    wn, Xn, yn, X, y = _data()
    with dask_core.config.set(scheduler=_refuse):
        gw, gy = srcgrad.gradient(lambda w, y: np.mean((Xn @ w) ** 2), wn, y)
    assert isinstance(gy, dask.Array) and gy.chunks == y.chunks
    np.testing.assert_array_equal(gy.compute(), np.zeros_like(yn))
    np.testing.assert_allclose(gw, srcgrad.gradient(lambda w: np.mean((Xn @ w) ** 2), wn)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_on_a_distributed_cluster(loss):
    """Under a ``dask.distributed`` Client (one in-process worker): the same values, computed on it."""
    distributed = pytest.importorskip("distributed")
    wn, Xn, yn, X, y = _data()
    rw, rX, ry = srcgrad.gradient(loss, wn, Xn, yn)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes)) == 0
        gw, gX, gy = srcgrad.gradient(loss, wn, X, y)
        # (w's gradient was computed on the cluster: its scheduler has seen tasks)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes)) > 0
        assert type(gw) is np.ndarray and isinstance(gX, dask.Array) and isinstance(gy, dask.Array)
        np.testing.assert_allclose(gw, rw, rtol=0, atol=1e-12)
        fX, fy = client.compute([gX, gy], sync=True)
        np.testing.assert_allclose(fX, rX, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fy, ry, rtol=0, atol=1e-12)


def test_a_numpy_reduction_under_a_dask_cotangent_stays_lazy():
    """``np.sum(w ** 2)`` times a Dask mean: the sum's cotangent is a 0-d Dask array, spread without computing."""
    wn, Xn, yn, X, y = _data()

    def f(w, X):
        return np.sum(w ** 2) * np.mean(X) + np.mean(X @ w)

    counting = _Counting()
    with dask_core.config.set(scheduler=counting):
        gw, gX = srcgrad.gradient(f, wn, X)
    assert counting.calls == 1 and type(gw) is np.ndarray and isinstance(gX, dask.Array)
    rw, rX = srcgrad.gradient(f, wn, Xn)
    np.testing.assert_allclose(gw, rw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gX.compute(), rX, rtol=0, atol=1e-12)


def test_slices_of_a_dask_array_get_lazy_gradients_in_its_chunks():
    """``X[:, 0]`` and ``X[10:20]``: their gradients are written lazily into Dask zeros of X's chunks."""
    Xn = np.random.default_rng(1).standard_normal((100, 4))
    X = dask.from_array(Xn, chunks=(25, 4))

    def f(X):
        return np.sum(X[:, 0] ** 2) + np.mean(X[10:20])

    with dask_core.config.set(scheduler=_refuse):
        (gX,) = srcgrad.gradient(f, X)
    assert isinstance(gX, dask.Array) and gX.chunks == X.chunks
    np.testing.assert_allclose(gX.compute(), srcgrad.gradient(f, Xn)[0], rtol=0, atol=1e-12)
