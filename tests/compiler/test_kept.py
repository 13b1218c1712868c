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


# ---------------------------------------------------------------- what is trusted (issue #16)

def never_parsed(monkeypatch):
    def parse_body(fn):
        raise AssertionError("a kept template is not parsed again")

    monkeypatch.setattr(inline, "parse_body", parse_body)


def lines_of(path):
    with open(kept_file(path), encoding="utf-8") as f:
        return f.read().splitlines()


def rewrite(path, lines):
    with open(kept_file(path), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


class Planted:
    """Unpickling this makes a directory: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_the_file_is_plain_text(source, monkeypatch):
    template_in_new_process(source, monkeypatch)
    header, *entries = lines_of(source)
    status = os.stat(source)
    assert header == (f"srcgrad-templates format={kept.FORMAT} gast={gast.__version__} "
                      f"mtime_ns={status.st_mtime_ns} size={status.st_size}")
    (entry,) = entries
    key, _, text = entry.partition(" ")
    assert key == "wave:6"
    tokens = text.split("\t")
    assert tokens[:4] == ["[1", "BinOp@8,12,8,34", "BinOp@8,12,8,26", "Name@8,12,8,14"]
    assert tokens[-3:] == ["[2", "sSCALE", "snp"]  # (the names it reads from the module)


def test_a_planted_pickle_never_runs(source, monkeypatch, tmp_path):
    import pickle

    template_in_new_process(source, monkeypatch)
    marker = tmp_path / "code ran"
    with open(kept_file(source), "wb") as f:
        pickle.dump({"stamp": None, "entries": {("wave", 6): pickle.dumps(Planted(marker))}}, f)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert not marker.exists()
    assert lines_of(source)[1].startswith("wave:6 ")  # (written over with the template parsed)


def test_a_planted_template_reading_other_names_is_not_used(source, monkeypatch):
    """A well-formed template that reads what the rule's code never does (``__import__``, ``.system``)
    is not the rule's: it is parsed again from source."""
    template_in_new_process(source, monkeypatch)
    header, entry = lines_of(source)
    call = ["[1", "Call", "Attribute", "Call", "Name", "s__import__", "Load", "~", "~", "[1", "Constant", "sos", "~",
            "[0", "ssystem", "Load", "[1", "Constant", "secho planted", "~", "[0", "[1", "s__import__"]
    rewrite(source, [header, "wave:6 " + "\t".join(call)])
    assert kept._decode("\t".join(call), compile("__import__('os').system", "<s>", "eval")) is not None  # (well formed)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert "__import__" not in "\n".join(lines_of(source))


NAME_X = "Name\tsx\tLoad\t~\t~"


@pytest.mark.parametrize("text", [
    "",
    "not a template",
    "~",  # (the names missing)
    "~\t[0\textra",  # (a token too many)
    "[1\tImport\t[0",  # (a statement, not an expression)
    "[1\tName\tsx\tLoad\t~\t[0",  # (a field short)
    "[1\tName@1,2\tsx\tLoad\t~\t~\t[0",  # (a place of two numbers)
    "[1\tName@1,2,3,-4\tsx\tLoad\t~\t~\t[0",  # (a negative place)
    "[1\tName\ti7\tLoad\t~\t~\t[0",  # (a name that is a number)
    "[1\t" + NAME_X + "\t[1\tsx",  # (x is a parameter, not a free name)
    "[1\tName\tsSCALE\tLoad\t~\t~\t[0",  # (SCALE read but not listed)
    "[1\tYield\t~\t[0",
    "[1\tConstant\tq1\t~\t[0",  # (no such constant)
    "[1\tConstant\tcx,1\t~\t[0",
    "[1\tConstant\ti" + "9" * 5000 + "\t~\t[0",  # (more digits than int() takes)
    "[999999999\t" + NAME_X,  # (a list longer than the text)
    "[ 1\t" + NAME_X + "\t[0",
    "[1\t" + "[1\t" * 5000 + NAME_X + "\t[0",  # (deeper than Python recurses)
    "[1\tLoad\t[0",  # (not an expression)
    "[1\tsdy\t[0",
])
def test_a_malformed_entry_is_parsed_past_never_a_crash(source, monkeypatch, text):
    template_in_new_process(source, monkeypatch)
    header, _ = lines_of(source)
    rewrite(source, [header, "wave:6 " + text])
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert lines_of(source)[1] != "wave:6 " + text


def test_the_header_is_checked_before_any_template_is_decoded(source, monkeypatch):
    template_in_new_process(source, monkeypatch)
    stat = os.stat(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # (touched: same text, another time)

    def decode(*args):
        raise AssertionError("a template is decoded from a file written for another source")

    monkeypatch.setattr(kept, "_decode", decode)
    monkeypatch.setattr(kept, "keep", lambda *args: None)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]


@pytest.mark.parametrize("header", ["", "{}", "[1]", '{"format": 1}', "x" * 5000])
def test_a_foreign_header_means_a_file_ignored_whole(source, monkeypatch, header):
    template_in_new_process(source, monkeypatch)
    _, entry = lines_of(source)
    rewrite(source, [header, entry])
    monkeypatch.setattr(kept, "_decode", lambda *args: pytest.fail("decoded below a foreign header"))
    monkeypatch.setattr(kept, "keep", lambda *args: None)
    template, _ = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]


def test_nothing_is_read_where_python_writes_no_bytecode(source, monkeypatch):
    template_in_new_process(source, monkeypatch)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    parsed = []
    real = inline.parse_body
    monkeypatch.setattr(inline, "parse_body", lambda fn: parsed.append(fn) or real(fn))
    template, module = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert parsed == [module.wave]
    assert kept.recall(module.wave) is None


def test_nothing_is_kept_for_the_main_scripts_directory(source, monkeypatch):
    main = types.ModuleType("__main__")
    main.__file__ = str(source.parent / "script.py")
    monkeypatch.setitem(sys.modules, "__main__", main)
    template, module = template_in_new_process(source, monkeypatch)
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert not os.path.exists(kept_file(source))
    assert kept.recall(module.wave) is None


def test_nothing_is_kept_for_a_function_not_imported_from_its_file(source, monkeypatch):
    namespace = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # (as runpy runs a script: no __spec__)
    monkeypatch.setattr(kept, "_files", {})
    template = inline.template_of(types.SimpleNamespace(reverse=namespace["wave"]))
    assert shown(template) == ["dy * np.cos(x) * SCALE"]
    assert not os.path.exists(kept_file(source))


def test_the_file_has_the_mode_python_gives_bytecode(source, monkeypatch):
    os.chmod(source, 0o640)
    old = os.umask(0o022)
    try:
        template_in_new_process(source, monkeypatch)
    finally:
        os.umask(old)
    assert os.stat(kept_file(source)).st_mode & 0o777 == 0o640  # (the source's, as importlib's _calc_mode)


def test_a_template_with_constants_json_has_no_word_for(source, monkeypatch):
    source.write_text(RULES.replace("np.cos(x) * SCALE", "np.cos(x) * SCALE * abs(2j) * len(b'ab') + (... is None)"))
    first, _ = template_in_new_process(source, monkeypatch)
    never_parsed(monkeypatch)
    second, _ = template_in_new_process(source, monkeypatch)
    assert shown(second) == shown(first) == ["dy * np.cos(x) * SCALE * abs(2j) * len(b'ab') + (... is None)"]
