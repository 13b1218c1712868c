"""Representative functions whose generated source is pinned in tests/golden/*.txt.

Changing this file moves line numbers in the golden comments: regenerate
with ``SRCGRAD_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

import math

import numpy as np

W = np.ones((2, 5))
b = np.zeros(2)


def polynomial(x):
    return 3 * x ** 2 + 2 * x + 1


def affine(W, b, x):
    return W * x + b


def sum_of_squares(x, y):
    return np.sum((x - y) ** 2)


def regression(W, b, x, y):
    y_cap = W @ x + b
    return np.sum((y - y_cap) ** 2)


def predict(x):
    return W @ x + b


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def two_layers(x):
    h = sigmoid(predict(x))
    return np.sum(h * h)


def transcendental(x):
    return math.sin(x) * math.exp(-x) + math.log(1 + x ** 2)


def branch(x):
    if x > 0:
        y = x * x
    else:
        y = -x
    return y


def rnn(Wh, h, xs):
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + xs[t])
    return np.sum(h)


def halving(x):
    while x > 0.1:
        x = x / 2
    return x


def over_list(xs, scale):
    total = 0.0
    for x in xs:
        total = total + scale * x
    return total


class Affine:
    def __init__(self, n_in, n_out):
        self.W = np.ones((n_out, n_in))
        self.b = np.zeros(n_out)

    def __call__(self, x):
        return self.W @ x + self.b


def softmax_cross_entropy(logits, label):
    shifted = logits - np.max(logits)
    log_probs = shifted - np.log(np.sum(np.exp(shifted)))
    return -log_probs[label]


def fill_by_index(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x * (i + 1)
    return np.sum(y ** 2)


def early_exit(xs, t):
    for x in xs:
        if x > t:
            return x * 2.0
    return 0.0


def layer_passed_in(layer, x):
    # sigmoid is spliced in; layer, an argument, is called through pullback
    h = sigmoid(layer(x))
    return np.sum(h * h)


GOLDEN = [fill_by_index, early_exit, polynomial, affine, sum_of_squares, regression, two_layers, transcendental, branch, rnn,
          halving, over_list, Affine.__call__, softmax_cross_entropy, layer_passed_in]
