"""docs/farm-launcher.md and the example farm files say what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from videofactory.config import LauncherConfig, WorkerConfig, load_farm
from videofactory.launcher import build_specs
from videofactory.launcher.plan import PLACEHOLDERS

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "farm-launcher.md"
MANAGED_FIELDS = (
    "managed", "cuda_device", "port", "listen", "comfyui", "python", "extra_args",
    "rss_limit_gb", "command", "env",
)  # fmt: skip


def table_names() -> set[str]:
    names: set[str] = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


def test_every_field_is_documented() -> None:
    names = table_names()
    assert set(MANAGED_FIELDS) <= set(WorkerConfig.model_fields)
    missing = [f for f in (*LauncherConfig.model_fields, *MANAGED_FIELDS) if f not in names]
    assert missing == []


def test_every_placeholder_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert all(f"`{{{p}}}`" in text for p in PLACEHOLDERS)


def test_the_documented_records_are_json() -> None:
    block = re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    lines = block.group(1).replace("\n ", " ").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["restart", "up"]


@pytest.mark.parametrize("name", ["factory.managed.yaml", "factory.sim-managed.yaml"])
def test_example_farms_load(name: str) -> None:
    farm = load_farm(REPO / "examples" / name)
    specs = build_specs(farm, Path(farm.launcher.folder))
    assert specs and all(s.url == farm.worker(s.id).url for s in specs)
    assert len({s.port for s in specs}) == len(specs)
    assert all(Path(a).is_absolute() for s in specs for a in s.argv if a.endswith("/output"))


def test_public_api_is_exported() -> None:
    import videofactory.launcher as launcher

    assert sorted(launcher.__all__) == sorted(launcher._HOMES)
    for name in launcher.__all__:
        assert getattr(launcher, name).__doc__, name
    with pytest.raises(AttributeError):
        launcher.nothing  # noqa: B018
