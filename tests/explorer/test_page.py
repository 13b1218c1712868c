"""srcgrad.explore's page, read without a browser: its structure, its values, its file (SPEC section 6)."""

import inspect
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import srcgrad
from srcgrad.explorer import ExplorerPage
from srcgrad.explorer.values import summarise

from . import functions
from .functions import dense, polynomial, running_sum, two_layer_arguments, two_layer_loss


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], []

    def all(self):
        yield self
        for child in self.children:
            yield from child.all()

    def find(self, predicate):
        return [n for n in self.all() if predicate(n)]

    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def content(self):
        return "".join(self.text) + "".join(c.content() + "".join(getattr(c, "tail", [])) for c in self.children)


_VOID = {"meta", "br", "img", "input", "link", "hr"}


class Tree(HTMLParser):
    """A small DOM: enough to walk the page's elements and read their text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.at = self.root
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.at)
        node.tail = []
        self.at.children.append(node)
        if tag not in _VOID:
            self.at = node

    def handle_endtag(self, tag):
        node = self.at
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.at = node.parent

    def handle_data(self, data):
        if self.at.children:
            self.at.children[-1].tail.append(data)
        else:
            self.at.text.append(data)


def lines_of(fn):
    lines, first = inspect.getsourcelines(fn)
    return list(range(first, first + len(lines)))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    where = tmp_path_factory.mktemp("pages")
    made = {
        "polynomial": srcgrad.explore(polynomial, 2.0, path=where / "polynomial.html"),
        "two_layer": srcgrad.explore(two_layer_loss, *two_layer_arguments(), path=where / "two_layer.html"),
        "no_arguments": srcgrad.explore(two_layer_loss, path=where / "no_arguments.html"),
        "loop": srcgrad.explore(running_sum, 2.0, 3, path=where / "loop.html"),
    }
    return {name: (page, Tree(open(page, encoding="utf-8").read()).root) for name, page in made.items()}


def sections(tree):
    return {s.attrs["data-function"]: s for s in tree.find(lambda n: n.tag == "section")}


def primal_rows(section):
    return [n for n in section.all() if n.tag == "tr" and "data-line" in n.attrs]


def generated_rows(section):
    return [n for n in section.all() if n.tag == "tr" and n.parent is not None
            and any("mode" in a.classes() for a in _ancestors(n))]


def _ancestors(node):
    while node is not None:
        yield node
        node = node.parent


def values_at(section, line):
    row = next(r for r in primal_rows(section) if r.attrs["data-line"] == str(line))
    found = {}
    for span in row.find(lambda n: n.tag == "span" and "val" in n.classes()):
        kind = "cot" if "cot" in span.classes() else "out" if "out" in span.classes() else "fwd"
        found[(kind, span.attrs["data-name"])] = span.content().split(" = ", 1)[-1].replace("returns ", "", 1)
    return found


def test_explore_returns_the_path_as_a_str_that_opens_and_displays_in_a_notebook(pages):
    page, _ = pages["polynomial"]
    assert isinstance(page, str) and isinstance(page, ExplorerPage)
    assert page.path == page and os.path.isabs(page)
    with open(page, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("<!DOCTYPE html>") and text == page.html
    shown = page._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"") and "&lt;!DOCTYPE html&gt;" in shown


def test_every_primal_line_has_data_line_with_its_line_in_the_file(pages):
    _, tree = pages["two_layer"]
    found = sections(tree)
    for fn in (two_layer_loss, dense):
        section = found[fn.__qualname__]
        own = [int(r.attrs["data-line"]) for r in primal_rows(section)][:len(lines_of(fn))]
        assert own == lines_of(fn)
    loss_lines = [int(r.attrs["data-line"]) for r in primal_rows(found["two_layer_loss"])]
    assert set(lines_of(dense)) <= set(loss_lines)  # (dense is pasted into loss's code: its lines are shown there)
    # The text shown is the file's, line for line.
    source = open(functions.__file__, encoding="utf-8").read().splitlines()
    for row in primal_rows(found["dense"]):
        shown = next(c for c in row.children if "src" in c.classes())
        assert shown.content() == source[int(row.attrs["data-line"]) - 1]


@pytest.mark.parametrize("name", ["polynomial", "two_layer", "no_arguments", "loop"])
def test_generated_lines_come_from_lines_that_the_section_shows(name, pages):
    _, tree = pages[name]
    for section in sections(tree).values():
        shown = {r.attrs["data-line"] for r in primal_rows(section)}
        froms = [r.attrs["data-from"] for r in generated_rows(section) if "data-from" in r.attrs]
        assert froms and set(froms) <= shown


def test_each_statement_of_the_generated_code_knows_its_line(pages):
    _, tree = pages["two_layer"]
    section = sections(tree)["two_layer_loss"]
    rows = generated_rows(section)
    text = {r: "".join(c.content() for c in r.children if "src" in c.classes()) for r in rows}
    first = lines_of(two_layer_loss)[0]
    by_text = {text[r].strip(): r.attrs.get("data-from") for r in rows}
    assert by_text["d = out - y"] == str(first + 3)  # (forward)
    assert by_text["out = mm + b2"] == str(first + 2)
    assert by_text["dd = 2 * d * dpower"] == str(first + 4)  # (backward, under '# Grad of line ...')
    assert by_text["# Grad of line %d: d = out - y" % (first + 3)] == str(first + 3)
    # The def lines, the unpacking of saved values and the gradients returned come from no one line.
    for line, origin in by_text.items():
        if line.startswith(("def ", "return (dW1")) or line.endswith("= saved"):
            assert origin is None, line
    # Forward mode too.
    tangent = [r for r in rows if any("mode-tangent" in a.classes() for a in _ancestors(r))]
    assert {text[r].strip(): r.attrs.get("data-from") for r in tangent}["d = out - y"] == str(first + 3)


def test_values_are_those_of_the_plain_computation(pages):
    _, tree = pages["polynomial"]
    section = sections(tree)["polynomial"]
    first = lines_of(polynomial)[0]
    assert values_at(section, first + 1)[("out", "return")] == summarise(polynomial(2.0)) == "17"
    assert values_at(section, first + 1)[("cot", "dx")] == "14"  # (6x + 2 at x = 2)
    assert values_at(section, first) == {("fwd", "x"): "2", ("cot", "dx"): "14"}

    W1, b1, W2, b2, x, y = args = two_layer_arguments()
    _, tree = pages["two_layer"]
    section = sections(tree)["two_layer_loss"]
    first = lines_of(two_layer_loss)[0]
    h = np.tanh(W1 @ x + b1)
    out = W2 @ h + b2
    assert values_at(section, first + 2)[("fwd", "out")] == summarise(out)
    assert values_at(section, first + 3)[("fwd", "d")] == summarise(out - y)
    assert values_at(section, first + 4)[("out", "return")] == summarise(two_layer_loss(*args))
    assert values_at(section, first + 4)[("cot", "dd")] == summarise(2 * (out - y))  # (d's, from the return)
    dense_line = lines_of(dense)[1]
    assert summarise(h) in values_at(section, dense_line).values()  # (pasted: dense's line, in loss's code)
    grads = srcgrad.gradient(two_layer_loss, *args)
    at_def = values_at(section, first)
    for name, g in zip(["W1", "b1", "W2", "b2", "x", "y"], grads):
        assert at_def[("cot", "d" + name)] == summarise(g)
    assert summarise(W1).startswith("shape (4, 3): ")


def test_a_loop_shows_its_last_values_and_how_often_it_ran(pages):
    _, tree = pages["loop"]
    section = sections(tree)["running_sum"]
    body = lines_of(running_sum)[3]
    assert values_at(section, body)[("fwd", "s")] == "6"  # 0 + 2*0 + 2*1 + 2*2
    row = next(r for r in primal_rows(section) if r.attrs["data-line"] == str(body))
    assert "×3" in row.content()
    assert values_at(section, lines_of(running_sum)[0])[("cot", "dx")] == "3"  # 0 + 1 + 2


def test_without_arguments_no_values(pages):
    page, tree = pages["no_arguments"]
    assert not tree.find(lambda n: "vals" in n.classes() or "val" in n.classes())
    assert "No arguments given" in page.html


def test_forward_mode_is_on_the_page_with_its_toggle(pages):
    _, tree = pages["two_layer"]
    section = sections(tree)["two_layer_loss"]
    tangent = section.find(lambda n: "mode-tangent" in n.classes())[0]
    assert "def two_layer_loss_tangent(" in tangent.content()
    assert tree.find(lambda n: n.attrs.get("id") == "mode-toggle")
    assert section.find(lambda n: "mode-adjoint" in n.classes())


def test_a_callee_has_its_own_section_reachable_from_the_page(pages):
    _, tree = pages["two_layer"]
    found = sections(tree)
    assert list(found) == ["two_layer_loss", "dense"]
    callee = found["dense"]
    assert "def dense_forward(" in callee.content() and "def dense_tangent(" in callee.content()
    links = [a.attrs["href"] for a in tree.find(lambda n: n.tag == "a")]
    assert "#" + callee.attrs["id"] in links


@pytest.mark.parametrize("name", ["polynomial", "two_layer"])
def test_the_page_is_self_contained(name, pages):
    page, tree = pages[name]
    assert "http://" not in page.html and "https://" not in page.html
    for node in tree.all():
        for attr in ("src", "href", "data"):
            value = node.attrs.get(attr)
            assert value is None or value.startswith("#"), (node.tag, attr, value)
        assert node.tag not in ("link", "img", "iframe", "object", "embed")
    assert not re.search(r"@import|url\(|@font-face", page.html)
    # (readable without the script: everything is in the HTML; the script only adds behaviour)
    assert page.html.count("<script>") == 1


def test_the_default_path_is_the_functions_name_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = srcgrad.explore(polynomial)
    assert page == str(tmp_path / "polynomial_explorer.html") and os.path.exists(page)
    assert os.listdir(tmp_path) == ["polynomial_explorer.html"]
    assert "<function name>_explorer.html" in srcgrad.explore.__doc__


def test_the_page_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "page.html"
    target.write_text("the old page")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        srcgrad.explore(polynomial, 2.0, path=target)
    assert target.read_text() == "the old page"
    assert os.listdir(tmp_path) == ["page.html"]  # (no temporary file left behind)
    monkeypatch.undo()
    srcgrad.explore(polynomial, 2.0, path=target)
    assert target.read_text().startswith("<!DOCTYPE html>") and os.listdir(tmp_path) == ["page.html"]


def test_a_function_without_source_is_refused_clearly():
    with pytest.raises(srcgrad.SourceNotFoundError, match="no source to show"):
        srcgrad.explore(np.sin, 1.0)
    namespace = {}
    exec("def made(x):\n    return x * 2\n", namespace)
    with pytest.raises(srcgrad.SourceNotFoundError, match="made"):
        srcgrad.explore(namespace["made"], 1.0)


def test_wrong_arguments_are_refused_naming_the_function_and_what_to_pass(tmp_path):
    with pytest.raises(srcgrad.SrcgradError) as raised:
        srcgrad.explore(polynomial, 1.0, 2.0, path=tmp_path / "p.html")
    message = str(raised.value)
    assert "polynomial" in message and "functions.py" in message
    assert "Fix: pass the arguments of one call of polynomial" in message
    assert not (tmp_path / "p.html").exists()


def test_a_previous_trace_function_is_kept_and_restored(tmp_path):
    import sys

    seen = []

    def tracer(frame, event, arg):
        seen.append(frame.f_code.co_filename)
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        srcgrad.explore(two_layer_loss, *two_layer_arguments(), path=tmp_path / "p.html")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert not any(name.startswith("<srcgrad:") for name in seen)  # (generated code: traced by the explorer)
    assert seen  # (and the other frames still reached the tracer set before)
