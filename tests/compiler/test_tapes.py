"""compiler/tapes.py: the list form of tapes is written on copies; the push/pop originals stay for higher order."""

import pytest

from golden.functions import GOLDEN
from srcgrad import compiler
from srcgrad.compiler import build
from srcgrad.compiler.emit import to_source
from srcgrad.compiler.prepare import foldable, prepare
from srcgrad.compiler.tapes import as_lists

LOOPS = [fn for fn in GOLDEN if "for " in compiler.stages(fn)["normalise"] or "while " in compiler.stages(fn)["normalise"]]


def _simplified(fn):
    parsed, scope, namer, user_names = prepare(fn)
    anf = compiler.normalise(parsed, scope, namer)
    result = compiler.transform(parsed, scope, namer, anf)
    invented, adjoints = foldable(namer, user_names)
    compiler.simplify([result.forward, result.backward], invented, adjoints, result.injected)
    return result


@pytest.mark.parametrize("fn", LOOPS, ids=lambda fn: fn.__name__)
def test_as_lists_leaves_the_push_pop_code_as_it_was(fn):
    result = _simplified(fn)
    before = to_source([result.forward, result.backward])
    copies = [build.copy_tree(result.forward), build.copy_tree(result.backward)]
    lists = as_lists(result.forward, result.backward, result.injected, result.tapes)
    assert to_source([result.forward, result.backward]) == before
    if lists is None:  # (a loop that keeps nothing on a tape)
        assert "push(" not in before
        return
    assert to_source(list(lists)) == to_source(list(as_lists(*copies, result.injected, result.tapes)))
    assert "push(" in before and "push(" not in to_source(list(lists))
