"""docs/coverage.md, written from the rule table: which NumPy, SciPy and ``math`` functions have rules.

Run ``python tests/rules/coverage.py`` after adding a rule; ``tests/rules/test_coverage_page.py`` fails
while the page differs from what the table says, so the page cannot go stale.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np

import srcgrad
from srcgrad.compiler.forward import forward_kind
from srcgrad.rules import registry

PAGE = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"

#: The namespaces the page covers, as a user spells them; optional ones are left out when not installed.
NAMESPACES = ["np", "np.linalg", "np.fft", "math", "scipy.special", "scipy.stats", "scipy.linalg", "scipy.signal",
              "scipy.integrate"]
_MODULES = {"np": "numpy", "np.linalg": "numpy.linalg", "np.fft": "numpy.fft"}

#: How each forward kind reads on the page.
FORWARD = {"explicit": "forward rule", "diagonal": "from the reverse rule (elementwise)",
           "linear": "linear", "transposed": "reverse rule transposed"}

#: scipy.stats' rules sit on stand-ins named ``<distribution>_<method>`` (rules/scipy_stats.py).
_STATS_STANDINS = ("srcgrad.rules.scipy_stats", "srcgrad.rules.scipy_multivariate")

#: Rules that cannot be differentiated twice (tests/rules/test_second_order.py keeps the reasons).
NOT_TWICE = {"partial", "odeint"}


def _namespace(prefix):
    try:
        module = importlib.import_module(_MODULES.get(prefix, prefix))
    except ImportError:
        return None
    registry.load_optional_rules()
    return module


def _public(module):
    """The public callables of ``module``, by name."""
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    return {name: getattr(module, name) for name in sorted(set(names))
            if hasattr(module, name) and callable(getattr(module, name)) and not isinstance(getattr(module, name), type)}


def rows():
    """``(namespace, name, forward, second order)`` for every function with a rule, and the refused ones."""
    found, refused = [], {}
    for prefix in NAMESPACES:
        module = _namespace(prefix)
        if module is None:
            continue
        if prefix == "scipy.stats":
            for rule in registry.rules.values():
                if getattr(rule.primal, "__module__", "") in _STATS_STANDINS:
                    distribution, _, method = rule.primal.__name__.partition("_")
                    found.append((prefix, f"{distribution}.{method}", FORWARD[forward_kind(rule)], "yes"))
            continue
        missing = []
        for name, fn in _public(module).items():
            rule = registry.lookup(fn)
            if rule is not None:
                twice = "no" if rule.name in NOT_TWICE else "yes"
                found.append((prefix, name, FORWARD[forward_kind(rule)], twice))
            elif not registry.is_nondiff(fn):
                missing.append(name)
        refused[prefix] = missing
    return sorted(set(found)), refused


def _scipy_version():
    scipy = sys.modules.get("scipy")
    return f" and SciPy {scipy.__version__}" if scipy is not None else ""


def table_lines(text):
    """The rows of the page's table of functions with rules."""
    return [line for line in text.splitlines() if line.startswith("| `")]


def page() -> str:
    found, refused = rows()
    methods = sorted(registry.method_rules)
    lines = [
        "# Coverage: which functions have derivative rules",
        "",
        "Written from srcgrad's rule table by `python tests/rules/coverage.py` (a test fails while this page",
        "differs from the table). Every function listed has a reverse rule and the forward mode shown; \"second",
        "order\" says whether its gradient is differentiated again (tests/rules/test_second_order.py checks each,",
        "in both modes). A function that is neither listed nor constant is refused with a `NoRuleError` at your",
        "line, never differentiated as a zero: add a rule with `@srcgrad.defrule` ([rules](rules.md)).",
        "",
        f"{len(found)} functions, and {len(methods)} array methods (the refused lists below were read from "
        f"NumPy {np.__version__}{_scipy_version()}).",
        "",
        "| function | forward mode | second order |",
        "|---|---|---|",
    ]
    lines += [f"| `{prefix}.{name}` | {forward} | {twice} |" for prefix, name, forward, twice in found]
    lines += ["", "Array methods with a rule: " + ", ".join(f"`x.{m}()`" for m in methods) + ".", ""]
    lines += ["## Refused: public functions without a rule that are not constant", ""]
    for prefix, names in refused.items():
        if prefix == "math" or names:
            lines += [f"- `{prefix}`: " + (", ".join(f"`{n}`" for n in names) or "none") + "."]
    lines += [""]
    return "\n".join(lines)


if __name__ == "__main__":
    PAGE.write_text(page())
    sys.stdout.write(f"wrote {PAGE}\n")
