"""Contract: what a prompt's run looks like through our client: success, cache, failure,
interrupt, cancel, media of every kind, uploads, unknown ids."""

from __future__ import annotations

import asyncio
import random

import av
import httpx
import pytest
from PIL import Image

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient
from videofactory.comfy.results import OutputRef, parse_history_entry
from videofactory.errors import BackendUnavailable, ExecutionFailed, Interrupted

from .conftest import fixture, image_chain, workflow, written_history

MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".webm": b"\x1a\x45\xdf\xa3",
    ".flac": b"fLaC",
    ".mp4": None,  # checked by its ftyp box below
    ".webp": b"RIFF",
}


def test_success_uses_our_ids_and_reads_names_from_history(comfy_server, tmp_path):
    real = fixture("history_image.json")
    ((_, real_entry),) = real.items()
    sub = comfy_server.unique()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            our_id = f"our-own-id-{random.randrange(1 << 30)}"
            pid = await c.submit(tiny_workflow(f"{sub}/img"), prompt_id=our_id)
            assert pid == our_id
            result = await c.wait(pid)
            entry = await written_history(c, pid)
            # Same shape as the real server's entry: 5-element prompt array with our client id.
            assert set(entry) >= set(real_entry) - {"meta"}
            assert entry["prompt"][1] == pid and entry["prompt"][3]["client_id"] == c.client_id
            assert entry["status"]["completed"] and entry["status"]["status_str"] == "success"
            (ref,) = result.outputs
            assert (ref.subfolder, ref.type, ref.key) == (sub, "output", "images")
            assert ref.filename.startswith("img_") and ref.filename.endswith("_.png")
            assert result.seconds is not None and not result.cached_outputs
            (path,) = await c.download_all(result, tmp_path / "dl")
            assert path == (tmp_path / "dl" / sub / ref.filename).resolve()
            with Image.open(path) as im:
                assert im.format == "PNG" and im.size == (64, 48)

    asyncio.run(go())


def test_a_success_seen_whole_on_the_socket_is_what_history_says(comfy_server):
    """The client takes a success seen whole on its socket from the ``executed`` events; they
    must name the very files /history lists."""
    sub = comfy_server.unique()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            wf = image_chain(f"{sub}/ws")
            fresh = await c.run(wf)
            cached = await c.run(wf)  # served from cache: its outputs replayed by "executed"
            log = _sim_log(comfy_server)  # what the client asked while it ran them
            told = {}
            for result in (fresh, cached):
                told[result.prompt_id] = await written_history(c, result.prompt_id)
            return fresh, cached, told, log

    fresh, cached, told, log = asyncio.run(go())
    assert fresh.raw["from"] == "websocket" and fresh.started_ms and fresh.finished_ms
    assert cached.fully_cached and cached.outputs[0].filename == fresh.outputs[0].filename
    for result in (fresh, cached):
        history = parse_history_entry(result.prompt_id, told[result.prompt_id], comfy_server.url)
        assert result.outputs == history.outputs
        assert set(result.cached_outputs) == set(history.cached_outputs)
    if log is not None:  # the simulator's request log: the socket saved the /history request
        asked = [e for e in log if e["event"] == "request" and "/history/" in e["path"]]
        assert not [e for e in asked if e["path"].endswith(fresh.prompt_id)]


def _sim_log(server) -> list[dict] | None:
    """The simulator's log of the requests it was sent (None on a real server)."""
    if not server.simulated:
        return None
    return httpx.get(server.url + "/sim/requests", timeout=5).json()


def test_cached_resubmission_writes_no_new_file(comfy_server):
    real = parse_history_entry("x", next(iter(fixture("history_cached.json").values())), "u")
    assert real.fully_cached
    sub = comfy_server.unique()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            wf = tiny_workflow(f"{sub}/cache")
            first = await c.run(wf)
            again = await c.run(wf)
            assert again.fully_cached and again.cached_outputs == again.outputs
            assert [o.filename for o in again.outputs] == [o.filename for o in first.outputs]
            wf["1"]["inputs"]["color"] ^= 1  # any change runs it again, under a new name
            fresh = await c.run(wf)
            assert not fresh.fully_cached and fresh.outputs[0].filename != first.outputs[0].filename

    asyncio.run(go())


def test_runtime_error_carries_node_and_exception(comfy_server, tmp_path):
    real = fixture("history_error.json")
    ((_, entry),) = real.items()
    want = entry["status"]["messages"][-1][1]

    async def go():
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"this is not an image")
        async with ComfyClient(comfy_server.url) as c:
            wf = workflow("runtime_error_corrupt_image.json")
            wf["1"]["inputs"]["image"] = await c.upload(broken, subfolder=comfy_server.unique())
            with pytest.raises(ExecutionFailed) as info:
                await c.run(wf)
            err = info.value
            assert (err.node_id, err.node_type) == (want["node_id"], want["node_type"])
            assert err.exception_type == want["exception_type"]
            assert "\n" not in str(err) and "LoadImage" in str(err)

    asyncio.run(go())


def test_interrupt_by_prompt_id(comfy_server):
    async def go():
        async with ComfyClient(comfy_server.url) as c:
            held = await comfy_server.hold(c)
            await c.interrupt("someone-elses-prompt")  # not the running one: a no-op
            await asyncio.sleep(0.5)
            assert await c.in_queue(held.prompt_id) and not held.waiter.done()
            assert await c.cancel(held.prompt_id) == "interrupted"
            comfy_server.release(held)
            with pytest.raises(Interrupted, match=held.prompt_id):
                await asyncio.wait_for(held.waiter, 60)
            assert await c.cancel(held.prompt_id) == "not queued"

    asyncio.run(go())


def test_cancel_deletes_a_pending_prompt_which_then_never_reaches_history(comfy_server):
    assert fixture("history_unknown_id.json") == {}
    sub = comfy_server.unique()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            held = await comfy_server.hold(c)
            pending = await c.submit(tiny_workflow(f"{sub}/pend"))
            q = await c.queue()
            assert pending in [i[1] for i in q["queue_pending"]]
            assert held.prompt_id in [i[1] for i in q["queue_running"]]
            assert all(len(i) == 5 for i in q["queue_running"] + q["queue_pending"])
            assert await c.cancel(pending) == "deleted"
            assert not await c.in_queue(pending)
            assert await comfy_server.stop(c, held) == "interrupted"
            assert await c.history(pending) is None
            assert await c.cancel(pending) == "not queued"
            with pytest.raises(BackendUnavailable, match="no longer knows"):
                await c.wait(pending, lost_after_s=0.2)

    asyncio.run(go())


def test_unknown_prompt_id_is_lost_not_pending(comfy_server):
    async def go():
        async with ComfyClient(comfy_server.url) as c:
            assert await c.history("never-submitted") is None  # {} from the server
            assert not await c.in_queue("never-submitted")
            with pytest.raises(BackendUnavailable, match="must be submitted again"):
                await c.wait("never-submitted", lost_after_s=0.2)

    asyncio.run(go())


def test_every_media_output_is_downloaded(comfy_server, tmp_path):
    real = parse_history_entry("x", next(iter(fixture("history_media_multi.json").values())), "u")
    real_kinds = {(r.key, r.suffix, r.type) for r in real.outputs}
    graph = workflow("media_multi_outputs.json")
    sub = comfy_server.unique()
    for node in graph.values():
        if "filename_prefix" in node["inputs"]:
            node["inputs"]["filename_prefix"] = node["inputs"]["filename_prefix"].replace(
                "factory", sub
            )
        if "seed" in node["inputs"]:
            node["inputs"]["seed"] = random.randrange(1 << 30)  # run it, not a cached copy

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            await comfy_server.needs(c, *(n["class_type"] for n in graph.values()))
            result = await c.run(graph)
            assert {(r.key, r.suffix, r.type) for r in result.outputs} == real_kinds
            paths = await c.download_all(result, tmp_path / "media")
            assert len(paths) == len(result.outputs)
            for p in paths:
                head = p.read_bytes()[:12]
                assert head.startswith(MAGIC[p.suffix]), p
            animated = {r.suffix for r in result.outputs if r.animated}
            assert {".webm", ".webp"} <= animated

    asyncio.run(go())


def test_video_is_listed_under_images_and_loads_back(comfy_server, tmp_path):
    real = parse_history_entry("x", next(iter(fixture("history_video.json").values())), "u")
    ((real_ref),) = real.outputs
    sub = comfy_server.unique()
    graph = workflow("video_frames_to_mp4.json")
    graph["2"]["inputs"]["seed"] = random.randrange(1 << 30)
    graph["4"]["inputs"]["filename_prefix"] = f"{sub}/clip"
    # LoadVideo -> GetVideoComponents -> CreateVideo at the fps it read -> SaveVideo
    again = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": ""}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": {"class_type": "CreateVideo", "inputs": {"images": ["2", 0], "fps": ["2", 2]}},
        "4": {
            "class_type": "SaveVideo",
            "inputs": {
                "video": ["3", 0],
                "filename_prefix": f"{sub}/again",
                "format": "auto",
                "codec": "auto",
            },
        },
    }

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            if "EmptyAudio" not in await c.object_info():  # nodes_audio needs torchaudio
                del graph["5"], graph["3"]["inputs"]["audio"]
            (ref,) = (await c.run(graph)).outputs
            assert (ref.key, ref.animated, ref.suffix) == (real_ref.key, True, ".mp4")
            clip = await c.download(ref, tmp_path / "clip.mp4")
            assert clip.read_bytes()[4:8] == b"ftyp"
            again["1"]["inputs"]["file"] = await c.upload(clip, subfolder=sub)
            (back,) = (await c.run(again)).outputs
            return await c.download(back, tmp_path / "again.mp4")

    for path in (tmp_path / "clip.mp4", asyncio.run(go())):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            assert (stream.width, stream.height, frames) == (160, 120, 24), path
            assert stream.average_rate == 12, path


def test_upload_rename_and_round_trip(comfy_server, tmp_path):
    renamed = fixture("upload_image_renamed.json")
    assert renamed["name"] == "ref (1).png"
    sub = comfy_server.unique("factory")

    async def go():
        a, b = tmp_path / "a" / "ref.png", tmp_path / "b" / "ref.png"
        for path, colour in ((a, (255, 0, 0)), (b, (0, 0, 255))):
            path.parent.mkdir()
            Image.new("RGB", (8, 8), colour).save(path)
        async with ComfyClient(comfy_server.url) as c:
            assert await c.upload(a, subfolder=sub, overwrite=False) == f"{sub}/ref.png"
            # the same bytes again: same name, nothing written
            assert await c.upload(a, subfolder=sub, overwrite=False) == f"{sub}/ref.png"
            name = await c.upload(b, subfolder=sub, overwrite=False)
            assert name == f"{sub}/ref (1).png"
            wf = workflow("upload_roundtrip.json")
            wf["1"]["inputs"]["image"] = name
            wf["3"]["inputs"]["filename_prefix"] = f"{sub}/rt"
            (ref,) = (await c.run(wf)).outputs
            out = await c.download(ref, tmp_path / "rt.png")
            with Image.open(out) as im:
                assert im.size == (32, 32) and im.convert("RGB").getpixel((5, 5)) == (0, 0, 255)

    asyncio.run(go())


def test_upload_form_survives_hostile_file_names(comfy_server, tmp_path):
    # The multipart body is built by hand (one write): quotes and line breaks in a name must
    # not break the form, and the content must arrive byte for byte.
    hostile = tmp_path / 'say "hi"\nto:me.png'
    hostile.write_bytes(MAGIC[".png"] + bytes(range(256)))
    sub = comfy_server.unique()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            name = await c.upload(hostile, subfolder=sub)
            ref = OutputRef("0", name.rsplit("/", 1)[1], sub, "input", "images")
            return name, await c.download(ref, tmp_path / "back.png")

    name, back = asyncio.run(go())
    assert name == f"{sub}/say %22hi%22%0Ato:me.png"
    assert back.read_bytes() == hostile.read_bytes()


def test_free_is_taken_and_the_server_goes_on(comfy_server):
    async def go():
        async with ComfyClient(comfy_server.url) as c:
            await c.free()
            await c.free(unload_models=False, free_memory=True)
            assert c.retries == 0
            assert (await c.run(tiny_workflow(f"{comfy_server.unique()}/free"))).outputs

    asyncio.run(go())
