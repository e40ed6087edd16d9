"""The watching commands for real: --json event lines, --detach with show/wait/logs/report,
the live lanes on a terminal (a pty), failures as one line (--help: tests/e2e)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from runkit import json_lines, write_shots
from subprocs import run_cli
from typer.testing import CliRunner

from videofactory.cli import app
from videofactory.store import Store

SMALL = ["--duration", "4", "--clip-seconds", "2", "--width", "160", "--height", "96"]


def test_the_run_commands_offer_detach_and_json():
    runner = CliRunner()
    for name in ("generate", "render", "resume"):
        res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "240"})
        assert res.exit_code == 0, res.output
        assert "--detach" in res.output and "--json" in res.output


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nope"],
        ["wait", "nope"],
        ["logs", "nope", "--follow"],
        ["report", "nope"],
        ["resume", "nope", "--detach"],
        ["cancel", "nope"],
    ],
)
def test_a_missing_run_is_one_line_without_a_traceback(tmp_path, args):
    Store.for_workdir(tmp_path / "w").close()
    res = run_cli([*args, "--workdir", "w"], cwd=tmp_path, timeout=60)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no run 'nope'"), res.stderr
    assert "`videofactory runs` lists the runs" in lines[0]


def test_errors_show_a_traceback_only_with_debug(tmp_path):
    res = run_cli(["wait", "nope", "--workdir", "nowhere"], cwd=tmp_path, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    expected = "error: no run database in nowhere; pass --workdir where the runs are"
    assert res.stderr.strip() == expected
    res = run_cli(["--debug", "wait", "nope", "--workdir", "nowhere"], cwd=tmp_path, timeout=60)
    assert res.returncode != 0 and "Traceback" in res.stderr and "StoreError" in res.stderr


@pytest.mark.slow
def test_generate_json_is_one_event_per_line_ending_with_the_result(cli, tmp_path):
    res = cli("generate", "cat on the moon", *SMALL, "--json", "--workdir", "w")
    assert res.returncode == 0, res.stderr[-3000:]
    *events, result = json_lines(res.stdout)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_done"
    assert {"task_submitted", "task_started", "task_done"} <= set(kinds)
    assert {e["run_id"] for e in events} == {result["run_id"]}
    assert all("ts" in e for e in events) and "kind" not in result
    assert result["ok"] and result["duration_s"] == pytest.approx(4.0, abs=0.1)
    report = tmp_path / result["report"]
    assert report.name == "report.html" and report.parent == (tmp_path / result["final"]).parent
    assert (report.parent / "timeline.png").is_file()


@pytest.mark.slow
def test_detached_render_show_wait_logs_report_and_resume(tmp_path):
    shots = write_shots(tmp_path / "shots.yaml", "cat on the moon")
    # started from a session of its own, like a terminal
    parent = subprocess.run(
        [sys.executable, "-m", "videofactory", "render", str(shots), "--detach", "--json",
         "--workdir", "w"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, start_new_session=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert parent.returncode == 0, parent.stderr
    started = json.loads(parent.stdout)
    run_id, pid = started["run_id"], started["pid"]
    assert started["ok"] and started["detached"] and started["log"].endswith("run.log")
    try:
        # a session of its own: closing the terminal it came from does not hang it up
        assert os.getsid(pid) == pid != os.getsid(0)
    except ProcessLookupError:  # pragma: no cover - it already finished
        pass
    shown = run_cli(["show", run_id, "--json", "--workdir", "w"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    live = json.loads(shown.stdout)["live"]
    assert live["state"] in ("starting", "running", "done") and live["driver_pid"]
    assert live["detached"]["pid"] == pid and live["tasks_total"] == 11  # 2 shots and the look

    waited = run_cli(["wait", run_id, "--workdir", "w"], cwd=tmp_path, timeout=240)
    assert waited.returncode == 0, waited.stderr[-3000:]
    assert "done" in waited.stdout and "final.mp4" in waited.stdout and "report:" in waited.stdout
    assert "run_done" in waited.stderr  # its progress, as plain lines off a terminal

    shown = json.loads(run_cli(["show", run_id, "--json", "--workdir", "w"], cwd=tmp_path).stdout)
    assert shown["state"] == "done" and shown["live"]["state"] == "done"
    assert shown["live"]["tasks_done"] == 11 and not shown["live"]["driver_alive"]
    text = run_cli(["show", run_id, "--workdir", "w"], cwd=tmp_path).stdout
    assert "state: done" in text and "report:" in text

    logs = run_cli(["logs", run_id, "--workdir", "w"], cwd=tmp_path)
    lines = logs.stdout.splitlines()
    assert "run_started" in lines[0] and "run_done" in lines[-1]
    assert "run_done" in (tmp_path / started["log"]).read_text()  # the process's own output

    again = run_cli(["wait", run_id, "--json", "--workdir", "w"], cwd=tmp_path)
    *events, result = json_lines(again.stdout)
    assert again.returncode == 0 and events[0]["kind"] == "run_started"
    assert result["ok"] and result["state"] == "done" and result["width"] == 160

    report = run_cli(["report", run_id, "--json", "-o", "rep", "--workdir", "w"], cwd=tmp_path)
    assert report.returncode == 0 and (tmp_path / "rep" / "report.html").is_file()

    # a resume of a finished run, detached too: nothing to render, it ends well again
    resumed = run_cli(["resume", run_id, "--detach", "--workdir", "w"], cwd=tmp_path)
    assert resumed.returncode == 0 and resumed.stdout.strip() == run_id
    assert run_cli(["wait", run_id, "-q", "--workdir", "w"], cwd=tmp_path).returncode == 0


def test_a_failed_run_and_a_dead_driver_exit_non_zero(tmp_path):
    shots = write_shots(tmp_path / "shots.yaml")
    farm = tmp_path / "factory.yaml"
    farm.write_text("workers:\n  - {id: g, card: X, vram_gb: 32, url: 'http://127.0.0.1:9'}\n")
    res = run_cli(["render", str(shots), "--farm", str(farm), "--detach", "--workdir", "w"],
                  cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.strip()
    waited = run_cli(["wait", run_id, "--json", "--workdir", "w"], cwd=tmp_path, timeout=120)
    assert waited.returncode == 1
    failure = json_lines(waited.stdout)[-1]
    assert failure["ok"] is False and failure["run_id"] == run_id
    assert "no worker of the farm is reachable" in failure["error"]
    assert len(waited.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert (tmp_path / "w" / run_id / "report.html").is_file()  # a failed run has its report

    # its process dies before it records anything: the run reads as stopped, not running
    res = run_cli(["render", str(shots), "--farm", str(farm), "--detach", "--json",
                   "--workdir", "w"], cwd=tmp_path)  # fmt: skip
    started = json.loads(res.stdout)
    farm.unlink()  # the background process cannot read its farm file any more
    waited = run_cli(["wait", started["run_id"], "--workdir", "w"], cwd=tmp_path, timeout=120)
    assert waited.returncode == 1
    (line,) = waited.stderr.strip().splitlines()[-1:]
    assert "stopped" in line and "its log ends with: error:" in line
    assert f"videofactory resume {started['run_id']}" in line
    shown = json.loads(
        run_cli(["show", started["run_id"], "--json", "--workdir", "w"], cwd=tmp_path).stdout
    )
    assert shown["state"] == "planned" and shown["live"]["state"] == "stopped"


def test_resume_detach_is_refused_while_a_process_drives_the_run(tmp_path):
    from videofactory.factory import record_run
    from videofactory.planning import plan_rules

    plan = plan_rules("cat on the moon", 4, width=160, height=96, clip_s=2.0)
    run_id, run_dir = record_run(plan, workdir=tmp_path / "w")
    (run_dir / "detached.json").write_text(
        json.dumps({"run_id": run_id, "pid": os.getpid(), "log": str(run_dir / "run.log"),
                    "argv": [], "started_at": time.time()})
    )  # fmt: skip
    res = run_cli(["resume", run_id, "--detach", "--workdir", "w"], cwd=tmp_path)
    assert res.returncode == 1
    assert f"driven by process {os.getpid()}" in res.stderr and "videofactory wait" in res.stderr
    shown = json.loads(run_cli(["show", run_id, "--json", "--workdir", "w"], cwd=tmp_path).stdout)
    assert shown["live"]["state"] == "starting" and shown["live"]["eta_s"] > 0


@pytest.mark.slow
def test_live_lanes_on_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    shots = write_shots(tmp_path / "shots.yaml", "cat on the moon")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="40")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "videofactory", "render", str(shots), "--workdir", "w"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=240) == 0
    import re

    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))
    assert "RTX 4080 Super" in screen and "control" in screen and "primary" in screen
    assert re.search(r"keyframe s0\d", screen) and re.search(r"clip s0\d", screen)
    # 2 shots: 9 tasks, and the film's look (a character sheet, a setting plate) before them
    assert re.search(r"\d+/11 tasks", screen) and "ETA" in screen
    assert re.search(r"\d+\.\d/(32|24|16)", screen)  # VRAM read from the servers
    assert "done" in screen and "final.mp4" in screen
