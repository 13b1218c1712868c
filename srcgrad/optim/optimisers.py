"""Optimisation rules: a record of hyperparameters, plus ``init`` and ``apply``.

As in Optimisers.jl, a rule never touches a parameter itself:

- ``rule.init(x)`` is the rule's starting state for the array ``x``;
- ``rule.apply(state, x, grad)`` returns ``(new_state, step)``, and the
  caller subtracts ``step`` from ``x``.

``apply`` builds new state rather than changing the old, so ``update`` can
compute every step first and then change all the parameters at once.
Hyperparameters are plain attributes, so ``opt.lr = 1e-4`` changes the
learning rate of a running optimiser. Defaults follow Optimisers.jl.

A learning rate may be a schedule (:mod:`srcgrad.optim.schedules`, or any
callable of the step number): ``Descent(Step(0.1, 0.5, 10))``. ``update``
and ``train`` count the steps and apply ``rule.at(step)``, the rule with its
schedules read at that step; calling ``apply`` of a scheduled rule directly
is refused, as it does not know the step.

>>> import numpy as np
>>> opt = Momentum(lr=0.1, rho=0.9)
>>> x = np.array([1.0])
>>> state, step = opt.apply(opt.init(x), x, np.array([2.0]))
>>> step
array([0.2])
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = [
    "Rule", "Descent", "Momentum", "Nesterov", "RMSProp", "Adam", "ADAM", "AdamW", "AdaGrad", "ClipValue",
    "ClipNorm", "WeightDecay", "OptimiserChain",
]


class Rule:
    """The base of all rules; a new rule overrides ``init`` (if it has state) and ``apply``.

    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class SignDescent(Rule):
    ...     lr: float = 0.01
    ...     def apply(self, state, x, grad):
    ...         return state, self.lr * np.sign(grad)
    >>> SignDescent().apply(None, np.zeros(2), np.array([-3.0, 2.0]))[1]
    array([-0.01,  0.01])
    """

    #: The hyperparameters that may be a schedule, a callable of the step number (see :meth:`at`).
    scheduled = ("lr",)

    def init(self, x):
        """The starting state for the parameter ``x`` (``None`` for a stateless rule)."""
        return None

    def at(self, step):
        """This rule with each schedule among its :attr:`scheduled` hyperparameters read at ``step``.

        The rule itself when it has none; else a copy (the rule keeps its schedule).

        >>> from srcgrad.optim.schedules import Exp
        >>> Descent(Exp(1.0, 0.5)).at(2)
        Descent(lr=0.25)
        """
        changes = {}
        for name in self.scheduled:
            schedule = getattr(self, name, None)
            if callable(schedule):
                changes[name] = _scheduled_value(self, name, schedule, step)
        if not changes:
            return self
        if dataclasses.is_dataclass(self):
            return dataclasses.replace(self, **changes)
        copy = object.__new__(type(self))
        copy.__dict__.update({k: v for k, v in self.__dict__.items() if not k.startswith("_implicit")}, **changes)
        return copy

    def apply(self, state, x, grad):
        """``(new_state, step)`` for the parameter ``x`` with gradient ``grad``; ``x - step`` comes next."""
        raise NotImplementedError(f"{type(self).__name__} must define apply(state, x, grad)")


def _scheduled_value(rule, name, schedule, step):
    """``schedule(step)`` for the hyperparameter ``name`` of ``rule``, refused unless a finite real number."""
    value = schedule(step)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"the schedule {schedule!r} of {type(rule).__name__}'s {name} gave {value!r} at step "
                        f"{step}; a schedule returns a finite number")
    return float(value)


def _rate(rule, value, name="lr"):
    """A hyperparameter's number; a schedule there is refused, since ``apply`` does not know the step."""
    if callable(value):
        raise TypeError(f"{type(rule).__name__}'s {name} is the schedule {value!r}: apply the rule at a step, "
                        f"rule.at(step).apply(state, x, grad), or let update/train count the steps")
    return value


@dataclasses.dataclass
class Descent(Rule):
    """Plain gradient descent: ``x -= lr * grad``.

    >>> Descent(0.1).apply(None, np.zeros(1), np.array([2.0]))
    (None, array([0.2]))
    """

    lr: float = 0.1

    def apply(self, state, x, grad):
        return state, _rate(self, self.lr) * grad


@dataclasses.dataclass
class Momentum(Rule):
    """Gradient descent with momentum: ``v = rho * v + lr * grad; x -= v``.

    >>> Momentum().lr, Momentum().rho
    (0.01, 0.9)
    """

    lr: float = 0.01
    rho: float = 0.9

    def init(self, x):
        return np.zeros_like(x)

    def apply(self, state, x, grad):
        velocity = self.rho * state + _rate(self, self.lr) * grad
        return velocity, velocity


@dataclasses.dataclass
class Nesterov(Rule):
    """Gradient descent with Nesterov momentum ``rho``.

    >>> Nesterov().apply(np.zeros(1), np.zeros(1), np.array([1.0]))[1]
    array([0.0019])
    """

    lr: float = 0.001
    rho: float = 0.9

    def init(self, x):
        return np.zeros_like(x)

    def apply(self, state, x, grad):
        # The step looks ahead along the old velocity, so it is formed before the velocity moves.
        lr = _rate(self, self.lr)
        step = -self.rho ** 2 * state + (1 + self.rho) * lr * grad
        return self.rho * state - lr * grad, step


@dataclasses.dataclass
class RMSProp(Rule):
    """RMSProp: divide the step by a running root-mean-square of the gradient.

    With ``centred=True``, by a running estimate of its standard deviation instead.

    >>> RMSProp().apply(RMSProp().init(np.zeros(1)), np.zeros(1), np.array([1.0]))[1].round(6)
    array([0.003162])
    """

    lr: float = 0.001
    rho: float = 0.9
    eps: float = 1e-8
    centred: bool = False

    def init(self, x):
        return np.zeros_like(x), (np.zeros_like(x) if self.centred else 0.0)

    def apply(self, state, x, grad):
        quad, lin = state
        quad = self.rho * quad + (1 - self.rho) * grad ** 2
        if self.centred:
            lin = self.rho * lin + (1 - self.rho) * grad
        return (quad, lin), grad * _rate(self, self.lr) / (np.sqrt(quad - lin ** 2) + self.eps)


@dataclasses.dataclass
class Adam(Rule):
    """Adam (Kingma & Ba, 2015): momentum on the gradient and on its square, bias-corrected.

    >>> Adam().apply(Adam().init(np.zeros(1)), np.zeros(1), np.array([5.0]))[1].round(6)
    array([0.001])
    """

    lr: float = 0.001
    beta: tuple = (0.9, 0.999)
    eps: float = 1e-8

    def init(self, x):
        return np.zeros_like(x), np.zeros_like(x), tuple(self.beta)

    def apply(self, state, x, grad):
        return _adam(state, grad, self.beta, self.eps, _rate(self, self.lr))


ADAM = Adam


def _adam(state, grad, beta, eps, lr):
    """Adam's new state and step; ``betat`` holds ``beta ** t`` for the bias correction."""
    m, v, betat = state
    m = beta[0] * m + (1 - beta[0]) * grad
    v = beta[1] * v + (1 - beta[1]) * grad ** 2
    step = m / (1 - betat[0]) / (np.sqrt(v / (1 - betat[1])) + eps) * lr
    return (m, v, (betat[0] * beta[0], betat[1] * beta[1])), step


@dataclasses.dataclass
class AdamW(Rule):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    With ``couple=True`` (the default, as in PyTorch and Optimisers.jl) the
    step is ``lr * (adam + decay * x)``; with ``couple=False`` it is
    ``lr * adam + decay * x``, as in the paper.

    >>> AdamW(decay=0.1).apply(AdamW().init(np.ones(1)), np.ones(1), np.zeros(1))[1]
    array([0.0001])
    """

    lr: float = 0.001
    beta: tuple = (0.9, 0.999)
    decay: float = 0.0
    eps: float = 1e-8
    couple: bool = True

    def init(self, x):
        return np.zeros_like(x), np.zeros_like(x), tuple(self.beta)

    def apply(self, state, x, grad):
        lr = _rate(self, self.lr)
        state, step = _adam(state, grad, self.beta, self.eps, 1.0)
        if self.couple:
            return state, lr * (step + self.decay * x)
        return state, lr * step + self.decay * x


@dataclasses.dataclass
class AdaGrad(Rule):
    """AdaGrad: divide the step by the root of the sum of all past squared gradients.

    >>> AdaGrad().apply(AdaGrad().init(np.zeros(1)), np.zeros(1), np.array([2.0]))[1].round(6)
    array([0.1])
    """

    lr: float = 0.1
    eps: float = 1e-8

    def init(self, x):
        return np.full_like(x, self.eps)

    def apply(self, state, x, grad):
        acc = state + grad ** 2
        return acc, grad * _rate(self, self.lr) / (np.sqrt(acc) + self.eps)


@dataclasses.dataclass
class ClipValue(Rule):
    """Clip each gradient component to ``[-delta, delta]``; chain it before a descent rule.

    >>> ClipValue(1.0).apply(None, np.zeros(2), np.array([-3.0, 0.5]))[1]
    array([-1. ,  0.5])
    """

    delta: float = 10.0

    def apply(self, state, x, grad):
        return state, np.clip(grad, -self.delta, self.delta)


@dataclasses.dataclass
class ClipNorm(Rule):
    """Scale each gradient array down so its ``p``-norm is at most ``omega``.

    A gradient whose norm is ``inf`` or ``nan`` raises ``FloatingPointError``
    (before anything is updated) unless ``throw=False``.

    >>> ClipNorm(1.0).apply(None, np.zeros(2), np.array([3.0, 4.0]))[1]
    array([0.6, 0.8])
    """

    omega: float = 10.0
    p: float = 2
    throw: bool = True

    def apply(self, state, x, grad):
        norm = np.linalg.norm(np.ravel(grad), ord=self.p)
        if self.throw and not math.isfinite(norm):
            raise FloatingPointError(f"gradient has {self.p}-norm {norm}, for an array of shape {np.shape(x)}")
        scale = 1.0 if norm <= self.omega else self.omega / norm
        return state, grad * scale


@dataclasses.dataclass
class WeightDecay(Rule):
    """Add ``decay * x`` to the gradient: L2 regularisation, placed first in an ``OptimiserChain``.

    >>> WeightDecay(0.5).apply(None, np.array([2.0]), np.array([1.0]))[1]
    array([2.])
    """

    decay: float = 5e-4

    def apply(self, state, x, grad):
        return state, grad + self.decay * x


class OptimiserChain(Rule):
    """Rules applied in turn, each to the step the one before produced.

    >>> opt = OptimiserChain(ClipValue(1.0), Descent(0.1))
    >>> opt.apply(opt.init(np.zeros(3)), np.zeros(3), np.array([0.3, 1.0, 7.0]))[1]
    array([0.03, 0.1 , 0.1 ])
    """

    def __init__(self, *rules):
        self.rules = list(rules)

    def init(self, x):
        return tuple(rule.init(x) for rule in self.rules)

    def at(self, step):
        rules = [rule.at(step) for rule in self.rules]
        if all(a is b for a, b in zip(rules, self.rules)):
            return self
        return OptimiserChain(*rules)

    def apply(self, state, x, grad):
        states = []
        for rule, substate in zip(self.rules, state):
            substate, grad = rule.apply(substate, x, grad)
            states.append(substate)
        return tuple(states), grad

    def __repr__(self):
        return f"OptimiserChain({', '.join(map(repr, self.rules))})"

    def __eq__(self, other):
        return isinstance(other, OptimiserChain) and self.rules == other.rules
