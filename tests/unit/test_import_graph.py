"""The layer's import graph: services/ and store/ never reach protocols/ or api/, and no module
imports itself back through others (lazy imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "python" / "watershed"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The watershed modules a file imports, wherever in the file the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        found.update(name for name in names if name in modules and name != "watershed")
    return found


def graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: _imports(path, modules) - {name} for name, path in files.items()}


def test_services_and_store_never_import_protocols_or_api() -> None:
    offenders = {
        (module, target)
        for module, targets in graph().items()
        if module.startswith(("watershed.services", "watershed.store"))
        for target in targets
        if target.startswith(("watershed.protocols", "watershed.api"))
    }
    assert offenders == set()


def _cycle_from(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    """A path start → ... → start through packages' real modules, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for target in edges.get(node, set()):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_no_import_cycles() -> None:
    edges = {m: {t for t in ts if not t.endswith("__init__")} for m, ts in graph().items()}
    packages = {m for m in edges if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()}
    edges = {m: ts - packages for m, ts in edges.items() if m not in packages}
    cycles = [cycle for module in sorted(edges) if (cycle := _cycle_from(module, edges))]
    assert cycles == []


def test_the_graph_sees_lazy_imports() -> None:
    edges = graph()
    assert "watershed.services.aggregates" in edges["watershed.protocols.native_aggregates"]
    assert "watershed.store.rollups" in edges["watershed.store.intervals"]  # imported inside a function
