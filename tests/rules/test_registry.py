"""defrule's row: a user's forward rule (``forward=``), linearity classes, and what it refuses."""

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.forward import forward_kind
from srcgrad.rules import registry


def cube(x):  # (a rule replaces tracing, as for a function without source)
    return x ** 3


def scaled(x):
    return 3.0 * x


def squared(x):
    return x * x


calls = []


def cube_tangent(dargs, y, x):
    calls.append(x)
    return 3 * x ** 2 * dargs[0]


@srcgrad.defrule(cube, forward=cube_tangent)
def cube_rule(dy, y, x):
    return (3 * x ** 2 * dy,)


@srcgrad.defrule(scaled, forward="linear")
def scaled_rule(dy, y, x):
    return (3.0 * dy,)


@srcgrad.defrule(squared, forward="diagonal")
def squared_rule(dy, y, x):
    return (2 * x * dy,)


def test_a_forward_rule_gives_the_tangent():
    calls.clear()
    y, dy = srcgrad.jvp(lambda x: np.sum(cube(x)), (np.array([1.0, 2.0]),), (np.array([1.0, 0.5]),))
    assert dy == pytest.approx(3 * 1.0 + 12 * 0.5)
    assert calls and forward_kind(registry.lookup(cube)) == "explicit"


def test_a_linear_rule_is_its_own_tangent():
    def f(x):
        return np.sum(scaled(x))

    assert forward_kind(registry.lookup(scaled)) == "linear"
    assert "scaled(dx)" in srcgrad.tangent_source(f)
    assert srcgrad.jvp(f, (np.ones(2),), (np.array([1.0, 2.0]),))[1] == pytest.approx(9.0)


def test_a_diagonal_rule_takes_the_tangent_for_dy():
    assert forward_kind(registry.lookup(squared)) == "diagonal"
    assert srcgrad.derivative(lambda x: squared(x), 3.0) == pytest.approx(6.0)


def test_forward_mode_of_a_plain_rule_is_transposed():
    def plain(x):
        return x

    srcgrad.defrule(plain)(lambda dy, y, x: (dy,))
    assert forward_kind(registry.lookup(plain)) == "transposed"


def test_a_row_names_what_it_is_for():
    with pytest.raises(TypeError, match="defrule needs"):
        srcgrad.defrule()
    with pytest.raises(ValueError, match="forward="):
        srcgrad.defrule(cube, forward="affine")
