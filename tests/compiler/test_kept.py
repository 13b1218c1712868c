"""Rule templates kept between processes, beside the rules' bytecode (srcgrad/compiler/kept.py).

Each test loads a small rules module from a temporary file, as a new
process would (a new function object, and ``kept`` starting with nothing
read), and checks what the template holds and what is on disk.
"""

import ast
import importlib.util
import linecache
import os
import sys
import types

import gast
import numpy as np
import pytest

from srcgrad.compiler import inline, kept

RULES = '''import numpy as np

SCALE = 2.0


def wave(dy, y, x):
    """The rule of a made-up primal."""
    return (dy * np.cos(x) * SCALE,)
'''


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pycache"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(kept, "_files", {})
    path = tmp_path / "myrules.py"
    path.write_text(RULES)
    return path


def template_in_new_process(path, monkeypatch):
    """``wave``'s template, as a process that has read nothing yet sees it."""
    monkeypatch.setattr(kept, "_files", {})
    linecache.checkcache(str(path))
    spec = importlib.util.spec_from_file_location("myrules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return inline.template_of(types.SimpleNamespace(reverse=module.wave)), module


def kept_file(path):
    return importlib.util.cache_from_source(str(path))[:-len(".pyc")] + kept.SUFFIX


def shown(template):
    return [ast.unparse(gast.gast_to_ast(e)) for e in template.outputs]


def test_a_template_is_kept_beside_the_bytecode_and_read_back_without_parsing(source, monkeypatch):
    first, _ = template_in_new_process(source, monkeypatch)
    assert shown(first) == ["dy * np.cos(x) * SCALE"]
    assert os.path.isfile(kept_file(source))
    assert not [name for name in os.listdir(os.path.dirname(kept_file(source))) if name.endswith(".tmp")]

    def parse_body(fn):
        raise AssertionError("a kept template is not parsed again")

    monkeypatch.setattr(inline, "parse_body", parse_body)
    second, module = template_in_new_process(source, monkeypatch)
    assert shown(second) == shown(first)
    assert second.free == {"np": np, "SCALE": 2.0} and second.free["np"] is module.np
    assert second.params == ["dy", "y", "x"]


def test_an_edited_rules_file_is_parsed_again(source, monkeypatch):
    template_in_new_process(source, monkeypatch)
    source.write_text(RULES.replace("np.cos(x)", "np.sinh(x)"))
    edited, _ = template_in_new_process(source, monkeypatch)
    assert shown(edited) == ["dy * np.sinh(x) * SCALE"]
    again, _ = template_in_new_process(source, monkeypatch)  # (and what is kept now is the new one)
    assert shown(again) == ["dy * np.sinh(x) * SCALE"]


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05N."])
def test_a_damaged_or_foreign_file_is_parsed_past_and_written_over(source, monkeypatch, damage):
    template_in_new_process(source, monkeypatch)
    with open(kept_file(source), "wb") as f:
        f.write(damage)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    with open(kept_file(source), "rb") as f:
        assert f.read() != damage


def test_lambdas_are_not_kept(source, monkeypatch):
    source.write_text(RULES + "\nPAIR = (lambda dy, y, x: (dy * 2.0,), lambda dy, y, x: (dy * 3.0,))\n")
    template, module = template_in_new_process(source, monkeypatch)
    for rule, shown_as in zip(module.PAIR, ["dy * 2.0", "dy * 3.0"]):
        assert shown(inline.template_of(types.SimpleNamespace(reverse=rule))) == [shown_as]
        assert kept.recall(rule) is None


def test_nothing_is_written_where_python_writes_no_bytecode(source, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert not os.path.exists(sys.pycache_prefix)


def test_a_directory_that_cannot_be_written_only_costs_the_parse(source, monkeypatch, tmp_path):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    monkeypatch.setattr(sys, "pycache_prefix", str(blocked / "pycache"))  # (below a file: never a directory)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]


def test_srcgrads_own_rules_read_back_the_same_as_parsed(tmp_path, monkeypatch):
    """Every rule of srcgrad's: the template read back from the file is the one parsed from source."""
    from srcgrad.rules import registry

    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pycache"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(kept, "_files", {})
    functions = {rule.reverse for rule in registry.rules.values() if isinstance(rule.reverse, types.FunctionType)}
    parsed = {}
    for fn in functions:
        params, kwonly, vararg, _ = inline._parameters(fn)
        parsed[fn] = inline._outputs(fn, set(params) | set(kwonly) | {vararg})
    for fn, (outputs, names) in parsed.items():
        kept.keep(fn, outputs, names)
    monkeypatch.setattr(kept, "_files", {})
    inlinable = 0
    for fn, (outputs, names) in parsed.items():
        back = kept.recall(fn)
        assert back is not None and back[1] == names
        if outputs is None:
            assert back[0] is None
        else:
            inlinable += 1
            assert [ast.unparse(gast.gast_to_ast(e)) for e in back[0]] == [ast.unparse(gast.gast_to_ast(e)) for e in outputs]
    assert inlinable > 50
