"""Every construct the fence refuses gives UnsupportedSyntaxError with the file, line and a fix."""

import inspect

import gast
import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.fence import REFUSED


def uses_yield(x):
    yield x


def uses_with(x):
    with open("f") as handle:
        pass
    return x


def uses_try(x):
    try:
        y = x * 2
    except ValueError:
        y = x
    return y


def uses_global(x):
    global counter
    counter = 1
    return x


def uses_nonlocal(x):
    y = x

    def inner():
        nonlocal y
        y = 2
    return y


def uses_del(x):
    y = x
    del y
    return x


def uses_class(x):
    class Local:
        pass
    return x


def uses_import(x):
    import math
    return math.sin(x)


def uses_import_from(x):
    from math import sin
    return sin(x)


def uses_walrus(x):
    if (y := x * 2) > 1:
        return y
    return x


def uses_set(x):
    return len({x, 1.0})


def uses_setattr(obj, x):
    obj.inner.value = x
    return x


async def uses_async(x):
    return x


def uses_yield_from(x):
    yield from [x]


def uses_setcomp(x):
    return len({x * i for i in range(3)})


def uses_match(x):
    match x:
        case 1.0:
            y = x
        case _:
            y = -x
    return y


CASES = [
    (uses_yield, "yield", (), gast.Yield),
    (uses_yield_from, "yield from", (), gast.YieldFrom),
    (uses_async, "async", (), gast.AsyncFunctionDef),
    (uses_with, "with", (), gast.With),
    (uses_try, "try", (), gast.Try),
    (uses_global, "global", (), gast.Global),
    (uses_nonlocal, "nonlocal", (), gast.Nonlocal),
    (uses_del, "del", (), gast.Delete),
    (uses_class, "class defined inside", (), gast.ClassDef),
    (uses_import, "import", (), gast.Import),
    (uses_import_from, "import", (), gast.ImportFrom),
    (uses_walrus, "walrus", (), gast.NamedExpr),
    (uses_setcomp, "set comprehension", (), gast.SetComp),
    (uses_set, "set literal", (), gast.Set),
    (uses_match, "match", (), gast.Match),
    (uses_setattr, "assignment to an attribute of an attribute", (None,), None),
]


@pytest.mark.parametrize("fn, construct, extra, node", CASES, ids=[c[0].__name__ for c in CASES])
def test_refused_with_file_line_and_fix(fn, construct, extra, node):
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.gradient(fn, *extra, 1.0)
    message = str(info.value)
    assert construct in message
    assert "test_fence.py:" in message
    assert "Fix:" in message
    error = info.value
    lines, start = inspect.getsourcelines(fn)
    assert start <= error.lineno < start + len(lines)
    assert "^" in message  # a caret under the column


def test_every_refused_construct_is_tested():
    # await / async for / async with only appear inside an async def, refused as a whole first.
    unreachable = {gast.Await, gast.AsyncFor, gast.AsyncWith}
    tested = {c[3] for c in CASES}
    assert set(REFUSED) - unreachable <= tested


def test_error_leaves_the_cache_clean():
    srcgrad.clear_cache()
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.gradient(uses_try, 1.0)
    assert srcgrad.cache_info().size == 0
