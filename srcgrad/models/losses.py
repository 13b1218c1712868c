"""Loss functions: ``loss(yhat, y, agg="mean")``, prediction first, as in Flux and PyTorch.

Every loss computes one value per element (or per sample, for the
cross-entropies, which sum over the class axis) and then aggregates them
with ``agg``: ``"mean"`` (the default), ``"sum"``, ``"none"`` (the
unreduced array), or any function of the array such as ``np.max``.
Batches are ``(batch, ...)``; classes are on the last axis unless
``axis=`` says otherwise. A prediction and a target that are both arrays
must have the same shape, as Flux's losses require (``DimensionMismatch``):
an ``(8, 1)`` prediction against an ``(8,)`` target would otherwise
broadcast to an ``(8, 8)`` comparison of every prediction with every
target, a wrong loss with no error (PyTorch only warns). A scalar target,
such as ``mse(yhat, 0.0)``, is compared with every element.

>>> import numpy as np
>>> float(mse(np.array([1.0, 2.0]), np.array([1.0, 4.0])))
2.0
>>> mse(np.array([1.0, 2.0]), np.array([1.0, 4.0]), agg="none")
array([0., 4.])
"""

from __future__ import annotations

import numpy as np

from ..rules.registry import nograd
from .activations import logsoftmax, softplus

__all__ = [
    "mse", "mae", "crossentropy", "logitcrossentropy", "binarycrossentropy", "logitbinarycrossentropy",
    "huber",
]

#: Added inside ``log`` so a predicted probability of exactly 0 gives a large
#: finite loss rather than ``inf``; small enough to be invisible otherwise.
EPS = 1e-12


@nograd
def same_shape(yhat, y, loss):
    """Raise ``ValueError`` unless the arrays ``yhat`` and ``y`` have one shape (a scalar fits any).

    >>> same_shape(np.zeros((8, 1)), np.zeros(8), "mse")
    Traceback (most recent call last):
    ...
    ValueError: mse: the prediction has shape (8, 1) but the target (8,); they must be the same, or every prediction is compared with every target (broadcast to (8, 8)). Reshape one to the other's shape, e.g. y.reshape(yhat.shape) or yhat.reshape(y.shape)
    """
    a, b = getattr(yhat, "shape", ()), getattr(y, "shape", ())
    if a != b and len(a) > 0 and len(b) > 0:
        try:
            broadcast = f" (broadcast to {np.broadcast_shapes(a, b)})"
        except ValueError:
            broadcast = ""
        raise ValueError(f"{loss}: the prediction has shape {a} but the target {b}; they must be the same, "
                         f"or every prediction is compared with every target{broadcast}. Reshape one to the "
                         f"other's shape, e.g. y.reshape(yhat.shape) or yhat.reshape(y.shape)")


def _aggregate(losses, agg):
    if agg == "mean":
        out = np.mean(losses)
    elif agg == "sum":
        out = np.sum(losses)
    elif agg == "none" or agg is None:
        out = losses
    else:
        out = agg(losses)
    return out


def mse(yhat, y, agg="mean"):
    """Mean squared error: ``agg((yhat - y) ** 2)``.

    >>> import numpy as np
    >>> float(mse(np.array([0.0, 0.0]), np.array([1.0, 3.0]), agg="sum"))
    10.0
    """
    same_shape(yhat, y, "mse")
    return _aggregate((yhat - y) ** 2, agg)


def mae(yhat, y, agg="mean"):
    """Mean absolute error: ``agg(|yhat - y|)``.

    >>> import numpy as np
    >>> float(mae(np.array([0.0, 0.0]), np.array([1.0, -3.0])))
    2.0
    """
    same_shape(yhat, y, "mae")
    return _aggregate(np.abs(yhat - y), agg)


def huber(yhat, y, delta=1.0, agg="mean"):
    """Huber loss: squared error below ``delta``, linear above, continuous in value and slope.

    >>> import numpy as np
    >>> huber(np.array([0.5, 3.0]), np.array([0.0, 0.0]), agg="none")
    array([0.125, 2.5  ])
    """
    same_shape(yhat, y, "huber")
    err = np.abs(yhat - y)
    return _aggregate(np.where(err < delta, 0.5 * err ** 2, delta * (err - 0.5 * delta)), agg)


def crossentropy(yhat, y, axis=-1, agg="mean", eps=EPS):
    """Cross-entropy between predicted probabilities ``yhat`` and targets ``y`` (e.g. one-hot).

    ``-sum(y * log(yhat), axis)`` per sample, then ``agg`` over samples.
    Prefer :func:`logitcrossentropy` on the raw scores: it is more stable
    than ``crossentropy(softmax(scores), y)``.

    >>> import numpy as np
    >>> round(float(crossentropy(np.array([0.25, 0.75]), np.array([0.0, 1.0]))), 4)
    0.2877
    """
    same_shape(yhat, y, "crossentropy")
    return _aggregate(-np.sum(y * np.log(yhat + eps), axis=axis), agg)


def logitcrossentropy(scores, y, axis=-1, agg="mean"):
    """``crossentropy(softmax(scores), y)``, computed stably through ``logsoftmax``.

    >>> import numpy as np
    >>> round(float(logitcrossentropy(np.array([0.0, np.log(3.0)]), np.array([0.0, 1.0]))), 4)
    0.2877
    """
    same_shape(scores, y, "logitcrossentropy")
    return _aggregate(-np.sum(y * logsoftmax(scores, axis=axis), axis=axis), agg)


def binarycrossentropy(yhat, y, agg="mean", eps=EPS):
    """Binary cross-entropy of probabilities ``yhat`` against targets ``y`` in ``[0, 1]``.

    >>> import numpy as np
    >>> round(float(binarycrossentropy(np.array([0.75]), np.array([1.0]))), 4)
    0.2877
    """
    same_shape(yhat, y, "binarycrossentropy")
    return _aggregate(-(y * np.log(yhat + eps) + (1 - y) * np.log(1 - yhat + eps)), agg)


def logitbinarycrossentropy(scores, y, agg="mean"):
    """``binarycrossentropy(sigmoid(scores), y)``, computed stably from the raw scores.

    >>> import numpy as np
    >>> round(float(logitbinarycrossentropy(np.array([np.log(3.0)]), np.array([1.0]))), 4)
    0.2877
    """
    same_shape(scores, y, "logitbinarycrossentropy")
    # -log(sigmoid(x)) == softplus(-x) and -log(1 - sigmoid(x)) == x + softplus(-x).
    return _aggregate((1 - y) * scores + softplus(-scores), agg)
