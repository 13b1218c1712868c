"""Training loops: one pass over the data, in the implicit or the explicit style.

Implicit, like Flux's ``train!`` in the seeds: ``loss`` reads the
parameters ``ps = srcgrad.params(...)`` from its globals, closures or
attributes, and each item of ``data`` holds its arguments::

    train(loss, srcgrad.params(W, b), zip(xs, ys), Descent(0.05))

Explicit, like Flux's newer ``train!(loss, model, data, state)`` with
Optimisers.jl: ``loss(model, *item)`` takes the model first, and the
optimiser state comes from ``setup``::

    state = setup(Adam(), model)
    train(lambda m, x, y: mse(m(x), y), model, loader, state)

An item that is a tuple is spread into ``loss``'s arguments; any other item
is passed as the one argument. Batches may be Dask arrays (a ``DataLoader``
over Dask data): each step's gradient of the NumPy model is computed by
Dask, on the scheduler in use. A long pass in a terminal shows a progress
bar (if ``tqdm`` is installed). Ctrl-C stops the pass between or inside
updates, never leaving a parameter half updated.
"""

from __future__ import annotations

import functools
import math
import sys
import time

import numpy as np

from .optimisers import Rule
from .update import update

__all__ = ["train", "throttle"]


def train(loss, ps, data, opt, cb=None, *, progress=None):
    """One pass over ``data``: for each item, a gradient of ``loss``, then ``update``, then ``cb()``.

    ``ps`` and ``opt`` are either ``srcgrad.params(...)`` and a rule
    (implicit style, ``loss(*item)``), or a model and the state
    ``setup(rule, model)`` (explicit style, ``loss(model, *item)``).
    A learning rate that is a schedule (``Descent(Step(0.1, 0.5, 10))``)
    is read at the step number: one step per item of ``data``, counted
    across passes (see :mod:`srcgrad.optim.update`).
    ``progress`` forces the progress bar on (``True``) or off (``False``);
    by default it appears once a pass has run for two seconds in a terminal.
    A loss that is ``nan`` or infinite stops training with
    ``FloatingPointError`` before the parameters are changed, and so does
    a finite loss whose gradient would make a parameter infinite or ``nan``
    (the error names the parameter): as Flux's ``train!`` refuses a
    non-finite loss, rather than skipping the step as PyTorch's
    ``GradScaler`` does for mixed precision, where an overflow is expected.

    >>> import numpy as np, srcgrad
    >>> from srcgrad.models import Dense, mse
    >>> from srcgrad.optim import Descent, setup
    >>> model = Dense(1, 1, rng=0)
    >>> data = [(np.array([[1.0]]), np.array([[2.0]]))] * 50
    >>> train(lambda m, x, y: mse(m(x), y), model, data, setup(Descent(0.1), model))
    >>> np.round(model(np.array([1.0])), 3)
    array([2.])
    """
    if isinstance(opt, Rule):
        if not _is_params(ps):
            raise TypeError(
                "train(loss, ps, data, opt) with a rule needs ps = srcgrad.params(...) and loss(*item); "
                "to train a model with loss(model, *item), pass the state from setup(opt, model) instead of opt")
        step = functools.partial(_implicit_step, loss, ps, opt)
    else:
        step = functools.partial(_explicit_step, loss, ps, opt)
    bar = _progress_bar(data, progress)
    try:
        for item in (bar if bar is not None else data):
            step(item if isinstance(item, tuple) else (item,))
            if cb is not None:
                cb()
    finally:
        if bar is not None:
            bar.close()


def _implicit_step(loss, ps, opt, args):
    import srcgrad

    value, grads = srcgrad.withgradient(lambda: loss(*args), ps)
    _check_finite(value)
    update(opt, ps, grads)


def _explicit_step(loss, model, state, args):
    import srcgrad

    # Only the model is differentiated; the data are constants of the step.
    value, (grad,) = srcgrad.withgradient(lambda m: loss(m, *args), model)
    _check_finite(value)
    update(state, model, grad)


def _is_params(ps):
    from ..params import Params

    return isinstance(ps, Params)


def _check_finite(value):
    if type(value) is not float and type(value) is not np.float64 and hasattr(value, "__dask_graph__"):
        # (a loss over a Dask batch is a lazy 0-d array: its value is computed here to check it, once,
        # on the scheduler in use; the model's gradient was computed already, by the same graph's reductions)
        import dask

        (value,) = dask.compute(value)
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(f"the loss is {value}; stopping before it reaches the parameters")


def _progress_bar(data, progress):
    """A tqdm bar over ``data``, or ``None``: only with tqdm installed, and by default only in a terminal."""
    if progress is False or (progress is None and not _is_terminal(sys.stderr)):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # The delay keeps short passes silent: training that is called once per epoch
    # in a loop of a thousand epochs should not draw a thousand bars.
    return tqdm(data, delay=0 if progress else 2.0, leave=False, desc="train", unit="step")


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def throttle(fn, seconds):
    """``fn``, called at most once every ``seconds``; calls in between do nothing and return ``None``.

    The first call goes through. Typical use is a training callback:
    ``train(loss, ps, data, opt, cb=throttle(show_loss, 10))``.

    >>> calls = []
    >>> log = throttle(lambda: calls.append(1), 60)
    >>> for _ in range(5):
    ...     log()
    >>> len(calls)
    1
    """
    last = -math.inf

    @functools.wraps(fn)
    def throttled(*args, **kwargs):
        nonlocal last
        now = time.monotonic()
        if now - last < seconds:
            return None
        last = now
        return fn(*args, **kwargs)

    return throttled
