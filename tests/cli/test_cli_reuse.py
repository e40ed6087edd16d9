"""Reuse as a user meets it: `generate` twice, `--fresh`, `cache status|prune`, `redo --detach`
and `wait`, on the built-in simulated farm (real subprocesses, real servers, real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from subprocs import run_cli

pytestmark = pytest.mark.slow

GENERATE = ("generate", "warrior in mystical forest", "-d", "6", "--clip-seconds", "2",
            "--width", "320", "--height", "180", "--json", "-w", "w")  # fmt: skip
#: 3 shots: its look (a character sheet, a setting plate), 3 keyframes, 3 clips, 2 hero passes,
#: 3 narrations.
TASKS = 13


def run(*args: str, cwd: Path, timeout: float = 240):
    return run_cli(args, cwd=cwd, timeout=timeout)


def last(res) -> dict:
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)  # four films and a redo, one after the other
def test_generate_again_reuses_everything_until_pruned(tmp_path):
    first = last(run(*GENERATE, cwd=tmp_path))
    assert (first["tasks_reused"], first["tasks_rendered"]) == (0, TASKS)
    again = last(run(*GENERATE, cwd=tmp_path))
    assert (again["tasks_reused"], again["tasks_rendered"]) == (TASKS, 0)
    status = last(run("cache", "status", "--json", "-w", "w", cwd=tmp_path))
    assert status["entries"] == TASKS and status["bytes"] > 0
    assert status["kinds"]["clip"]["entries"] == 3 and status["kinds"]["hero"]["entries"] == 2
    assert status["shared_bytes"] == status["bytes"]  # every file is also in a run folder
    text = run("cache", "status", "-w", "w", cwd=tmp_path)
    assert f"{TASKS} entries" in text.stdout and "also in run folders" in text.stdout

    fresh = last(run(*GENERATE, "--fresh", cwd=tmp_path))
    assert (fresh["tasks_reused"], fresh["tasks_rendered"]) == (0, TASKS)
    # What --fresh made is cached: a keyframe rendered again has new bytes (ComfyUI, and the
    # simulator, write the prompt into the PNG), so its clip and hero pass have new keys too.
    again = last(run(*GENERATE, cwd=tmp_path))
    assert (again["tasks_reused"], again["tasks_rendered"]) == (TASKS, 0)
    entries = last(run("cache", "status", "--json", "-w", "w", cwd=tmp_path))["entries"]
    assert entries > TASKS

    shots = str(Path(first["run_dir"]) / "shots.yaml")
    dry = last(run("render", shots, "--dry-run", "--json", "-w", "w", cwd=tmp_path))
    assert dry["tasks_reused"] == TASKS and dry["will_run"] == [] and dry["gpu_s"] == 0
    dry_fresh = last(
        run("render", shots, "--dry-run", "--fresh", "--json", "-w", "w", cwd=tmp_path)
    )
    assert dry_fresh["tasks_reused"] == 0 and dry_fresh["gpu_s"] == dry["gpu_s_all"]

    # An agent's redo: recorded at once, rendered in the background, followed with `wait`.
    detached = last(
        run("redo", first["run_id"], "s03", "--prompt", "a storm", "--detach", "--json",
            "-w", "w", cwd=tmp_path)
    )  # fmt: skip
    assert detached["detached"] and detached["run_id"] != first["run_id"]
    done = last(run("wait", detached["run_id"], "--json", "-w", "w", cwd=tmp_path))
    assert done["ok"] and (done["tasks_reused"], done["tasks_rendered"]) == (TASKS - 2, 2)
    shown = last(run("show", detached["run_id"], "-w", "w", "--json", cwd=tmp_path))
    assert shown["redo_of"]["run"] == first["run_id"] and shown["tasks_reused"] == TASKS - 2

    entries = last(run("cache", "status", "--json", "-w", "w", cwd=tmp_path))["entries"]
    pruned = last(run("cache", "prune", "--max-gb", "0", "--json", "-w", "w", cwd=tmp_path))
    assert pruned["removed"] == entries and pruned["freed_bytes"] == 0  # runs still hold them
    assert pruned["entries_left"] == 0
    dry = last(run("render", shots, "--dry-run", "--json", "-w", "w", cwd=tmp_path))
    assert dry["tasks_reused"] == 0 and len(dry["will_run"]) == TASKS


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("cache", "status", "-w", "nowhere"), 1, "no work directory nowhere"),
        (("cache", "prune", "--max-gb", "-1", "-w", "w"), 2, "Invalid value for '--max-gb'"),
        (("redo", "some-run", "s01", "-w", "w"), 1, "no run 'some-run'"),
    ],
)
def test_bad_cache_and_redo_input_is_one_line(tmp_path, args, code, words):
    (tmp_path / "w").mkdir()
    res = run(*args, cwd=tmp_path, timeout=60)
    assert res.returncode == code and words in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
