"""`videofactory plan` and `render` as a user runs them (real subprocesses), and the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from planning.test_planning_llm import draft, openai_completion, scripted
from subprocs import run_cli

from videofactory.assembly.probe import probe
from videofactory.shotlist import Shot, ShotList, load_shotlist, parse_shotlist

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "shotlist.md"


def run(*args: str, cwd: Path, env: dict | None = None, timeout: float = 240):
    return run_cli(args, cwd=cwd, env=env, timeout=timeout)


def _no_traceback(res) -> None:
    assert "Traceback" not in res.stderr + res.stdout, res.stderr[-2000:]


def test_plan_writes_an_editable_yaml(tmp_path) -> None:
    res = run("plan", "warrior in mystical forest", "-d", "30", "-o", "shots.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "wrote 6 shots to shots.yaml" in res.stderr
    sl = load_shotlist(tmp_path / "shots.yaml")
    assert sl.duration == 30 and len(sl.shots) == 6 and sl.planner == "rules"
    again = run("plan", "warrior in mystical forest", "-d", "30", "--json", cwd=tmp_path)
    assert ShotList.model_validate(json.loads(again.stdout)) == sl  # deterministic


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["", "-d", "30"], 1, "the concept is empty"),
        (["x" * 100_000, "-d", "30"], 1, "100,000 characters long"),
        (["ok", "-d", "0"], 1, "positive number of seconds"),
        (["ok", "-d", "-5"], 1, "positive number of seconds"),
        (["ok", "-d", "10801"], 1, "over the limit of 3 hours"),
        (["ok", "-d", "nan"], 1, "positive number of seconds"),
        (["ok", "-d", "thirty"], 2, "--duration"),
        (["ok", "--planner", "gpt"], 1, "unknown planner 'gpt'"),
        (["ok", "--planner", "llm"], 1, "the LLM planner has no endpoint"),
        (["ok", "-o", "no/such/dir/s.yaml"], 1, "cannot write no/such/dir/s.yaml"),
    ],
)
def test_plan_bad_input(tmp_path, args, code, message) -> None:
    res = run("plan", *args, cwd=tmp_path)
    assert res.returncode == code and message in res.stderr, res.stderr[-2000:]
    _no_traceback(res)


def test_hostile_concept_is_only_text(tmp_path) -> None:
    concept = "dragon \"$(touch pwned)\"; `touch pwned2` | rm -rf . 🐉 'quoted' in Zürich & co"
    res = run("plan", concept, "-d", "10", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["concept"] == concept and all(s["prompt"] for s in data["shots"])
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing was run


def _edit(tmp_path: Path, mutate) -> Path:
    res = run(
        "plan", "cat on the moon", "-d", "6", "--clip-seconds", "3", "-o", "shots.yaml",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    path = tmp_path / "shots.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _dup(d):
    d["shots"][1]["id"] = d["shots"][0]["id"]


def _sum(d):
    d["shots"][0]["duration"] = 1.0
    d["shots"][1]["duration"] = 3.0  # the plan's own lengths follow its narration


def _unknown(d):
    d["shots"][1]["camera_move"] = "pan"


def _type(d):
    d["shots"][0]["hero"] = "sometimes"


def _missing_image(d):
    d["shots"][1]["reference_image"] = "refs/missing.png"


@pytest.mark.parametrize(
    "mutate,message",
    [
        (_dup, "shot id 's01' is used twice"),
        (_sum, "shot durations sum to 4.000 s but the video is 6.000 s"),
        (_unknown, "shot 's02', field 'camera_move': unknown field"),
        (_type, "shot 's01', field 'hero': Input should be a valid boolean"),
        (_missing_image, "shot 's02', field 'reference_image':"),
    ],
)
def test_render_refuses_a_bad_shot_list_before_any_work(tmp_path, mutate, message) -> None:
    path = _edit(tmp_path, mutate)
    res = run("render", str(path), "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    assert res.returncode == 1 and message in res.stderr, res.stderr[-2000:]
    _no_traceback(res)
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").glob("*/final.mp4"))


@pytest.mark.slow
def test_render_a_hand_edited_shot_list(tmp_path) -> None:
    def hand_edit(d):
        d.update(width=320, height=180)  # 160x90: the sim hero pass fails (odd 240x135)
        d["shots"] = d["shots"][:2]
        d["shots"][0].update(duration=2.5, narration="A cat. On the moon. 🐈")
        d["shots"][1].update(
            id="landing", duration=3.5, prompt="a grey cat lands softly in moon dust, painterly"
        )

    path = _edit(tmp_path, hand_edit)
    look = "charcoal sketch, hard shadows"
    res = run(
        "render", str(path), "--workdir", str(tmp_path / "w"), "--json",
        "--style", look, "--transition", "crossfade", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    info = probe(summary["final"])
    assert abs(info.duration_s - 6.0) <= 0.1 and (info.width, info.height) == (320, 180)
    kept = load_shotlist(Path(summary["run_dir"]) / "shots.yaml")
    assert [s.id for s in kept.shots] == ["s01", "landing"]
    # --style and --transition changed what was rendered, not the YAML the user edits
    assert kept.style == look and all(s.prompt.endswith(look) for s in kept.shots)
    assert [s.transition for s in kept.shots] == ["cut", "crossfade"]
    assert look not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--transition", "swirl"], "unknown transition 'swirl'; use one of: cut, crossfade"),
        (["--style", "  "], "the style is empty; describe the look"),
    ],
)
def test_render_options_that_change_the_plan_are_checked_first(tmp_path, args, message) -> None:
    path = _edit(tmp_path, lambda d: None)
    res = run("render", str(path), "--workdir", str(tmp_path / "w"), *args, cwd=tmp_path)
    assert res.returncode == 1 and message in res.stderr, res.stderr[-2000:]
    _no_traceback(res)
    assert not (tmp_path / "w").exists()


def test_llm_planner_from_the_command_line(tmp_path) -> None:
    answer = openai_completion(json.dumps(draft(n=4, total=20)))
    with scripted("/v1/chat/completions", [(200, answer)]) as server:
        res = run(
            "plan", "warrior in mystical forest", "-d", "20", "--planner", "llm",
            "--llm-model", "llama3.1:8b", "-o", "llm.yaml", cwd=tmp_path,
            env={"VIDEOFACTORY_LLM_URL": server.url + "/v1"},
        )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    sl = load_shotlist(tmp_path / "llm.yaml")
    assert sl.planner == "llm" and len(sl.shots) == 4 and sl.duration == 20
    assert json.loads(server.requests[0]["body"])["model"] == "llama3.1:8b"


def test_llm_planner_failure_is_one_line(tmp_path) -> None:
    bad = openai_completion("I cannot help with that.")
    with scripted("/v1/chat/completions", [(200, bad)]) as server:
        res = run(
            "plan", "x", "--planner", "llm", "--llm-url", server.url, "--llm-model", "m",
            cwd=tmp_path,
        )  # fmt: skip
    assert res.returncode == 1 and "invalid shot list twice" in res.stderr
    _no_traceback(res)


# -- docs/shotlist.md ---------------------------------------------------------------------------


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_documented_example_is_what_plan_writes(tmp_path) -> None:
    example = yaml.safe_load(_yaml_blocks()[0])
    sl = parse_shotlist(example)
    from videofactory.planning import plan_rules

    assert sl == plan_rules("warrior in mystical forest", 15)


def test_every_field_is_documented() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    for name in [*ShotList.model_fields, *Shot.model_fields]:
        assert any(f"`{name}`" in row.split("|")[1] for row in rows), name


def test_the_documented_llm_section_loads(tmp_path) -> None:
    llm_block = next(b for b in _yaml_blocks() if b.startswith("llm:"))
    farm = tmp_path / "factory.yaml"
    farm.write_text("workers: [{id: g, url: 'http://h:1'}]\n" + llm_block, encoding="utf-8")
    from videofactory.config import load_farm

    assert load_farm(farm).llm is not None
