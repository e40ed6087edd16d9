"""The run view: JSON lines, plain log lines, and the live lanes (VRAM from a real simulator)."""

from __future__ import annotations

import io
import json
import time

from rich.console import Console

from videofactory.events import Event
from videofactory.farm.dag import build_tasks
from videofactory.planning import plan_rules
from videofactory.sim.options import SimOptions
from videofactory.sim.thread import ServerThread
from videofactory.store import Store
from videofactory.watching.live import RunView, format_line

RUN = "20261125-120000-cat-0001"


def ev(kind, task=None, worker=None, **kw) -> Event:
    return Event(kind=kind, run_id=RUN, task_id=task, worker=worker, **kw)


def test_json_lines_are_one_event_each():
    out = io.StringIO()
    with RunView(json_lines=True, stdout=out) as view:
        view(ev("run_started", message="3 tasks", data={"tasks": 3}))
        view(ev("task_progress", f"{RUN}/s01/clip", "gpu1", value=1.0, max=4.0))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["kind"] for e in lines] == ["run_started", "task_progress"]
    assert lines[1]["worker"] == "gpu1" and lines[1]["value"] == 1.0 and "ts" in lines[1]


def test_plain_lines_when_not_a_terminal(capsys):
    console = Console(file=io.StringIO(), force_terminal=False)
    with RunView(console=console) as view:
        view(ev("run_started", message="3 tasks on 1 GPU", ts=10.0))
        view(ev("task_progress", f"{RUN}/s01/clip", "gpu1", value=1.0, max=4.0, ts=11.0))
        view(ev("task_failed", f"{RUN}/s01/clip", "gpu1", message="clip s01: boom", ts=12.5))
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "    0.0s run_started     3 tasks on 1 GPU",
        "    2.5s task_failed     [gpu1] clip s01: boom",
    ]
    assert format_line(ev("warning", message="x", ts=5.0), None).endswith("warning         x")


def test_live_lanes_show_card_role_task_progress_vram_eta_and_retries(tmp_path):
    shotlist = plan_rules("cat on the moon", 4, width=160, height=96, clip_s=2.0)
    with ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0, card="RTX 5090")) as sim:
        farm = {
            "name": "t",
            "workers": [
                {"id": "gpu0", "card": "RTX 5090", "vram_gb": 32, "roles": ["primary"],
                 "url": sim.url, "speed": 1.0},
                {"id": "gpu1", "card": "RTX 3090", "vram_gb": 24, "roles": ["worker"],
                 "url": "http://127.0.0.1:9", "speed": 0.55},
            ],
        }  # fmt: skip
        with Store.for_workdir(tmp_path / "w") as store:
            store.create_run(RUN, plan={"concept": "cat", "duration": 4, "shots": []},
                             run_dir=tmp_path / "w" / RUN, farm=farm)  # fmt: skip
            store.add_tasks(RUN, [t.to_record() for t in build_tasks(RUN, shotlist)])
        screen = io.StringIO()
        console = Console(file=screen, force_terminal=True, width=150, color_system=None)
        with RunView(console=console, workdir=tmp_path / "w", vram_poll_s=0.1) as view:
            assert view.live
            view(ev("run_started", message="9 tasks", data={"tasks": 9}))
            view(ev("task_submitted", f"{RUN}/s01/clip", "gpu1"))
            view(ev("task_started", f"{RUN}/s01/clip", "gpu1"))
            view(ev("task_progress", f"{RUN}/s01/clip", "gpu1", value=3.0, max=4.0))
            view(ev("task_submitted", f"{RUN}/s01/hero", "gpu0"))
            view(ev("task_submitted", f"{RUN}/s02/hero", "gpu0"))
            view(ev("task_started", f"{RUN}/s01/hero", "gpu0"))
            view(ev("task_failed", f"{RUN}/s02/clip", "gpu1", message="clip s02 on gpu1: boom"))
            end = time.monotonic() + 10
            while view.watch.lanes["gpu0"].vram_total_gb is None and time.monotonic() < end:
                time.sleep(0.05)
            shown = Console(file=io.StringIO(), width=150, color_system=None, record=True)
            shown.print(view.render())
            text = shown.export_text()
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "RTX 5090" in lines["gpu0"] and "primary" in lines["gpu0"]
    assert "hero s01" in lines["gpu0"] and "+1 queued" in lines["gpu0"]
    assert "/32" in lines["gpu0"]  # VRAM read from the simulator's /system_stats
    assert "RTX 3090" in lines["gpu1"] and "worker" in lines["gpu1"]
    assert "clip s01" in lines["gpu1"] and "75%" in lines["gpu1"] and "(1 failed)" in lines["gpu1"]
    header = text.splitlines()[0]
    assert RUN in header and "0/11 tasks" in header and "ETA" in header and "retries 1" in header
    assert "clip s02 on gpu1: boom" in screen.getvalue()  # the retry, printed as it happened
