"""Learning-rate schedules (srcgrad/optim/schedules.py) and the step they are read at, in update and train."""

import dataclasses
import math

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Dense, mse
from srcgrad.optim import (AdaGrad, Adam, AdamW, ClipValue, Descent, Momentum, Nesterov, OptimiserChain, RMSProp,
                           Rule, WeightDecay, schedules, setup, train, update)
from srcgrad.optim.schedules import Cosine, Exp, Schedule, Step, Warmup

RNG = np.random.default_rng(7)


# ------------------------------------------------------------------ the formulas

def test_step_exp_and_their_reprs():
    s = Step(0.1, 0.5, 10)
    assert [s(t) for t in (0, 9, 10, 19, 20, 35)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.1 * 0.5 ** 3]
    assert repr(s) == "Step(start=0.1, decay=0.5, every=10)"
    e = Exp(2.0, 0.9)
    assert [e(t) for t in range(4)] == [2.0, 2.0 * 0.9, 2.0 * 0.9 ** 2, 2.0 * 0.9 ** 3]
    assert repr(e) == "Exp(start=2.0, decay=0.9)"
    assert isinstance(s(np.int64(3)), float) and Step(1, 1, 1)(4) == 1.0


def test_cosine_anneals_from_start_to_end_and_restarts():
    s = Cosine(1.0, 0.1, 10)
    naive = [0.1 + 0.9 * (1 + math.cos(math.pi * (t % 10) / 10)) / 2 for t in range(25)]
    assert [s(t) for t in range(25)] == pytest.approx(naive, abs=1e-15)
    assert s(0) == 1.0 and s(5) == pytest.approx(0.55) and s(10) == 1.0  # (warm restart, as CosAnneal)
    assert all(s(t) > s(t + 1) for t in range(9))
    up = Cosine(0.0, 1.0, 4)
    assert [up(t) for t in range(4)] == pytest.approx([0.0, (1 - math.cos(math.pi / 4)) / 2, 0.5,
                                                       (1 - math.cos(3 * math.pi / 4)) / 2])
    assert repr(s) == "Cosine(start=1.0, end=0.1, period=10)"


def test_warmup_is_linear_from_zero_then_the_schedule_counted_from_the_boundary():
    s = Warmup(4, Exp(0.2, 0.5))
    assert [s(t) for t in range(7)] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.1, 0.05], abs=1e-15)
    # (Optax: join_schedules([linear_schedule(0, 0.2, 4), exponential_decay(0.2, 1, 0.5)], [4]))
    assert Warmup(0, Exp(0.2, 0.5))(0) == 0.2
    assert Warmup(3, lambda t: 1.0 / (1 + t))(4) == 0.5
    assert repr(s) == "Warmup(steps=4, schedule=Exp(start=0.2, decay=0.5))"


@pytest.mark.parametrize("make, error, match", [
    (lambda: Step(0.1, 0.5, 0), ValueError, "every is a whole number of steps, at least 1"),
    (lambda: Step(0.1, 0.5, 2.5), ValueError, "every is a whole number"),
    (lambda: Step(-0.1, 0.5, 2), ValueError, "start is a learning rate, at least 0"),
    (lambda: Exp(0.1, 0.0), ValueError, "decay multiplies the learning rate and must be above 0"),
    (lambda: Exp("0.1", 0.5), TypeError, "start is a finite number"),
    (lambda: Exp(float("nan"), 0.5), TypeError, "start is a finite number"),
    (lambda: Cosine(1.0, 0.0, 0), ValueError, "period is a whole number of steps, at least 1"),
    (lambda: Cosine(1.0, None, 5), TypeError, "end is a finite number"),
    (lambda: Warmup(-1, Exp(1.0, 0.5)), ValueError, "steps is a whole number of steps, at least 0"),
    (lambda: Warmup(10, 0.1), TypeError, "Warmup.steps, schedule. needs a schedule"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_steps_are_refused():
    s = Exp(1.0, 0.5)
    with pytest.raises(ValueError, match="counted from 0; got -1"):
        s(-1)
    with pytest.raises(TypeError, match="a whole number from 0, not 1.5"):
        s(1.5)
    assert s(2.0) == 0.25
    with pytest.raises(TypeError, match="gave nan at step 0"):
        Warmup(2, lambda t: float("nan"))(1)


def test_the_module_is_exported():
    assert srcgrad.optim.schedules is schedules and schedules.Step is Step
    assert isinstance(Step(1.0, 0.5, 1), Schedule)


# ------------------------------------------------------------------ every rule takes a schedule

SCHEDULE = Step(0.1, 0.5, 2)

RULES = {
    "Descent": lambda lr: Descent(lr),
    "Momentum": lambda lr: Momentum(lr, 0.8),
    "Nesterov": lambda lr: Nesterov(lr, 0.8),
    "RMSProp": lambda lr: RMSProp(lr),
    "RMSProp-centred": lambda lr: RMSProp(lr, centred=True),
    "Adam": lambda lr: Adam(lr),
    "AdamW": lambda lr: AdamW(lr, decay=0.1),
    "AdamW-decoupled": lambda lr: AdamW(lr, decay=0.1, couple=False),
    "AdaGrad": lambda lr: AdaGrad(lr),
    "chain": lambda lr: OptimiserChain(ClipValue(0.5), WeightDecay(0.01), Adam(lr)),
}

STEPS = 6
GRADS = [{"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=3)} for _ in range(STEPS)]
START = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=3)}


def reference(make, schedule=SCHEDULE):
    """The parameters after each step, the rule remade with the learning rate ``schedule(t)`` at step t."""
    params = {k: v.copy() for k, v in START.items()}
    states = {k: make(1.0).init(v) for k, v in params.items()}
    history = []
    for t, grads in enumerate(GRADS):
        rule = make(schedule(t))
        for k in params:
            states[k], step = rule.apply(states[k], params[k], grads[k])
            params[k] = params[k] - step
        history.append({k: v.copy() for k, v in params.items()})
    return history


def fresh():
    return {k: v.copy() for k, v in START.items()}


def assert_same(history, expected):
    for got, want in zip(history, expected):
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", RULES)
def test_implicit_style_array_by_array(name):
    opt, params, history = RULES[name](SCHEDULE), fresh(), []
    for grads in GRADS:
        for k in ("W", "b"):
            update(opt, params[k], grads[k])
        history.append({k: v.copy() for k, v in params.items()})
    assert_same(history, reference(RULES[name]))


@pytest.mark.parametrize("name", RULES)
def test_implicit_style_with_params(name):
    opt, params, history = RULES[name](SCHEDULE), fresh(), []
    ps = srcgrad.params(params["W"], params["b"])
    for grads in GRADS:
        gs = srcgrad.gradient(lambda: np.sum(params["W"] * grads["W"]) + np.sum(params["b"] * grads["b"]), ps)
        update(opt, ps, gs)
        history.append({k: v.copy() for k, v in params.items()})
    assert_same(history, reference(RULES[name]))


@pytest.mark.parametrize("name", RULES)
def test_explicit_style(name):
    params, history = fresh(), []
    state = setup(RULES[name](SCHEDULE), params)
    for grads in GRADS:
        state, params = update(state, params, grads)
        history.append({k: v.copy() for k, v in params.items()})
    assert_same(history, reference(RULES[name]))


def test_a_plain_callable_and_each_schedule_as_a_learning_rate():
    for schedule in (lambda t: 0.1 / (1 + t), Exp(0.1, 0.7), Cosine(0.1, 0.01, 4), Warmup(3, Step(0.1, 0.5, 2))):
        params, history = fresh(), []
        state = setup(Adam(schedule), params)
        for grads in GRADS:
            update(state, params, grads)
            history.append({k: v.copy() for k, v in params.items()})
        assert_same(history, reference(lambda lr: Adam(lr), schedule))


# ------------------------------------------------------------------ what counts as a step

def test_a_parameter_without_a_gradient_does_not_hold_the_count_back():
    opt = Descent(Exp(1.0, 0.5))
    a, b = np.zeros(1), np.zeros(1)
    update(opt, a, np.ones(1))  # step 0: a
    update(opt, b, np.ones(1))  # step 0: b
    update(opt, a, np.ones(1))  # step 1: a again
    update(opt, a, np.ones(1))  # step 2: b got no gradient at step 1
    update(opt, b, np.ones(1))  # step 2
    assert a[0] == -(1.0 + 0.5 + 0.25) and b[0] == -(1.0 + 0.25)


def test_each_setup_and_each_rule_object_counts_its_own_steps():
    rule = Descent(Exp(1.0, 0.5))
    one, two = {"w": np.zeros(1)}, {"w": np.zeros(1)}
    s1, s2 = setup(rule, one), setup(rule, two)
    update(s1, one, {"w": np.ones(1)})
    update(s1, one, {"w": np.ones(1)})
    update(s2, two, {"w": np.ones(1)})
    assert one["w"][0] == -1.5 and two["w"][0] == -1.0
    assert s1["w"].clock.step == 1 and s2["w"].clock.step == 0


def test_a_sub_tree_updated_on_its_own_shares_the_tree_s_count():
    model = {"first": {"w": np.zeros(1)}, "second": {"w": np.zeros(1)}}
    state = setup(Descent(Exp(1.0, 0.5)), model)
    for _ in range(2):  # (one round: each half updated once)
        update(state["first"], model["first"], {"w": np.ones(1)})
        update(state["second"], model["second"], {"w": np.ones(1)})
    assert model["first"]["w"][0] == model["second"]["w"][0] == -1.5


def test_a_refused_update_is_not_counted():
    state = setup(Descent(Exp(1.0, 0.5)), {"w": np.zeros(1)})
    model = {"w": np.zeros(1)}
    state = setup(Descent(Exp(1.0, 0.5)), model)
    with pytest.raises(FloatingPointError):
        update(state, model, {"w": np.array([np.inf])})
    update(state, model, {"w": np.ones(1)})
    assert model["w"][0] == -1.0


def test_train_counts_one_step_per_item_in_both_styles():
    x, y = np.array([[1.0, 2.0]]), np.array([[0.5]])
    data = [(x, y)] * 5
    schedule = Step(0.05, 0.5, 2)

    def by_hand():
        model = Dense(2, 1, rng=0)
        for t in range(len(data)):
            (g,) = srcgrad.gradient(lambda m: mse(m(x), y), model)
            model.W -= schedule(t) * g["W"]
            model.b -= schedule(t) * g["b"]
        return model

    expected = by_hand()
    model = Dense(2, 1, rng=0)
    train(lambda m, x, y: mse(m(x), y), model, data, setup(Descent(schedule), model))
    np.testing.assert_allclose(model.W, expected.W, rtol=0, atol=1e-15)
    model = Dense(2, 1, rng=0)
    train(lambda x, y: mse(model(x), y), srcgrad.params(model), data, Descent(schedule))
    np.testing.assert_allclose(model.W, expected.W, rtol=0, atol=1e-15)
    np.testing.assert_allclose(model.b, expected.b, rtol=0, atol=1e-15)


# ------------------------------------------------------------------ at, and what is refused

def test_at_reads_the_schedule_and_leaves_the_rule_alone():
    opt = OptimiserChain(ClipValue(1.0), Adam(Exp(1.0, 0.5)))
    assert opt.at(2).rules[1].lr == 0.25 and opt.rules[1].lr == Exp(1.0, 0.5)
    plain = Adam(0.1)
    assert plain.at(5) is plain
    assert repr(Descent(Step(0.1, 0.5, 10))) == "Descent(lr=Step(start=0.1, decay=0.5, every=10))"


def test_a_rule_of_ones_own_with_a_scheduled_lr():
    class SignDescent(Rule):  # (not a dataclass)
        def __init__(self, lr):
            self.lr = lr

        def apply(self, state, x, grad):
            return state, self.lr * np.sign(grad)

    w = np.zeros(2)
    opt = SignDescent(Exp(1.0, 0.5))
    for _ in range(3):
        update(opt, w, np.array([1.0, -1.0]))
    np.testing.assert_array_equal(w, [-1.75, 1.75])

    @dataclasses.dataclass
    class Scaled(Rule):
        lr: object = 0.1
        scheduled = ("lr",)

        def apply(self, state, x, grad):
            return state, self.lr * grad

    v = np.zeros(1)
    for _ in range(2):
        update(Scaled(lambda t: 10.0 ** -t), v, np.ones(1))  # (a new rule object each time: each is at step 0)
    assert v[0] == -2.0


def test_apply_of_a_scheduled_rule_without_a_step_is_refused():
    with pytest.raises(TypeError, match=r"Descent's lr is the schedule Step\(.*rule.at\(step\).apply"):
        Descent(Step(0.1, 0.5, 10)).apply(None, np.zeros(1), np.ones(1))


def test_a_schedule_giving_something_else_than_a_number_is_refused_before_any_change():
    w = np.zeros(2)
    with pytest.raises(TypeError, match="gave 'fast' at step 0; a schedule returns a finite number"):
        update(Descent(lambda t: "fast"), w, np.ones(2))
    np.testing.assert_array_equal(w, 0.0)
