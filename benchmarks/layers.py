"""``python -m benchmarks.layers [--quick]``: a training step of two models, side by side.

Issue #19's two layer benchmarks, each the time of one training step (the loss and the gradient of
every parameter, no update) on one thread, for srcgrad's layers, PyTorch eager (``torch.nn``) and
autograd (the same network in ``autograd.numpy``, written as a careful engineer would: a convolution is
one ``einsum`` over the kernel's shifted slices, pooling a reshape and a max):

- **cnn**: LeNet-5 on a batch of 64 of scikit-learn's digits, each 8 x 8 image scaled to 32 x 32:
  conv 5x5 1->6, relu, max-pool 2, conv 5x5 6->16, relu, max-pool 2, dense 400->120->84->10,
  softmax cross-entropy.
- **lstm**: a 1-layer LSTM, 64 inputs, hidden 128, on 64 sequences of 50 steps, a dense head on the
  last hidden state, mean squared error.

Every tool starts from the same weights and its loss is checked against srcgrad's before it is
timed. Times are the median of several rounds, each the best of a short sample; the ratio column is
srcgrad's time over each tool's (below 1: srcgrad is faster). The table printed is the one in
docs/benchmarks.md's section on layers.
"""

import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import srcgrad  # noqa: E402
from srcgrad.models import LSTM, Chain, Conv, Dense, Flatten, MaxPool, logitcrossentropy, mse, relu  # noqa: E402

BATCH = 64


# ------------------------------------------------------------------ data and srcgrad's models

def digits_batch():
    """64 digits, 8 x 8 scaled to 32 x 32 (each pixel a 4 x 4 block), and their one-hot labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images[:BATCH] / 16.0
    x = np.kron(images, np.ones((4, 4)))[:, None]  # (64, 1, 32, 32)
    y = np.eye(10)[digits.target[:BATCH]]
    return x, y


def lenet():
    return Chain(Conv((5, 5), 1, 6, relu, rng=0), MaxPool((2, 2)), Conv((5, 5), 6, 16, relu, rng=1), MaxPool((2, 2)),
                 Flatten(), Dense(400, 120, relu, rng=2), Dense(120, 84, relu, rng=3), Dense(84, 10, rng=4))


def cnn_loss(model, x, y):
    return logitcrossentropy(model(x), y)


class Recurrent:
    """An LSTM and a dense head on its last hidden state."""

    def __init__(self, steps):
        self.lstm = LSTM(64, 128, rng=0)
        self.head = Dense(128, 10, rng=1)
        self.steps = steps

    def __call__(self, x):
        return self.head(self.lstm(x)[:, -1])


def lstm_loss(model, x, y):
    return mse(model(x), y)


def lstm_batch(steps):
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, steps, 64)), rng.standard_normal((BATCH, 10))


# ------------------------------------------------------------------ PyTorch, from the same weights

def torch_cnn(model):
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10)
    ).double()
    ours = [model[0], model[2], model[5], model[6], model[7]]
    theirs = [net[0], net[3], net[7], net[9], net[11]]
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            b.weight.copy_(torch.from_numpy(a.W))
            b.bias.copy_(torch.from_numpy(a.b))

    def step(x, y):
        net.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x), y.argmax(1))
        loss.backward()
        return float(loss.detach())
    return step


def torch_lstm(model):
    import torch

    lstm = torch.nn.LSTM(64, 128, batch_first=True).double()
    head = torch.nn.Linear(128, 10).double()
    cell = model.lstm.cell
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            field = {"weight_ih_l0": "W_ih", "weight_hh_l0": "W_hh", "bias_ih_l0": "b_ih", "bias_hh_l0": "b_hh"}[name]
            getattr(lstm, name).copy_(torch.from_numpy(getattr(cell, field)))
        head.weight.copy_(torch.from_numpy(model.head.W))
        head.bias.copy_(torch.from_numpy(model.head.b))

    def step(x, y):
        lstm.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        out, _ = lstm(x)
        loss = torch.mean((head(out[:, -1]) - y) ** 2)
        loss.backward()
        return float(loss.detach())
    return step


# ------------------------------------------------------------------ autograd, written by hand

def autograd_cnn(model):
    import autograd
    import autograd.numpy as anp

    def conv(x, w, b):
        k = w.shape[-1]
        h, v = x.shape[2] - k + 1, x.shape[3] - k + 1
        patches = anp.stack([x[:, :, i:i + h, j:j + v] for i in range(k) for j in range(k)], axis=2)
        out = anp.einsum("bcphw,ocp->bohw", patches, anp.reshape(w, (w.shape[0], w.shape[1], k * k)))
        return out + b[None, :, None, None]

    def pool(x):
        n, c, h, w = x.shape
        return anp.max(anp.reshape(x, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))

    def loss(ps, x, y):
        (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = ps
        h = pool(anp.maximum(conv(x, w1, b1), 0.0))
        h = pool(anp.maximum(conv(h, w2, b2), 0.0))
        h = anp.reshape(h, (h.shape[0], -1))
        h = anp.maximum(h @ w3.T + b3, 0.0)
        h = anp.maximum(h @ w4.T + b4, 0.0)
        z = h @ w5.T + b5
        z = z - anp.max(z, axis=1, keepdims=True)
        return -anp.mean(anp.sum(y * (z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))), axis=1))

    ps = [(layer.W, layer.b) for layer in (model[0], model[2], model[5], model[6], model[7])]
    value_and_grad = autograd.value_and_grad(loss)
    return lambda x, y: float(value_and_grad(ps, x, y)[0])


def autograd_lstm(model):
    import autograd
    import autograd.numpy as anp

    def sigmoid(z):
        return 0.5 * (anp.tanh(0.5 * z) + 1.0)

    def loss(ps, x, y):
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = ps
        n = w_hh.shape[1]
        inputs = x @ w_ih.T + (b_ih + b_hh)  # (the input's share of every step, in one product)
        h = anp.zeros((x.shape[0], n))
        c = anp.zeros((x.shape[0], n))
        for t in range(x.shape[1]):
            z = inputs[:, t] + h @ w_hh.T
            i, f, g, o = sigmoid(z[:, :n]), sigmoid(z[:, n:2 * n]), anp.tanh(z[:, 2 * n:3 * n]), sigmoid(z[:, 3 * n:])
            c = f * c + i * g
            h = o * anp.tanh(c)
        return anp.mean((h @ w_out.T + b_out - y) ** 2)

    cell = model.lstm.cell
    ps = [cell.W_ih, cell.W_hh, cell.b_ih, cell.b_hh, model.head.W, model.head.b]
    value_and_grad = autograd.value_and_grad(loss)
    return lambda x, y: float(value_and_grad(ps, x, y)[0])


# ------------------------------------------------------------------ timing

def timed(step, args, rounds, sample):
    """The median over ``rounds`` of the best time of one call within ``sample`` seconds."""
    step(*args)  # (warm: srcgrad compiles here, as its first gradient would)
    bests = []
    for _ in range(rounds):
        best, start = float("inf"), time.perf_counter()
        while True:
            t0 = time.perf_counter()
            step(*args)
            best = min(best, time.perf_counter() - t0)
            if time.perf_counter() - start > sample:
                break
        bests.append(best)
    return statistics.median(bests)


def tasks(quick):
    steps = 20 if quick else 50
    x, y = digits_batch()
    cnn = lenet()
    rec = Recurrent(steps)
    xs, ys = lstm_batch(steps)
    yield ("cnn", "LeNet-5, 64 digits at 32 x 32", cnn_loss, cnn, (x, y),
           {"torch": lambda: torch_cnn(cnn), "autograd": lambda: autograd_cnn(cnn)})
    yield ("lstm", f"LSTM 64->128, 64 sequences of {steps} steps", lstm_loss, rec, (xs, ys),
           {"torch": lambda: torch_lstm(rec), "autograd": lambda: autograd_lstm(rec)})


def prepared(quick):
    """For each task, ``(title, steps, expected)``: each tool's step, ready with its data, and the loss all
    of them must give (srcgrad's plain forward pass). Peers that are not installed are left out."""
    for name, title, loss, model, data, peers in tasks(quick):

        def ours(*a, loss=loss, model=model):
            value, _ = srcgrad.withgradient(loss, model, *a)
            return float(value)
        steps = {"srcgrad": (ours, data)}
        for tool, make in peers.items():
            try:
                step = make()
            except ImportError as exc:
                print(f"{name}: {tool} skipped ({exc})", file=sys.stderr)
                continue
            feed = data
            if tool == "torch":
                import torch

                torch.set_num_threads(1)
                feed = tuple(torch.from_numpy(a) for a in data)
            steps[tool] = (step, feed)
        yield title, steps, float(loss(model, *data))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.layers", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and a 20-step LSTM")
    args = ap.parse_args(argv)
    rounds, sample = (3, 0.2) if args.quick else (7, 1.0)
    rows = []
    for title, steps, expected in prepared(args.quick):
        times = {}
        for tool, (step, feed) in steps.items():
            got = step(*feed)
            if not np.isclose(got, expected, rtol=1e-12):
                raise AssertionError(f"{title}: {tool}'s loss {got} differs from srcgrad's {expected}")
            times[tool] = timed(step, feed, rounds, sample)
        rows.append((title, times))
    print("| task | srcgrad | PyTorch eager | autograd | srcgrad / PyTorch | srcgrad / autograd |")
    print("|---|---|---|---|---|---|")
    for title, times in rows:
        ms = {tool: f"{t * 1e3:.2f} ms" for tool, t in times.items()}
        ratio = {tool: f"{times['srcgrad'] / t:.2f}" for tool, t in times.items()}
        print(f"| {title} | {ms['srcgrad']} | {ms.get('torch', '-')} | {ms.get('autograd', '-')} | "
              f"{ratio.get('torch', '-')} | {ratio.get('autograd', '-')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
