"""The package's modules import each other one way: no circles (issue 10, the data-module split).

Every ``import`` / ``from ... import`` of a ``partner_analysis`` module is an edge, including imports
inside functions (a deferred import still ties the two modules together). A package's
``__init__`` importing its own submodules is not counted: that is how a package exposes them.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import partner_analysis

ROOT = Path(partner_analysis.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(current: str, is_pkg: bool, level: int, module: str | None) -> str:
    base = current.split(".") if is_pkg else current.split(".")[:-1]
    if level:
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([module] if module else []))
    return module or ""


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_pkg, node.level, node.module)
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                # the longest known module the import names (``pkg.mod.func`` -> ``pkg.mod``)
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if not t or t == name:
                    continue
                if is_pkg and t.startswith(name + "."):
                    continue  # a package importing its own submodule
                if name.startswith(t + ".") and mods[t].name == "__init__.py":
                    continue  # importing a name from the enclosing package's __init__
                graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]], within: str) -> list[list[str]]:
    nodes = {n for n in graph if n == within or n.startswith(within + ".")}
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n] & nodes):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(nodes):
        if n not in state:
            visit(n)
    return found


def test_graph_sees_the_data_modules():
    graph = _graph()
    # guards the walker itself: these edges exist, so a walker finding none proves nothing
    assert "partner_analysis.data.colmap" in graph["partner_analysis.data.readers"]
    assert "partner_analysis.data.validate" in graph["partner_analysis.data.oneroster"]


#: Circles allowed to remain: none (issue 14 removed the last, report.batch <-> brief/index). Keep it empty.
KNOWN_CIRCLES: set[tuple[str, ...]] = set()


@pytest.mark.parametrize("package", [pytest.param("partner_analysis.data", id="data"),
                                     pytest.param("partner_analysis.fit", id="fit"),
                                     pytest.param("partner_analysis.records", id="records")])
def test_no_import_circles(package):
    cycles = _cycles(_graph(), package)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles[:10])


def test_whole_package_has_no_new_import_circles():
    cycles = {tuple(sorted(set(c))) for c in _cycles(_graph(), "partner_analysis")}
    new = cycles - KNOWN_CIRCLES
    assert not new, "new import circles: " + "; ".join(" -> ".join(c) for c in sorted(new))
