"""srcgrad's modules import each other without a cycle, counting imports inside functions.

An import deferred into a function only to hide a cycle is still a cycle,
so every ``import`` and ``from ... import`` anywhere in a module counts.
The layers go one way: ``api`` -> ``calls`` -> ``compiler`` -> ``runtime``;
``runtime/`` imports neither the compiler nor the calling layer, the
compiler nothing of the calling layer, and ``rules/`` only ``runtime/`` and
``errors``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "srcgrad"


def _modules() -> dict:
    """Dotted module name -> its file, for every module of the package."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("srcgrad",) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    """The longest prefix of ``name`` that is one of srcgrad's modules (an attribute's module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set:
    """The srcgrad modules ``module`` imports, anywhere in its file."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(_known(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            subs = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()  # from . import sub
            out.update(subs or {_known(base)})
    out.discard(None)
    out.discard(module)
    return out


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles(graph) -> list:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_analysis_sees_imports_inside_functions_and_relative_submodules():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "srcgrad.compiler.provided" in GRAPH["srcgrad.calls"]  # (from ..compiler import provided)
    assert "srcgrad.calls.dispatch" in GRAPH["srcgrad.api"]  # (from .calls import dispatch)
    assert "srcgrad.compiler" in GRAPH["srcgrad.__main__"]  # (inside a function)


def test_no_module_of_srcgrad_imports_itself_back():
    assert _cycles(GRAPH) == []


def _importers(package: str, forbidden: tuple) -> list:
    return sorted((m, i) for m, deps in GRAPH.items() if m == package or m.startswith(package + ".")
                  for i in deps if any(i == f or i.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("package, forbidden", [
    ("srcgrad.runtime", ("srcgrad.calls", "srcgrad.compiler", "srcgrad.api")),
    ("srcgrad.compiler", ("srcgrad.calls", "srcgrad.api")),
    ("srcgrad.calls", ("srcgrad.api",)),
])
def test_the_layers_import_only_downwards(package, forbidden):
    assert _importers(package, forbidden) == []


def test_rules_import_only_the_runtime_and_errors():
    allowed = ("srcgrad.rules", "srcgrad.runtime", "srcgrad.errors")
    assert sorted((m, i) for m, deps in GRAPH.items() if m.startswith("srcgrad.rules")
                  for i in deps if not any(i == a or i.startswith(a + ".") for a in allowed)) == []
