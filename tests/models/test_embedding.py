"""Embedding (srcgrad/models/embedding.py): lookups by integer index and their gradient."""

import doctest

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, init, load, save
from srcgrad.models import embedding
from srcgrad.models.embedding import Embedding
from srcgrad.models.functor import named_arrays

from .modelcheck import check_model_gradient

RNG = np.random.default_rng(11)
INDICES = [np.array(3), np.array([0, 2, 2]), np.array([[1, 4, 1], [4, 4, 0]]), np.array([[[2], [2]], [[0], [3]]])]


def naive_lookup(W, indices):
    out = np.empty(indices.shape + W.shape[1:])
    for i in np.ndindex(indices.shape):
        for k in range(W.shape[1]):
            out[i + (k,)] = W[int(indices[i]), k]
    return out


def naive_gradient(W, indices, dy):
    """The gradient of ``sum(lookup * dy)`` in ``W``: each use of a row adds its part."""
    g = np.zeros_like(W)
    for i in np.ndindex(indices.shape):
        g[int(indices[i])] += dy[i]
    return g


def test_fields_init_and_printing():
    layer = Embedding(100, 50, rng=0)
    assert layer.W.shape == (100, 50)
    assert abs(layer.W.mean()) < 0.05 and abs(layer.W.std() - 1) < 0.05  # standard normal, as torch's
    np.testing.assert_array_equal(layer.W, np.random.default_rng(0).standard_normal((100, 50)))
    init.seed(4)
    first = Embedding(3, 2).W
    init.seed(4)
    np.testing.assert_array_equal(Embedding(3, 2).W, first)
    assert [name for name, _ in named_arrays(layer)] == ["W"]
    assert repr(Embedding(10, 4)) == "Embedding(10, 4)  # 40 parameters"
    assert "Embedding(10, 4)," in repr(Chain(Embedding(10, 4), Dense(4, 1)))


@pytest.mark.parametrize("vocab, dim", [(0, 3), (3, 0), (2.5, 3), (3, True), ("3", 3)])
def test_refuses_bad_sizes(vocab, dim):
    with pytest.raises(ValueError, match="Embedding: (vocab|dim) must be a positive int"):
        Embedding(vocab, dim)


@pytest.mark.parametrize("indices", INDICES, ids=lambda i: str(i.shape))
def test_lookup_of_any_shape(indices):
    layer = Embedding(5, 3, rng=1)
    out = layer(indices)
    assert out.shape == indices.shape + (3,)
    np.testing.assert_array_equal(out, naive_lookup(layer.W, indices))
    np.testing.assert_array_equal(layer(indices.tolist()), out)  # a list, or a Python int, works too
    assert layer(np.array([], dtype=int)).shape == (0, 3)


@pytest.mark.parametrize("indices", INDICES, ids=lambda i: str(i.shape))
def test_gradient_adds_up_over_repeated_indices(indices):
    layer = Embedding(5, 3, rng=2)
    dy = RNG.normal(size=indices.shape + (3,))
    (grad,) = srcgrad.gradient(lambda e: np.sum(e(indices) * dy), layer)
    np.testing.assert_allclose(grad["W"], naive_gradient(layer.W, indices, dy), rtol=1e-15)
    # the same index three times: three times the row's gradient
    (grad,) = srcgrad.gradient(lambda e: np.sum(e([4, 4, 4])), layer)
    np.testing.assert_array_equal(grad["W"][4], [3.0, 3.0, 3.0])
    assert not grad["W"][:4].any()


@pytest.mark.parametrize("indices", INDICES[1:], ids=lambda i: str(i.shape))
def test_gradient_matches_differences_and_forward_mode(indices):
    layer = Embedding(5, 2, rng=3)
    c = RNG.normal(size=indices.shape + (2,))

    def loss(e, i):
        return np.sum(np.sin(e(i)) * c)

    check_model_gradient(lambda e: loss(e, indices), layer)
    v = RNG.normal(size=layer.W.shape)
    (grad,) = srcgrad.gradient(lambda e: loss(e, indices), layer)
    value, tangent = srcgrad.jvp(lambda e: loss(e, indices), (layer,), ({"W": v},))
    assert value == loss(layer, indices)
    np.testing.assert_allclose(tangent, np.sum(grad["W"] * v), rtol=1e-12)


def test_in_a_model_trained_on_its_output():
    model = Chain(Embedding(6, 4, rng=0), Dense(4, 1, rng=1))
    tokens, target = np.array([[0, 5], [5, 2]]), np.ones((2, 2, 1))

    def loss(m):
        return np.mean((m(tokens) - target) ** 2)

    check_model_gradient(loss, model)


def test_value_inside_gradient_is_the_plain_value():
    layer = Embedding(4, 3, rng=5)
    indices = np.array([[3, 0], [0, 0]])
    value, _ = srcgrad.withgradient(lambda e: np.sum(e(indices) ** 3), layer)
    assert value == np.sum(layer(indices) ** 3)


def test_refuses_indices_out_of_range_or_not_integers():
    layer = Embedding(5, 3)
    with pytest.raises(IndexError, match=r"Embedding\(5, 3\): index 5 is out of range for a vocabulary of size 5; "
                                         r"indices go from 0 to 4"):
        layer(5)
    with pytest.raises(IndexError, match=r"index -1 \(at 1\) is out of range for a vocabulary of size 5"):
        layer(np.array([0, -1]))
    with pytest.raises(IndexError, match=r"index 9 \(at \(1, 0\)\) is out of range"):
        layer([[1, 2], [9, 0]])
    with pytest.raises(TypeError,
                       match=r"Embedding\(5, 3\) takes integer indices from 0 to 4, got an array of float64"):
        layer(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"got float 1.0"):
        layer(1.0)
    with pytest.raises(TypeError, match=r"takes integer indices, got the bool True"):
        layer(True)
    with pytest.raises(TypeError, match=r"got an array of bool"):
        layer(np.array([True, False]))
    with pytest.raises(IndexError, match=r"index 7 \(at 0\) is out of range for a vocabulary of size 5"):
        srcgrad.gradient(lambda e: np.sum(e(np.array([7]))), layer)


def test_save_and_load(tmp_path):
    layer = Embedding(5, 3, rng=0)
    save(tmp_path / "e.npz", layer)
    other = load(tmp_path / "e.npz", Embedding(5, 3, rng=1))
    np.testing.assert_array_equal(other.W, layer.W)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    layer = Embedding(7, 4, rng=6)
    twin = torch.nn.Embedding(7, 4, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.W))
    indices = np.array([[1, 6, 1], [0, 1, 6]])
    c = RNG.normal(size=indices.shape + (4,))
    (grad,) = srcgrad.gradient(lambda e: np.sum(np.tanh(e(indices)) * c), layer)
    out = twin(torch.from_numpy(indices))
    torch.sum(torch.tanh(out) * torch.from_numpy(c)).backward()
    np.testing.assert_allclose(layer(indices), out.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(grad["W"], twin.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(IndexError):  # torch refuses an index out of range too
        twin(torch.tensor([7]))


def test_docstring_examples_run():
    assert doctest.testmod(embedding).failed == 0
