"""Fit a Gaussian process's kernel by gradient ascent on scipy.stats.multivariate_normal.logpdf.

Noisy samples of a function drawn from a Gaussian process with a squared
exponential kernel (length scale 0.8, signal variance 1.5, noise variance
0.1), seeded. The marginal log likelihood of the data is written as it
reads in a textbook, with SciPy's density::

    K = s2 * exp(-(xi - xj)^2 / (2 l^2)) + n2 * I
    log p(y) = scipy.stats.multivariate_normal.logpdf(y, 0, K)

and srcgrad differentiates it with respect to the logarithms of the three
hyperparameters (so they stay positive). Adam climbs it; the script checks
that the log likelihood rose, that the gradient at the end is flat, that
L-BFGS (SciPy's, with srcgrad's gradient) finds the same optimum, and that
the fitted length scale is near the one that generated the data.

    python examples/gaussian_process.py [--steps N]

It writes no files.
"""

import argparse

import numpy as np
import scipy.optimize
import scipy.stats

import srcgrad

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=400, help="Adam steps")
args = parser.parse_args()

TRUE = {"length scale": 0.8, "signal variance": 1.5, "noise variance": 0.1}

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(0.0, 8.0, 60))


def kernel(x, length, signal, noise):
    """The squared exponential covariance of the points ``x``, plus noise on the diagonal."""
    gap = x[:, None] - x[None, :]
    return signal * np.exp(-gap ** 2 / (2 * length ** 2)) + (noise + 1e-8) * np.eye(len(x))


truth = kernel(x, TRUE["length scale"], TRUE["signal variance"], TRUE["noise variance"])
y = rng.multivariate_normal(np.zeros(len(x)), truth)


def log_likelihood(log_params):
    """The marginal log likelihood of ``y`` under the kernel with hyperparameters ``exp(log_params)``."""
    length, signal, noise = np.exp(log_params)
    return scipy.stats.multivariate_normal.logpdf(y, np.zeros(len(x)), kernel(x, length, signal, noise))


# srcgrad's gradient against central differences, at the starting point.
start = np.log([2.0, 0.5, 0.5])
(grad,) = srcgrad.gradient(log_likelihood, start)
step = 1e-6
numeric = np.array([(log_likelihood(start + step * e) - log_likelihood(start - step * e)) / (2 * step)
                    for e in np.eye(3)])
np.testing.assert_allclose(grad, numeric, rtol=1e-5)
print(f"log likelihood at the start {log_likelihood(start):.3f}, gradient {np.round(grad, 3)}")

# Adam, ascending.
theta, m, v = start.copy(), np.zeros(3), np.zeros(3)
rate, beta1, beta2 = 0.05, 0.9, 0.999
history = [log_likelihood(theta)]
for t in range(1, args.steps + 1):
    value, (g,) = srcgrad.withgradient(log_likelihood, theta)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g ** 2
    theta = theta + rate * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + 1e-8)
    history.append(value)
    if t % 100 == 0:
        print(f"step {t:4d}  log likelihood {value:.4f}")
fitted = dict(zip(TRUE, np.exp(theta)))
final = log_likelihood(theta)
print("fitted:", {name: round(float(value), 3) for name, value in fitted.items()})
print("true:  ", TRUE)

# The same optimum from L-BFGS, given srcgrad's gradient.
best = scipy.optimize.minimize(lambda p: -log_likelihood(p), start, method="L-BFGS-B",
                               jac=lambda p: -srcgrad.gradient(log_likelihood, p)[0])
print(f"Adam's log likelihood {final:.4f}, L-BFGS's {-best.fun:.4f}")

assert final > history[0] + 10, "the log likelihood rose"
assert abs(final - -best.fun) < 1e-3, "Adam reached L-BFGS's optimum"
assert np.max(np.abs(srcgrad.gradient(log_likelihood, theta)[0])) < 0.05, "the gradient is flat at the end"
assert abs(np.log(fitted["length scale"] / TRUE["length scale"])) < np.log(1.3), "the length scale is recovered"
assert 0.03 < fitted["noise variance"] < 0.3, "the noise variance is near 0.1"
print("ok")
