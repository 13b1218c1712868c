"""The public functions: gradient, withgradient, pullback, adjoint_source.

Everything here is a thin layer over :func:`srcgrad.runtime.dispatch.pullback`:
run the compiled forward, seed the output, run the backward, and turn the
internal gradients (``None`` for zero) into what the user expects (zeros
of the right shape and dtype, floats for numbers, the same structure as
the arguments).
"""

from __future__ import annotations

import numpy as np

from .compiler.cache import adjoint_of
from .compiler.parse import unwrap_callable
from .errors import NonScalarOutputError
from .params import Grads, Params, collect
from .runtime import dispatch
from .runtime.structure import to_user

__all__ = ["gradient", "withgradient", "pullback", "adjoint_source"]


def _seed(y, f):
    """The cotangent 1 for a scalar output, or an error naming the shape."""
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        return 1.0
    if isinstance(y, (np.ndarray, np.generic)) and np.ndim(y) == 0:
        if np.issubdtype(y.dtype, np.inexact):
            return np.ones((), y.dtype)[()]
        return 1.0
    shape = getattr(y, "shape", None)
    what = f"an array of shape {shape}" if shape is not None else f"a {type(y).__name__}"
    fn, _ = unwrap_callable(f)
    code = getattr(fn, "__code__", None)
    raise NonScalarOutputError(
        f"gradient needs a function that returns a scalar, but {getattr(f, '__name__', 'it')} returned {what}",
        filename=code.co_filename if code else None,
        lineno=code.co_firstlineno if code else None,
        fix="reduce the output to a scalar (e.g. np.sum), or use srcgrad.pullback(f, x) "
        "for a vector-Jacobian product or srcgrad.jacobian(f, x) for the full Jacobian",
    )


def withgradient(f, *args):
    """The value of ``f(*args)`` and its gradient with respect to each argument, from one pass.

    >>> import srcgrad
    >>> srcgrad.withgradient(lambda x: x ** 3, 2.0)
    (8.0, (12.0,))
    """
    if len(args) == 1 and isinstance(args[0], Params):
        return _implicit(f, args[0])
    y, back = dispatch.pullback(f, *args)
    grads = back(_seed(y, f))
    return y, tuple(to_user(g, a) for g, a in zip(grads[1:], args))


def _implicit(f, ps: Params):
    """``withgradient(f, params(...))``: ``f`` takes no arguments and reads the parameters itself."""
    ps.check_bindings()
    y, back = dispatch.pullback(f)
    dself = back(_seed(y, f))[0]
    return y, Grads(ps, collect(ps, f, dself))


def gradient(f, *args):
    """The gradient of the scalar function ``f`` with respect to each argument, as a tuple.

    With a single :class:`Params` argument, ``f`` takes no arguments and the
    result is a :class:`Grads` indexed by the parameter arrays (``gs[W]``).

    >>> import numpy as np, srcgrad
    >>> srcgrad.gradient(lambda x: 3 * x ** 2 + 2 * x + 1, 2)
    (14.0,)
    >>> srcgrad.gradient(lambda x, y: np.sum((x - y) ** 2), np.array([2.0, 1.0]), np.array([2.0, 0.0]))
    (array([0., 2.]), array([-0., -2.]))
    """
    return withgradient(f, *args)[1]


def pullback(f, *args):
    """``(y, back)``: the value of ``f(*args)`` and its vector-Jacobian product.

    ``back(dy)`` returns one gradient per argument, for a cotangent ``dy``
    shaped like ``y`` (``y`` may be any shape, or a tuple).

    >>> import numpy as np, srcgrad
    >>> y, back = srcgrad.pullback(lambda x: x * 2.0, np.array([1.0, 2.0]))
    >>> back(np.array([1.0, 10.0]))
    (array([ 2., 20.]),)
    """
    y, back = dispatch.pullback(f, *args)

    def user_back(dy):
        grads = back(dy)
        return tuple(to_user(g, a) for g, a in zip(grads[1:], args))

    return y, user_back


def _register_stand_ins():
    from . import higher
    from .runtime import dispatch

    dispatch.traced_as(gradient, higher.gradient)
    dispatch.traced_as(dispatch.pullback, higher.pullback)


def adjoint_source(f) -> str:
    """The generated reverse-mode source of ``f``: a forward and a backward function.

    >>> import srcgrad
    >>> def f(x):
    ...     return 3 * x ** 2 + 2 * x + 1
    >>> print(srcgrad.adjoint_source(f))   # doctest: +SKIP
    """
    fn, _ = unwrap_callable(f)
    if fn is None:
        raise TypeError(f"{f!r} has no Python source to show")
    return adjoint_of(fn).source


_register_stand_ins()
