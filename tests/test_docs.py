"""The code in README.md and docs/*.md runs, and what it prints is what the page shows.

Each page's ```python blocks run in order in one namespace, like the cells
of a notebook. srcgrad reads a function's source from its file, so every
block is first written to its own file in a temporary directory (named by
a first line ``# name.py``, else ``<page>_<n>.py``) and run from there;
the line numbers in generated comments are the block's own.

Two kinds of output are checked:

- a ```text block that directly follows a ```python block (only blank
  lines between) is what that block prints;
- a ```console block whose first line is ``$ python -m srcgrad show ...``
  is what that command prints, run in the same directory.

Any other ```text block is prose-like output (a shell session, an error
shown for illustration) and is not checked. After a deliberate change to
generated code, rewrite the checked outputs with

    SRCGRAD_UPDATE_DOCS=1 pytest tests/test_docs.py

and review the diff like any other change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shlex
import sys
import types
from pathlib import Path

import pytest

import srcgrad
import srcgrad.models
import srcgrad.optim

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
UPDATE = os.environ.get("SRCGRAD_UPDATE_DOCS") == "1"
FENCE = re.compile(r"^```(\S*)\s*$")
FILE_NAME = re.compile(r"^#\s*([A-Za-z_][A-Za-z0-9_]*\.py)\s*$")


@dataclasses.dataclass
class Block:
    lang: str
    start: int  # index of the first line of content
    end: int  # index of the closing fence
    text: str


def blocks(lines: list[str]) -> list[Block]:
    """The fenced blocks of a page, in order (fences at the start of a line only)."""
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        out.append(Block(m.group(1), i + 1, j, "\n".join(lines[i + 1:j])))
        i = j + 1
    return out


def only_blank_between(lines, a: Block, b: Block) -> bool:
    return all(not line.strip() for line in lines[a.end + 1:b.start - 1])


def tidy(text: str, tmp_path: Path) -> str:
    text = text.replace(str(tmp_path) + os.sep, "").replace(str(tmp_path), ".")
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_show(argv, tmp_path) -> str:
    from srcgrad.__main__ import main

    out = io.StringIO()
    modules, path = set(sys.modules), list(sys.path)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            main(argv)
    finally:
        forget_modules(modules, tmp_path)
        sys.path[:] = path
    return out.getvalue()


def forget_modules(before, tmp_path):
    """Unload the page's own modules (its files, its namespace), so the next page starts clean."""
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        file = getattr(module, "__file__", None)
        if name.startswith("docs_") or (file and Path(file).is_relative_to(tmp_path)):
            del sys.modules[name]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture
def own_rules():
    """Rules a page registers (rules.md adds several) are gone after it, with what was compiled against them."""
    from srcgrad.rules import registry

    tables = [registry.rules, registry.method_rules, registry.attribute_rules,
              registry.nondiff, registry.nondiff_methods, registry.nondiff_attributes]
    saved = [table.copy() for table in tables]
    yield
    for table, copy in zip(tables, saved):
        table.clear()
        table.update(copy)
    srcgrad.clear_cache()


#: Pages about an optional extra, and the module it brings (CI installs it; without it the page cannot run).
NEEDS = {"arrays.md": "dask.array"}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_runs(page, tmp_path, monkeypatch, own_rules):
    if page.name in NEEDS:
        pytest.importorskip(NEEDS[page.name], reason=f"{page.name} is about an optional extra")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a page may import a file an earlier block wrote
    modules_before = set(sys.modules)
    lines = page.read_text(encoding="utf-8").splitlines()
    found = blocks(lines)
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_').lower()}")
    sys.modules[module.__name__] = module
    mismatches, updates, printed, names = [], [], {}, set()
    try:
        for n, block in enumerate(found):
            if block.lang == "python":
                first = block.text.splitlines()[0] if block.text else ""
                m = FILE_NAME.match(first)
                name = m.group(1) if m else f"{page.stem.replace('-', '_')}_{n}.py"
                assert name not in names, f"{page.name}: two blocks are named {name}"
                names.add(name)
                file = tmp_path / name
                file.write_text(block.text + "\n", encoding="utf-8")
                buffer = io.StringIO()
                try:
                    with contextlib.redirect_stdout(buffer):
                        exec(compile(block.text + "\n", str(file), "exec"), module.__dict__)
                except Exception as exc:
                    raise AssertionError(
                        f"{page.name}:{block.start}: the python block failed:\n{block.text}"
                    ) from exc
                printed[n] = buffer.getvalue()
            elif block.lang == "text" and n - 1 in printed and only_blank_between(lines, found[n - 1], block):
                mismatches.append((block, tidy(printed[n - 1], tmp_path)))
            elif block.lang == "console" and block.text.startswith("$ python -m srcgrad show "):
                command = block.text.splitlines()[0]
                argv = shlex.split(command[len("$ python -m srcgrad "):])
                mismatches.append((block, command + "\n" + tidy(run_show(argv, tmp_path), tmp_path)))
    finally:
        forget_modules(modules_before, tmp_path)
    problems = []
    for block, actual in mismatches:
        if tidy(block.text, tmp_path) != actual:
            if UPDATE:
                updates.append((block, actual))
            else:
                problems.append(f"{page.name}:{block.start}: the page shows\n{block.text}\n--- but the code prints\n{actual}")
    if updates:
        for block, actual in sorted(updates, key=lambda u: -u[0].start):
            lines[block.start:block.end] = actual.splitlines()
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not problems, (
        "\n\n".join(problems) + "\n\n(after a deliberate change: SRCGRAD_UPDATE_DOCS=1 pytest tests/test_docs.py)"
    )


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Written by another page's author; linked before it lands.
EXPECTED_ELSEWHERE = {ROOT / "docs" / "benchmarks.md"}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # links inside code are not links
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists() and path not in EXPECTED_ELSEWHERE:
            broken.append(target)
    assert not broken, f"{page.name} links to missing files: {broken}"


@pytest.mark.parametrize(
    "page, names",
    [
        ("docs/models.md", srcgrad.models.__all__),
        ("docs/optim.md", srcgrad.optim.__all__),
        ("docs/index.md", [n for n in srcgrad.__all__ if n not in ("models", "optim")]),
    ],
)
def test_reference_names_every_public_name(page, names):
    text = (ROOT / page).read_text(encoding="utf-8")
    if page == "docs/index.md":  # the core API is spread over the pages
        text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    missing = [n for n in names if not re.search(r"\b" + re.escape(n) + r"\b", text)]
    assert not missing, f"{page} does not mention {missing}"
