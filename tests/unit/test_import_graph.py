"""The layer's import graph: services/ and store/ never import protocols/ or api/, and no module
imports itself back through others. Read from the source (ast), so a lazy import inside a
function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "core" / "python"
PACKAGE = LAYER / "watershed"


def _module(path: Path) -> str:
    parts = path.relative_to(LAYER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The watershed modules a file imports (`from a import b` counts `a.b` when it is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: the layer imports absolutely"
            base = node.module or ""
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


GRAPH = _graph()


def test_the_graph_is_read() -> None:
    assert "watershed.services.ingest" in GRAPH["watershed.protocols.native"]
    assert "watershed.services.mqtt.ingest" in GRAPH["watershed.protocols.oring_mqtt"]


@pytest.mark.parametrize("layer", ["watershed.services", "watershed.store"])
def test_the_domain_imports_no_protocol_and_no_binding(layer: str) -> None:
    offending = {
        module: sorted(i for i in imported if i.startswith(("watershed.protocols", "watershed.api")))
        for module, imported in GRAPH.items()
        if module.startswith(layer)
    }
    assert {m: i for m, i in offending.items() if i} == {}


def test_the_store_imports_no_service() -> None:
    offending = {m: sorted(i for i in imported if i.startswith("watershed.services"))
                 for m, imported in GRAPH.items() if m.startswith("watershed.store")}
    assert {m: i for m, i in offending.items() if i} == {}


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components: any component of more than one module is a cycle.
    A package's `__init__` importing its own submodules is not counted (Python allows it)."""
    graph = {m: {i for i in imported if not m.startswith(i + ".") and not i.startswith(m + ".")}
             for m, imported in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []
