"""Machine learning with srcgrad: linear regression, optimisers, train, and models.

This follows the blog post "Machine Learning in Julia with Flux": simple
gradients, a linear regression trained by gradient descent with
`update(opt, p, grads[p])`, the same with `train` over `zip(x, y)`, Adam,
a throttled callback, a plot of the loss, and then models built from a
closure and from a Chain.

    python examples/seed_linear_regression.py [--epochs N] [--plot FILE.png]

The plot is written only when matplotlib is installed, to FILE.png, or
else to linear_regression_loss.png in $SRCGRAD_EXAMPLES_OUT, or in the
system's temporary directory. The post runs 1000 epochs; the default here
is 300, which takes a few seconds.
"""

import argparse
import os
import tempfile
import time

import numpy as np

import srcgrad
from srcgrad import gradient, params
from srcgrad.models import Chain, Dense, σ
from srcgrad.optim import Adam, Descent, throttle, train, update

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=300, help="passes over the data for each optimiser")
parser.add_argument("--plot", help="where to write the loss plot (PNG)")
args = parser.parse_args()

rng = np.random.default_rng(0)


# --- Simple gradients ------------------------------------------------------------
# Julia: f(x, y) = 3x^2 + 2x + y; df(x, y) = gradient(f, x, y); df(2, 2) == (14, 1)


def f(x, y):
    return 3 * x ** 2 + 2 * x + y


print("gradient(f, 2, 2) =", gradient(f, 2, 2))
assert gradient(f, 2, 2) == (14.0, 1.0)


# --- Linear regression -------------------------------------------------------------


def generate_data(n_samples):
    W0, b0 = rng.random((2, 5)), rng.random(2)
    x = [rng.random(5) for _ in range(n_samples)]
    y = [W0 @ x[i] + b0 + rng.random(2) for i in range(n_samples)]
    return x, y


def predict(x):
    return W @ x + b


def loss(x, y):
    ypred = predict(x)
    return np.sum((y - ypred) ** 2)


def epoch_loss():
    return sum(loss(xi, yi) for xi, yi in zip(x, y))


N_SAMPS = 10
x, y = generate_data(N_SAMPS)

# Gradient descent, one sample at a time, as in the post's first loop.
W, b = rng.random((2, 5)), rng.random(2)
optimizer = Descent(0.05)
descent_losses = []
start = time.perf_counter()
for epoch in range(args.epochs):
    for i in range(N_SAMPS):
        grads = gradient(lambda: loss(x[i], y[i]), params(W, b))
        for p in (W, b):
            update(optimizer, p, grads[p])
    descent_losses.append(epoch_loss())
print(f"Descent(0.05): loss {descent_losses[0]:.3f} -> {descent_losses[-1]:.3f} "
      f"in {time.perf_counter() - start:.1f} s")

# The same with train, which replaces the inner loop, and Adam. The callback
# prints the loss at most once every 2 seconds.
W, b = rng.random((2, 5)), rng.random(2)
optimizer = Adam(0.05)
adam_losses = []
show_loss = throttle(lambda: print(f"  (callback) loss {epoch_loss():.3f}"), 2)
start = time.perf_counter()
ps = params(W, b)
for epoch in range(args.epochs):
    train(loss, ps, zip(x, y), optimizer, cb=show_loss)
    adam_losses.append(epoch_loss())
print(f"Adam(0.05):    loss {adam_losses[0]:.3f} -> {adam_losses[-1]:.3f} "
      f"in {time.perf_counter() - start:.1f} s")
assert descent_losses[-1] < descent_losses[0] and adam_losses[-1] < adam_losses[0]

# generate_data adds noise that no linear model can explain, so the loss levels off above zero.
print("W =", W.round(2))

# --- Plot ------------------------------------------------------------------------------

try:
    import matplotlib

    matplotlib.use("Agg")  # write files only; no window
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no plot (pip install -e '.[examples]')")
else:
    out = args.plot or os.path.join(os.environ.get("SRCGRAD_EXAMPLES_OUT") or tempfile.gettempdir(),
                                    "linear_regression_loss.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(descent_losses, label="Descent(0.05)")
    ax.plot(adam_losses, label="Adam(0.05)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss over the 10 samples")
    ax.set_title("Linear regression, 10 samples")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    print("loss plot written to", out)


# --- Building and training models -------------------------------------------------------
# The post's two models: layers from a function returning a closure, and a Chain.
# Either is trained with train as before; only the loss changes.


def linear(n_in, n_out):
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    return lambda x: W @ x + b


linear1 = linear(5, 3)
linear2 = linear(3, 2)


def model(x):
    return linear2(σ(linear1(x)))


chain = Chain(Dense(5, 5, σ), Dense(5, 2))

for name, net in [("closures", model), ("Chain", chain)]:
    def net_loss(x, y):
        return np.sum((y - net(x)) ** 2)

    def total():
        return sum(net_loss(xi, yi) for xi, yi in zip(x, y))

    before = total()
    ps = params(net if net is chain else [linear1, linear2])
    optimizer = Adam(0.01)
    for epoch in range(args.epochs):
        train(net_loss, ps, zip(x, y), optimizer)
    print(f"{name:>8}: {len(ps)} parameter arrays, loss {before:.3f} -> {total():.3f}")
    assert total() < before

print(chain)
print("compiled adjoints:", srcgrad.cache_info().size)
