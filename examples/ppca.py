"""Probabilistic PCA fitted by gradient descent on its marginal likelihood.

Tipping and Bishop's model: each observation is ``x = W z + e`` with a
latent ``z ~ N(0, I_q)`` and noise ``e ~ N(0, s2 I_d)``, so ``x ~ N(0, C)``
with ``C = W W^T + s2 I``. For centred data with sample covariance ``S``
the negative log-likelihood per observation is, up to a constant,

    L(W, s2) = (log|det C| + trace(C^-1 S)) / 2

written below with ``np.linalg.slogdet`` and ``np.linalg.solve``, and
differentiated by srcgrad. Its optimum is known in closed form (the top
``q`` eigenvectors of ``S`` span ``W``, and ``s2`` is the mean of the
other eigenvalues), so the script asserts that gradient descent reaches
that loss and recovers that subspace. The data are drawn from a seeded
generator: nothing is downloaded or written.

    python examples/ppca.py [--steps N]
"""

import argparse

import numpy as np

import srcgrad

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=1500)
args = parser.parse_args()


def negative_log_likelihood(W, log_noise, S):
    """The PPCA loss per observation (without its constant), for ``s2 = exp(log_noise)``."""
    C = W @ W.T + np.exp(log_noise) * np.eye(len(S))
    sign, logdet = np.linalg.slogdet(C)
    return 0.5 * (logdet + np.trace(np.linalg.solve(C, S)))


# Data: 400 points in 6 dimensions near a 2-dimensional subspace.
rng = np.random.default_rng(0)
d, q, n = 6, 2, 400
W_true = rng.standard_normal((d, q)) * np.array([2.0, 1.0])
X = rng.standard_normal((n, q)) @ W_true.T + 0.3 * rng.standard_normal((n, d))
X = X - X.mean(axis=0)
S = X.T @ X / n

# The closed-form optimum: S's eigenvalues, largest first.
values, vectors = np.linalg.eigh(S)
values, vectors = values[::-1], vectors[:, ::-1]
noise_best = values[q:].mean()
W_best = vectors[:, :q] * np.sqrt(values[:q] - noise_best)
loss_best = negative_log_likelihood(W_best, np.log(noise_best), S)

# Gradient descent from a small random start.
W, log_noise = 0.1 * rng.standard_normal((d, q)), 0.0
losses = []
for step in range(args.steps):
    loss, (dW, dlog_noise, _) = srcgrad.withgradient(negative_log_likelihood, W, log_noise, S)
    losses.append(loss)
    W, log_noise = W - 0.05 * dW, log_noise - 0.05 * dlog_noise

loss = negative_log_likelihood(W, log_noise, S)
print(f"loss: start {losses[0]:.6f}, after {args.steps} steps {loss:.6f}, closed-form optimum {loss_best:.6f}")
print(f"noise variance: fitted {np.exp(log_noise):.5f}, optimum {noise_best:.5f}")


def projection(M):
    """The orthogonal projection onto the span of M's columns."""
    Q, _ = np.linalg.qr(M)
    return Q @ Q.T


distance = np.linalg.norm(projection(W) - projection(W_best), 2)
print(f"subspace: distance between the fitted and the optimal projections {distance:.2e}")

assert all(later <= earlier + 1e-12 for earlier, later in zip(losses, losses[1:])), "the loss went up"
if args.steps >= 1500:
    assert loss - loss_best < 1e-6, (loss, loss_best)
    assert abs(np.exp(log_noise) - noise_best) < 1e-3 * noise_best
    assert distance < 1e-3
    print("recovered the closed-form optimum")
