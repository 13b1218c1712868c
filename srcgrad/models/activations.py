"""Activation functions, written as plain NumPy so srcgrad differentiates their source.

Each works elementwise on a number or an array of any shape, except
``softmax`` and ``logsoftmax``, which normalise along ``axis`` (the last
one by default: a batch is ``(batch, classes)``). All are written to be
numerically stable for large ``|x|`` and to keep their gradients finite:
no branch of an ``np.where`` is allowed to overflow, because its gradient
would be ``0 * inf = nan`` even where the branch is not chosen.

>>> import numpy as np
>>> relu(np.array([-1.0, 2.0]))
array([0., 2.])
>>> softmax(np.array([0.0, 0.0]))
array([0.5, 0.5])
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "identity", "sigmoid", "σ", "relu", "leakyrelu", "tanh", "softplus", "elu", "gelu", "swish",
    "softmax", "logsoftmax",
]


def identity(x):
    """``x`` itself: the activation of a ``Dense`` layer given none.

    >>> identity(3.0)
    3.0
    """
    return x


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``.

    Computed as ``(1 + tanh(x / 2)) / 2``, the same function, which never
    overflows and keeps full precision for large ``|x|``.

    >>> import numpy as np
    >>> sigmoid(np.array([0.0, 1000.0, -1000.0]))
    array([0.5, 1. , 0. ])
    """
    return 0.5 * (1.0 + np.tanh(0.5 * x))


σ = sigmoid


def relu(x):
    """``max(x, 0)``, with gradient 0 at 0 (as Flux and JAX).

    >>> import numpy as np
    >>> relu(np.array([-2.0, 3.0]))
    array([0., 3.])
    """
    return np.where(x > 0, x, 0.0)


def leakyrelu(x, a=0.01):
    """``x`` for positive ``x``, else ``a * x``.

    >>> import numpy as np
    >>> leakyrelu(np.array([-2.0, 3.0]))
    array([-0.02,  3.  ])
    """
    return np.where(x > 0, x, a * x)


def tanh(x):
    """The hyperbolic tangent (NumPy's), under the name Flux uses.

    >>> float(tanh(0.0))
    0.0
    """
    return np.tanh(x)


def softplus(x):
    """``log(1 + exp(x))``, a smooth ``relu``; stable for large ``|x|``.

    >>> import numpy as np
    >>> softplus(np.array([-1000.0, 0.0, 1000.0])).round(4).tolist()
    [0.0, 0.6931, 1000.0]
    """
    return np.logaddexp(0.0, x)


def elu(x, alpha=1.0):
    """``x`` for positive ``x``, else ``alpha * (exp(x) - 1)``.

    >>> import numpy as np
    >>> elu(np.array([-1000.0, 2.0]))
    array([-1.,  2.])
    """
    # exp of the clipped value, so the unchosen branch cannot overflow.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


# A Python float, not a NumPy one, so float32 inputs stay float32.
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x):
    """The Gaussian error linear unit, in the tanh approximation (as Flux's ``gelu``).

    >>> import numpy as np
    >>> gelu(np.array([0.0, 10.0]))
    array([ 0., 10.])
    """
    return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))


def swish(x):
    """``x * sigmoid(x)`` (also called SiLU).

    >>> import numpy as np
    >>> swish(np.array([0.0, 100.0]))
    array([  0., 100.])
    """
    return x * sigmoid(x)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``: non-negative, summing to one.

    >>> import numpy as np
    >>> softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    # Subtracting the maximum changes nothing mathematically and stops exp overflowing.
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def logsoftmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, without forming ``softmax`` (so without ``log(0)``).

    >>> import numpy as np
    >>> logsoftmax(np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
