"""Every rule-less NumPy function is refused, however it reaches the differentiated code, in both modes.

The functions are found, not listed: every one-input NumPy ufunc that has no rule and is not on
the non-differentiable list (so a rule added later, or a function marked nograd, leaves this test
by itself). Each reaches a function in a real module by one of the ways SPEC names: called by
name, passed as an argument, held in a closure cell, a default, a ``functools.partial``, a list, a
dict, a global, or handed to ``gradient``/``jvp`` directly. Each must raise ``NoRuleError``; except
for the direct hand-over (where the function is NumPy's own), the message names the user's file.

The ways that give a silent zero today are expected failures, strict, so the fix removes them.
"""

import numpy as np
import pytest
from rules.specs import HEADER, load

import srcgrad
from srcgrad.errors import NoRuleError
from srcgrad.rules import registry

X = 2.26  # (in every such function's domain)

#: NumPy's functions written in Python that take one number, tried beside the one-argument ufuncs (issue #18
#: gave most of those rules: np.arccosh, np.deg2rad, np.sinc, ...).
PYTHON_FUNCTIONS = ("i0", "nansum", "nanmean", "nanmax", "median", "average", "ptp", "nanstd")


def _rule_less_ufuncs():
    found = []
    for name in sorted(dir(np)):
        fn = getattr(np, name)
        unary = (isinstance(fn, np.ufunc) and fn.nin == 1 and fn.nout == 1) or name in PYTHON_FUNCTIONS
        if unary and registry.lookup(fn) is None and not registry.is_nondiff(fn):
            with np.errstate(all="ignore"):
                try:
                    value = fn(X)
                except TypeError:
                    continue
            if np.issubdtype(np.result_type(value), np.floating) and np.isfinite(value):
                found.append(name)
    return found


RULE_LESS = _rule_less_ufuncs()

SOURCE = HEADER + '''
import functools

FN = np.{name}
P = functools.partial(np.{name})
L = [np.{name}]
D = {{"f": np.{name}}}


def by_name(x):
    return np.{name}(x) * 2.0


def as_argument(x, fn):
    return fn(x) * 2.0


def make(fn):
    def closure(x):
        return fn(x) * 2.0
    return closure


def by_default(x, fn=np.{name}):
    return fn(x) * 2.0


def by_partial(x):
    return P(x) * 2.0


def in_a_list(x):
    return L[0](x) * 2.0


def in_a_dict(x):
    return D["f"](x) * 2.0


def by_global(x):
    return FN(x) * 2.0
'''

WAYS = {
    "by name": lambda m, fn: (m.by_name, (X,)),
    "as an argument": lambda m, fn: (m.as_argument, (X, fn)),
    "in a closure": lambda m, fn: (m.make(fn), (X,)),
    "as a default": lambda m, fn: (m.by_default, (X,)),
    "in a partial": lambda m, fn: (m.by_partial, (X,)),
    "in a list": lambda m, fn: (m.in_a_list, (X,)),
    "in a dict": lambda m, fn: (m.in_a_dict, (X,)),
    "as a global": lambda m, fn: (m.by_global, (X,)),
    "directly": lambda m, fn: (fn, (X,)),
}

#: (way, mode) -> what goes wrong (every way is refused since #16's default deny; kept for the next one).
FAILS: dict = {}


def _params():
    for way in WAYS:
        for mode in ("reverse", "forward"):
            reason = FAILS.get((way, mode))
            marks = [pytest.mark.xfail(strict=True, reason=f"#16 default-deny: {reason}")] if reason else []
            yield pytest.param(way, mode, id=f"{way}-{mode}", marks=marks)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deny")
    return {name: load(folder, SOURCE.format(name=name)) for name in RULE_LESS}


def test_there_are_rule_less_ufuncs_to_try():
    assert "spacing" in RULE_LESS and "i0" in RULE_LESS and len(RULE_LESS) >= 5, RULE_LESS


@pytest.mark.parametrize("way, mode", list(_params()))
def test_a_rule_less_function_is_refused(way, mode, modules):
    silent = []
    for name, module in modules.items():
        fn = getattr(np, name)
        f, args = WAYS[way](module, fn)
        try:
            if mode == "reverse":
                result = srcgrad.gradient(f, *args)
            else:
                result = srcgrad.jvp(f, args, (1.0,) + (None,) * (len(args) - 1))
        except NoRuleError as error:
            if way != "directly" and module.__file__ not in str(error):
                silent.append(f"np.{name}: the error does not name {module.__file__}: {error}")
            continue
        silent.append(f"np.{name}: returned {result!r}")
    assert not silent, f"{len(silent)} of {len(modules)} rule-less ufuncs not refused {way} in {mode} mode:\n" \
        + "\n".join(silent[:5])
