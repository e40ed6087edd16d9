"""``videofactory mcp`` for real: the SDK's own client against the server run as a subprocess,
over stdio (the way Claude Desktop and Claude Code start it) and over streamable HTTP.

One run of a tiny film (2 shots, 160x96, the built-in simulated farm at time scale 0) carries
the stdio test: plan, render (a run id at once), a bounded wait, the run's end, a shot's
picture, a re-assembly, and bad input answered as tool errors while the server goes on."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import StdioServerParameters, stdio_client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image
from subprocs import HOSTED_API_KEYS

TOOLS = {
    "farm_status", "plan", "render", "run_status", "wait", "show_shot", "redo", "cancel",
    "assemble", "list_runs", "pick",
}  # fmt: skip


def _env() -> dict[str, str]:
    """The test's environment without VIDEOFACTORY_* settings or hosted-API keys."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIDEOFACTORY_") and k not in HOSTED_API_KEYS
    }


def _server(cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "videofactory", "mcp", "--workdir", "w"],
        cwd=str(cwd),
        env=_env(),
    )


async def _call(session: ClientSession, tool: str, args: dict[str, Any]) -> Any:
    """A call that must succeed: its structured answer."""
    res = await session.call_tool(tool, args)
    assert not res.is_error, f"{tool}: {res.content[0].text}"
    return res.structured_content


async def _error(session: ClientSession, tool: str, args: dict[str, Any]) -> str:
    """A call that must fail as a tool error: its one line."""
    res = await session.call_tool(tool, args)
    assert res.is_error, f"{tool} {args} did not fail: {res.content}"
    (text,) = [c.text for c in res.content]
    assert "\n" not in text and "Traceback" not in text, text
    return text


def test_the_tools_over_stdio_plan_render_wait_show_and_refuse_bad_input(tmp_path):
    async def session_script() -> None:
        errlog = open(tmp_path / "server.log", "w")  # noqa: SIM115 - the server's stderr
        try:
            async with (
                stdio_client(_server(tmp_path), errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await _conversation(session, tmp_path)
        finally:
            errlog.close()

    anyio.run(session_script)


async def _conversation(session: ClientSession, tmp_path: Path) -> None:
    listed = {t.name: t for t in (await session.list_tools()).tools}
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool.description and tool.input_schema["type"] == "object"
    plan_schema = listed["plan"].input_schema
    assert plan_schema["required"] == ["concept"]
    assert plan_schema["properties"]["duration"]["exclusiveMinimum"] == 0
    assert {"run", "timeout_s"} <= set(listed["wait"].input_schema["properties"])
    assert {"preview", "takes"} <= set(listed["render"].input_schema["properties"])

    # bad input first: the server answers each with one line and goes on
    assert "duration: Input should be greater than 0 (got -5)" in await _error(
        session, "plan", {"concept": "cat on the moon", "duration": -5}
    )
    no_run = await _error(session, "wait", {"run": "nope", "timeout_s": 1})
    assert "no run database in" in no_run  # nothing rendered in w yet
    malformed = await _error(session, "render", {"shotlist": {"concept": "x", "shots": "two"}})
    assert "shotlist" in malformed and "duration" in malformed and "shots" in malformed
    assert "either as shotlist" in await _error(session, "render", {})

    shots = await _call(
        session,
        "plan",
        {"concept": "cat on the moon", "duration": 4, "clip_seconds": 2, "width": 160,
         "height": 96, "planner": "rules"},
    )  # fmt: skip
    assert shots["concept"] == "cat on the moon" and len(shots["shots"]) == 2
    assert {"id", "prompt", "duration", "narration"} <= set(shots["shots"][0])

    started = await _call(session, "render", {"shotlist": shots, "takes": 2})
    run_id = started["run_id"]
    assert started["state"] == "starting" and started["shots"] == 2 and started["pid"]
    assert (tmp_path / "w" / run_id / "shots.yaml").is_file()  # recorded before it answered

    # bounded: a zero timeout answers at once with the state it finds, whatever it is
    early = await _call(session, "wait", {"run": run_id, "timeout_s": 0})
    assert early["run_id"] == run_id and early["tasks_total"] == 13  # 2 takes a shot, 2 looks
    assert early["timed_out"] is (not early["finished"])
    assert "unknown" not in json.dumps(early)

    done = await _call(session, "wait", {"run": run_id[:20], "timeout_s": 120})
    assert done["finished"] and not done["timed_out"] and done["state"] == "done", done
    assert done["result"]["final"].endswith("final.mp4") and done["result"]["width"] == 160
    assert [s["id"] for s in done["shots"]] == ["s01", "s02"]
    assert "keyframe" in done["shots"][0]["files"]

    # the picture: the clip's frame as image content, a real PNG of the clip's size
    res = await session.call_tool("show_shot", {"run": run_id, "shot": "s02", "source": "clip"})
    assert not res.is_error, res.content
    image, text = res.content
    assert image.type == "image" and image.mime_type == "image/png"
    picture = Image.open(io.BytesIO(base64.b64decode(image.data)))
    assert picture.format == "PNG" and picture.size == (160, 96)
    info = json.loads(text.text)
    assert info["source"] == "clip" and info["shot"] == "s02" and info["at_s"] == 1.0
    res = await session.call_tool("show_shot", {"run": run_id, "shot": "s01", "max_side": 64})
    picture = Image.open(io.BytesIO(base64.b64decode(res.content[0].data)))
    assert max(picture.size) == 64  # scaled to fit, the shape kept
    assert "has no shot 's09'; its shots are s01, s02" in await _error(
        session, "show_shot", {"run": run_id, "shot": "s09"}
    )

    # a take's frame, and a pick: the film re-assembled with it, nothing rendered
    res = await session.call_tool("show_shot", {"run": run_id, "shot": "s02", "take": 2})
    assert not res.is_error, res.content
    assert json.loads(res.content[1].text)["take"] == 2
    assert "has no take 3 (takes: 1, 2)" in await _error(
        session, "show_shot", {"run": run_id, "shot": "s02", "take": 3}
    )
    picked = await _call(session, "pick", {"run": run_id, "shot": "s02", "take": 2})
    if not picked["reassembled"]:  # the film used take 2 already (the better score)
        assert picked["previous"] == 2, picked
        picked = await _call(session, "pick", {"run": run_id, "shot": "s02", "take": 1})
    assert picked["reassembled"], picked
    # s02 is marked hero: its pass moves to the picked take, rendered in a background process
    # (the tool answers at once), then the film is re-assembled: wait follows it.
    assert [s.get("hero") for s in shots["shots"]] == [True, True]
    assert picked["detached"] and f"wait {run_id}" in picked["message"], picked
    moved = await _call(session, "wait", {"run": run_id, "timeout_s": 120})
    assert moved["finished"] and moved["state"] == "done", moved
    assert moved["result"]["final"].endswith("final.v2.mp4"), moved
    assert moved["shots"][1]["files"].get("hero"), moved["shots"]
    # Nothing rendered again but that hero pass: a clip attempt per take, two of s02's hero.
    from videofactory.store import Store

    with Store.for_workdir(tmp_path / "w") as store:
        attempts = [a["task_id"].split("/", 1)[1] for a in store.attempts(run_id)]
    assert sum("/clip" in a for a in attempts) == 4 and attempts.count("s02/hero") == 2, attempts
    assert "take" in await _error(session, "pick", {"run": run_id, "shot": "s02", "take": 7})

    # a new cut of the film, no GPU work; and a cancel of a finished run changes nothing
    cut = await _call(session, "assemble", {"run": run_id, "transition": "crossfade"})
    assert cut["final"].endswith(".mp4") and cut["transition"] == "fade"  # xfade's name
    assert Path(cut["final"]).is_file() and cut["duration_s"] == pytest.approx(4.0, abs=0.2)
    assert (await _call(session, "cancel", {"run": run_id}))["state"] == "done"
    assert "no run 'nope'" in await _error(session, "run_status", {"run": "nope"})
    runs = (await _call(session, "list_runs", {}))["runs"]
    assert [r["id"] for r in runs] == [run_id] and runs[0]["state"] == "done"

    # a render cancelled at once, while its process still starts: the cancel stands
    other = (await _call(session, "render", {"shotlist": shots, "fresh": True}))["run_id"]
    assert (await _call(session, "cancel", {"run": other}))["state"] == "cancelled"
    ended = await _call(session, "wait", {"run": other, "timeout_s": 60})
    assert ended["finished"] and ended["state"] == "cancelled", ended
    assert not (tmp_path / "w" / other / "final.mp4").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_tools_over_streamable_http_on_loopback(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "videofactory", "mcp", "--http", str(port), "--workdir", "w"],
        cwd=tmp_path, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # until it listens (its start-up: imports of the SDK and its web stack)
            assert proc.poll() is None, proc.communicate()[1]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.2)

        async def session_script() -> None:
            url = f"http://127.0.0.1:{port}/mcp"
            async with (
                streamable_http_client(url) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                assert names == TOOLS
                farm = await _call(session, "farm_status", {})
                assert farm["simulated"] and len(farm["workers"]) == 6
                assert "no run" in await _error(session, "cancel", {"run": "nope"})

        anyio.run(session_script)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/mcp" in err
