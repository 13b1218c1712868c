"""Every registered rule to second order, in both modes: reverse over reverse and forward over reverse.

The tables of tests/rules check each rule to first order in reverse and forward mode (inline and
with the primal passed in); test_numpy.test_second_order differentiates the gradient of each NumPy
*function* again. Here every rule srcgrad registers (functions, array methods and properties, of
every table) has its gradient differentiated again:

- by ``gradient`` (reverse over reverse), for the rules test_numpy.test_second_order leaves out;
- by ``jvp`` (forward over reverse: a Hessian-vector product), for every rule.

One spec per rule (its first row, its last case), since second derivatives are slow to compile.
A rule registered with a spec row but missing here, or one that cannot be differentiated twice
without a reason in NOT_TWICE, fails :func:`test_every_registered_rule_is_checked_to_second_order`.
"""

import pytest

from . import test_numpy
from .specs import check_forward_over_reverse, check_second_order, missing_specs, params, rule_of
from .tables import ALL_SPECS as TABLES
from .test_coverage import is_plumbing


def _key(spec):
    return spec.kind, spec.primal if spec.kind != "function" else id(spec.primal)


#: Rules (by name) that have no second derivative to check, each with the reason. (The list is explicit so
#: that adding one is a decision a reviewer sees, not a silent skip.)
NOT_TWICE: dict = {
    # Building a partial differentiates once; its result passed on as a value is refused at second order
    # with a NoRuleError (tests/test_soundness_deny.py), not differentiated wrongly.
    "partial": "second order through a partial held as a value is refused (NoRuleError), not yet supported",
    # It would need Hessian-vector products of func in a second adjoint system; the refusal is checked
    # in every composition of modes by tests/rules/test_scipy_integrate.py.
    "odeint": "second order through odeint is refused (NoRuleError), not yet supported",
}

#: The first spec of every rule (of every kind), in table order.
ONE_PER_RULE = [spec for spec in {_key(spec): spec for spec in reversed(TABLES)}.values()
                if rule_of(spec).name not in NOT_TWICE][::-1]

#: What test_numpy.test_second_order already differentiates by reverse over reverse.
_REVERSE_ELSEWHERE = {_key(spec) for spec in test_numpy.ONE_PER_FUNCTION}


@pytest.mark.parametrize("spec, case", params([s for s in ONE_PER_RULE if _key(s) not in _REVERSE_ELSEWHERE],
                                              last_case_only=True))
def test_reverse_over_reverse(spec, case, tmp_path_factory):
    """The gradient of a weighted sum of the rule's gradient matches central differences."""
    check_second_order(spec, case, tmp_path_factory)


#: Forward over reverse that fails today, pinned (strict) until the fix lands; minimal repros of
#: each are in tests/property/test_found.py.
FORWARD_OVER_REVERSE_FAILS: dict = {}


def _known(found):
    return [pytest.param(*p.values, id=p.id, marks=pytest.mark.xfail(strict=True, reason="#16 modes: " + found[p.id]))
            if p.id in found else p for p in params(ONE_PER_RULE, last_case_only=True)]


@pytest.mark.parametrize("spec, case", _known(FORWARD_OVER_REVERSE_FAILS))
def test_forward_over_reverse(spec, case, tmp_path_factory):
    """``jvp`` of the rule's gradient matches central differences and reverse over reverse."""
    check_forward_over_reverse(spec, case, tmp_path_factory)


def test_every_registered_rule_is_checked_to_second_order():
    """A rule registered without a second-order row fails here (test_coverage asks for the first-order one)."""
    missing = missing_specs(ONE_PER_RULE, skip=lambda rule: is_plumbing(rule) or rule.name in NOT_TWICE)
    assert not missing, "rules not checked to second order (add a spec row, or a reason in NOT_TWICE):\n  " \
        + "\n  ".join(missing)
