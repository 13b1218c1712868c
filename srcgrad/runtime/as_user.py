"""Gradients as the user sees them, in a form srcgrad differentiates again.

:func:`user_grads` gives what ``srcgrad.pullback`` returns (zeros where
srcgrad has ``None``), :func:`real_grads` what ``srcgrad.gradient`` returns
for real arguments, :func:`stack_rows` a Jacobian from its rows. Each has a
one-line rule (the last two are each other's transposes), so code that
computes a gradient can itself be differentiated (:mod:`srcgrad.calls.traced`).
"""

from __future__ import annotations

import numpy as np

from ..rules.registry import defrule
from .structure import real_for, to_user

__all__ = ["user_grads", "real_grads", "stack_rows", "unstack_rows"]


def user_grads(grads, args):
    """The gradients as ``srcgrad.pullback`` returns them to users: zeros where srcgrad has ``None``."""
    return tuple(to_user(g, a) for g, a in zip(grads, args))


@defrule(user_grads, broadcast=False, forward="linear-in-first", _builtin=True)
def user_grads_rule(dy, y, grads, args):
    return (real_grads(dy, args), None)


def real_grads(grads, args):
    """The gradients of real arguments without the imaginary parts complex intermediates leave (docs/complex.md).

    As ``srcgrad.gradient`` returns them; differentiated again, what the
    outer pass sends back through a real argument's gradient is real too.
    """
    return tuple(real_for(g, a) for g, a in zip(grads, args))


@defrule(real_grads, broadcast=False, forward="linear-in-first", _builtin=True)
def real_grads_rule(dy, y, grads, args):
    return (real_grads(dy, args), None)


def stack_rows(rows, shape, args):
    """The Jacobians from their rows (one gradient per argument, per output element of ``shape``)."""
    out = []
    for j, x in enumerate(args):
        parts = [np.zeros(np.shape(x)) if row[j] is None else np.asarray(row[j], dtype=float) for row in rows]
        out.append(np.reshape(np.stack(parts), shape + np.shape(x)))
    return tuple(out)


def unstack_rows(douts, shape, args):
    """The transpose of :func:`stack_rows`: each Jacobian's cotangent back to its rows."""
    if douts is None:
        return None
    n = int(np.prod(shape, dtype=int))
    flat = [None if d is None else np.reshape(d, (n,) + np.shape(x)) for d, x in zip(douts, args)]
    return [tuple(None if d is None else d[k] for d in flat) for k in range(n)]


@defrule(stack_rows, broadcast=False, forward="linear-in-first", _builtin=True)
def stack_rows_rule(dy, y, rows, shape, args):
    return (unstack_rows(dy, shape, args), None, None)


@defrule(unstack_rows, broadcast=False, forward="linear-in-first", _builtin=True)
def unstack_rows_rule(dy, y, douts, shape, args):
    return (None if dy is None else stack_rows(dy, shape, args), None, None)
