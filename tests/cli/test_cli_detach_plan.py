"""``generate --detach`` plans in its background process: the command checks the request,
records the run as planning and prints its id at once; the background process plans it, then
renders it, or ends it failed with the planner's one-line reason.

Real subprocesses, the built-in simulated farm (time scale 0), 160x96 frames, 2 shots.
What the command itself loads (no spaCy) is checked in tests/e2e/test_e2e_startup.py.
"""

from __future__ import annotations

import json

import pytest
from runkit import json_lines
from subprocs import run_cli
from typer.testing import CliRunner

from videofactory.cli import app
from videofactory.store import DB_NAME, Store

SMALL = ["--duration", "4", "--clip-seconds", "2", "--width", "160", "--height", "96"]
#: Nothing listens on the discard port of the loopback: an LLM that cannot be reached.
NO_LLM = "http://127.0.0.1:9/v1"


def _show(run_id: str, cwd) -> dict:
    shown = run_cli(["show", run_id, "--json", "--workdir", "w"], cwd=cwd, timeout=60)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


@pytest.mark.slow
def test_generate_detach_plans_in_the_background_then_renders(tmp_path):
    parent = run_cli(["generate", "cat on the moon", *SMALL, "--detach", "--json",
                      "--workdir", "w"], cwd=tmp_path, timeout=60)  # fmt: skip
    assert parent.returncode == 0, parent.stderr
    started = json.loads(parent.stdout)
    assert started["ok"] and started["detached"] and started["state"] == "planning"
    run_id = started["run_id"]

    waited = run_cli(["wait", run_id, "--json", "--workdir", "w"], cwd=tmp_path, timeout=240)
    assert waited.returncode == 0, waited.stderr[-3000:]
    *events, result = json_lines(waited.stdout)
    kinds = [e["kind"] for e in events]
    # planning -> planned -> running -> done, in that order, each recorded by the run
    order = [kinds.index(k) for k in ("run_planning", "run_planned", "run_started", "run_done")]
    assert order == sorted(order), kinds
    assert result["ok"] and result["state"] == "done" and result["width"] == 160

    shown = _show(run_id, tmp_path)
    assert shown["state"] == "done" and shown["planner"]["planner"] == "rules"
    assert [s["id"] for s in shown["shots"]] == ["s01", "s02"]
    assert shown["live"]["tasks_done"] == shown["live"]["tasks_total"] == 11  # with its look
    assert (tmp_path / shown["run_dir"] / "shots.yaml").is_file()
    with Store.for_workdir(tmp_path / "w") as store:
        assert store.run(run_id)["owner_pid"] is None  # its process let go of it


@pytest.mark.slow
def test_a_detached_preview_is_planned_then_rendered_as_a_preview(tmp_path):
    """``generate --preview --detach``: the background process plans the run and renders
    its preview (look, keyframes, narration, the animatic), not the film."""
    parent = run_cli(["generate", "cat on the moon", *SMALL, "--preview", "--detach", "--json",
                      "--workdir", "w"], cwd=tmp_path, timeout=60)  # fmt: skip
    assert parent.returncode == 0, parent.stderr
    run_id = json.loads(parent.stdout)["run_id"]
    waited = run_cli(["wait", run_id, "--json", "--workdir", "w"], cwd=tmp_path, timeout=240)
    assert waited.returncode == 0, waited.stderr[-3000:]
    result = json_lines(waited.stdout)[-1]
    assert result["ok"] and result["final"].endswith("preview.mp4"), result
    shown = _show(run_id, tmp_path)
    assert shown["preview"] is True and shown["state"] == "done"
    assert {t["kind"] for t in shown["tasks"]} == {"look", "keyframe", "speech", "assemble"}
    assert not (tmp_path / shown["run_dir"] / "final.mp4").exists()


def test_a_run_whose_planning_fails_ends_failed_with_the_reason(tmp_path):
    """The LLM planner asked for and unreachable: the command still returns at once (it
    asks no model); the background process ends the run failed, the reason on one line."""
    parent = run_cli(["generate", "cat on the moon", *SMALL, "--planner", "llm",
                      "--llm-url", NO_LLM, "--detach", "--workdir", "w"],
                     cwd=tmp_path, timeout=60)  # fmt: skip
    assert parent.returncode == 0, parent.stderr
    run_id = parent.stdout.strip()

    waited = run_cli(["wait", run_id, "-q", "--workdir", "w"], cwd=tmp_path, timeout=120)
    assert waited.returncode == 1
    (line,) = waited.stderr.strip().splitlines()
    assert line.startswith(f"error: run {run_id} failed: planning failed: cannot reach the LLM")

    shown = _show(run_id, tmp_path)
    assert shown["state"] == "failed" and shown["live"]["state"] == "failed"
    assert shown["error"].startswith("planning failed: cannot reach the LLM at http://127.0.0.1:9")
    assert "\n" not in shown["error"]
    assert shown["shots"] == [] and shown["tasks"] == []
    assert shown["planner"]["planner"] == "llm (not planned)"
    text = run_cli(["show", run_id, "--workdir", "w"], cwd=tmp_path).stdout
    assert "planning failed" in text and "state: failed" in text
    # What needs its shots says, in one line, that it has none and why.
    for args in (["pick", run_id, "s01", "2"], ["redo", run_id, "s01"], ["assemble", run_id],
                 ["render", run_id, "--dry-run"]):  # fmt: skip
        res = run_cli([*args, "--workdir", "w"], cwd=tmp_path, timeout=60)
        assert res.returncode == 1 and "Traceback" not in res.stderr, (args, res.stderr)
        (line,) = res.stderr.strip().splitlines()
        assert line.startswith(f"error: run {run_id} has no shots yet; its planning failed: "
                               "planning failed: cannot reach the LLM"), (args, line)  # fmt: skip

    listed = json.loads(run_cli(["runs", "--json", "--workdir", "w"], cwd=tmp_path).stdout)
    assert [(r["id"], r["state"], r["error"]) for r in listed] == [
        (run_id, "failed", shown["error"])
    ]
    logs = run_cli(["logs", run_id, "--workdir", "w"], cwd=tmp_path).stdout.splitlines()
    assert "run_planning" in logs[0] and "run_failed" in logs[-1]
    assert (tmp_path / "w" / run_id / "report.html").is_file()  # an ended run has its report


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--planner", "nope"], "unknown planner 'nope'"),
        (["--transition", "swirl"], "unknown transition 'swirl'"),
        (["--clip-seconds", "0"], "clip length 0 s is out of range"),
        (["--duration", "-3"], "duration must be a positive number"),
        (["--style", "  "], "the style is empty"),
        (["--planner", "llm"], "the LLM planner has no endpoint"),
    ],
)
def test_bad_input_is_refused_by_the_command_before_anything_is_recorded(
    tmp_path, monkeypatch, args, expected
):
    for name in ("VIDEOFACTORY_LLM_URL", "VIDEOFACTORY_LLM_MODEL", "VIDEOFACTORY_LLM_KIND",
                 "VIDEOFACTORY_FARM", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["generate", "cat on the moon", *args, "--detach"])
    assert res.exit_code == 1, res.output
    (line,) = res.output.strip().splitlines()
    assert line.startswith("error: ") and expected in line, line
    assert not (tmp_path / "runs" / DB_NAME).exists()
