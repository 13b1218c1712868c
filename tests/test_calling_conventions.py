"""Calling conventions: ``**kwargs`` in a differentiated function's signature, code that
itself calls ``srcgrad.jvp`` / ``gradient`` / ``pullback`` / ``jacobian``, and the constructors
and draws ordinary code uses: ``zip``, ``dict``, namedtuples, starred displays, ``np.random``.

Each case is a scalar function ``F(x)`` of an array, checked on two inputs: its value under
srcgrad against the plain call, then reverse mode (``gradient``), forward mode (``jvp``) and
second order (``hessian``, and ``gradient`` of ``gradient``) against central differences.
"""

from __future__ import annotations

import typing
from collections import namedtuple

import numpy as np
import pytest

import srcgrad
from srcgrad import gradient, jacobian, jvp, pullback
from srcgrad.errors import NoRuleError, UnsupportedSyntaxError

from gradcheck import check_gradient, numerical_gradient

INPUTS = [np.array([0.3, 0.7, 1.1]), np.array([-0.8, 0.4, 1.9])]
DIRECTION = np.array([0.5, -1.0, 2.0])


# ---------------------------------------------------------------- A: **kwargs in the signature

def scaled(x, **kw):
    return x * kw["scale"] + np.sin(x) * kw["weight"]


def affine(x, scale=1.0, shift=0.0):
    return np.sum(x * scale + shift) ** 2


def passes_on(x, **opts):
    return affine(x, **opts)


def named_and_passed_on(x, s):
    options = {"shift": x[2]}
    return affine(x, scale=s * x[0], **options)


def keywords_only(**kw):
    return np.sum(np.cos(kw["x"]) * kw["x"])


def no_keywords_given(x, **kw):
    return np.sum(x ** 3) + len(kw)


# ---------------------------------------------------------------- B: code that calls srcgrad's own functions

def f(y):
    return np.sum(np.sin(y) * y[0] ** 2)


def f2(a, b):
    return np.tanh(a * b) + a ** 2


def hvp(x, v):
    """Forward over reverse: the Hessian of ``f`` times ``v``."""
    return jvp(lambda y: gradient(f, y)[0], (x,), (v,))[1]


def gradient_body(x):
    return np.sum(gradient(f, x)[0] ** 2)


# ---------------------------------------------------------------- C: constructors and draws

Pair = namedtuple("Pair", "w b")
Triple = namedtuple("Triple", "w b c", defaults=(0.5,))


class Point(typing.NamedTuple):
    x: np.ndarray
    scale: float = 2.0

    def norm2(self):
        return np.sum((self.x * self.scale) ** 2)


def zip_starred(x):
    rows = [x, np.sin(x)]
    total = 0.0
    for a, b in zip(*rows):
        total = total + a * b
    return total


def zip_transposed(x):
    pairs = [(x[0], x[1]), (x[1] ** 2, x[2]), (x[2], 3.0)]
    firsts, seconds = zip(*pairs)
    return sum(firsts) * seconds[0] + firsts[1] * seconds[2]


def zip_listed(x):
    return sum(a * b for a, b in list(zip(x, np.cos(x))))


def dict_keywords(x):
    d = dict(a=x, b=np.exp(x))
    return np.sum(d["a"] * d["b"])


def dict_of_zip(x):
    d = dict(zip(["a", "b"], [x, x ** 2]))
    return np.sum(d["a"] * d["b"])


def dict_merged(x):
    base = {"a": x, "b": 2.0 * x}
    d = {**base, "b": np.sin(x), "c": x[0]}  # (the later "b" replaces base's: base["b"] gets nothing)
    return np.sum(d["a"] * d["b"]) * d["c"]


def starred_display(x):
    rows = (x, 2.0 * x)
    items = [1.0, *rows, x[::-1]]
    return np.sum(items[1] * items[2] + items[3]) * items[0]


def namedtuple_fields(x):
    p = Pair(np.sin(x), b=x[0])
    q = Triple(p.w * p.b, x[1])
    return np.sum(q.w * q.b + q.c) + np.sum(p[0])


def namedtuple_method(x):
    return Point(x).norm2() + Point(x, scale=x[0]).norm2()


def constant_draws(x):
    noise = np.random.RandomState(0).randn(3)
    rng = np.random.default_rng(1)
    return np.sum(noise * x ** 2) + np.sum(x * rng.normal(0.0, 2.0, size=3))


def draw_from_a_parameter(x):
    rng = np.random.default_rng(1)
    return np.sum(rng.normal(x, 1.0))


def module_draw_from_a_parameter(x):
    return np.sum(np.random.normal(x, 1.0))


CASES = {
    # A: keywords gathered into a dict; the gradient reaches the values inside it
    "kwargs read": lambda x: np.sum(scaled(x, scale=x[0], weight=2.0) ** 2),
    "kwargs passed on": lambda x: passes_on(x, scale=x[1], shift=0.5),
    "kwargs named and passed on": lambda x: named_and_passed_on(x, 2.0),
    "kwargs only": lambda x: keywords_only(x=x * 2.0),
    "kwargs none given": lambda x: no_keywords_given(x),
    # B: jvp, gradient, pullback, jacobian, withgradient, hessian inside the differentiated code
    "hvp": lambda x: np.sum(hvp(x, DIRECTION) ** 2),
    "gradient in the body": gradient_body,
    "jvp of two primals": lambda x: np.sum(jvp(f2, (x, x[::-1]), (DIRECTION, DIRECTION))[1] ** 2),
    "jvp of a number": lambda x: jvp(lambda t: np.sin(t) * t, (x[0],), (1.0,))[1] * x[1],
    "derivative": lambda x: srcgrad.derivative(lambda t: np.sin(t) * t ** 2, x[0]) * x[1],
    "pullback": lambda x: np.sum(pullback(lambda y: np.sin(y) * y, x)[1](DIRECTION)[0] * x),
    "jacobian": lambda x: np.sum(jacobian(lambda y: np.sin(y) * y[0], x)[0] ** 2),
    "withgradient": lambda x: srcgrad.withgradient(f, x)[0] * np.sum(srcgrad.withgradient(f, x)[1][0]),
    "hessian": lambda x: np.sum(srcgrad.hessian(f, x) ** 2),
    # C: constructors and draws
    "zip(*rows)": zip_starred,
    "a, b = zip(*pairs)": zip_transposed,
    "list(zip(a, b))": zip_listed,
    "dict(a=...)": dict_keywords,
    "dict(zip(...))": dict_of_zip,
    "{**d, ...}": dict_merged,
    "[*xs] displays": starred_display,
    "namedtuple": namedtuple_fields,
    "typing.NamedTuple method": namedtuple_method,
    "random draws are constants": constant_draws,
    "a draw from a parameter": draw_from_a_parameter,
    "np.random draw from a parameter": module_draw_from_a_parameter,
}

#: The plain values the cases must give, written without srcgrad's functions where they were called.
PLAIN = {
    "kwargs read": lambda x: np.sum((x * x[0] + np.sin(x) * 2.0) ** 2),
    "kwargs passed on": lambda x: np.sum(x * x[1] + 0.5) ** 2,
    "kwargs named and passed on": lambda x: np.sum(x * 2.0 * x[0] + x[2]) ** 2,
    "kwargs only": lambda x: np.sum(np.cos(2 * x) * 2 * x),
    "kwargs none given": lambda x: np.sum(x ** 3),
    "zip(*rows)": lambda x: np.sum(x * np.sin(x)),
    "a, b = zip(*pairs)": lambda x: (x[0] + x[1] ** 2 + x[2]) * x[1] + x[1] ** 2 * 3.0,
    "list(zip(a, b))": lambda x: np.sum(x * np.cos(x)),
    "dict(a=...)": lambda x: np.sum(x * np.exp(x)),
    "dict(zip(...))": lambda x: np.sum(x ** 3),
    "{**d, ...}": lambda x: np.sum(x * np.sin(x)) * x[0],
    "[*xs] displays": lambda x: np.sum(x * 2.0 * x + x[::-1]),
    "namedtuple": lambda x: np.sum(np.sin(x) * x[0] * x[1] + 0.5) + np.sum(np.sin(x)),
    "typing.NamedTuple method": lambda x: np.sum((2.0 * x) ** 2) + np.sum((x * x[0]) ** 2),
    "random draws are constants": lambda x: np.sum(np.random.RandomState(0).randn(3) * x ** 2)
    + np.sum(x * np.random.default_rng(1).normal(0.0, 2.0, size=3)),
}

#: What is refused today, with the error a user sees at their own line: (modes, error, message).
REFUSED = {
    # (with a fixed seed a draw is a function of its parameters, not a constant: refused, not a zero)
    "a draw from a parameter": (("value", "reverse", "forward", "second"), NoRuleError, "draws random numbers"),
    "np.random draw from a parameter": (("value", "reverse", "forward", "second"), NoRuleError,
                                        "draws random numbers"),
}


IDS = list(CASES)


def directional(F, x, v=DIRECTION, eps=1e-6):
    """The central difference of ``F`` at ``x`` along ``v``."""
    return (F(x + eps * v) - F(x - eps * v)) / (2 * eps)


def run_value(name, x):
    F = CASES[name]
    y, grads = srcgrad.withgradient(F, x)
    np.testing.assert_allclose(y, F(x), rtol=1e-12)
    if name in PLAIN:
        np.testing.assert_allclose(y, PLAIN[name](x), rtol=1e-12)
    assert grads[0].shape == x.shape


def run_reverse(name, x):
    check_gradient(CASES[name], x, rtol=1e-5, atol=1e-6)


def run_forward(name, x):
    F = CASES[name]
    y, dy = jvp(F, (x,), (DIRECTION,))
    np.testing.assert_allclose(y, F(x), rtol=1e-12)
    np.testing.assert_allclose(dy, directional(F, x), rtol=1e-5, atol=1e-6)


def run_second(name, x):
    F = CASES[name]
    H = srcgrad.hessian(F, x)
    expected = numerical_gradient(lambda z: np.sum(gradient(F, z)[0] * DIRECTION), [x], 0, eps=1e-5)
    np.testing.assert_allclose(H @ DIRECTION, expected, rtol=1e-4, atol=1e-5)
    hv = gradient(lambda z: np.sum(gradient(F, z)[0] * DIRECTION), x)[0]
    np.testing.assert_allclose(hv, H @ DIRECTION, rtol=1e-8, atol=1e-10)


def test_keyword_gradients_come_back_by_name():
    """``gradient(f, x, **kw)``-style: the dict parameter's gradient is by key, as the call passed them."""
    x = INPUTS[0]
    grads = gradient(lambda x, s, w: np.sum(scaled(x, weight=w, scale=s)), x, 2.0, 3.0)
    np.testing.assert_allclose(grads[1], np.sum(x))
    np.testing.assert_allclose(grads[2], np.sum(np.sin(x)))


def test_jvp_of_a_tuple_output_is_refused_at_the_line():
    x = INPUTS[0]

    def tuple_out(x):
        return np.sum(jvp(lambda y: (np.sin(y), y ** 2), (x,), (DIRECTION,))[1][0])

    with pytest.raises(NoRuleError, match="returns a number or an array") as caught:
        gradient(tuple_out, x)
    assert caught.value.filename.endswith("test_calling_conventions.py")


RUNS = {"value": run_value, "reverse": run_reverse, "forward": run_forward, "second": run_second}


@pytest.mark.parametrize("x", INPUTS, ids=["x0", "x1"])
@pytest.mark.parametrize("mode", list(RUNS))
@pytest.mark.parametrize("name", IDS)
def test_case(name, mode, x):
    """Each case in each mode: its values and derivatives, or the refusal it meets today.

    (The second order of "hvp" and "jvp of two primals" is a third derivative of ``f``: at the second
    input the cache has evicted entries whose pullbacks are still held, whose traceable twins went with
    them, a crash, until twins lived as long as their functions.)
    """
    modes, error, message = REFUSED.get(name, ((), None, None))
    if mode in modes:
        with pytest.raises(error, match=message) as caught:
            RUNS[mode](name, x)
        assert caught.value.filename is not None and caught.value.lineno is not None
    else:
        RUNS[mode](name, x)
