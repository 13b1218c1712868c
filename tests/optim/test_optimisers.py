"""Optimisation rules (srcgrad/optim/optimisers.py): two steps by hand, defaults, and convergence on a quadratic."""

import numpy as np
import pytest

from srcgrad.optim import (
    ADAM, AdaGrad, Adam, AdamW, ClipNorm, ClipValue, Descent, Momentum, Nesterov, OptimiserChain, RMSProp,
    WeightDecay,
)

X0 = np.array([1.0, -2.0])
G1 = np.array([0.5, -1.0])
G2 = np.array([0.2, 0.3])


def two_steps(rule):
    """The steps ``rule`` takes from X0 for the gradients G1 then G2."""
    state = rule.init(X0)
    state, s1 = rule.apply(state, X0, G1)
    _, s2 = rule.apply(state, X0 - s1, G2)
    return s1, s2


def adam_steps(lr, decay=0.0, couple=True):
    """Adam's first two steps, written out: bias correction turns step 1 into lr * sign(g)."""
    m1, v1 = 0.1 * G1, 0.001 * G1 ** 2
    unit1 = (m1 / 0.1) / (np.sqrt(v1 / 0.001) + 1e-8)
    m2, v2 = 0.9 * m1 + 0.1 * G2, 0.999 * v1 + 0.001 * G2 ** 2
    unit2 = (m2 / (1 - 0.9 ** 2)) / (np.sqrt(v2 / (1 - 0.999 ** 2)) + 1e-8)
    if couple:
        s1 = lr * (unit1 + decay * X0)
        return s1, lr * (unit2 + decay * (X0 - s1))
    s1 = lr * unit1 + decay * X0
    return s1, lr * unit2 + decay * (X0 - s1)


HAND = [
    (Descent(0.1), [0.05, -0.1], [0.02, 0.03]),
    (Momentum(0.01, 0.9), [0.005, -0.01], [0.9 * 0.005 + 0.002, 0.9 * -0.01 + 0.003]),
    # velocity after step 1 is -lr * G1 = [-0.0005, 0.001]
    (Nesterov(0.001, 0.9), [1.9e-3 * 0.5, -1.9e-3], [-0.81 * -0.0005 + 1.9e-3 * 0.2, -0.81 * 0.001 + 1.9e-3 * 0.3]),
    (RMSProp(0.001), [0.5e-3 / np.sqrt(0.025), -1e-3 / np.sqrt(0.1)],
     [0.2e-3 / np.sqrt(0.9 * 0.025 + 0.004), 0.3e-3 / np.sqrt(0.9 * 0.1 + 0.009)]),
    (RMSProp(0.001, centred=True), [0.5e-3 / 0.15, -1e-3 / 0.3],
     [0.2e-3 / np.sqrt(0.0265 - 0.065 ** 2), 0.3e-3 / np.sqrt(0.099 - 0.06 ** 2)]),
    (Adam(0.001), *adam_steps(0.001)),
    (AdamW(0.001, decay=0.1), *adam_steps(0.001, decay=0.1)),
    (AdamW(0.001, decay=0.1, couple=False), *adam_steps(0.001, decay=0.1, couple=False)),
    (AdaGrad(0.1), [0.1 * 0.5 / 0.5, -0.1], [0.02 / np.sqrt(0.29), 0.03 / np.sqrt(1.09)]),
    (ClipValue(0.4), [0.4, -0.4], [0.2, 0.3]),
    (ClipNorm(1.0), G1 / np.sqrt(1.25), G2),
    (ClipNorm(1.0, p=1), G1 / 1.5, G2),
    (WeightDecay(0.1), [0.6, -1.2], [0.2 + 0.1 * 0.4, 0.3 + 0.1 * -0.8]),
    (OptimiserChain(WeightDecay(0.1), Descent(0.1)), [0.06, -0.12], [0.1 * (0.2 + 0.094), 0.1 * (0.3 - 0.188)]),
    (OptimiserChain(), G1, G2),
]


@pytest.mark.parametrize("rule, first, second", HAND, ids=[repr(case[0]) for case in HAND])
def test_first_two_steps_by_hand(rule, first, second):
    s1, s2 = two_steps(rule)
    np.testing.assert_allclose(s1, first, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(s2, second, rtol=1e-6, atol=1e-12)


def test_adam_first_step_is_the_learning_rate_times_the_sign():
    s1, _ = two_steps(Adam(0.001))
    np.testing.assert_allclose(s1, [0.001, -0.001], rtol=1e-6)


def test_chain_clips_before_discounting():
    opt = OptimiserChain(ClipValue(1.0), Descent(0.1))
    _, step = opt.apply(opt.init(np.zeros(3)), np.zeros(3), np.array([0.3, 1.0, 7.0]))
    np.testing.assert_allclose(step, [0.03, 0.1, 0.1])


def test_defaults_follow_optimisers_jl():
    assert Descent().lr == 0.1
    assert (Momentum().lr, Momentum().rho) == (0.01, 0.9)
    assert (Nesterov().lr, Nesterov().rho) == (0.001, 0.9)
    assert (RMSProp().lr, RMSProp().rho, RMSProp().eps, RMSProp().centred) == (0.001, 0.9, 1e-8, False)
    assert (Adam().lr, Adam().beta, Adam().eps) == (0.001, (0.9, 0.999), 1e-8)
    assert (AdamW().lr, AdamW().beta, AdamW().decay, AdamW().eps, AdamW().couple) == (0.001, (0.9, 0.999), 0.0, 1e-8, True)
    assert (AdaGrad().lr, AdaGrad().eps) == (0.1, 1e-8)
    assert ClipValue().delta == 10.0
    assert (ClipNorm().omega, ClipNorm().p, ClipNorm().throw) == (10.0, 2, True)
    assert WeightDecay().decay == 5e-4


def test_adam_alias_and_positional_learning_rate():
    assert ADAM is Adam
    assert ADAM(0.05).lr == 0.05


def test_rules_print_their_hyperparameters():
    assert repr(Descent(0.05)) == "Descent(lr=0.05)"
    assert repr(OptimiserChain(ClipValue(1.0), Descent())) == "OptimiserChain(ClipValue(delta=1.0), Descent(lr=0.1))"
    assert Adam(0.01) == Adam(0.01) and Adam(0.01) != Adam(0.02)


def test_apply_does_not_change_the_old_state():
    rule = Adam()
    state = rule.init(X0)
    m_before = state[0].copy()
    new_state, _ = rule.apply(state, X0, G1)
    np.testing.assert_array_equal(state[0], m_before)
    assert new_state[0] is not state[0]


def test_clipnorm_refuses_a_non_finite_gradient():
    with pytest.raises(FloatingPointError, match="norm"):
        ClipNorm().apply(None, X0, np.array([np.nan, 1.0]))
    with np.errstate(invalid="ignore"):
        _, step = ClipNorm(throw=False).apply(None, X0, np.array([np.inf, 1.0]))
    assert step.shape == (2,)


def test_zero_gradient_with_clipnorm_is_zero():
    _, step = ClipNorm().apply(None, X0, np.zeros(2))
    np.testing.assert_array_equal(step, 0.0)


@pytest.mark.parametrize("rule", [Descent(), Momentum(), Nesterov(), RMSProp(centred=True), Adam(), AdamW(decay=0.1),
                                  AdaGrad(), ClipValue(), ClipNorm(), WeightDecay(),
                                  OptimiserChain(ClipNorm(), Adam())], ids=repr)
def test_float32_parameters_get_float32_steps(rule):
    x = X0.astype(np.float32)
    state = rule.init(x)
    for _ in range(2):
        state, step = rule.apply(state, x, G1.astype(np.float32))
        assert step.dtype == np.float32


# f(x) = sum(A * (x - C)^2) / 2 has its minimum at C; the second coordinate is ten times stiffer.
A = np.array([1.0, 10.0])
C = np.array([3.0, -1.0])

CONVERGENT = [
    Descent(0.1), Momentum(0.01, 0.9), Nesterov(0.01, 0.9), RMSProp(0.01), RMSProp(0.01, centred=True), Adam(0.05),
    AdamW(0.05), AdaGrad(0.5), OptimiserChain(ClipValue(1.0), Descent(0.1)), OptimiserChain(ClipNorm(1.0), Adam(0.05)),
]


@pytest.mark.parametrize("rule", CONVERGENT, ids=repr)
def test_converges_on_a_quadratic(rule):
    x = np.zeros(2)
    state = rule.init(x)
    for _ in range(3000):
        state, step = rule.apply(state, x, A * (x - C))
        x = x - step
    np.testing.assert_allclose(x, C, atol=1e-3)


def test_weight_decay_moves_the_minimum_as_l2_regularisation_does():
    # minimising f + decay/2 |x|^2 gives A (x - C) + decay x = 0
    rule = OptimiserChain(WeightDecay(0.5), Descent(0.05))
    x = np.zeros(2)
    state = rule.init(x)
    for _ in range(2000):
        state, step = rule.apply(state, x, A * (x - C))
        x = x - step
    np.testing.assert_allclose(x, A * C / (A + 0.5), atol=1e-6)
