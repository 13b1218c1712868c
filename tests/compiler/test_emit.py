"""emit.to_source prints generated code itself; it must print exactly what ``ast.unparse`` does."""

import math

import gast
import pytest

from golden.functions import GOLDEN
from srcgrad import compiler
from srcgrad.compiler import build, emit
from srcgrad.compiler.parse import parse_gast

EXPRESSIONS = [
    "a + b * c - d / e // f % g @ h",
    "(a + b) * (c - d)",
    "a - (b - c)",
    "a - b - c",
    "a ** b ** c",
    "(a ** b) ** c",
    "-a ** 2",
    "(-a) ** 2",
    "-(a + b)",
    "not a",
    "not (a and b)",
    "~a + +b",
    "a << b >> c | d ^ e & f",
    "(a | b) & c",
    "a < b <= c == d != e > f >= g",
    "a is None",
    "a is not None and b in c or d not in e",
    "(a or b) and c",
    "a if b else c",
    "(a if b else c) if d else e",
    "a if (b if c else d) else e",
    "(a if b else c) + 1",
    "f(a, *b, c=1, **d)",
    "f(a)(b)[c].d",
    "(a + b).c",
    "(a + b)[c]",
    "(1).real",
    "1.5.real",
    "a[1]",
    "a[1, 2]",
    "a[1:2, ::3, ...]",
    "a[(1,)]",
    "a[()]",
    "a[:, None]",
    "a[b:c:d]",
    "(a, b)",
    "(a,)",
    "()",
    "[a, (b, c), [d]]",
    "{a: b, **c, 'k': (d, e)}",
    "{}",
    "f((a, b))",
    "f(*(a, b))",
    "lambda: a",
    "lambda x, y: x + y",
    "(lambda x: x)(a)",
    "f(lambda x: x if x else -x)",
    "'quote\\'s' + \"double\\\"\" + 'new\\nline' + 'back\\\\slash'",
    "b'bytes' + u'text'",
    "1e400 + -1e400 + 1e400j",
    "True + None + 1 + -1 + 0.5 + -0.25 + 3j",
    "a[-1]",
    "f(-1, - 1.0, -a)",
    "x * -1",
    "(x := 1)",
    "f'{a!r:>{b}}'",
    "[x for x in a]",
]


def printed_both_ways(fdef):
    try:
        ours = emit._Printer().function(build.copy_tree(fdef))
    except emit._Unsupported:
        ours = None
    return ours, emit._unparse(fdef)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_expressions_print_as_ast_unparse_prints_them(text):
    for statement in (f"y = {text}", f"return {text}", f"{text}", f"y, z = {text}, 1", f"f({text})"):
        fdef = parse_gast(f"def f(a, b):\n    {statement}\n").body[0]
        ours, theirs = printed_both_ways(fdef)
        assert ours is None or ours == theirs, statement


def test_statements_print_as_ast_unparse_prints_them():
    source = (
        "def f(a, b):\n"
        "    if a:\n        x = 1\n    elif b:\n        x = 2\n    elif c:\n        pass\n    else:\n        x = 3\n"
        "    if a:\n        x = 1\n    else:\n        if b:\n            x = 2\n        y = 3\n"
        "    for i, j in z:\n        continue\n    else:\n        break\n"
        "    while (a, b):\n        x = y = 1\n    else:\n        x = 2\n"
        "    def g(c):\n        return\n"
        "    (a, b)\n"
        "    return g\n"
    )
    fdef = parse_gast(source).body[0]
    first = build.expr_stmt(build.const("Grad of line 1: x = 'a'"))
    first._srcgrad_comment = "Grad of line 1: x = 'a'"
    inner = build.expr_stmt(build.const("Grad of line 2: y = 2"))
    inner._srcgrad_comment = "Grad of line 2: y = 2"
    fdef.body.insert(0, first)
    fdef.body[1].body.insert(0, inner)
    ours, theirs = printed_both_ways(fdef)
    assert ours == theirs
    assert "# Grad of line 1: x = 'a'" in ours and "        # Grad of line 2: y = 2" in ours


def test_functions_ast_unparse_prints_are_left_to_it():
    """Defaults, decorators, docstrings, annotations: printed by ast.unparse (generated code has none)."""
    for source in ("def f(a, b=1):\n    return a\n", "@d\ndef f(a):\n    return a\n",
                   "def f(a):\n    'doc'\n    return a\n", "def f(a: int):\n    return a\n",
                   "def f(*a):\n    return a\n", "def f(a):\n    a += 1\n"):
        fdef = parse_gast(source).body[0]
        with pytest.raises(emit._Unsupported):
            emit._Printer().function(fdef)
        assert emit.to_source([fdef]) == emit._unparse(fdef) + "\n"


def test_constants_print_as_ast_unparse_prints_them():
    values = [(1,), (0, 1), (1.5, -2.0, math.inf), (), ..., math.nan, -math.inf, "a'b\"c", b"x", 10 ** 30, (1, (2, 3))]
    for value in values:
        fdef = parse_gast("def f(a):\n    return a\n").body[0]
        fdef.body[0].value = build.const(value)
        ours, theirs = printed_both_ways(fdef)
        assert ours == theirs, value


@pytest.mark.parametrize("fn", GOLDEN, ids=lambda fn: fn.__name__)
def test_generated_code_prints_as_ast_unparse_prints_it(fn):
    parsed, scope, namer, user_names = compiler._prepare(fn)
    anf = compiler.normalise(parsed, scope, namer)
    compiler.splice(anf, parsed, scope, namer)
    result = compiler.transform(parsed, scope, namer, anf)
    invented, adjoints = compiler._foldable(namer, user_names)
    compiler.simplify([result.forward, result.backward], invented, adjoints, result.injected)
    for fdef in (result.forward, result.backward):
        ours, theirs = printed_both_ways(fdef)
        assert ours == theirs
