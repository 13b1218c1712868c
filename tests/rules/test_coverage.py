"""Every rule srcgrad registers itself has a spec in one of the tables of tests/rules."""

import srcgrad.models  # noqa: F401  (registers whatever rules the models define)

from .specs import missing_specs, registered
from .tables import ALL_SPECS as TABLES

#: srcgrad's own plumbing, which generated code calls and which has rules only so that generated
#: code can be differentiated again (higher order): no maths to tabulate, and the higher-order
#: tests exercise it. Everything else srcgrad registers needs a spec.
PLUMBING = ("srcgrad.runtime", "srcgrad.calls", "srcgrad.compiler", "srcgrad.rules.runtime")


def is_plumbing(rule):
    modules = (getattr(rule.primal, "__module__", None) or "", rule.reverse.__module__)
    return any(module.startswith(PLUMBING) for module in modules)


def test_every_registered_rule_has_a_spec():
    missing = missing_specs(TABLES, skip=is_plumbing)
    assert not missing, "rules without a spec (add one to the SPECS of tests/rules/test_<topic>.py):\n  " + "\n  ".join(missing)


def test_specs_name_registered_rules():
    """A spec for something that has no rule (a typo, a removed rule) is caught too."""
    keys = {(kind, key if kind != "function" else id(rule.primal)) for kind, key, rule in registered()}
    stale = [spec.id for spec in TABLES
             if (spec.kind, spec.primal if spec.kind != "function" else id(spec.primal)) not in keys]
    assert not stale, f"specs for callables without a rule: {stale}"


def test_there_are_rules_to_check():
    assert len(list(registered())) > 100


#: Rules whose forward mode is their reverse rule transposed at run time (reverse mode over the
#: rule): correct for any rule srcgrad can differentiate again, but a reverse pass per call, so each
#: needs a reason here. None does today; a user's own @defrule takes this path.
TRANSPOSED: dict = {}


def test_every_rule_has_a_direct_forward_rule():
    """Forward mode of every rule, the plumbing's too: explicit, diagonal (from the reverse rule) or linear.

    The test_forward columns of the tables check the maths against finite differences and reverse
    mode; tests/test_hessian.py checks the plumbing (forward mode through generated backward code).
    """
    from srcgrad.compiler.forward import forward_kind

    missing = sorted(f"{kind} {rule.name} ({rule.reverse.__module__})" for kind, key, rule in registered()
                     if forward_kind(rule) == "transposed" and rule.name not in TRANSPOSED)
    assert not missing, ("rules whose forward mode falls back to transposing the reverse rule (give them a "
                         "forward rule or linearity on its row, defrule(..., forward=...), or a reason in TRANSPOSED):\n  "
                         + "\n  ".join(missing))
