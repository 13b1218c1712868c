"""Finding a function's source: def, lambdas (several on one line), nested, methods, generated code."""

import numpy as np
import pytest

import srcgrad

first, second = (lambda x: x * 2.0), (lambda x: x * 3.0)
left, right = (lambda a: a ** 2), (lambda b: b ** 3)


def test_two_lambdas_on_one_line_are_told_apart():
    assert srcgrad.gradient(first, 1.0) == (2.0,)
    assert srcgrad.gradient(second, 1.0) == (3.0,)
    assert srcgrad.gradient(left, 2.0) == (4.0,)
    assert srcgrad.gradient(right, 2.0) == (12.0,)


def test_nested_function_and_closure():
    def outer(scale):
        def inner(x):
            return scale * x ** 2
        return inner

    f = outer(3.0)
    assert srcgrad.gradient(f, 2.0) == (12.0,)
    assert srcgrad.gradient(outer(5.0), 2.0) == (20.0,)


class Model:
    def __init__(self):
        self.w = np.array([1.0, 2.0])

    def energy(self, x):
        return np.sum(self.w * x ** 2)

    @staticmethod
    def helper(x):
        return x * 4.0


def test_methods_decorated_and_plain():
    m = Model()
    (g,) = srcgrad.gradient(m.energy, np.array([1.0, 1.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])
    assert srcgrad.gradient(Model.helper, 1.0) == (4.0,)


def test_generated_source_names_the_lambda_after_its_variable():
    source = srcgrad.adjoint_source(first)
    assert "def first_forward(x):" in source and "def first_backward(" in source


def test_source_not_found_names_the_fix():
    namespace = {}
    exec("g = lambda x: x * 2", namespace)
    with pytest.raises(srcgrad.SourceNotFoundError) as info:
        srcgrad.gradient(namespace["g"], 1.0)
    message = str(info.value)
    assert "<string>" in message and "Fix:" in message


def test_jupyter_style_cells_are_read_through_linecache():
    import linecache

    source = "def cell_f(x):\n    return x ** 3\n"
    filename = "<ipython-input-7-abc>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    assert srcgrad.gradient(namespace["cell_f"], 2.0) == (12.0,)


def test_parse_gast_builds_the_tree_gast_parse_does():
    """The faster converter gives gast's own tree: same nodes, fields, locations and field order."""
    import pathlib

    import gast

    from srcgrad.compiler.to_gast import parse_gast

    root = pathlib.Path(srcgrad.__file__).parent
    files = sorted((root / "rules").glob("*.py"))  # the files rule templates are parsed from
    text = "try:\n    pass\nexcept ValueError as e:\n    raise\nclass A(B, metaclass=M):\n    x: int = 1\n" \
        "async def g(*a, b, **k):\n    async with c as d:\n        await e\n    return [i async for i in j]\n" \
        "lambda x, /, y=2: f'{x!r:>{y}}'\n"
    for text in [p.read_text() for p in files] + [text]:
        ours, theirs = parse_gast(text), gast.parse(text)
        assert gast.dump(ours, include_attributes=True) == gast.dump(theirs, include_attributes=True)
        for a, b in zip(gast.walk(ours), gast.walk(theirs)):
            assert type(a) is type(b) and list(a.__dict__) == list(b.__dict__)


def test_parse_body_gives_the_body_parse_function_gives():
    """A rule's template is read from its body alone; every rule's reads as the whole ``def`` would."""
    import gast

    from srcgrad.compiler.parse import parse_body, parse_function
    from srcgrad.rules import registry

    registry.lookup(np.sin)  # (rules registered on first use are in)
    rules = list(registry.rules.values()) + list(registry.method_rules.values())
    checked = 0
    for rule in rules:
        try:
            whole = parse_function(rule.reverse).node.body
        except Exception:
            continue
        body = parse_body(rule.reverse)
        assert [gast.dump(s, include_attributes=True) for s in body] == \
            [gast.dump(s, include_attributes=True) for s in whole], rule.name
        checked += 1
    assert checked > 100


def test_parse_body_of_nested_and_decorated_functions_keeps_the_file_lines():
    """Parsed without the lines above it, a body still carries its place in the file."""
    import functools

    import gast

    from srcgrad.compiler import parse

    def outer():
        @functools.lru_cache  # (any decorator: the def's first line is the decorator's)
        def inner(dy, y, x):
            """A docstring."""
            return (dy * np.cos(x),
                    None)

        return inner

    class Rules:
        def method(self, dy, y, x):
            return (dy,)

    for fn in (outer, outer().__wrapped__, Rules.method):
        whole = parse.parse_function(fn).node.body
        body = parse.parse_body(fn)
        assert [gast.dump(s, include_attributes=True) for s in body] == \
            [gast.dump(s, include_attributes=True) for s in whole]
        assert body[-1].lineno > 100  # (this file's lines, not the parsed text's)
