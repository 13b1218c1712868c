"""What every generated program must satisfy, mode by mode, against the plain function and finite differences.

Each check takes a loaded program module (its ``f``) and one input point:

- :func:`check_value`: the value srcgrad's forward pass computes (``withgradient``, ``pullback``,
  ``jvp``) is exactly the plain function's, bit for bit;
- :func:`check_reverse`: ``gradient`` matches central differences in float64;
- :func:`check_forward`: ``jvp`` along a random tangent matches central differences along it, and
  agrees with reverse mode (``jvp(t) == <grad, t>``);
- :func:`check_reverse_over_reverse`: the gradient of a weighted sum of ``f``'s gradient matches
  central differences of that sum;
- :func:`check_forward_over_reverse`: ``jvp`` of the same sum (a Hessian-vector product) matches
  central differences along the tangent and the reverse-over-reverse gradient;
- :func:`check_hessian`: ``hessian`` (forward over reverse) and ``jacobian`` of the gradient (reverse
  over reverse) with respect to the first input match central differences of the gradient.
"""

from __future__ import annotations

import numpy as np
from gradcheck import numerical_gradient

import srcgrad

#: Finite differences in float64 with a step of 1e-6 are good to about 1e-10 relative to the
#: function's size plus the step squared times its third derivative.
RTOL = 1e-5
ATOL = 1e-6


def fresh(x):
    """Copies of the inputs ``x``, for one call: a program that writes into a view of an input changes it."""
    return [np.copy(v) if isinstance(v, np.ndarray) else v for v in x]


def _scale(value):
    return 1.0 + float(np.max(np.abs(value)))


def _assert_close(got, expected, scale, what):
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL * scale, err_msg=what)


def _tangent(x, rng):
    return float(rng.standard_normal()) if not isinstance(x, np.ndarray) else rng.standard_normal(x.shape)


def _dot(grads, tangents):
    return sum(float(np.sum(np.asarray(g) * t)) for g, t in zip(grads, tangents))


def _directional(fn, x, t, eps=1e-6):
    up = fn(*[v + eps * d for v, d in zip(x, t)])
    down = fn(*[v - eps * d for v, d in zip(x, t)])
    return (float(up) - float(down)) / (2 * eps)


def _numerical(fn, x):
    return [numerical_gradient(fn, x, i) for i in range(len(x))]


def check_value(f, x):
    """srcgrad's forward passes compute exactly the plain value."""
    expected = f(*fresh(x))
    value, _ = srcgrad.withgradient(f, *fresh(x))
    assert value == expected, f"withgradient's value {value!r} is not the plain value {expected!r}"
    y, _ = srcgrad.pullback(f, *fresh(x))
    assert y == expected, f"pullback's value {y!r} is not the plain value {expected!r}"
    t = [_tangent(v, np.random.default_rng(0)) for v in x]
    y, _ = srcgrad.jvp(f, tuple(fresh(x)), tuple(t))
    assert y == expected, f"jvp's value {y!r} is not the plain value {expected!r}"


def check_reverse(f, x):
    """``gradient`` matches central differences, with each gradient shaped and typed like its argument."""
    grads = srcgrad.gradient(f, *fresh(x))
    scale = _scale(f(*fresh(x)))
    for i, (g, expected) in enumerate(zip(grads, _numerical(f, x))):
        if isinstance(x[i], np.ndarray):
            assert isinstance(g, np.ndarray) and g.shape == x[i].shape and g.dtype == np.float64, (i, g)
        else:
            assert type(g) is float, f"gradient of float argument {i} is a {type(g).__name__}"
        _assert_close(g, expected, scale, f"gradient of argument {i}")
    return grads


def check_forward(f, x, rng):
    """``jvp`` matches central differences along a random tangent, and reverse mode."""
    t = [_tangent(v, rng) for v in x]
    _, dy = srcgrad.jvp(f, tuple(fresh(x)), tuple(t))
    scale = _scale(f(*fresh(x))) * _scale(np.concatenate([np.ravel(v) for v in t]))
    _assert_close(float(dy), _directional(f, x, t), scale, "jvp against central differences")
    reverse = _dot(srcgrad.gradient(f, *fresh(x)), t)
    np.testing.assert_allclose(float(dy), reverse, rtol=1e-9, atol=1e-9 * scale,
                               err_msg="jvp against <gradient, tangent>")


def second_order_source(shapes, rng):
    """Source of ``g(x0, ...)``: a weighted sum of ``f``'s gradient (appended to the program's module)."""
    arguments = ", ".join(f"x{i}" for i in range(len(shapes)))
    grads = ", ".join(f"d{i}" for i in range(len(shapes))) + ","
    terms = []
    for i, shape in enumerate(shapes):
        if shape == ():
            terms.append(f"{round(float(rng.uniform(0.5, 1.5)), 3)!r} * d{i}")
        else:
            terms.append(f"np.sum(np.array({np.round(rng.uniform(0.5, 1.5, shape), 3).tolist()!r}) * d{i})")
    return (f"\n\ndef g({arguments}):\n    {grads} = srcgrad.gradient(f, {arguments})\n"
            f"    return {' + '.join(terms)}\n"
            f"\n\ndef grad_f({arguments}):\n    return srcgrad.gradient(f, {arguments})[0]\n")


def check_reverse_over_reverse(g, x):
    """The gradient of ``g`` (a sum over ``f``'s gradient) matches central differences of ``g``."""
    grads = srcgrad.gradient(g, *fresh(x))
    scale = _scale(g(*fresh(x)))
    for i, (got, expected) in enumerate(zip(grads, _numerical(g, x))):
        _assert_close(got, expected, scale * 10, f"second derivative (reverse over reverse) of argument {i}")
    return grads


def check_forward_over_reverse(g, x, rng, grads):
    """``jvp`` of ``g`` matches central differences along a random tangent and ``<grad g, t>``."""
    t = [_tangent(v, rng) for v in x]
    y, dy = srcgrad.jvp(g, tuple(fresh(x)), tuple(t))
    assert y == g(*fresh(x)), f"jvp's value {y!r} of the gradient is not the plain value {g(*fresh(x))!r}"
    scale = _scale(g(*fresh(x))) * _scale(np.concatenate([np.ravel(v) for v in t]))
    _assert_close(float(dy), _directional(g, x, t), scale * 10, "forward over reverse against central differences")
    np.testing.assert_allclose(float(dy), _dot(grads, t), rtol=1e-8, atol=1e-8 * scale,
                               err_msg="forward over reverse against reverse over reverse")


def check_hessian(module, x):
    """``hessian(f, x0)`` and ``jacobian`` of ``x0 -> gradient(f, x0, ...)[0]`` against differences of the gradient.

    For a program of one input (``hessian`` takes one argument).
    """
    (x0,) = x
    h = srcgrad.hessian(module.f, *fresh(x))
    (j,) = srcgrad.jacobian(module.grad_f, *fresh(x))
    base = np.array(x0, dtype=float)
    columns = []
    for i in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[i] = 1e-6
        up, down = (module.grad_f(float(base + s) if np.ndim(x0) == 0 else base + s) for s in (step, -step))
        columns.append((np.asarray(up) - np.asarray(down)) / 2e-6)
    expected = np.reshape(np.stack(columns, axis=-1), np.shape(x0) * 2)
    scale = _scale(expected) * 10
    assert np.shape(h) == np.shape(x0) * 2 and np.shape(j) == np.shape(x0) * 2, (np.shape(h), np.shape(j))
    _assert_close(h, expected, scale, "hessian against central differences of the gradient")
    _assert_close(j, expected, scale, "jacobian of the gradient against central differences of the gradient")
