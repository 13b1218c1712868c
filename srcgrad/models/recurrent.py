"""Recurrent layers: a cell for one time step, and a layer that runs it along a sequence.

A *cell* maps one time step's input ``x`` of shape ``(batch, in)`` and the
state carried from the step before to ``(h, state)``: the new hidden state
``h`` of shape ``(batch, out)`` and the state to pass on (``h`` itself for
``RNNCell`` and ``GRUCell``, the pair ``(h, c)`` for ``LSTMCell``).
``cell.initial_state(batch)`` is the zero state a sequence starts from.

A *sequence layer* (``RNN``, ``LSTM``, ``GRU``) holds its cell in the field
``cell`` and maps ``(batch, time, in)`` to every step's ``h``,
``(batch, time, out)``. Its ``__call__`` is a plain Python loop over time,
which srcgrad differentiates through its source like any user code; the
input's part of the gates is one matrix product for the whole sequence,
made before the loop.

Weights are laid out as PyTorch's, so results compare number for number:
``W_ih`` of shape ``(gates * out, in)``, ``W_hh`` of shape ``(gates * out,
out)`` and the biases ``b_ih``, ``b_hh`` of shape ``(gates * out,)``, with
the gates stacked in PyTorch's order (LSTM ``i, f, g, o``; GRU ``r, z, n``),
all drawn uniform in ``±1/sqrt(out)`` as PyTorch draws them (from ``rng=``,
a Generator or a seed, else ``init``'s generator). A float32 input gives a
float32 output (the weights are cast to the input's type).

>>> import numpy as np
>>> from srcgrad.models.recurrent import LSTM
>>> layer = LSTM(3, 5, rng=0)
>>> layer(np.ones((2, 7, 3))).shape
(2, 7, 5)
>>> layer
LSTM(3, 5)  # 200 parameters
"""

from __future__ import annotations

import numpy as np

from ..rules.registry import nograd
from .activations import sigmoid, tanh
from .init import default_rng
from .layers import show

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]


class _Cell:
    """What the three cells share; each cell says how many ``gates`` it has and how it takes a ``step``."""

    gates = 1

    def __init__(self, in_features, out_features, *, rng=None):
        rng = default_rng(rng)  # (once: a seed given as rng must not restart for every array)
        rows = self.gates * out_features
        bound = 1 / np.sqrt(out_features)
        self.W_ih = rng.uniform(-bound, bound, (rows, in_features))
        self.W_hh = rng.uniform(-bound, bound, (rows, out_features))
        self.b_ih = rng.uniform(-bound, bound, rows)
        self.b_hh = rng.uniform(-bound, bound, rows)

    def __call__(self, x, state):
        """``(h, state)`` one step on from ``state``, for the input ``x`` of shape ``(batch, in)``."""
        dtype = _check(self, x, state)
        W_ih, W_hh, b_ih, b_hh = _weights(self, dtype)
        return self.step(x @ W_ih.T + b_ih, state, W_hh, b_hh)

    def initial_state(self, batch, dtype=np.float64):
        """The state a sequence starts from: zeros of shape ``(batch, out)`` (of ``dtype``)."""
        return np.zeros((batch, self.W_hh.shape[1]), dtype)

    @property
    def sizes(self):
        """``(in, out)``: the sizes the cell was built with."""
        return self.W_ih.shape[1], self.W_hh.shape[1]

    def signature(self):
        """How the cell was built, e.g. ``'LSTMCell(3, 5)'``."""
        return f"{type(self).__name__}{self.sizes}"

    def __repr__(self):
        return show(self)


class RNNCell(_Cell):
    """The Elman cell: ``h = activation(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)`` (PyTorch's ``RNNCell``).

    >>> import numpy as np
    >>> cell = RNNCell(3, 2, rng=0)
    >>> h, state = cell(np.ones((4, 3)), cell.initial_state(4))
    >>> h.shape, state is h
    ((4, 2), True)
    """

    def __init__(self, in_features, out_features, activation=tanh, *, rng=None):
        super().__init__(in_features, out_features, rng=rng)
        self.activation = activation

    def step(self, inputs, h, W_hh, b_hh):
        """One step from ``inputs = x @ W_ih.T + b_ih``, the input's part already made (weights in its dtype)."""
        h = self.activation(inputs + h @ W_hh.T + b_hh)
        return h, h

    def signature(self):
        """How the cell was built, e.g. ``'RNNCell(3, 2, relu)'`` (``tanh``, the default, is not shown)."""
        act = "" if self.activation is tanh else ", " + (getattr(self.activation, "__name__", None)
                                                        or repr(self.activation))
        return f"RNNCell({self.sizes[0]}, {self.sizes[1]}{act})"


class LSTMCell(_Cell):
    """The long short-term memory cell (PyTorch's ``LSTMCell``); its state is the pair ``(h, c)``.

    The gates ``i, f, g, o`` are the four row blocks of the weights::

        i, f, g, o = split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4)
        c = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h = sigmoid(o) * tanh(c)

    >>> import numpy as np
    >>> cell = LSTMCell(3, 2, rng=0)
    >>> h, (h_again, c) = cell(np.ones((4, 3)), cell.initial_state(4))
    >>> cell.W_ih.shape, h.shape, c.shape
    ((8, 3), (4, 2), (4, 2))
    """

    gates = 4

    def step(self, inputs, state, W_hh, b_hh):
        """One step from ``inputs = x @ W_ih.T + b_ih``, the input's part already made (weights in its dtype)."""
        h, c = state
        i, f, g, o = np.split(inputs + h @ W_hh.T + b_hh, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return h, (h, c)

    def initial_state(self, batch, dtype=np.float64):
        """The state a sequence starts from: ``(h, c)``, zeros of shape ``(batch, out)`` each."""
        shape = (batch, self.W_hh.shape[1])
        return np.zeros(shape, dtype), np.zeros(shape, dtype)


class GRUCell(_Cell):
    """The gated recurrent unit (PyTorch's ``GRUCell``, gates ``r, z, n``)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h = (1 - z) * n + z * h

    >>> import numpy as np
    >>> cell = GRUCell(3, 2, rng=0)
    >>> h, _ = cell(np.ones((4, 3)), cell.initial_state(4))
    >>> cell.W_hh.shape, h.shape
    ((6, 2), (4, 2))
    """

    gates = 3

    def step(self, inputs, h, W_hh, b_hh):
        """One step from ``inputs = x @ W_ih.T + b_ih``, the input's part already made (weights in its dtype)."""
        x_r, x_z, x_n = np.split(inputs, 3, axis=1)
        h_r, h_z, h_n = np.split(h @ W_hh.T + b_hh, 3, axis=1)
        r = sigmoid(x_r + h_r)
        z = sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        return h, h


class _Recurrent:
    """What the three sequence layers share: the loop over time around their ``cell``."""

    def __call__(self, x, state=None):
        """Every step's ``h``, ``(batch, time, out)``, for ``x`` of shape ``(batch, time, in)``."""
        cell = self.cell
        dtype = _check(self, x, state)
        W_ih, W_hh, b_ih, b_hh = _weights(cell, dtype)
        if state is None:
            state = cell.initial_state(x.shape[0], dtype)
        inputs = x @ W_ih.T + b_ih  # the input's part of every step at once: one product, not one a step
        hs = []
        for t in range(x.shape[1]):
            h, state = cell.step(inputs[:, t], state, W_hh, b_hh)
            hs.append(h)
        return np.stack(hs, axis=1)

    def signature(self):
        """How the layer was built, e.g. ``'LSTM(3, 5)'``."""
        return type(self).__name__ + self.cell.signature().removeprefix(type(self.cell).__name__)

    def __repr__(self):
        return show(self)


class RNN(_Recurrent):
    """An ``RNNCell`` run along a sequence: ``(batch, time, in)`` to every step's ``h``, ``(batch, time, out)``.

    ``layer(x, h0)`` starts from the state ``h0`` instead of zeros.

    >>> import numpy as np
    >>> from srcgrad.models import relu
    >>> layer = RNN(3, 2, relu, rng=0)
    >>> layer(np.ones((4, 6, 3))).shape
    (4, 6, 2)
    >>> layer
    RNN(3, 2, relu)  # 14 parameters
    """

    def __init__(self, in_features, out_features, activation=tanh, *, rng=None):
        self.cell = RNNCell(in_features, out_features, activation, rng=rng)


class LSTM(_Recurrent):
    """An ``LSTMCell`` run along a sequence: ``(batch, time, in)`` to every step's ``h``, ``(batch, time, out)``.

    ``layer(x, (h0, c0))`` starts from that state instead of zeros.

    >>> import numpy as np
    >>> LSTM(3, 2, rng=0)(np.ones((4, 6, 3))).shape
    (4, 6, 2)
    """

    def __init__(self, in_features, out_features, *, rng=None):
        self.cell = LSTMCell(in_features, out_features, rng=rng)


class GRU(_Recurrent):
    """A ``GRUCell`` run along a sequence: ``(batch, time, in)`` to every step's ``h``, ``(batch, time, out)``.

    ``layer(x, h0)`` starts from the state ``h0`` instead of zeros.

    >>> import numpy as np
    >>> GRU(3, 2, rng=0)(np.ones((4, 6, 3))).shape
    (4, 6, 2)
    """

    def __init__(self, in_features, out_features, *, rng=None):
        self.cell = GRUCell(in_features, out_features, rng=rng)


def _weights(cell, dtype):
    """The cell's ``W_ih, W_hh, b_ih, b_hh`` in ``dtype`` (themselves, not copies, when they have it)."""
    return (cell.W_ih.astype(dtype, copy=False), cell.W_hh.astype(dtype, copy=False),
            cell.b_ih.astype(dtype, copy=False), cell.b_hh.astype(dtype, copy=False))


@nograd
def _check(layer, x, state):
    """The dtype ``layer`` computes in for ``x`` (its own if a float, else float64); ``ValueError`` if
    ``x`` or ``state`` has the wrong shape for the cell (or the sequence layer) ``layer``."""
    sequence = hasattr(layer, "cell")
    cell = layer.cell if sequence else layer
    n_in, n_out = cell.sizes
    shape, dtype = np.shape(x), np.asarray(x).dtype
    expected = f"(batch, time, {n_in})" if sequence else f"(batch, {n_in})"
    if len(shape) != (3 if sequence else 2) or shape[-1] != n_in:
        hint = ""
        if sequence and len(shape) == 2 and shape[1] == n_in:
            hint = f"; for one sequence, add a batch axis (x[None]), or step through it with {type(cell).__name__}"
        raise ValueError(f"{layer.signature()} expected an input of shape {expected}, got {shape}{hint}")
    if sequence and shape[1] == 0:
        raise ValueError(f"{layer.signature()} expected a sequence of at least one time step, got {shape}")
    if dtype.kind not in "biuf":
        raise TypeError(f"{layer.signature()} expected an input of real numbers, got an array of {dtype}")
    if state is not None or not sequence:
        _check_state(layer, cell, state, (shape[0], n_out))
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _check_state(layer, cell, state, expected):
    pair = isinstance(cell, LSTMCell)
    wanted = f"a state (h, c) of two arrays of shape {expected}" if pair else f"a state of shape {expected}"
    if state is None:
        raise ValueError(f"{layer.signature()} expected {wanted}, got None; start from "
                         f"cell.initial_state({expected[0]})")
    if pair:
        if not (isinstance(state, (tuple, list)) and len(state) == 2
                and all(np.shape(part) == expected for part in state)):
            got = (tuple(np.shape(part) for part in state) if isinstance(state, (tuple, list))
                   else np.shape(state))
            raise ValueError(f"{layer.signature()} expected {wanted}, got {got}")
    elif isinstance(state, (tuple, list)):
        raise ValueError(f"{layer.signature()} expected {wanted}, got a {type(state).__name__} "
                         f"(only an LSTM's state is a pair)")
    elif np.shape(state) != expected:
        raise ValueError(f"{layer.signature()} expected {wanted}, got {np.shape(state)}")
