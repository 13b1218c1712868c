"""Initialisers (srcgrad/models/init.py): seeding and the Glorot bounds."""

import numpy as np

from srcgrad.models import init


def test_seed_makes_draws_repeat():
    init.seed(3)
    a = init.glorot_uniform(4, 5)
    init.seed(3)
    np.testing.assert_array_equal(init.glorot_uniform(4, 5), a)


def test_rng_argument_wins_over_the_module_generator():
    np.testing.assert_array_equal(init.glorot_uniform(2, 2, rng=1), init.glorot_uniform(2, 2, rng=1))
    g = np.random.default_rng(1)
    assert init.default_rng(g) is g


def test_glorot_uniform_bounds_and_spread():
    w = init.glorot_uniform(200, 100, rng=0)
    limit = np.sqrt(6 / 300)
    assert w.shape == (200, 100)
    assert np.abs(w).max() <= limit
    np.testing.assert_allclose(w.std(), limit / np.sqrt(3), rtol=0.02)


def test_glorot_normal_spread():
    w = init.glorot_normal(200, 100, rng=0)
    np.testing.assert_allclose(w.std(), np.sqrt(2 / 300), rtol=0.02)


def test_zeros():
    np.testing.assert_array_equal(init.zeros(2, 3), np.zeros((2, 3)))


def test_a_layer_built_inside_differentiated_code_may_ask_for_the_generator():
    """``init.default_rng`` writes the module's generator the first time: srcgrad refused to follow a
    constructor into it (a global written). It passes no gradient, and says so (nograd)."""
    import srcgrad

    class Scaled:
        def __init__(self, p):
            self.p = p
            self.rng = init.default_rng(3)

        def __call__(self, x):
            return x * self.p

    assert srcgrad.gradient(lambda x, p: Scaled(p)(x), 1.0, 2.0) == (2.0, 1.0)
