"""status, test, the seed's quick-command scripts, and --help on every command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from subprocs import run_cli
from typer.testing import CliRunner

from videofactory.cli import app

from .conftest import REPO, last_json


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every command under ``group`` (a click group, as typer builds it), as its words after
    ``videofactory`` and whether it is a group itself; asked through the group's own
    ``list_commands``/``get_command``, so that commands loaded on demand are found too."""
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        is_group = hasattr(command, "list_commands")
        yield (*path, name), is_group
        if is_group:
            yield from _commands(command, (*path, name))


def _help(words: tuple[str, ...]) -> str:
    res = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "240"})
    assert res.exit_code == 0, (words, res.output)
    return res.output


def test_every_command_has_help_ending_with_an_example():
    every = dict(_commands(typer.main.get_command(app)))
    # the walk reaches groups' sub-commands, and every command the README names
    assert {("farm", "up"), ("farm", "down"), ("farm", "status")} <= set(every)
    named = {"generate", "plan", "render", "resume", "cancel", "runs", "show", "status", "test"}
    assert {(n,) for n in named | {"sim", "wait", "logs", "report", "assemble"}} <= set(every)
    for words, is_group in every.items():
        if is_group:  # a group lists its commands instead of showing an example
            text = _help(words)
            assert all(w[:-1] != words or w[-1] in text for w in every), words
            continue
        lines = [line.strip(" │") for line in _help(words).splitlines() if line.strip(" │")]
        assert lines[-1].startswith(f"Example: videofactory {' '.join(words)}"), (words, lines[-3:])


def test_status_without_farm_describes_the_builtin_farm(tmp_path):
    res = run_cli(["status", "--json"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["simulated"] is True
    assert [w["card"] for w in data["workers"]] == ["RTX 5090"] + ["RTX 3090"] * 4 + [
        "RTX 4080 Super"
    ]
    table = run_cli(["status"], cwd=tmp_path)
    assert "RTX 4080 Super" in table.stdout and "control" in table.stdout


def test_status_with_unreachable_farm_fails(tmp_path):
    (tmp_path / "factory.yaml").write_text(
        "workers:\n  - {id: g, card: X, vram_gb: 8, url: 'http://127.0.0.1:9'}\n"
    )
    res = run_cli(["status", "--json"], cwd=tmp_path)
    assert res.returncode == 1
    data = json.loads(res.stdout)
    assert data["reachable"] == 0 and data["workers"][0]["reachable"] is False
    assert "cannot reach" in data["workers"][0]["error"]


def test_seed_scripts_match_the_cli(tmp_path):
    a = run_cli(["status", "--json"], cwd=tmp_path)
    b = run_cli(["status", "--json"], cwd=tmp_path, script="dispatcher.py")
    assert a.returncode == b.returncode == 0 and json.loads(a.stdout) == json.loads(b.stdout)
    # run from the repo root, verbatim, without installing (the script finds the package)
    c = subprocess.run(
        [sys.executable, "scripts/dispatcher.py", "status"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert c.returncode == 0 and "RTX 5090" in c.stdout


def test_test_command_against_a_running_sim(tmp_path):
    from videofactory.sim.farm import SimFarm, SimWorkerSpec

    with SimFarm(
        [SimWorkerSpec(name="gpu0", card="RTX 5090", vram_gb=32)], tmp_path / "sim"
    ) as farm:
        url = farm.urls["gpu0"]
        res = run_cli(["test", "--url", url, "--json"], cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        report = last_json(res.stdout)
        names = [s["name"] for s in report["steps"]]
        assert report["ok"] and names[:2] == ["system_stats", "object_info"]
        assert "download" in names
        assert "videofactory simulator" in report["steps"][0]["detail"]
        res = run_cli(["test", "--url", url], cwd=tmp_path, script="comfyui_api.py")
        assert res.returncode == 0 and "ComfyUI server works" in res.stdout


def test_test_command_says_what_failed(tmp_path):
    res = run_cli(["test", "--url", "http://127.0.0.1:9", "--json"], cwd=tmp_path)
    assert res.returncode == 1
    report = last_json(res.stdout)
    assert not report["ok"] and report["steps"][0]["name"] == "system_stats"
    assert "cannot reach ComfyUI at http://127.0.0.1:9" in report["steps"][0]["detail"]


def test_render_dry_run_on_the_built_in_farm_submits_nothing(tmp_path):
    plan = run_cli(["plan", "warrior in mystical forest", "-d", "20", "-o", "shots.yaml"],
                   cwd=tmp_path)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    res = run_cli(["render", "shots.yaml", "--dry-run", "--json"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["ok"] and data["dry_run"] and data["impossible"] == []
    kinds = {k["kind"]: k for k in data["kinds"]}
    assert kinds["keyframe"]["able"] == ["gpu5"] and kinds["hero"]["able"] == ["gpu0"]
    assert kinds["clip"]["tasks"] == 4 and kinds["clip"]["gpu_s"] > kinds["keyframe"]["gpu_s"]
    assert data["gpu_s"] == pytest.approx(sum(k["gpu_s"] for k in data["kinds"]), abs=0.2)
    assert not (tmp_path / "runs").exists()  # nothing recorded
    table = run_cli(["render", "shots.yaml", "--dry-run"], cwd=tmp_path)
    assert "can run this plan" in table.stdout and "nothing was submitted" in table.stdout
