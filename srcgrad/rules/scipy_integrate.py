"""Rules for ``scipy.integrate``: ``odeint``, registered once the program has imported it.

``ys = odeint(func, y0, t, args)`` solves ``y' = f(y, t) = func(y, t, *args)`` from ``y(t[0]) = y0``
and returns ``y`` at each time of ``t``, ``(len(t), n)``. Its rules are those of the exact solution,
each a second integration that calls back into srcgrad for the derivatives of the user's ``func``
(:data:`~srcgrad.runtime.structure.calling_pullback`). ``θ``, the parameters, are the values in
``args`` and what ``func`` captures or reads (a closure's cells, globals), in the structures
srcgrad gives their gradients.

- Reverse mode, the adjoint method: ``[y, λ, μ]`` is integrated backwards from each time of ``t``
  to the one before, ``λ' = -λᵀ ∂f/∂y`` and ``μ' = -λᵀ ∂f/∂θ`` (one pullback of ``func`` a step),
  ``λ`` taking each time's cotangent ``gᵢ`` as it passes it. ``y0`` gets ``λ(t[0])``, ``θ`` gets
  ``μ(t[0])``, ``tᵢ`` gets ``gᵢ · f(yᵢ, tᵢ)`` and ``t[0]`` ``-λ(t[0]⁺) · f(y0, t[0])``.
- Forward mode, forward sensitivities: ``[y, s]`` is integrated forwards, ``s' = ∂f/∂y s +
  ∂f/∂θ dθ`` from ``s(t[0]) = dy0 - f(y0, t[0]) dt[0]``, and ``tᵢ``'s tangent is ``s(tᵢ) + f(yᵢ,
  tᵢ) dtᵢ``. A rule reaches no forward mode of the user's code, so the Jacobian comes a row at a
  time: one pullback of ``func`` and ``n`` backward passes a step.

Both run to ``rtol = atol = 1e-10`` (:data:`TOLERANCE`), or the caller's where tighter, with the
caller's ``tcrit hmax hmin mxordn mxords`` and at least :data:`STEPS` steps an interval; one that
fails is refused, never returned. ``Dfun col_deriv ml mu`` describe ``func``'s own Jacobian, not
the second integration's, and ``h0 ixpr mxhnil printmessg`` the caller's solve: they reach that
one only. ``tfirst=True`` is followed; with ``full_output=True`` the ``infodict`` passes no
gradient, and one that reaches it is refused. A derivative of higher order is refused too
(:class:`FirstOrder`).
"""

import functools
import os
import sys
import typing
import warnings

import numpy as np

from ..errors import NoRuleError
from ..runtime import structure
from ..runtime.located import call_site
from ..runtime.zeros import zero_tangent
from . import registry
from .registry import defrule, nograd, when_imported

shaped = functools.partial(defrule, _builtin=True, broadcast=False)

#: ``scipy.integrate``, once imported.
_integrate = None

#: The loosest tolerance of the second integrations (the caller's own, when tighter).
TOLERANCE = 1e-10
#: The fewest steps the second integrations may take between two times (``mxstep``).
STEPS = 50_000


# ------------------------------------------------------------------ the user's func

class Field:
    """The user's ``func`` with its ``args``: its value and its pullback at a point ``(y, t)``."""

    def __init__(self, func, args, tfirst):
        self.func, self.args, self.tfirst = func, args, tfirst

    def point(self, y, t):
        return (t, y, *self.args) if self.tfirst else (y, t, *self.args)

    def value(self, y, t):
        return np.ravel(np.asarray(self.func(*self.point(np.array(y), t)), dtype=float))

    def pullback(self, y, t):
        """``(f(y, t), vjp)``: ``vjp(λ)`` is ``(λᵀ ∂f/∂y, λᵀ ∂f/∂θ)``, ``θ`` being ``(func, args)``."""
        out, back = structure.calling_pullback(self.func, *self.point(np.array(y), t))
        return np.ravel(np.asarray(out, dtype=float)), functools.partial(field_vjp, back, out, self.tfirst)


def field_vjp(back, out, tfirst, lam):
    """``(λᵀ ∂f/∂y, (λᵀ ∂f/∂func, λᵀ ∂f/∂args))``, by ``back``, the pullback of ``out = func(...)``."""
    grads = back(shaped_as(lam, out))
    gy = grads[2] if tfirst else grads[1]
    return (np.zeros(len(lam)) if gy is None else np.ravel(np.asarray(gy, dtype=float))), (grads[0], grads[3:])


def shaped_as(v, like):
    """The flat vector ``v`` in the shape of ``func``'s value ``like``: an array's, a float, or a list of those."""
    if isinstance(like, (list, tuple)):
        if not any(isinstance(part, (np.ndarray, list, tuple)) for part in like):  # (a list of numbers, first)
            return type(like)(v.tolist())
        ends = np.cumsum([0] + [np.size(part) for part in like])
        return type(like)(shaped_as(v[a:b], part) for a, b, part in zip(ends[:-1], ends[1:], like))
    if isinstance(like, np.ndarray):
        return np.reshape(v, like.shape)
    return float(v[0])


# ------------------------------------------------------------------ the parameters as one vector

def has_gradient(g):
    """Whether the gradient structure ``g`` holds anything but ``None``."""
    if isinstance(g, dict):
        return any(has_gradient(v) for v in g.values())
    if isinstance(g, (list, tuple)):
        return any(has_gradient(v) for v in g)
    return g is not None


class Grown(Exception):
    """A gradient reached a parameter the layout of ``μ`` left out (a branch of ``func`` reads it at some times
    only): the backward integration starts again, laid out as ``like``."""

    def __init__(self, like):
        super().__init__("a parameter's gradient appeared part way through the backward integration")
        self.like = like


def flatten(g, like):
    """The gradient ``g`` as one vector, laid out as ``like`` (a gradient of the same values).

    ``None`` in ``g`` reads as zeros; a gradient where ``like`` has none raises :class:`Grown`.
    """
    pieces = []
    if not _flatten(g, like, pieces):
        raise Grown(merged(like, g))
    return np.concatenate(pieces) if pieces else np.zeros(0)


def _flatten(g, like, pieces):
    """Append ``g``'s pieces in ``like``'s layout; False where ``g`` has more than ``like`` lays out."""
    if like is None:
        return not has_gradient(g)
    if isinstance(like, dict):
        g = g or {}
        return all([_flatten(g.get(k), v, pieces) for k, v in like.items()]) \
            and not any(has_gradient(v) for k, v in g.items() if k not in like)
    if isinstance(like, (list, tuple)):
        return all([_flatten(part, v, pieces) for part, v in zip((None,) * len(like) if g is None else g, like)])
    pieces.append(np.zeros(np.size(like)) if g is None else np.ravel(np.asarray(g, dtype=float)))
    return True


def merged(like, g):
    """A layout of both ``like``'s parameters and those ``g`` has a gradient for."""
    if like is None:
        return g if has_gradient(g) else None
    if g is None or not isinstance(like, (dict, list, tuple)):
        return like
    if isinstance(like, dict):
        return {**{k: v for k, v in g.items() if has_gradient(v)}, **{k: merged(v, g.get(k)) for k, v in like.items()}}
    return type(like)(merged(v, part) for v, part in zip(like, g))


def unflatten(v, like):
    """The vector ``v`` as a gradient structured as ``like`` (the inverse of :func:`flatten`)."""
    out, _ = _unflatten(np.asarray(v, dtype=float), like, 0)
    return out


def _unflatten(v, like, at):
    if like is None:
        return None, at
    if isinstance(like, dict):
        out = {}
        for k, part in like.items():
            out[k], at = _unflatten(v, part, at)
        return out, at
    if isinstance(like, (list, tuple)):
        parts = []
        for part in like:
            g, at = _unflatten(v, part, at)
            parts.append(g)
        return type(like)(parts), at
    size = int(np.size(like))
    piece = v[at:at + size]
    return (piece.reshape(np.shape(like)) if np.ndim(like) else float(piece[0])), at + size


def inner(g, d):
    """``<g, d>`` for a gradient and a tangent of the same values (structures alike; ``None`` is zero)."""
    if g is None or d is None:
        return 0.0
    if isinstance(g, dict) and isinstance(d, dict):
        return sum((inner(v, d.get(k)) for k, v in g.items()), 0.0)
    if isinstance(g, (list, tuple)) and isinstance(d, (list, tuple)) and len(g) == len(d):
        return sum((inner(a, b) for a, b in zip(g, d)), 0.0)
    if isinstance(g, (dict, list, tuple)) or isinstance(d, (dict, list, tuple)):
        raise TypeError(f"a tangent {type(d).__name__} for a gradient {type(g).__name__}: they do not match")
    return float(np.sum(np.asarray(g, dtype=float) * np.asarray(d, dtype=float)))


# ------------------------------------------------------------------ the second integrations

def solve(dynamics, state, times, options, what):
    """``odeint(dynamics, state, times, **options)``, refused if it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", _integrate.ODEintWarning)
        try:
            return _integrate.odeint(dynamics, state, times, **options)
        except _integrate.ODEintWarning as failed:
            raise NoRuleError(f"the {what} integration of scipy.integrate.odeint's derivative failed: {failed}",
                              fix="pass odeint other rtol=/atol=, or a larger mxstep=") from None


def adjoint_dynamics(state, t, field, n, like):
    """``[y, λ, μ]' = [f, -λᵀ ∂f/∂y, -λᵀ ∂f/∂θ]``, integrated backwards."""
    value, vjp = field.pullback(state[:n], t)
    gy, gparams = vjp(state[n:2 * n])
    return np.concatenate([value, -gy, -flatten(gparams, like)])


def backwards(field, trajectory, times, gs, like, how):
    """``(λ(t[0]), μ(t[0]), dt)``: the adjoint, from the last time to the first, an interval at a time."""
    n = trajectory.shape[1]
    lam, mu = gs[-1], np.zeros(len(flatten(like, like)))
    dts = np.zeros(len(times))
    for i in range(len(times) - 1, 0, -1):
        dts[i] = gs[i] @ field.value(trajectory[i], times[i])
        if times[i] != times[i - 1]:
            state = solve(adjoint_dynamics, np.concatenate([trajectory[i], lam, mu]), times[[i, i - 1]],
                          dict(how.options(), args=(field, n, like)), "backward")[1]
            lam, mu = state[n:2 * n], state[2 * n:]
        if i == 1:
            dts[0] = -lam @ field.value(trajectory[0], times[0])
        lam = lam + gs[i - 1]
    return lam, mu, dts


def tangent_dynamics(state, t, field, n, dparams):
    """``[y, s]' = [f, ∂f/∂y s + ∂f/∂θ dθ]``, the Jacobian a row at a time."""
    value, vjp = field.pullback(state[:n], t)
    ds = np.zeros(n)
    for i in range(n):
        gy, gparams = vjp(np.eye(n)[i])
        ds[i] = gy @ state[n:] + inner(gparams, dparams)
    return np.concatenate([value, ds])


# ------------------------------------------------------------------ the call

class Integration(typing.NamedTuple):
    """How the call integrated, as far as the second integrations follow it."""

    rtol: float
    atol: float
    tcrit: object
    hmax: float
    hmin: float
    mxstep: int
    mxordn: int
    mxords: int
    tfirst: bool

    def options(self):
        """odeint's keywords for a second integration."""
        return dict(rtol=self.rtol, atol=self.atol, tcrit=self.tcrit, hmax=self.hmax, hmin=self.hmin,
                    mxstep=self.mxstep, mxordn=self.mxordn, mxords=self.mxords)


@nograd
def integration(rtol, atol, tcrit, hmax, hmin, mxstep, mxordn, mxords, tfirst):
    """The call's :class:`Integration`: its options, at :data:`TOLERANCE` or tighter and :data:`STEPS` or more."""
    return Integration(tightest(rtol), tightest(atol), tcrit, hmax, hmin, max(int(mxstep), STEPS), mxordn, mxords,
                       bool(tfirst))


def tightest(tolerance):
    return TOLERANCE if tolerance is None else min(float(np.min(tolerance)), TOLERANCE)


def same_integration(a, b):
    return all(x is y or not isinstance(x, np.ndarray) and not isinstance(y, np.ndarray) and x == y
               for x, y in zip(a, b))


class Gradients(typing.NamedTuple):
    """The gradients of a call of odeint: its ``func``'s (what it captures or reads), ``y0``'s, ``t``'s, ``args``'."""

    func: object
    y0: object
    t: object
    args: object


def trajectory_cotangent(dy, ys):
    """The cotangent of the trajectory, ``(len(t), n)``; with ``full_output``, none may reach the ``infodict``."""
    if isinstance(ys, tuple):
        if dy is not None and has_gradient(dy[1]):
            raise NoRuleError("scipy.integrate.odeint's infodict (full_output=True) passes no gradient",
                              fix="differentiate through the solution only, or stop_gradient the infodict's values")
        dy, ys = (None if dy is None else dy[0]), ys[0]
    return np.zeros(np.shape(ys)) if dy is None else np.broadcast_to(np.asarray(dy, dtype=float), np.shape(ys))


def like_input(g, x):
    """The gradient vector ``g`` of ``y0`` or ``t`` shaped as ``x``: a float, a list, an array."""
    if isinstance(x, (list, tuple)):
        return type(x)(float(v) for v in g)
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        return float(g[0])
    return np.reshape(g, np.shape(x))


def as_args(args):
    """``args`` as the tuple odeint passes on (``None``: left out; odeint itself refuses any other non-tuple)."""
    return () if args is None else args


# ------------------------------------------------------------------ higher orders, refused

class FirstOrder:
    """A function of the rules that srcgrad does not differentiate again: a derivative of higher order through
    odeint calls it in differentiated code, and the calling layer's stand-in for it refuses
    (:func:`refuse_second_order`), instead of reading its source (not in the subset srcgrad reads)."""

    def __init__(self, fn):
        self.fn, self.__name__, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def refuse_second_order(helper):
    """The stand-in for a :class:`FirstOrder` function: a NoRuleError, at the user's line that asked."""
    _, _, context = call_site()
    filename, lineno = asking_site()
    raise NoRuleError(f"srcgrad's rule for scipy.integrate.odeint gives first derivatives only: a higher derivative "
                      f"through odeint{context} is not supported", filename=filename, lineno=lineno,
                      fix="differentiate through odeint once (gradient, pullback or jvp); for a second derivative, "
                          "take finite differences of srcgrad's first one")


#: srcgrad's own directory: its frames are not the user's, nor are those of the code it generates.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def asking_site():
    """``(file, line)`` of the user's code that asked for the derivative being taken: its innermost own frame.

    (At a higher order, the code running is generated from generated code, whose lines are not the user's.)
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(("<srcgrad:", _PACKAGE)):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None, None


# ------------------------------------------------------------------ the rules

#: The last call of :func:`odeint_adjoint`, ``(ys, func, y0, t, args, how, gs, gradients)``: the row's
#: four gradients read one integration.
_latest = None


@FirstOrder
def odeint_adjoint(dy, ys, func, y0, t, args, how):
    """The :class:`Gradients` of a call of odeint that returned ``ys``, by the adjoint method."""
    global _latest
    gs = trajectory_cotangent(dy, ys)
    latest = _latest
    if latest is not None and all(a is b for a, b in zip(latest, (ys, func, y0, t, args))) \
            and same_integration(latest[5], how) and np.array_equal(latest[6], gs):
        return latest[7]
    trajectory = ys[0] if isinstance(ys, tuple) else ys
    times = np.asarray(t, dtype=float)
    field = Field(func, as_args(args), how.tfirst)
    like = field.pullback(trajectory[-1], times[-1])[1](gs[-1])[1]  # (the parameters' gradients, laid out)
    while True:
        try:
            lam, mu, dts = backwards(field, trajectory, times, gs, like, how)
            break
        except Grown as grown:
            like = grown.like
    dfunc, dargs = unflatten(mu, like)
    found = Gradients(dfunc, like_input(lam, y0), like_input(dts, t), dargs)
    _latest = (ys, func, y0, t, args, how, np.array(gs), found)
    return found


def odeint_tangents(dargs, ys, func, y0, t, args, how):
    """The tangent of the trajectory of a call of odeint that returned ``ys``, by forward sensitivities."""
    trajectory = ys[0] if isinstance(ys, tuple) else ys
    dfunc, dy0, dt, dtheta = (tuple(dargs) + (None,) * 4)[:4]
    times = np.asarray(t, dtype=float)
    field, n = Field(func, as_args(args), how.tfirst), trajectory.shape[1]
    dts = np.zeros(len(times)) if dt is None else np.ravel(np.asarray(dt, dtype=float))
    velocities = np.array([field.value(y, s) for y, s in zip(trajectory, times)])
    s0 = np.zeros(n) if dy0 is None else np.ravel(np.asarray(dy0, dtype=float))
    states = solve(tangent_dynamics, np.concatenate([trajectory[0], s0 - velocities[0] * dts[0]]), times,
                   dict(how.options(), args=(field, n, (dfunc, dtheta))), "tangent")
    tangent = states[:, n:] + velocities * dts[:, None]
    return (tangent, zero_tangent(ys[1])) if isinstance(ys, tuple) else tangent


@FirstOrder
def odeint_tangent(dargs, y, func, y0, t, args=None, Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None,
                   rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0,
                   mxordn=12, mxords=5, printmessg=0, tfirst=False):
    return odeint_tangents(dargs, y, func, y0, t, args,
                           integration(rtol, atol, tcrit, hmax, hmin, mxstep, mxordn, mxords, tfirst))


def odeint(dy, y, func, y0, t, args=None, Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None, rtol=None,
           atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0, mxordn=12, mxords=5,
           printmessg=0, tfirst=False):
    # (One tuple of one expression a gradient, with literal defaults (args=None, not odeint's ()), so that srcgrad
    # pastes into a call the gradients it needs: the four read one integration, odeint_adjoint's latest.)
    return (odeint_adjoint(dy, y, func, y0, t, args,
                           integration(rtol, atol, tcrit, hmax, hmin, mxstep, mxordn, mxords, tfirst)).func,
            odeint_adjoint(dy, y, func, y0, t, args,
                           integration(rtol, atol, tcrit, hmax, hmin, mxstep, mxordn, mxords, tfirst)).y0,
            odeint_adjoint(dy, y, func, y0, t, args,
                           integration(rtol, atol, tcrit, hmax, hmin, mxstep, mxordn, mxords, tfirst)).t,
            odeint_adjoint(dy, y, func, y0, t, args,
                           integration(rtol, atol, tcrit, hmax, hmin, mxstep, mxordn, mxords, tfirst)).args)


def _register():
    """The table: odeint and its rule; the calling layer told of the functions that refuse higher orders."""
    global _integrate
    _integrate = sys.modules["scipy.integrate"]
    registry.callee_stand_ins[FirstOrder] = refuse_second_order
    shaped(_integrate.odeint, forward=odeint_tangent)(odeint)


when_imported("scipy.integrate", _register)
