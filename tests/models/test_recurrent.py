"""Recurrent layers (srcgrad/models/recurrent.py): RNN, LSTM, GRU and their cells.

Checked against PyTorch's layers given the same weights (float64, 1e-10),
against a naive loop written from PyTorch's documented formulas (without
torch), and against central differences on small sizes.
"""

import doctest
import re

import numpy as np
import pytest

import srcgrad
import srcgrad.models.recurrent as recurrent
from srcgrad.models import Chain, Dense, load, relu, save
from srcgrad.models.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

from .modelcheck import check_model_gradient

RNG = np.random.default_rng(19)
CELLS = [RNNCell, LSTMCell, GRUCell]
LAYERS = [RNN, LSTM, GRU]


def relu_rnn_cell(n_in, n_out, rng=None):
    return RNNCell(n_in, n_out, relu, rng=rng)


def relu_rnn(n_in, n_out, rng=None):
    return RNN(n_in, n_out, relu, rng=rng)


def random_state(cell, batch):
    """A nonzero state for ``cell`` (a pair for an LSTM)."""
    n = cell.W_hh.shape[1]
    if isinstance(cell, LSTMCell):
        return RNG.normal(size=(batch, n)), RNG.normal(size=(batch, n))
    return RNG.normal(size=(batch, n))


def cell_loss(cell, x, state, r):
    """Uses the output and every part of the state passed on."""
    h, new_state = cell(x, state)
    total = np.sum(h * r)
    if isinstance(cell, LSTMCell):
        total = total + np.sum(new_state[1] ** 2)
    return total


def sequence_loss(layer, x, r):
    return np.sum(layer(x) * r)


def sequence_loss_from(layer, x, state, r):
    return np.sum(layer(x, state) * r)


# --- a naive reference: one sample, one time step at a time, PyTorch's formulas gate by gate ---

def naive_sigmoid(v):
    return 1 / (1 + np.exp(-v))


def naive_step(cell, x, state):
    """One sample ``x`` of shape ``(in,)``; returns ``(h, state)`` as the cell should."""
    n = cell.W_hh.shape[1]

    def gate(k, h):  # the k-th row block of W_ih x + b_ih + W_hh h + b_hh, and its parts
        rows = slice(k * n, (k + 1) * n)
        return (cell.W_ih[rows] @ x + cell.b_ih[rows]), (cell.W_hh[rows] @ h + cell.b_hh[rows])

    if isinstance(cell, LSTMCell):
        h, c = state
        i, f, g, o = [sum(gate(k, h)) for k in range(4)]
        c = naive_sigmoid(f) * c + naive_sigmoid(i) * np.tanh(g)
        h = naive_sigmoid(o) * np.tanh(c)
        return h, (h, c)
    h = state
    if isinstance(cell, GRUCell):
        r = naive_sigmoid(sum(gate(0, h)))
        z = naive_sigmoid(sum(gate(1, h)))
        x_n, h_n = gate(2, h)
        n_ = np.tanh(x_n + r * h_n)
        h = (1 - z) * n_ + z * h
        return h, h
    h = cell.activation(sum(gate(0, h)))
    return h, h


def naive_sequence(layer, x, state=None):
    batch, time, _ = x.shape
    out = np.zeros((batch, time, layer.cell.W_hh.shape[1]))
    for b in range(batch):
        if state is None:
            s = layer.cell.initial_state(batch)
        else:
            s = state
        s = tuple(part[b] for part in s) if isinstance(s, tuple) else s[b]
        for t in range(time):
            out[b, t], s = naive_step(layer.cell, x[b, t], s)
    return out


@pytest.mark.parametrize("make", CELLS + [relu_rnn_cell])
def test_cells_match_the_naive_reference(make):
    cell = make(3, 4, rng=1)
    x = RNG.normal(size=(5, 3))
    state = random_state(cell, 5)
    h, new_state = cell(x, state)
    assert h.shape == (5, 4)
    for b in range(5):
        one = tuple(part[b] for part in state) if isinstance(state, tuple) else state[b]
        h_b, state_b = naive_step(cell, x[b], one)
        np.testing.assert_allclose(h[b], h_b, rtol=1e-12, atol=1e-12)
        if isinstance(cell, LSTMCell):
            np.testing.assert_allclose(new_state[1][b], state_b[1], rtol=1e-12, atol=1e-12)
    if isinstance(cell, LSTMCell):
        assert new_state[0] is h
    else:
        assert new_state is h


@pytest.mark.parametrize("make", LAYERS + [relu_rnn])
def test_sequences_match_the_naive_reference(make):
    layer = make(3, 4, rng=2)
    x = RNG.normal(size=(2, 5, 3))
    np.testing.assert_allclose(layer(x), naive_sequence(layer, x), rtol=1e-12, atol=1e-12)
    state = random_state(layer.cell, 2)
    np.testing.assert_allclose(layer(x, state), naive_sequence(layer, x, state), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", LAYERS)
def test_sequence_is_its_cell_run_along_time(make):
    layer = make(3, 2, rng=3)
    x = RNG.normal(size=(4, 6, 3))
    state = layer.cell.initial_state(4)
    hs = []
    for t in range(6):
        h, state = layer.cell(x[:, t], state)
        hs.append(h)
    np.testing.assert_allclose(layer(x), np.stack(hs, axis=1), rtol=1e-13, atol=1e-13)


# --- central differences, batch 2, time 3, in 3, out 2 ---

@pytest.mark.parametrize("make", CELLS + [relu_rnn_cell])
def test_cell_gradients_against_differences(make):
    cell = make(3, 2, rng=4)
    r = RNG.normal(size=(2, 2))
    for batch in (2, 1):
        x = RNG.normal(size=(batch, 3))
        state = random_state(cell, batch)
        check_model_gradient(lambda m, x, s: cell_loss(m, x, s, r[:batch]), cell, x, state)


@pytest.mark.parametrize("make", LAYERS)
def test_sequence_gradients_against_differences(make):
    layer = make(3, 2, rng=5)
    for shape in [(2, 3, 3), (1, 4, 3)]:
        x = RNG.normal(size=shape)
        r = RNG.normal(size=shape[:2] + (2,))
        grads = check_model_gradient(lambda m, x: sequence_loss(m, x, r), layer, x)
        assert set(grads[0]["cell"]) >= {"W_ih", "W_hh", "b_ih", "b_hh"}


@pytest.mark.parametrize("make", LAYERS)
def test_sequence_from_a_given_state_against_differences(make):
    layer = make(3, 2, rng=6)
    x = RNG.normal(size=(2, 3, 3))
    r = RNG.normal(size=(2, 3, 2))
    state = random_state(layer.cell, 2)
    check_model_gradient(lambda m, x, s: sequence_loss_from(m, x, s, r), layer, x, state)


def test_relu_rnn_gradient_against_differences():
    layer = relu_rnn(3, 2, rng=7)
    x = RNG.normal(size=(2, 3, 3))
    check_model_gradient(lambda m, x: np.sum(m(x) ** 2), layer, x)


@pytest.mark.parametrize("make", LAYERS)
def test_forward_mode_matches_differences(make):
    layer = make(3, 2, rng=8)
    x = RNG.normal(size=(2, 3, 3))
    v = RNG.normal(size=x.shape)
    y, dy = srcgrad.jvp(lambda x: layer(x), (x,), (v,))
    np.testing.assert_array_equal(y, layer(x))
    eps = 1e-6
    expected = (layer(x + eps * v) - layer(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(dy, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [LSTM, GRU])
def test_second_order_matches_differences_of_the_gradient(make):
    layer = make(3, 2, rng=16)
    x = RNG.normal(size=(2, 3, 3))
    v = RNG.normal(size=x.shape)
    grad = lambda x: srcgrad.gradient(lambda x: np.sum(layer(x) ** 2), x)[0]
    eps = 1e-5
    expected = (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps)
    _, forward_over_reverse = srcgrad.jvp(grad, (x,), (v,))
    np.testing.assert_allclose(forward_over_reverse, expected, rtol=1e-6, atol=1e-8)
    (reverse_over_reverse,) = srcgrad.gradient(lambda x: np.sum(grad(x) * v), x)
    np.testing.assert_allclose(reverse_over_reverse, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", LAYERS)
def test_srcgrads_forward_value_is_the_plain_call(make):
    layer = make(3, 4, rng=9)
    x = RNG.normal(size=(2, 5, 3))
    y, back = srcgrad.pullback(lambda m, x: m(x), layer, x)
    np.testing.assert_array_equal(y, layer(x))
    grads = back(np.ones_like(y))
    assert grads[1].shape == x.shape


def test_in_a_chain_the_last_step_feeds_a_dense_layer():
    model = Chain(LSTM(3, 4, rng=10), lambda hs: hs[:, -1], Dense(4, 1, rng=11))
    x = RNG.normal(size=(2, 3, 3))
    y = RNG.normal(size=(2, 1))
    check_model_gradient(lambda m, x, y: np.mean((m(x) - y) ** 2), model, x, y)


# --- dtypes, construction, printing, saving ---

@pytest.mark.parametrize("make", LAYERS)
def test_float32_in_gives_float32_out(make):
    layer = make(3, 2, rng=12)
    x = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, layer(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    grads = srcgrad.gradient(lambda m, x: np.sum(m(x)), layer, x)
    assert grads[1].dtype == np.float32
    assert grads[0]["cell"]["W_hh"].dtype == np.float64  # the parameter's own type
    h, _ = layer.cell(x[:, 0], layer.cell.initial_state(2, np.float32))
    assert h.dtype == np.float32
    assert layer(np.ones((2, 4, 3), dtype=int)).dtype == np.float64


@pytest.mark.parametrize("make, gates", [(RNNCell, 1), (LSTMCell, 4), (GRUCell, 3)])
def test_cell_fields_and_pytorch_initialisation(make, gates):
    cell = make(30, 20, rng=13)
    assert cell.W_ih.shape == (gates * 20, 30) and cell.W_hh.shape == (gates * 20, 20)
    assert cell.b_ih.shape == cell.b_hh.shape == (gates * 20,)
    bound = 1 / np.sqrt(20)
    arrays = [cell.W_ih, cell.W_hh, cell.b_ih, cell.b_hh]
    for a in arrays:
        assert np.all(np.abs(a) <= bound) and a.std() > bound / 3
    assert not np.array_equal(cell.b_ih, cell.b_hh), "one generator for all four arrays, not one per array"
    np.testing.assert_array_equal(make(3, 2, rng=5).W_hh, make(3, 2, rng=5).W_hh)
    state = cell.initial_state(7)
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == (2 if make is LSTMCell else 1)
    for part in parts:
        assert part.shape == (7, 20) and not part.any()


def test_sequence_layers_wrap_their_cell():
    assert isinstance(RNN(3, 2).cell, RNNCell) and RNN(3, 2, relu).cell.activation is relu
    assert isinstance(LSTM(3, 2).cell, LSTMCell) and isinstance(GRU(3, 2).cell, GRUCell)
    np.testing.assert_array_equal(LSTM(3, 2, rng=1).cell.W_ih, LSTMCell(3, 2, rng=1).W_ih)


def test_signature_and_printing():
    assert repr(LSTM(3, 5)) == "LSTM(3, 5)  # 200 parameters"
    assert repr(GRUCell(3, 5)) == "GRUCell(3, 5)  # 150 parameters"
    assert RNN(3, 5).signature() == "RNN(3, 5)"
    assert RNN(3, 5, relu).signature() == "RNN(3, 5, relu)"
    assert RNNCell(3, 5, relu).signature() == "RNNCell(3, 5, relu)"
    text = repr(Chain(GRU(2, 3), lambda h: h[:, -1], Dense(3, 1)))
    assert "GRU(2, 3),    # 63 parameters" in text and "Total: 6 arrays, 67 parameters" in text


@pytest.mark.parametrize("make", LAYERS + CELLS)
def test_save_and_load_round_trip(make, tmp_path):
    a, b = make(3, 2, rng=14), make(3, 2, rng=15)
    path = tmp_path / "layer.npz"
    save(path, a)
    load(path, b)
    for (name, x), y in zip(vars(getattr(a, "cell", a)).items(), vars(getattr(b, "cell", b)).values()):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
    x = RNG.normal(size=(2, 4, 3))
    if make in LAYERS:
        np.testing.assert_array_equal(a(x), b(x))


# --- bad input ---

def refused(error, message, call, *args):
    """``call(*args)`` raises ``error`` with ``message`` (plain text, not a pattern) in it."""
    with pytest.raises(error, match=re.escape(message)):
        call(*args)


def test_a_wrong_input_size_names_the_layer_and_both_shapes():
    refused(ValueError, "LSTM(3, 2) expected an input of shape (batch, time, 3), got (4, 5, 7)",
            LSTM(3, 2), np.ones((4, 5, 7)))
    refused(ValueError, "GRU(3, 2) expected an input of shape (batch, time, 3), got (5, 3); for one sequence, "
                        "add a batch axis (x[None]), or step through it with GRUCell", GRU(3, 2), np.ones((5, 3)))
    refused(ValueError, "RNNCell(3, 2) expected an input of shape (batch, 3), got (3,)",
            RNNCell(3, 2), np.ones(3), np.zeros((1, 2)))
    refused(ValueError, "LSTMCell(3, 2) expected an input of shape (batch, 3), got (4, 2)",
            LSTMCell(3, 2), np.ones((4, 2)), LSTMCell(3, 2).initial_state(4))
    refused(ValueError, "RNN(3, 2) expected a sequence of at least one time step, got (4, 0, 3)",
            RNN(3, 2), np.ones((4, 0, 3)))
    refused(ValueError, "RNN(3, 2) expected an input of shape (batch, time, 3), got ()", RNN(3, 2), 1.0)
    refused(TypeError, "RNN(3, 2) expected an input of real numbers, got an array of complex128",
            RNN(3, 2), np.ones((4, 1, 3), complex))


def test_a_wrong_state_is_refused():
    refused(ValueError, "LSTM(3, 2) expected a state (h, c) of two arrays of shape (4, 2), got (4, 2)",
            LSTM(3, 2), np.ones((4, 5, 3)), np.zeros((4, 2)))
    refused(ValueError, "LSTMCell(3, 2) expected a state (h, c) of two arrays of shape (4, 2), got ((4, 2), (4, 3))",
            LSTMCell(3, 2), np.ones((4, 3)), (np.zeros((4, 2)), np.zeros((4, 3))))
    refused(ValueError, "GRU(3, 2) expected a state of shape (4, 2), got (1, 4, 2)",
            GRU(3, 2), np.ones((4, 5, 3)), np.zeros((1, 4, 2)))
    refused(ValueError, "RNNCell(3, 2) expected a state of shape (4, 2), got None; start from cell.initial_state(4)",
            RNNCell(3, 2), np.ones((4, 3)), None)
    refused(ValueError, "GRUCell(3, 2) expected a state of shape (4, 2), got a tuple (only an LSTM's state is a pair)",
            GRUCell(3, 2), np.ones((4, 3)), (np.zeros((4, 2)), np.zeros((4, 2))))


def test_an_lstm_state_may_be_a_list():
    layer = LSTM(3, 2, rng=0)
    x = RNG.normal(size=(4, 5, 3))
    h, c = RNG.normal(size=(2, 4, 2))
    np.testing.assert_array_equal(layer(x, [h, c]), layer(x, (h, c)))


def test_bad_input_is_refused_under_gradient_too():
    layer = LSTM(3, 2)
    refused(ValueError, "LSTM(3, 2) expected an input of shape (batch, time, 3), got (2, 3, 4)",
            srcgrad.gradient, lambda m, x: np.sum(m(x)), layer, np.ones((2, 3, 4)))


def test_docstring_examples_run():
    result = doctest.testmod(recurrent)
    assert result.attempted > 0 and result.failed == 0


# --- against PyTorch, same weights, float64 ---

def torch_twin(layer):
    """PyTorch's layer or cell with ``layer``'s weights, in float64."""
    torch = pytest.importorskip("torch")
    cell = getattr(layer, "cell", layer)
    n_in, n_out = cell.W_ih.shape[1], cell.W_hh.shape[1]
    kind = {RNNCell: "RNN", LSTMCell: "LSTM", GRUCell: "GRU"}[type(cell)]
    options = {"nonlinearity": "relu" if cell.activation is relu else "tanh"} if kind == "RNN" else {}
    if layer is cell:
        twin, suffix = getattr(torch.nn, kind + "Cell")(n_in, n_out, **options), ""
    else:
        twin, suffix = getattr(torch.nn, kind)(n_in, n_out, batch_first=True, **options), "_l0"
    twin = twin.double()
    with torch.no_grad():
        for ours, theirs in [("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")]:
            getattr(twin, theirs + suffix).copy_(torch.from_numpy(getattr(cell, ours)))
    return torch, twin, suffix


def assert_close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=what)


def assert_parameter_grads(grads, twin, suffix):
    for ours, theirs in [("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")]:
        assert_close(grads[ours], getattr(twin, theirs + suffix).grad, ours)


@pytest.mark.parametrize("make", CELLS + [relu_rnn_cell])
def test_cells_match_pytorch(make):
    cell = make(4, 3, rng=20)
    torch, twin, _ = torch_twin(cell)
    x = RNG.normal(size=(5, 4))
    state = random_state(cell, 5)
    r = RNG.normal(size=(5, 3))
    grads = srcgrad.gradient(lambda m, x, s: cell_loss(m, x, s, r), cell, x, state)

    tx = torch.tensor(x, requires_grad=True)
    parts = state if isinstance(state, tuple) else (state,)
    tstate = [torch.tensor(part, requires_grad=True) for part in parts]
    out = twin(tx, tuple(tstate) if len(tstate) == 2 else tstate[0])
    h = out[0] if isinstance(out, tuple) else out
    loss = (h * torch.from_numpy(r)).sum()
    if isinstance(cell, LSTMCell):
        loss = loss + (out[1] ** 2).sum()
        assert_close(cell(x, state)[1][1], out[1], "c")
    loss.backward()
    assert_close(cell(x, state)[0], h, "h")
    assert_parameter_grads(grads[0], twin, "")
    assert_close(grads[1], tx.grad, "x")
    for ours, theirs in zip(grads[2] if isinstance(state, tuple) else (grads[2],), tstate):
        assert_close(ours, theirs.grad, "state")


@pytest.mark.parametrize("make", LAYERS + [relu_rnn])
@pytest.mark.parametrize("given_state", [False, True])
def test_sequences_match_pytorch(make, given_state):
    layer = make(4, 3, rng=21)
    torch, twin, suffix = torch_twin(layer)
    x = RNG.normal(size=(2, 6, 4))
    r = RNG.normal(size=(2, 6, 3))
    tx = torch.tensor(x, requires_grad=True)
    if given_state:
        state = random_state(layer.cell, 2)
        grads = srcgrad.gradient(lambda m, x, s: sequence_loss_from(m, x, s, r), layer, x, state)
        tstate = [torch.tensor(part[None], requires_grad=True)
                  for part in (state if isinstance(state, tuple) else (state,))]
        y, _ = twin(tx, tuple(tstate) if len(tstate) == 2 else tstate[0])
        assert_close(layer(x, state), y, "output")
    else:
        grads = srcgrad.gradient(lambda m, x: sequence_loss(m, x, r), layer, x)
        y, _ = twin(tx)
        assert_close(layer(x), y, "output")
    (y * torch.from_numpy(r)).sum().backward()
    assert_parameter_grads(grads[0]["cell"], twin, suffix)
    assert_close(grads[1], tx.grad, "x")
    if given_state:
        for ours, theirs in zip(grads[2] if isinstance(state, tuple) else (grads[2],), tstate):
            assert_close(ours, theirs.grad[0], "initial state")
