"""One home per concern, seen in the imports (issue 13).

- No import cycle inside the package ``attribution_db``: every import counts, module-level or
  inside a function (a cycle hidden in a function is still two modules that need each other;
  ``targets.py`` exists so that the command line and the benchmark need not).
- No module under ``checks/`` or ``bench/`` imports a test module (``test_*.py`` or
  ``conftest.py``): what several need lives in a helper module (``checks/cli.py``,
  ``checks/payloads.py``, ``checks/rows.py``, ...).

Read from the source (``ast``), so nothing is imported and no server is needed.

Mutation killed (import-cycle-cli-targets): ``targets.py`` importing ``cli`` again, the
cycle ``targets.py`` was written to end.
"""

from __future__ import annotations

import ast
from pathlib import Path

from attribution_db import PROJECT_ROOT

PACKAGE = "attribution_db"
SOURCE = PROJECT_ROOT / "src"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``tree`` imports (``from pkg import sub`` names ``pkg.sub``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found & known


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    known = set(files)
    return {name: imported(ast.parse(path.read_text(encoding="utf-8")), known) - {name} for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph(SOURCE, PACKAGE)
    assert f"{PACKAGE}.cli" in graph and f"{PACKAGE}.targets" in graph[f"{PACKAGE}.cli"], sorted(graph)
    found = cycles(graph)
    assert not found, "modules that import each other (directly or around a loop): " + "; ".join(
        " <-> ".join(component) for component in found
    )


def test_the_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_a_test_module():
    offenders = []
    for folder in ("checks", "bench"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                for name in names:
                    last = name.rsplit(".", 1)[-1]
                    if name.startswith("checks") and (last.startswith("test_") or last == "conftest"):
                        offenders.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}")
    assert not offenders, "import a helper module instead: " + "; ".join(sorted(set(offenders)))
