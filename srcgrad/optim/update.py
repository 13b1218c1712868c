"""Applying rules to parameters, in two styles.

*Implicit* (Flux's ``update!``, as in the seeds): the rule keeps one state
per array, keyed by the array's identity, and ``update`` changes the array
in place::

    update(opt, W, gs[W])      # one array
    update(opt, ps, gs)        # every array of ps = srcgrad.params(...)

*Explicit* (Optimisers.jl): the state lives in a tree shaped like the
model, made by ``setup``; the gradient is the structural one that
``srcgrad.gradient(loss, model, ...)[0]`` returns (a dict of fields for an
object, lists/tuples/dicts mirrored, ``None`` for no gradient)::

    state = setup(opt, model)
    state, model = update(state, model, grad)

A learning rate that is a schedule (``Descent(Step(0.1, 0.5, 10))``) is read
at the step number, which counts updates of the whole model, not of each
array: it is 0 for the first update, and moves on by one when a parameter
that was updated at the current step is updated again. So
``update(opt, ps, gs)`` and ``update(state, model, grad)`` are one step
each, and so is a round of ``update(opt, W, gs[W]); update(opt, b, gs[b])``;
a parameter that got no gradient in some round does not hold the count back.
Implicit style counts per rule object (all the arrays it updates); explicit
style per state tree (all the leaves one ``setup`` made).

Either way, every step is computed before any array changes, and the
arrays change together with Ctrl-C held off, so an update is applied
whole or not at all. A step that would make a parameter infinite or nan
(an infinite gradient, say, which a finite loss can still have) raises
``FloatingPointError`` naming the parameter, and nothing changes: as
Flux's ``train!`` stops at a non-finite loss rather than train on. An array reached twice (shared weights) is updated
once, with the sum of its gradients.

>>> import numpy as np
>>> from srcgrad.optim import Descent
>>> W = np.array([1.0, 2.0])
>>> update(Descent(0.1), W, np.array([10.0, 0.0]))
>>> W
array([0., 2.])
"""

from __future__ import annotations

import contextlib
import signal
import threading
import weakref

import numpy as np

from ..models.functor import child, mirror
from .optimisers import Rule

__all__ = ["Leaf", "Clock", "setup", "update"]


class Leaf:
    """The optimiser state of one parameter array in an explicit state tree: its rule and state.

    >>> from srcgrad.optim import Momentum
    >>> Leaf(Momentum(), np.zeros(2))
    Leaf(Momentum(lr=0.01, rho=0.9), array([0., 0.]))
    """

    __slots__ = ("rule", "state", "clock")

    def __init__(self, rule, state, clock=None):
        self.rule = rule
        self.state = state
        #: The step count shared by the leaves of one state tree (see the module's docstring).
        self.clock = Clock() if clock is None else clock

    def __repr__(self):
        return f"Leaf({self.rule!r}, {self.state!r})"


def setup(opt, model):
    """The optimiser state tree for ``model``: a :class:`Leaf` for each parameter, ``None`` elsewhere.

    >>> from srcgrad.models import Dense
    >>> from srcgrad.optim import Descent
    >>> setup(Descent(), Dense(2, 1))
    {'W': Leaf(Descent(lr=0.1), None), 'b': Leaf(Descent(lr=0.1), None), 'activation': None}
    """
    if not isinstance(opt, Rule):
        raise TypeError(f"setup(opt, model) needs an optimisation rule such as Adam(), not {type(opt).__name__}")
    clock = Clock()
    return mirror(lambda x: Leaf(opt, opt.init(x), clock), model)


class Clock:
    """The step number schedules read: it moves on when a parameter already updated at this step is updated again.

    >>> clock = Clock()
    >>> [clock.tick({"W", "b"}), clock.tick({"W"}), clock.tick({"b"}), clock.tick({"W"})]
    [0, 1, 1, 2]
    """

    __slots__ = ("step", "updated")

    def __init__(self):
        self.step = 0
        #: The keys of the parameters updated at this step.
        self.updated = set()

    def peek(self, keys):
        """The step an update of the parameters ``keys`` would be, without counting it."""
        return self.step + 1 if self.updated and not self.updated.isdisjoint(keys) else self.step

    def tick(self, keys):
        """Count an update of the parameters ``keys``; return its step."""
        if self.updated and not self.updated.isdisjoint(keys):
            self.step += 1
            self.updated = set(keys)
        else:
            self.updated.update(keys)
        return self.step

    def forget(self, key):
        self.updated.discard(key)

    def __repr__(self):
        return f"Clock(step={self.step})"


def update(opt, model, grad):
    """Apply one optimisation step; see the module docstring for the two styles.

    Implicit: ``update(opt, x, dx)`` or ``update(opt, ps, gs)`` changes the
    arrays in place and returns ``None``. Explicit: ``update(state, model,
    grad)`` changes the model's arrays in place and returns ``(state,
    model)``, the same objects, updated.

    >>> import numpy as np
    >>> from srcgrad.optim import Descent
    >>> model = {"w": np.array([1.0])}
    >>> state = setup(Descent(0.5), model)
    >>> state, model = update(state, model, {"w": np.array([2.0])})
    >>> model["w"]
    array([0.])
    """
    if isinstance(opt, Rule):
        if isinstance(model, np.ndarray):
            _commit([_ImplicitStep(opt, model, grad, "the parameter")])
        elif np.ndim(model) == 0 and not hasattr(model, "__iter__"):
            raise TypeError(f"update changes arrays in place, so it cannot update a {type(model).__name__}; "
                            f"keep the parameter in an array, e.g. np.array({model!r})")
        else:
            _commit([_ImplicitStep(opt, p, grad[p], f"parameter {i} of the params") for i, p in enumerate(model)
                     if p in grad and grad[p] is not None])
        return None
    steps = {}
    _collect(opt, model, grad, (), steps)
    _commit(list(steps.values()))
    return opt, model


class _ImplicitStep:
    """One array's update, with its state kept in the rule, keyed by the array's identity."""

    def __init__(self, rule, x, grad, where):
        self.rule, self.x, self.grad, self.where = rule, x, grad, where
        self.store = rule.__dict__.setdefault("_implicit_state", {})
        self.clock = rule.__dict__.setdefault("_implicit_clock", Clock())
        self.key = id(x)
        entry = self.store.get(id(x))
        # An id can be reused once its array is gone; the weak reference tells the two apart.
        self.state = entry[1] if entry is not None and entry[0]() is x else rule.init(x)

    def save(self, state):
        store, key, clock = self.store, id(self.x), self.clock

        def forget(ref):
            if store.get(key, (None,))[0] is ref:
                del store[key]
                clock.forget(key)

        entry = store.get(key)
        if entry is None or entry[0]() is not self.x:
            store[key] = (weakref.ref(self.x, forget), state)
        else:
            store[key] = (entry[0], state)


class _ExplicitStep:
    """One array's update, with its state kept in the state tree's :class:`Leaf`."""

    def __init__(self, leaf, x, grad, where):
        self.rule, self.x, self.grad, self.state, self.leaf = leaf.rule, x, grad, leaf.state, leaf
        self.where = where
        self.clock, self.key = leaf.clock, id(leaf)

    def save(self, state):
        self.leaf.state = state


def _collect(tree, model, grad, path, steps):
    """Pair each Leaf of ``tree`` with its array in ``model`` and its gradient in ``grad``."""
    if tree is None or grad is None:
        return
    if isinstance(tree, Leaf):
        if not isinstance(model, np.ndarray):
            raise TypeError(f"the state tree has a parameter at {_where(path)} but the model has "
                            f"{type(model).__name__} there; was the model changed after setup?")
        previous = steps.get(id(tree))
        if previous is None:
            steps[id(tree)] = _ExplicitStep(tree, model, grad, _where(path))
        else:  # the same array reached again: its gradients add up
            previous.grad = previous.grad + grad
        return
    keys = range(len(tree)) if isinstance(tree, (list, tuple)) else tree.keys()
    for key in keys:
        if tree[key] is not None:
            _collect(tree[key], child(model, key), _grad_child(grad, key, model, path), path + (key,), steps)


def _grad_child(grad, key, model, path):
    if isinstance(grad, dict):
        return grad.get(key)
    if isinstance(grad, (list, tuple)) and isinstance(key, int) and isinstance(model, (list, tuple)):
        return grad[key] if key < len(grad) else None
    hint = ""
    if isinstance(grad, tuple) and not isinstance(model, (list, tuple)):
        hint = ("; srcgrad.gradient returns one gradient per argument, so pass "
                "srcgrad.gradient(loss, model, ...)[0] for the model's")
    raise TypeError(f"the gradient at {_where(path)} should have the structure of the "
                    f"{type(model).__name__} there (a dict of its fields for an object), "
                    f"not a {type(grad).__name__}{hint}")


def _where(path):
    return "the top" if not path else "model." + ".".join(map(str, path))


def _commit(steps):
    """Compute every step, then subtract them all and save the new states, uninterrupted.

    Each rule is applied at its clock's step (:class:`Clock`), which moves on only once all is computed.
    """
    keys = {}
    for s in steps:
        keys.setdefault(id(s.clock), (s.clock, set()))[1].add(s.key)
    at = {}  # (id(rule), step) -> the rule with its schedules read at the step
    results = []
    for s in steps:
        grad = np.asarray(s.grad)
        if grad.shape != s.x.shape:
            raise ValueError(f"gradient of shape {grad.shape} for a parameter of shape {s.x.shape}")
        t = s.clock.peek(keys[id(s.clock)][1])
        rule = at.get((id(s.rule), t))
        if rule is None:
            rule = at[(id(s.rule), t)] = s.rule.at(t)
        state, step = rule.apply(s.state, s.x, grad)
        step = np.asarray(step)
        if not _finite(step):
            raise FloatingPointError(_not_finite(s, grad, step))
        results.append((s, state, step))
    with _interrupts_deferred():
        for s, state, step in results:
            _subtract(s.x, step)
            s.save(state)
        for clock, counted in keys.values():
            clock.tick(counted)


def _finite(a) -> bool:
    # (the sum first: one pass without a temporary array, finite whenever every entry is, but for overflow)
    return bool(np.isfinite(np.add.reduce(a, axis=None))) or bool(np.isfinite(a).all())


def _not_finite(s, grad, step):
    """Why a step is refused: which parameter, and whether its gradient or the rule made it inf or nan."""
    shape = f"shape {s.x.shape}" if s.x.shape else "a scalar"
    if not _finite(grad):
        bad = int(np.size(grad) - np.count_nonzero(np.isfinite(grad)))
        cause = (f"its gradient has {bad} infinite or nan entr{'y' if bad == 1 else 'ies'} "
                 f"(of {np.size(grad)})")
    elif not _finite(s.x):
        cause = "the parameter itself is already infinite or nan"
    else:
        cause = f"{s.rule!r} turned a finite gradient into an infinite or nan step"
    return (f"the update of {s.where} ({shape}) would make it infinite or nan: {cause}; no parameter "
            f"was changed. Look for a log of 0, a division by 0 or an overflow in the loss, or clip "
            f"gradients (ClipNorm, ClipValue) or lower the learning rate")


def _subtract(x, step):
    np.subtract(x, step, out=x, casting="same_kind")


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block has finished."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    except ValueError:  # not the main interpreter: signals cannot be handled here anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt
