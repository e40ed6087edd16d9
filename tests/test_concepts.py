"""One home per concept: the vocabulary, the limits and the seconds<->frames rules are each
defined in one module, and the pure core does not load the farm-file loader to name a kind."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import videofactory
from videofactory import limits, timing, vocabulary

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

PACKAGE = Path(videofactory.__file__).parent


def _top_level_names(path: Path) -> set[str]:
    """Names a module defines at its top level (assignments, classes, functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.add(node.name)
        for target in targets:
            elts = target.elts if isinstance(target, ast.Tuple) else [target]
            names.update(e.id for e in elts if isinstance(e, ast.Name))
    return names


@pytest.mark.parametrize("home", [vocabulary, limits, timing], ids=lambda m: m.__name__)
def test_each_name_is_defined_in_its_home_only(home) -> None:
    own = set(home.__all__)
    home_path = Path(home.__file__)
    elsewhere = {
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != home_path
        for name in _top_level_names(path) & own
    }
    assert not elsewhere, f"defined again outside {home.__name__}: {sorted(elsewhere)}"


def test_the_pure_core_does_not_import_the_farm_file_loader() -> None:
    # Task kinds and roles are plain words: the scheduler, the board, the task graph, the
    # simulation, the report and the live view use them without reading files or pydantic.
    core = [
        "videofactory.farm.dag",
        "videofactory.farm.board",
        "videofactory.farm.scheduler",
        "videofactory.farm.simulate",
        "videofactory.report.data",
        "videofactory.watching.state",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "print('videofactory.config' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_kind_read_back_as_text_is_still_a_gpu_kind() -> None:
    # The store keeps kinds as text; GPU_KINDS holds the enum members.
    assert all(kind.value in vocabulary.GPU_KINDS for kind in vocabulary.GPU_KINDS)
    assert "speech" not in vocabulary.GPU_KINDS
    assert set(vocabulary.ROLE_FOR_KIND) >= set(vocabulary.GPU_KINDS)
