"""The ComfyUI client over real HTTP and websockets against the simulator."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient
from videofactory.comfy.results import OutputRef, PromptResult
from videofactory.errors import (
    BackendUnavailable,
    ExecutionFailed,
    Interrupted,
    ProtocolError,
    WorkflowRejected,
)

from .conftest import fixture_workflow

PNG = b"\x89PNG\r\n\x1a\n"


def slow_image(seed: int = 1) -> dict:
    return {
        "1": {
            "class_type": "SimTextToImage",
            "inputs": {
                "prompt": "slow",
                "negative": "",
                "seed": seed,
                "width": 96,
                "height": 96,
                "steps": 30,
            },
        },
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": "t/slow"},
        },
    }


def test_round_trip_download_and_cache(sim_url, tmp_path):
    async def go():
        async with ComfyClient(sim_url) as c:
            wf = tiny_workflow("t/img")
            first = await c.run(wf)
            (ref,) = first.outputs
            path = await c.download(ref, tmp_path / "out" / "a.png")
            assert path.read_bytes()[:8] == PNG
            again = await c.run(wf)  # identical resubmission: served from cache, same file
            assert again.fully_cached and not first.fully_cached
            assert again.outputs[0].filename == ref.filename
            assert again.prompt_id != first.prompt_id

    asyncio.run(go())


def _history_requests(url: str, pid: str) -> int:
    import httpx

    log = httpx.get(url + "/sim/requests", timeout=5).json()
    return sum(1 for e in log if e["event"] == "request" and e["path"].endswith(pid))


def test_a_success_seen_whole_on_the_socket_needs_no_history_request(sim_url):
    async def go():
        async with ComfyClient(sim_url) as c:
            wf = tiny_workflow("t/ws")
            fresh = await c.run(wf)
            cached = await c.run(wf)  # served from cache: its outputs replayed by "executed"
            return fresh, cached

    fresh, cached = asyncio.run(go())
    assert fresh.raw["from"] == "websocket" and _history_requests(sim_url, fresh.prompt_id) == 0
    assert fresh.outputs[0].filename.startswith("ws") and fresh.started_ms and fresh.finished_ms
    assert cached.fully_cached and cached.outputs[0].filename == fresh.outputs[0].filename


def _wait_across_a_dropped_socket(url: str, seed: int) -> tuple[PromptResult, int]:
    """Submit a slow prompt, cut the websocket mid-prompt, wait for the verdict; return it
    and how many times the socket was opened."""

    async def go():
        async with ComfyClient(url) as c:
            pid = await c.submit(slow_image(seed=seed))
            waiter = asyncio.create_task(c.wait(pid))
            await asyncio.sleep(0.3)
            await c.drop_websocket()  # mid-prompt
            return await asyncio.wait_for(waiter, 30), c.ws_connects

    return asyncio.run(go())


def test_a_prompt_seen_across_a_reconnect_is_confirmed_by_history(slow_sim_url):
    result, _ = _wait_across_a_dropped_socket(slow_sim_url, seed=3)
    assert "from" not in result.raw and result.outputs  # the /history entry itself
    assert _history_requests(slow_sim_url, result.prompt_id) >= 1


def test_video_output_listed_under_images(sim_url, tmp_path):
    async def go():
        async with ComfyClient(sim_url) as c:
            events = []
            result = await c.run(
                fixture_workflow("video_frames_to_mp4.json"),
                on_event=lambda pid, name, data: events.append(name),
            )
            (ref,) = result.outputs
            assert ref.key == "images" and ref.animated and ref.suffix == ".mp4"
            path = await c.download(ref, tmp_path / "clip.mp4")
            assert path.stat().st_size > 1000
            assert events[0] == "execution_start" and "execution_success" in events

    asyncio.run(go())


def test_rejection_lines_name_node_and_input(sim_url):
    async def go():
        async with ComfyClient(sim_url) as c:
            with pytest.raises(WorkflowRejected) as info:
                await c.submit(fixture_workflow("invalid_missing_input.json"))
            assert any("node 1" in p and "'height'" in p for p in info.value.problems)
            with pytest.raises(WorkflowRejected, match="NoSuchNode does not exist"):
                await c.submit(fixture_workflow("invalid_unknown_class.json"))

    asyncio.run(go())


def test_partial_acceptance_is_a_failure(sim_url):
    async def go():
        async with ComfyClient(sim_url) as c:
            with pytest.raises(WorkflowRejected, match="part of the workflow is invalid"):
                await c.submit(fixture_workflow("partial_one_bad_output.json"))

    asyncio.run(go())


def test_runtime_error_maps_to_execution_failed(sim_url, tmp_path):
    async def go():
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"this is not an image")
        async with ComfyClient(sim_url) as c:
            name = await c.upload(broken)
            wf = fixture_workflow("runtime_error_corrupt_image.json")
            wf["1"]["inputs"]["image"] = name
            with pytest.raises(ExecutionFailed) as info:
                await c.run(wf)
            assert info.value.node_type == "LoadImage"

    asyncio.run(go())


def test_upload_uses_the_name_the_server_returns(sim_url, tmp_path):
    async def go():
        a, b = tmp_path / "a" / "ref.png", tmp_path / "b" / "ref.png"
        for p, data in ((a, PNG + b"one"), (b, PNG + b"two")):
            p.parent.mkdir()
            p.write_bytes(data)
        async with ComfyClient(sim_url) as c:
            assert await c.upload(a, subfolder="f", overwrite=False) == "f/ref.png"
            assert await c.upload(b, subfolder="f", overwrite=False) == "f/ref (1).png"

    asyncio.run(go())


def test_upload_form_survives_hostile_file_names(sim_url, tmp_path):
    # The multipart body is built by hand (one write): quotes and line breaks in a name must
    # not break the form, and the content must arrive byte for byte.
    hostile = tmp_path / 'say "hi"\nto:me.png'
    hostile.write_bytes(PNG + bytes(range(256)))

    async def go():
        async with ComfyClient(sim_url) as c:
            name = await c.upload(hostile, subfolder="h")
            ref = OutputRef("0", name.split("/", 1)[1], "h", "input", "images")
            return name, await c.download(ref, tmp_path / "back.png")

    name, back = asyncio.run(go())
    assert name == "h/say %22hi%22%0Ato:me.png"
    assert back.read_bytes() == hostile.read_bytes()


def test_interrupt_own_prompt(slow_sim_url):
    async def go():
        async with ComfyClient(slow_sim_url) as c:
            started = asyncio.Event()
            pid = await c.submit(slow_image())
            waiter = asyncio.create_task(
                c.wait(pid, on_event=lambda p, n, d: started.set() if n == "progress" else None)
            )
            await asyncio.wait_for(started.wait(), 10)
            await c.interrupt(pid)
            with pytest.raises(Interrupted):
                await waiter

    asyncio.run(go())


def test_dropped_websocket_misses_nothing(slow_sim_url):
    result, connects = _wait_across_a_dropped_socket(slow_sim_url, seed=2)
    assert result.outputs and connects >= 2


def test_unknown_prompt_is_reported_lost(sim_url):
    async def go():
        async with ComfyClient(sim_url) as c:
            await c.system_stats()
            with pytest.raises(BackendUnavailable, match="no longer knows prompt"):
                await c.wait("never-submitted", lost_after_s=0.5)

    asyncio.run(go())


def test_unsafe_output_names_are_refused(sim_url, tmp_path):
    async def go():
        async with ComfyClient(sim_url) as c:
            ref = OutputRef("1", "../../etc/passwd", "", "output", "images")
            with pytest.raises(ProtocolError, match="unsafe"):
                await c.download(ref, tmp_path / "x")

    asyncio.run(go())


def test_unreachable_server():
    async def go():
        async with ComfyClient("http://127.0.0.1:9", timeout=2) as c:
            with pytest.raises(BackendUnavailable, match="cannot reach ComfyUI"):
                await c.system_stats()

    asyncio.run(go())


def test_html_server_is_not_comfyui():
    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html><body>router login</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:

        async def go():
            async with ComfyClient(f"http://127.0.0.1:{server.server_port}") as c:
                with pytest.raises(ProtocolError, match="not a ComfyUI server"):
                    await c.system_stats()

        asyncio.run(go())
    finally:
        server.shutdown()
        server.server_close()
