"""docs/coverage.md says what the rule table says (regenerate it with ``python tests/rules/coverage.py``)."""

import re

import pytest

from srcgrad.rules import registry

from . import coverage

pytest.importorskip("scipy.stats")
pytest.importorskip("scipy.linalg")


def test_the_page_lists_every_function_with_a_rule_as_the_table_has_it():
    written = coverage.table_lines(coverage.PAGE.read_text())
    assert written == coverage.table_lines(coverage.page()), \
        "docs/coverage.md is stale: run python tests/rules/coverage.py"


def test_what_the_page_calls_refused_has_no_rule():
    """The refused lists depend on the NumPy and SciPy versions read; none of them may name a function with a rule."""
    text = coverage.PAGE.read_text()
    refused = text.split("## Refused", 1)[1]
    for prefix, names in re.findall(r"^- `([\w.]+)`: (.*)\.$", refused, flags=re.M):
        module = coverage._namespace(prefix)
        for name in re.findall(r"`(\w+)`", names):
            fn = getattr(module, name, None)
            assert fn is None or registry.lookup(fn) is None, f"{prefix}.{name} has a rule but the page says refused"
