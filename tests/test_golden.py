"""The generated source of representative functions, pinned so a change in readability shows in review.

Regenerate after an intended change: ``SRCGRAD_UPDATE_GOLDEN=1 pytest tests/test_golden.py``.
"""

import os
from pathlib import Path

import pytest

import srcgrad
from golden.functions import GOLDEN

HERE = Path(__file__).parent / "golden"


def _name(fn):
    return fn.__qualname__.replace(".", "_")


@pytest.mark.parametrize("fn", GOLDEN, ids=_name)
def test_generated_source_matches_golden(fn):
    source = srcgrad.adjoint_source(fn)
    path = HERE / f"{_name(fn)}.txt"
    if os.environ.get("SRCGRAD_UPDATE_GOLDEN"):
        path.write_text(source)
    assert path.exists(), f"no golden file {path.name}; run with SRCGRAD_UPDATE_GOLDEN=1"
    assert source == path.read_text()


@pytest.mark.parametrize("fn", GOLDEN, ids=_name)
def test_generated_source_is_deterministic(fn):
    first = srcgrad.adjoint_source(fn)
    srcgrad.clear_cache()
    assert srcgrad.adjoint_source(fn) == first
