"""Group 6, refused constructs: UnsupportedSyntaxError naming the file and line, and what to do.

The line each program is refused at is marked ``# refused`` in its source;
the error must point at that line of this file, name the construct and give a
fix. Refusals inside called helpers and methods point at the helper's line,
and a refusal leaves srcgrad working for the next function.
"""

import inspect

import numpy as np
import pytest

import srcgrad


def uses_yield(x):
    yield x * 2.0  # refused


def uses_yield_from(x):
    yield from [x, x * 2.0]  # refused


async def uses_async(x):  # refused
    return x * 2.0


def writes_global(x):
    global LAST  # refused
    LAST = x
    return x * 2.0


def uses_try(x):
    try:  # refused
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_try_finally(x):
    y = x * 2.0
    try:  # refused
        y = y + 1.0
    finally:
        y = y * 2.0
    return y


def uses_with(x):
    with np.errstate(divide="ignore"):  # refused
        y = x / 2.0
    return y


def uses_for_else(x):
    for i in range(3):  # refused
        if x > 10.0:
            break
        x = x * 2.0
    else:
        x = x + 1.0
    return x


def uses_while_else(x):
    while x < 5.0:  # refused
        x = x * 2.0
    else:
        x = x - 1.0
    return x


def uses_set_literal(x):
    seen = {1, 2, 3}  # refused
    return x * len(seen)


def uses_set_comprehension(x, xs):
    distinct = {round(v) for v in xs}  # refused
    return x * len(distinct)


def uses_match(x, mode):
    match mode:  # refused
        case "double":
            y = x * 2.0
        case _:
            y = x
    return y


class Holder:
    def __init__(self, inner):
        self.inner = inner


def nested_attribute_assignment(h, x):
    h.inner.value = x  # refused
    return x * 2.0


def attribute_item_assignment(h, x):
    h.inner[0] = x  # refused
    return x * 2.0


def uses_nonlocal(x):
    total = x

    def bump():
        nonlocal total  # refused
        total = total * 2.0
    bump()
    return total


def uses_walrus(x):
    if (y := x * 2.0) > 1.0:  # refused
        return y
    return x


def helper_with_try(x):
    try:  # refused
        return x * 2.0
    except ZeroDivisionError:
        return x


def calls_helper_with_try(x):
    return helper_with_try(x) + x


class Model:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        with np.errstate(all="ignore"):  # refused
            return self.w * x


def calls_method_with_with(m, x):
    return m(x)


class Accumulator:
    def __init__(self):
        self.items = []

    def push(self, v):
        self.items.append(v)  # refused


def method_appends_to_attribute_list(x):
    acc = Accumulator()
    acc.push(x * 2.0)
    return acc.items[0]


def rebinds_captured_variable(x):
    k = 2.0
    g = lambda t: t * k
    k = x  # refused
    return g(x)


def lambda_default_holds_a_value(xs, w):
    fs = [lambda t, c=c: t * c * w for c in xs]  # refused
    return sum([f(2.0) for f in fs])


def closure_appends_to_captured_list(x):
    acc = [0.0]

    def add(v):
        acc.append(v * x)  # refused
    add(1.0)
    return sum(acc)


CASES = [
    (lambda_default_holds_a_value, ([1.0, 2.0], 0.5), "default value", lambda_default_holds_a_value),
    (closure_appends_to_captured_list, (1.5,), "changing a list or dict it captured",
     closure_appends_to_captured_list),
    (uses_yield, (1.0,), "yield", uses_yield),
    (uses_yield_from, (1.0,), "yield from", uses_yield_from),
    (uses_async, (1.0,), "async", uses_async),
    (writes_global, (1.0,), "global", writes_global),
    (uses_try, (1.0,), "try", uses_try),
    (uses_try_finally, (1.0,), "try", uses_try_finally),
    (uses_with, (1.0,), "with", uses_with),
    (uses_set_literal, (1.0,), "set literal", uses_set_literal),
    (uses_set_comprehension, (1.0, [1.2, 2.7]), "set comprehension", uses_set_comprehension),
    (uses_match, (1.0, "double"), "match", uses_match),
    (nested_attribute_assignment, (Holder(Holder(None)), 1.0), "attribute of an attribute", nested_attribute_assignment),
    (attribute_item_assignment, (Holder(np.zeros(2)), 1.0), "element of an object's field", attribute_item_assignment),
    (uses_nonlocal, (1.0,), "nonlocal", uses_nonlocal),
    (uses_walrus, (1.0,), "walrus", uses_walrus),
    (calls_helper_with_try, (1.0,), "try", helper_with_try),
    (calls_method_with_with, (Model(2.0), 1.0), "with", Model.__call__),
    (method_appends_to_attribute_list, (1.0,), "attribute", Accumulator.push),
    (rebinds_captured_variable, (1.0,), "captured", rebinds_captured_variable),
]


def refused_line(fn):
    lines, start = inspect.getsourcelines(fn)
    marked = [start + i for i, line in enumerate(lines) if line.rstrip().endswith("# refused")]
    assert len(marked) == 1
    return marked[0]


@pytest.mark.parametrize("fn, args, construct, where", CASES, ids=[c[0].__name__ for c in CASES])
def test_refused_with_file_line_and_fix(fn, args, construct, where):
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.gradient(fn, *args)
    error = info.value
    message = str(error)
    assert isinstance(error, srcgrad.SrcgradError)
    assert construct in message
    line = refused_line(where)
    assert f"test_refused.py:{line}" in message, message
    assert error.filename.endswith("test_refused.py") and error.lineno == line
    assert "Fix: " in message and len(error.fix) > 10
    # the same refusal again: nothing half-built was cached
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.gradient(fn, *args)


def test_differentiable_refuses_at_definition():
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.differentiable(uses_try)
    assert f"test_refused.py:{refused_line(uses_try)}" in str(info.value)


def square_plus(x):
    return x * x + 1.0


def test_a_refusal_leaves_srcgrad_working():
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.gradient(calls_helper_with_try, 1.0)
    assert srcgrad.gradient(square_plus, 3.0) == (6.0,)
    x = np.array([1.0, 2.0])
    keep = x.copy()
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.gradient(attribute_item_assignment, Holder(x), 1.0)
    np.testing.assert_array_equal(x, keep)
