"""Learning-rate schedules: callables of the step number ``t`` (0-based) that return the learning rate.

Any rule's learning rate takes one in place of a number,
``Descent(Step(0.1, 0.5, 10))``, ``Adam(Warmup(100, Cosine(1e-3, 1e-5, 1000)))``;
:func:`srcgrad.optim.update` and :func:`srcgrad.optim.train` read it at the
current step (see :mod:`srcgrad.optim.update` for how the step is counted).
Any callable of the step works too: ``Descent(lambda t: 0.1 / (1 + t))``.

The formulas are ParameterSchedulers.jl's and Optax's, with the step counted
from 0 (Julia's ``t - 1``):

========================== =====================================================
``Step(start, decay, every)``  ``start * decay ** (t // every)``
``Exp(start, decay)``          ``start * decay ** t``
``Cosine(start, end, period)`` ``end + (start - end) * (1 + cos(pi * (t % period) / period)) / 2``:
                               from ``start`` towards ``end``, restarting at ``start`` every
                               ``period`` steps (ParameterSchedulers.jl's ``CosAnneal``, whose
                               ``restart=true`` is the default; SGDR's warm restarts)
``Warmup(steps, schedule)``    ``schedule(0) * t / steps`` for ``t < steps`` (linear from 0, as
                               Optax's ``linear_schedule(0, peak, steps)``), then
                               ``schedule(t - steps)`` (as Optax's ``join_schedules``)
========================== =====================================================

>>> s = Step(0.1, 0.5, 10)
>>> [s(0), s(9), s(10), s(25)]
[0.1, 0.1, 0.05, 0.025]
>>> Warmup(2, Exp(1.0, 0.5))
Warmup(steps=2, schedule=Exp(start=1.0, decay=0.5))
>>> [Warmup(2, Exp(1.0, 0.5))(t) for t in range(5)]
[0.0, 0.5, 1.0, 0.5, 0.25]
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Callable

__all__ = ["Schedule", "Step", "Exp", "Cosine", "Warmup"]


class Schedule:
    """The base of the schedules here: ``schedule(t)`` checks ``t`` and returns :meth:`value` at it."""

    def __call__(self, t):
        return float(self.value(_step(t, self)))

    def value(self, t: int) -> float:
        """The learning rate at step ``t`` (a checked int, ``t >= 0``)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Step(Schedule):
    """``start * decay ** (t // every)``: multiplied by ``decay`` every ``every`` steps.

    >>> [Step(1.0, 0.5, 2)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    start: float
    decay: float
    every: int

    def __post_init__(self):
        _rate(self, "start", self.start)
        _positive(self, "decay", self.decay)
        _count(self, "every", self.every, least=1)

    def value(self, t):
        return self.start * self.decay ** (t // self.every)


@dataclasses.dataclass(frozen=True)
class Exp(Schedule):
    """``start * decay ** t``: multiplied by ``decay`` every step.

    >>> [Exp(1.0, 0.5)(t) for t in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """

    start: float
    decay: float

    def __post_init__(self):
        _rate(self, "start", self.start)
        _positive(self, "decay", self.decay)

    def value(self, t):
        return self.start * self.decay ** t


@dataclasses.dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine annealing from ``start`` towards ``end`` over ``period`` steps, then again from ``start``.

    ``end + (start - end) * (1 + cos(pi * (t % period) / period)) / 2``, as
    ParameterSchedulers.jl's ``CosAnneal`` with its default ``restart=true``
    (SGDR's warm restarts): step ``period - 1`` is the closest to ``end``,
    step ``period`` is ``start`` again. To hold ``end`` after one period
    instead, make ``period`` longer than the training.
    ``start < end`` rises along the same curve.

    >>> s = Cosine(1.0, 0.0, 4)
    >>> [round(s(t), 4) for t in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 1.0, 0.8536]
    """

    start: float
    end: float
    period: int

    def __post_init__(self):
        _rate(self, "start", self.start)
        _rate(self, "end", self.end)
        _count(self, "period", self.period, least=1)

    def value(self, t):
        phase = (t % self.period) / self.period
        return self.end + (self.start - self.end) * (1 + math.cos(math.pi * phase)) / 2


@dataclasses.dataclass(frozen=True)
class Warmup(Schedule):
    """Linear from 0 to ``schedule(0)`` over ``steps`` steps, then ``schedule(t - steps)``.

    Step 0 has learning rate 0 and step ``steps`` has ``schedule(0)``, as
    Optax's ``linear_schedule(0, schedule(0), steps)`` joined to ``schedule``
    by ``join_schedules`` (which counts the later schedule's steps from the
    boundary). ``steps=0`` is ``schedule`` itself.

    >>> s = Warmup(4, Step(0.1, 0.5, 10))
    >>> [round(s(t), 4) for t in (0, 1, 2, 4, 14)]
    [0.0, 0.025, 0.05, 0.1, 0.05]
    """

    steps: int
    schedule: Callable

    def __post_init__(self):
        _count(self, "steps", self.steps, least=0)
        if not callable(self.schedule):
            raise TypeError(f"Warmup(steps, schedule) needs a schedule (a callable of the step number, such as "
                            f"Exp(1e-3, 0.99)) after the steps, not {self.schedule!r}")

    def value(self, t):
        if t < self.steps:
            return _read(self.schedule, 0) * t / self.steps
        return _read(self.schedule, t - self.steps)


def _step(t, schedule):
    """``t`` as an int, refused unless a whole number >= 0."""
    if isinstance(t, bool) or not isinstance(t, numbers.Integral):
        if isinstance(t, numbers.Real) and float(t).is_integer():
            t = int(t)
        else:
            raise TypeError(f"{schedule!r} is called with the step number, a whole number from 0, not {t!r}")
    if t < 0:
        raise ValueError(f"{schedule!r} is called with the step number, counted from 0; got {t}")
    return int(t)


def _read(schedule, t):
    """``schedule(t)``, refused unless it is a finite real number."""
    value = schedule(t)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"the schedule {schedule!r} gave {value!r} at step {t}; a schedule returns a finite number")
    return float(value)


def _number(schedule, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{type(schedule).__name__}'s {name} is a finite number, not {value!r}")


def _rate(schedule, name, value):
    _number(schedule, name, value)
    if value < 0:
        raise ValueError(f"{type(schedule).__name__}'s {name} is a learning rate, at least 0; got {value!r}")


def _positive(schedule, name, value):
    _number(schedule, name, value)
    if value <= 0:
        raise ValueError(f"{type(schedule).__name__}'s {name} multiplies the learning rate and must be above 0 "
                         f"(below 1 to decay); got {value!r}")


def _count(schedule, name, value, least):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ValueError(f"{type(schedule).__name__}'s {name} is a whole number of steps, at least {least}; "
                         f"got {value!r}")
