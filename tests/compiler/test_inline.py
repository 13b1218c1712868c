"""Rule templates read a rule's parameters from its code object: the same as ``inspect.signature``."""

import functools

import pytest

from srcgrad.compiler import inline
from srcgrad.rules import registry


by_signature = inline.parameters_by_signature


def plain(dy, y, x):
    return (dy,)


def everything(dy, y, a, /, b, c=2, *rest, k, m=3.0, **extra):
    return (dy, dy, dy)


def kwonly_only(dy, y, x, *, axis=None):
    return (dy,)


@functools.wraps(plain)
def wrapped(*args, **kwargs):
    return plain(*args, **kwargs)


class Callable:
    def __call__(self, dy, y, x, scale=1.0):
        return (dy * scale,)


@pytest.mark.parametrize("fn", [plain, everything, kwonly_only, wrapped, Callable(), lambda dy, y, *xs: xs],
                         ids=["plain", "everything", "kwonly", "wrapped", "callable", "lambda"])
def test_parameters_are_the_signatures(fn):
    assert inline._parameters(fn) == by_signature(fn)


def test_every_registered_rule_reads_as_its_signature():
    registry.load_optional_rules()
    rules = [*registry.rules.values(), *registry.method_rules.values(), *registry.attribute_rules.values()]
    for rule in rules:
        if rule.reverse is not None:
            assert inline._parameters(rule.reverse) == by_signature(rule.reverse), rule.name


def test_positional_names_are_the_signatures():
    """registry._positional_names reads code objects where it can: the same names as inspect.signature."""
    import numpy as np

    registry.load_optional_rules()
    rules = [*registry.rules.values(), *registry.method_rules.values(), *registry.attribute_rules.values()]
    callables = [r.reverse for r in rules] + [r.primal for r in rules if not isinstance(r.primal, str)]
    callables += [plain, everything, kwonly_only, wrapped, Callable(), Callable().__call__, np.max, np.sum,
                  np.clip, np.einsum, functools.partial(plain, 1), lambda a, /, b, *c: a]
    checked = 0
    registry._signatures.clear()  # (worked out afresh, not remembered from before)
    for fn in callables:
        for skip in (0, 2):
            assert registry._positional_names(fn, skip) == registry._names_by_signature(fn, skip), (fn, skip)
        checked += registry._code_of_signature(fn) is not None
    assert checked > 100
