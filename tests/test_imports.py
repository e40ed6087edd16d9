"""The import graph: no cycles, and no part imports a part above it (docs/architecture.md).

Every ``import`` counts, at the top of a module or inside a function (an import put off for
start-up speed is still a dependency); only those under ``if TYPE_CHECKING:`` do not, as they
never run. The graph is read from the source with ``ast``, so a test that imports nothing of the
package can judge all of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import videofactory

pytestmark = pytest.mark.core

PACKAGE = Path(videofactory.__file__).parent

#: The layers, lowest first. A part may import its own modules, parts of a lower layer, and
#: parts of its own layer (the graph must stay acyclic); never a part of a higher layer. A part
#: is a top-level module (``videofactory.store``) or a subpackage (``videofactory.farm``).
LAYERS: tuple[tuple[str, ...], ...] = (
    # words and rules every part shares; no I/O
    (
        "videofactory",
        "errors",
        "constants",
        "limits",
        "timing",
        "vocabulary",
        "events",
        "locks",
        "stopping",
        "lazy",
        "exposure",
        "presets",
        "takes",
    ),  # fmt: skip
    # files and processes of the user's: their folder, child pythons, detached runs
    ("userfiles", "pychild", "detach"),
    # what a run is: the farm file, the shot list, the run store, the artifact cache
    ("config", "shotlist", "look", "store", "cache"),
    # FFmpeg
    ("assembly",),
    # the engines: ComfyUI's protocol, speech, planning
    ("comfy", "tts", "planning"),
    # driving a run on the GPUs
    ("farm",),
    # looking after the servers of a farm (reads the farm's worker probe)
    ("launcher",),
    # the simulated ComfyUI farm (heals itself with the launcher's records)
    ("sim",),
    # watching a run (folds events into lanes, predicts with the farm's scheduler) and its
    # report (reads what the farm recorded: the film's voice, its events)
    ("watching", "report"),
    # the wiring: a run from a shot list and a farm, with everything above handed in
    ("factory",),
    # the factory as MCP tools for an agent (the commands' functions, over the mcp SDK)
    ("mcpserver",),
    # the commands
    ("cli", "__main__"),
)

RANK = {part: rank for rank, parts in enumerate(LAYERS, start=1) for part in parts}


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                yield from _runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports when it runs."""
    found: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def part_of(module: str) -> str:
    """``videofactory.farm.policy`` -> ``farm``; ``videofactory.store`` -> ``store``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {part_of(name) for name in module_names()}
    assert sorted(parts - set(RANK)) == [], "add the new part to LAYERS (and docs/architecture.md)"
    assert sorted(set(RANK) - parts) == [], "LAYERS names a part that is gone"


def test_no_module_imports_itself_round_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_no_part_imports_a_part_of_a_higher_layer() -> None:
    upward = sorted(
        f"{a} imports {b} (layer {RANK[part_of(a)]} imports layer {RANK[part_of(b)]})"
        for a, targets in import_graph().items()
        for b in targets
        if RANK[part_of(b)] > RANK[part_of(a)]
    )
    assert upward == []


def test_the_parts_of_one_layer_do_not_import_each_other_in_a_circle() -> None:
    parts: dict[str, set[str]] = {}
    for a, targets in import_graph().items():
        parts.setdefault(part_of(a), set()).update(
            part_of(b) for b in targets if part_of(b) != part_of(a)
        )
    assert cycles(parts) == []


def test_the_checks_see_what_they_claim_to_see(tmp_path) -> None:
    """The reader itself: a function-level import counts, a TYPE_CHECKING one does not, and a
    made-up cycle and a made-up upward import are found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from videofactory.errors import FactoryError\n"
        "if TYPE_CHECKING:\n    from videofactory.cli import app\n"
        "def f():\n    from videofactory.farm import policy\n    from . import timing\n"
    )
    modules = module_names()
    scratch = tmp_path / "shotlist.py"
    scratch.write_text(source)
    got = imports_of("videofactory.shotlist", scratch, modules)
    assert got == {"videofactory.errors", "videofactory.farm.policy", "videofactory.timing"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
