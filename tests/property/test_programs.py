"""Random programs from the rule tables, checked in every mode srcgrad supports (see programs.py, checks.py).

Bounded for CI: a fixed number of examples each, derandomized (the same programs every run, so a
failure is reproducible and the suite deterministic), no deadline (the first gradient of a
program compiles it). Each program is checked at two random points.

Compositions refused on this branch (reverse over forward, forward over forward) and forward mode
over ``pullback`` (wrong today) are pinned in test_found.py instead.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from . import checks
from .programs import load, point, programs

BOUNDED = settings(deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink], derandomize=True, database=None, print_blob=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much])

POINTS = 2


def _points(program, seed):
    """Random inputs at which the plain program is finite and of moderate size (else the example is dropped)."""
    module = load(program.source)
    rng = np.random.default_rng(seed)
    xs = [point(program.shapes, rng) for _ in range(POINTS)]
    with np.errstate(all="ignore"):
        values = [module.f(*x) for x in xs]
    assume(all(np.isfinite(v) and abs(v) < 1e4 for v in values))
    return module, xs, rng


@settings(BOUNDED, max_examples=60)
@given(programs(control=False), st.integers(0, 2 ** 16))
def test_straight_line_programs_in_both_modes(program, seed):
    """Value exact, ``gradient`` and ``jvp`` against central differences, for straight-line programs."""
    module, xs, rng = _points(program, seed)
    for x in xs:
        checks.check_value(module.f, x)
        checks.check_reverse(module.f, x)
        checks.check_forward(module.f, x, rng)


@settings(BOUNDED, max_examples=40)
@given(programs(control=True), st.integers(0, 2 ** 16))
def test_programs_with_branches_loops_and_helpers_in_both_modes(program, seed):
    """The same for programs with ``if``/``else``, ``for`` and ``while`` loops and helper functions."""
    module, xs, rng = _points(program, seed)
    for x in xs:
        checks.check_value(module.f, x)
        checks.check_reverse(module.f, x)
        checks.check_forward(module.f, x, rng)


@settings(BOUNDED, max_examples=25)
@given(programs(max_inputs=2, max_statements=3, control=True), st.integers(0, 2 ** 16))
def test_second_order_reverse_over_reverse_and_forward_over_reverse(program, seed):
    """The gradient differentiated again, by ``gradient`` and by ``jvp``, against central differences."""
    rng = np.random.default_rng(seed)
    program.source += checks.second_order_source(program.shapes, rng)
    module, xs, rng = _points(program, seed)
    for x in xs:
        grads = checks.check_reverse_over_reverse(module.g, x)
        checks.check_forward_over_reverse(module.g, x, rng, grads)
