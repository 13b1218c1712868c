"""Fit a signal to a target power spectrum by gradient descent, through ``np.fft.rfft``.

The loss is the squared distance between the signal's power spectrum
``|rfft(x)|^2`` (log-scaled, so that weak and strong bins count alike) and a
target's, plus a smoothness term, the squared first differences of the signal.
srcgrad differentiates it as written: ``np.fft.rfft``, ``np.abs`` of complex
numbers and ``np.diff`` have rules. Seeded, no downloads; it checks its own result.

    python examples/spectral_loss.py [--steps 300]

If ``SRCGRAD_EXAMPLES_OUT`` names a folder, the fitted signal is saved there as ``spectral_loss.npy``.
"""

import argparse
import os

import numpy as np

import srcgrad

N = 64


def power_spectrum(x):
    return np.abs(np.fft.rfft(x, norm="ortho")) ** 2


def loss(x, target, smoothness):
    mismatch = np.log1p(power_spectrum(x)) - np.log1p(target)
    return np.sum(mismatch ** 2) + smoothness * np.sum(np.diff(x) ** 2)


def fit(x, target, smoothness, steps, rate):
    history = [loss(x, target, smoothness)]
    for _ in range(steps):
        (g,) = srcgrad.gradient(loss, x, target, smoothness)[:1]
        x = x - rate * g
        history.append(loss(x, target, smoothness))
    return x, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    steps = parser.parse_args().steps
    rng = np.random.default_rng(0)
    t = np.arange(N)
    reference = np.sin(2 * np.pi * 3 * t / N) + 0.5 * np.cos(2 * np.pi * 7 * t / N)
    target = power_spectrum(reference)
    x = 0.3 * rng.standard_normal(N)

    # The rule against central differences, once, at the start.
    (g,) = srcgrad.gradient(loss, x, target, 0.01)[:1]
    e = np.zeros(N)
    e[5] = 1e-6
    numeric = (loss(x + e, target, 0.01) - loss(x - e, target, 0.01)) / 2e-6
    assert abs(g[5] - numeric) < 1e-5 * max(1.0, abs(numeric)), (g[5], numeric)

    x, history = fit(x, target, smoothness=0.01, steps=steps, rate=0.05)
    print(f"loss {history[0]:.4f} -> {history[-1]:.4f} in {steps} steps")
    peaks = sorted(int(k) for k in np.argsort(power_spectrum(x))[-2:])
    print("strongest bins of the fitted signal:", peaks)
    assert history[-1] < 0.1 * history[0], history[-1]
    assert peaks == [3, 7], peaks

    out = os.environ.get("SRCGRAD_EXAMPLES_OUT")
    if out:
        np.save(os.path.join(out, "spectral_loss.npy"), x)


if __name__ == "__main__":
    main()
