"""A small neural network reads handwritten digits.

scikit-learn ships a set of 1797 handwritten digits as 8x8 images (no
download needed). This script trains a multilayer perceptron on 80% of
them and measures its accuracy on the other 20%, which it never saw:

    Chain(Dense(64, 32, relu), Dense(32, 10))   trained with Adam(0.01),
    logitcrossentropy on one-hot labels, mini-batches of 32, 10 epochs.

With the seeds below it reaches 97.8% test accuracy after about two
seconds of training, and asserts at least 94% (seeds 0 to 9 give 95.8%
to 97.8%).

    pip install -e ".[examples]"     # scikit-learn
    python examples/digits_mlp.py [--epochs N]
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

from srcgrad.models import Chain, Dense, init, logitcrossentropy, onecold, onehot, relu
from srcgrad.optim import Adam, DataLoader, setup, train

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

start = time.perf_counter()
init.seed(0)  # the layers' initial weights
rng = np.random.default_rng(0)  # the split and the order of the batches

digits = load_digits()
X = digits.data / 16.0  # pixel intensities 0..16, scaled to 0..1; one image per row
labels = digits.target
order = rng.permutation(len(X))
n_test = len(X) // 5
test, training = order[:n_test], order[n_test:]
X_train, Y_train = X[training], onehot(labels[training], 10)
X_test, labels_test = X[test], labels[test]
print(f"{len(training)} training images, {len(test)} test images, 8x8 pixels each")

model = Chain(Dense(64, 32, relu), Dense(32, 10))
print(model)


def loss(model, x, y):
    return logitcrossentropy(model(x), y)


def accuracy(model, x, labels):
    return float(np.mean(onecold(model(x)) == labels))


state = setup(Adam(0.01), model)
batches = DataLoader((X_train, Y_train), batchsize=32, shuffle=True, rng=rng)
for epoch in range(1, args.epochs + 1):
    train(loss, model, batches, state)
    print(f"epoch {epoch:2d}  training loss {loss(model, X_train, Y_train):.4f}  "
          f"test accuracy {accuracy(model, X_test, labels_test):.1%}")

final = accuracy(model, X_test, labels_test)
print(f"test accuracy {final:.1%} after {args.epochs} epochs, {time.perf_counter() - start:.1f} s")
if args.epochs >= 10:
    assert final >= 0.94, f"expected at least 94% test accuracy, got {final:.1%}"
