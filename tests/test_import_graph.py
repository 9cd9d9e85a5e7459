"""The package's import graph has no circle and no module imports its own package's
``__init__`` from below (an upward arrow), counting imports inside functions too: a lazy
import only hides a circle from the interpreter, not from the reader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tunecost"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_pkg else 0)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import sub` imports the submodule when there is one.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` (a depth-first search's back edge), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_circle() -> None:
    cycle = _a_cycle(_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_module_imports_the_package_it_lives_in() -> None:
    """``tunecost.simulate.events.engine`` may import ``tunecost.simulate._totals`` (a
    sibling module) but not ``tunecost.simulate`` itself, whose ``__init__`` imports it.
    (A ``__main__`` module is a script's entry point: it runs its package, nothing imports
    it.)"""
    upward = [
        (a, b) for a, targets in _graph().items() for b in targets
        if b != "tunecost" and a.startswith(b + ".") and not a.endswith(".__main__")
    ]
    assert not upward, upward


@pytest.mark.parametrize(("module", "imports"), [
    ("tunecost.simulate._dispatch", "tunecost.simulate.events"),
    ("tunecost.simulate.events.engine", "tunecost.simulate._totals"),
])
def test_the_graph_sees_the_imports(module: str, imports: str) -> None:
    """The parser finds real edges (an empty graph would pass the tests above)."""
    assert imports in _graph()[module]
