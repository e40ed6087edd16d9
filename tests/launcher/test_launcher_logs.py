"""Rotated server logs, `videofactory sim` as the server command, and a run across a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from videofactory.factory import render_shotlist
from videofactory.launcher import farm_status, farm_up, restarts_since
from videofactory.launcher.logs import LogFile, pump
from videofactory.planning import plan_rules

from .conftest import Farms, records, wait_for


def test_log_file_rotates_and_keeps_a_few(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "gpu0.log", max_bytes=1000, keep=2)
    for i in range(100):
        log.write(f"line {i:03d} " + "x" * 40)
    log.note("restart 1 (exited): killed by SIGKILL")
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["gpu0.log", "gpu0.log.1", "gpu0.log.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    last = (tmp_path / "gpu0.log").read_text().splitlines()
    assert last[-2].startswith("line 099") and last[-1].startswith("[videofactory farm ")
    assert last[-1].endswith("] restart 1 (exited): killed by SIGKILL")


def test_pump_splits_progress_bars_and_long_lines(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "s.log", max_bytes=10**6, keep=1)

    async def feed() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"Loading model\r\n 10%|#   |\r 50%|##  |\r100%|####|\n")
        reader.feed_data(b"y" * 70_000 + b"\n" + "caf\u00e9 \xff".encode("utf-8", "replace"))
        reader.feed_data(b"\xff tail without newline")
        reader.feed_eof()
        await pump(reader, log)

    asyncio.run(feed())
    log.close()
    lines = (tmp_path / "s.log").read_text(encoding="utf-8").splitlines()
    assert lines[:4] == ["Loading model", " 10%|#   |", " 50%|##  |", "100%|####|"]
    assert [len(line) for line in lines[4:6]] == [65536, 70_000 - 65536]
    assert lines[6] == "caf\u00e9 \u00ff\ufffd tail without newline"


def test_server_logs_are_rotated_under_the_farm_folder(farms: Farms) -> None:
    chatty = (
        "{python} -c \"import sys; [print('warming up', i) for i in range(3000)]; "
        'from videofactory.sim.__main__ import main; sys.exit(main(sys.argv[1:]))"'
    )
    path = farms.write([{"id": "gpu0", "command": chatty}], log_max_mb=0.01, log_keep=2)
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    logs = Path(farm.launcher.folder) / "logs"
    ready = wait_for(
        lambda: '"event": "ready"' in (logs / "gpu0.log").read_text(), 20, "the ready line"
    )
    assert ready
    assert sorted(p.name for p in logs.glob("gpu0.log*")) == [
        "gpu0.log",
        "gpu0.log.1",
        "gpu0.log.2",
    ]
    assert all(p.stat().st_size <= 0.01 * 1024 * 1024 for p in logs.glob("gpu0.log*"))
    assert "warming up 2999" in (logs / "gpu0.log").read_text()
    assert "supervisor pid" in (logs / "supervisor.log").read_text()


def test_videofactory_sim_stands_in_for_comfyui(farms: Farms) -> None:
    path = farms.write(
        [{"id": "control", "cuda_device": 5}],
        command="{python} -m videofactory sim --time-scale 0",
    )
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    (row,) = farm_status(farm)["workers"]
    # GPU 5 of the seed's rig: the RTX 4080 Super, labelled as simulated.
    assert row["device"] == "cuda:0 NVIDIA GeForce RTX 4080 Super : videofactory simulator"
    stats = httpx.get(f"{row['url']}/system_stats", trust_env=False).json()
    argv = stats["system"]["argv"]
    assert "--user-directory" in argv and "--disable-auto-launch" in argv
    assert (Path(farm.launcher.folder) / "workers" / "control" / "input" / "example.png").exists()
    log = Path(row["log"]).read_text()
    assert "note: ignoring --user-directory" in log and "--disable-auto-launch" in log


@pytest.mark.slow
def test_a_run_goes_on_while_a_managed_server_is_restarted(farms: Farms, tmp_path: Path) -> None:
    path = farms.write(
        [
            {"id": "gpu0", "card": "RTX 5090", "vram_gb": 32, "roles": ["primary", "control"]},
            # Dies in the middle of its second job, every time it is started.
            {"id": "gpu1", "roles": ["worker"], "extra_args": ["--crash-after", "1"]},
        ]
    )
    text = path.read_text() + (
        "dispatch: {probe_interval_s: 0.5, progress_timeout_floor_s: 20, no_worker_timeout_s: 60}\n"
    )
    path.write_text(text)
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    t0 = time.time()
    shots = plan_rules("warrior in mystical forest", 6, width=160, height=96, clip_s=2.0)
    events: list[str] = []
    result = render_shotlist(
        shots,
        workdir=tmp_path / "runs",
        farm_file=str(path),
        on_event=lambda e: events.append(e.kind),
    )
    assert result.final is not None and result.final.exists()
    assert result.media is not None and abs(result.media.duration_s - 6.0) < 0.1
    restarts = restarts_since(farm, t0)
    assert restarts and {r["worker"] for r in restarts} == {"gpu1"}
    assert restarts[0]["cause"] == "exited" and restarts[0]["detail"] == "killed by SIGKILL"
    assert "back_at" in restarts[0]
    # The dispatcher saw the worker go and come back (its normal failover).
    assert "worker_down" in events and "task_failed" in events
    assert records(farm, "gave_up") == []
