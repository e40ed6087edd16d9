"""What a workflow needs, what a worker holds, and whether a farm can run a plan (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videofactory.comfy.workflow import load_spec, load_template, load_workflow
from videofactory.config import FarmConfig, WorkerConfig, load_farm
from videofactory.errors import ConfigError, WorkflowError
from videofactory.farm.feasibility import Ability, ability_of, impossible_kinds
from videofactory.farm.scheduler import TaskView, WorkerView, candidates
from videofactory.farm.workers import worker_memory
from videofactory.vocabulary import Role, TaskKind

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

GIB = 1024**3
HERO, CLIP, KEY = TaskKind.hero, TaskKind.clip, TaskKind.keyframe


def stats(gb: float, device: str = "cuda") -> dict:
    return {"devices": [{"name": device, "type": device, "vram_total": gb * GIB}]}


# -- what a workflow needs -------------------------------------------------------------------


def test_every_bundled_template_declares_its_need() -> None:
    needs = {
        f"{s}/{k}": load_template(k, s).vram_gb
        for s, k in [("sim", "keyframe"), ("sim", "clip"), ("sim", "hero"), ("flux", "keyframe"),
                     ("sdxl", "keyframe"), ("wan22", "clip"), ("wan22_flf", "clip"),
                     ("ltxv", "clip"), ("upscale", "hero")]
    }  # fmt: skip
    assert all(v is not None and 0 < v <= 32 for v in needs.values()), needs
    # The simulator's templates declare what the simulator models for its render nodes.
    assert (needs["sim/keyframe"], needs["sim/clip"], needs["sim/hero"]) == (12, 20, 28)
    readme = (Path(__file__).parents[2] / "videofactory/workflows/README.md").read_text()
    table = readme.split("| template | kind | VRAM it needs |")[1].split("\n\n")[0]
    rows = {ln.split("|")[1].strip(): ln for ln in table.splitlines() if ln.startswith("| `")}
    for name, gb in needs.items():
        assert f"| {gb:g} GB |" in rows[f"`{name}`"], name


def test_the_farm_file_need_beats_the_template_and_a_bindings_file_declares_one(
    tmp_path: Path,
) -> None:
    assert load_spec({"template": "upscale", "vram_gb": 9}, "hero").vram_gb == 9
    assert load_spec("upscale", "hero").vram_gb == 6
    wf = load_template("hero", "sim")
    (tmp_path / "h.json").write_text(__import__("json").dumps(dict(wf.graph)))
    (tmp_path / "h.bindings.yaml").write_text(
        "vram_gb: 7.5\ninput_video: {node: '1', input: file}\n"
        "output_prefix: {node: '6', input: filename_prefix}\n"
    )
    mine = load_workflow(tmp_path / "h.json")
    assert mine.vram_gb == 7.5 and "vram_gb" not in mine.bindings
    (tmp_path / "h.bindings.yaml").write_text("vram_gb: lots\n")
    with pytest.raises(WorkflowError, match="vram_gb must be the GB of VRAM"):
        load_workflow(tmp_path / "h.json")


def test_a_farm_file_takes_vram_gb_per_workflow(tmp_path: Path) -> None:
    farm = tmp_path / "f.yaml"
    farm.write_text(
        "workers:\n  - {id: c1, url: 'http://127.0.0.1:8188', "
        "workflows: {hero: {file: hero_api.json, vram_gb: 8}, "
        "clip: {template: wan22, vram_gb: 16}}}\n"
    )
    worker = load_farm(farm).workers[0]
    assert worker.workflow_spec(HERO).vram_gb == 8 and worker.workflow_spec(CLIP).vram_gb == 16
    farm.write_text(
        "workers:\n  - {id: c1, url: 'http://127.0.0.1:8188', "
        "workflows: {hero: {template: upscale, vram_gb: -1}}}\n"
    )
    with pytest.raises(ConfigError, match="vram_gb"):
        load_farm(farm)


# -- what a worker holds -----------------------------------------------------------------------


def test_a_gpu_holds_the_smaller_of_the_farm_file_and_the_server_and_says_so() -> None:
    w = WorkerConfig(id="g", vram_gb=32)
    assert worker_memory(w, stats(32)).gb == 32 and not worker_memory(w, stats(32)).note
    short = worker_memory(w, stats(23.5))
    assert (short.gb, short.kind) == (23.5, "VRAM") and "reports 23.5 GB" in short.note
    assert worker_memory(w, None).gb == 32  # not asked yet: the farm file's word
    assert worker_memory(w, stats(32), shared_gb=4).gb == 28  # a speech server shares it


def test_a_cpu_server_reports_ram_not_vram() -> None:
    implicit = worker_memory(WorkerConfig(id="c"), stats(23.5, "cpu"))
    assert (implicit.gb, implicit.kind) == (23.5, "RAM") and "RAM" in implicit.note
    # Said explicitly in the farm file, the figure is not capped by the RAM.
    explicit = worker_memory(WorkerConfig(id="c", vram_gb=48), stats(23.5, "cpu"))
    assert (explicit.gb, explicit.kind) == (48, "RAM")


# -- placement with per-worker needs ------------------------------------------------------------


def test_each_worker_is_judged_by_its_own_workflow_need() -> None:
    light = WorkerView("c1", (Role.primary,), 23.5, {}, needs={HERO: 8.0})
    heavy = WorkerView("c2", (Role.primary,), 23.5, {}, needs={HERO: 28.0})
    task = TaskView("s01/hero", HERO, 60, 28.0)
    assert [w.id for w in candidates(task, [light, heavy])] == ["c1"]
    # Shrunk to 75 %, the heavy workflow needs 21 GB and fits; a floor after OOM still holds.
    shrunk = TaskView("s01/hero", HERO, 45, 21.0, scale=0.75)
    assert [w.id for w in candidates(shrunk, [light, heavy])] == ["c1", "c2"]
    roomier = TaskView("s01/hero", HERO, 45, 21.0, scale=0.75, min_memory_gb=24)
    assert candidates(roomier, [light, heavy]) == []


# -- can the farm run the plan? -------------------------------------------------------------------


def able(wid: str, gb: float, roles=(Role.worker,), **kw) -> Ability:
    return Ability(wid, tuple(roles), gb, needs={KEY: 12, CLIP: 20, HERO: 28}, **kw)


def test_a_kind_no_worker_can_take_is_one_line_naming_shots_and_best_worker() -> None:
    farm = [able("c0", 23.5, memory_kind="RAM"), able("c1", 16), able("c2", 23.4)]
    lines = impossible_kinds({KEY: ["s01"], CLIP: ["s01"], HERO: ["s01", "s04"]}, farm,
                             strict=False)  # fmt: skip
    assert len(lines) == 1
    assert lines[0].startswith("no worker can take hero (shots s01, s04): best c0 has 23.5 GB")
    assert "of RAM" in lines[0] and "needs 28 GB" in lines[0] and "mark no shot hero" in lines[0]
    # Seven shots and more are summed up.
    many = impossible_kinds({HERO: [f"s{i:02}" for i in range(1, 9)]}, farm, strict=False)
    assert "s06 and 2 more)" in many[0]
    # A plan without hero shots is fine on this farm; so is a farm with no plan yet (None).
    assert impossible_kinds({HERO: []}, farm, strict=False) == []
    assert impossible_kinds({HERO: None}, farm, strict=False)[0].startswith(
        "no worker can take hero: "
    )


def test_roles_preflight_and_unreachable_workers() -> None:
    primary = able("g0", 32, roles=(Role.primary,))
    worker = able("g1", 32)
    # Under strict roles only the primary GPU takes heroes; refused by preflight it cannot.
    refusing = Ability("g0", (Role.primary,), 32, needs={HERO: 28}, refused={HERO: "no node X"})
    assert impossible_kinds({HERO: ["s01"]}, [primary, worker], strict=True) == []
    line = impossible_kinds({HERO: ["s01"]}, [refusing, worker], strict=True)[0]
    assert "g0 refuses it: no node X" in line and "g1 is not a primary GPU" in line
    assert "set strict: false" in line and "videofactory status" in line
    # A worker down at start may come back: judged by its farm-file figures.
    down = able("g0", 32, roles=(Role.primary,), reachable=False)
    assert impossible_kinds({HERO: ["s01"]}, [down], strict=True) == []


def test_ability_of_an_unreachable_worker_uses_its_farm_file() -> None:
    w = WorkerConfig(id="c1", vram_gb=24, workflows={"hero": {"file": "x.json", "vram_gb": 8}})
    a = ability_of(w, 24, "VRAM", None)
    assert a.needs[HERO] == 8 and a.needs[CLIP] == 20 and not a.reachable
    assert impossible_kinds({HERO: ["s01"]}, [a], strict=False) == []


def test_the_built_in_farm_can_run_its_own_plans() -> None:
    from videofactory.config import builtin_farm

    farm: FarmConfig = builtin_farm()
    sim = {k: load_template(k.value, "sim").vram_gb for k in (KEY, CLIP, HERO)}
    abilities = [Ability(w.id, tuple(w.roles), w.vram_gb, needs=sim) for w in farm.workers]
    assert impossible_kinds(dict.fromkeys(sim), abilities, strict=farm.strict) == []
