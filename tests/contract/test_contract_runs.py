"""Contract: what a prompt's run looks like through our client: success, cache, failure,
interrupt, cancel, media of every kind, uploads, unknown ids."""

from __future__ import annotations

import asyncio
import random

import pytest
from PIL import Image

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient
from videofactory.comfy.results import parse_history_entry
from videofactory.errors import BackendUnavailable, ExecutionFailed, Interrupted

from .conftest import fixture, workflow

MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".webm": b"\x1a\x45\xdf\xa3",
    ".flac": b"fLaC",
    ".mp4": None,  # checked by its ftyp box below
    ".webp": b"RIFF",
}


def test_success_uses_our_ids_and_reads_names_from_history(sim, tmp_path):
    real = fixture("history_image.json")
    ((_, real_entry),) = real.items()

    async def go():
        async with ComfyClient(sim.url) as c:
            pid = await c.submit(tiny_workflow("t/img"), prompt_id="our-own-id-1")
            assert pid == "our-own-id-1"
            result = await c.wait(pid)
            entry = await c.history(pid)
            # Same shape as the real server's entry: 5-element prompt array with our client id.
            assert set(entry) >= set(real_entry) - {"meta"}
            assert entry["prompt"][1] == pid and entry["prompt"][3]["client_id"] == c.client_id
            (ref,) = result.outputs
            assert (ref.subfolder, ref.type, ref.key) == ("t", "output", "images")
            assert ref.filename.startswith("img_") and ref.filename.endswith("_.png")
            assert result.seconds is not None and not result.cached_outputs
            (path,) = await c.download_all(result, tmp_path / "dl")
            assert path == (tmp_path / "dl" / "t" / ref.filename).resolve()
            assert path.read_bytes()[:8] == MAGIC[".png"]

    asyncio.run(go())


def test_cached_resubmission_writes_no_new_file(sim):
    real = parse_history_entry("x", next(iter(fixture("history_cached.json").values())), "u")
    assert real.fully_cached

    async def go():
        async with ComfyClient(sim.url) as c:
            wf = tiny_workflow("t/cache")
            first = await c.run(wf)
            again = await c.run(wf)
            assert again.fully_cached and again.cached_outputs == again.outputs
            assert [o.filename for o in again.outputs] == [o.filename for o in first.outputs]
            wf["1"]["inputs"]["color"] ^= 1  # any change runs it again, under a new name
            fresh = await c.run(wf)
            assert not fresh.fully_cached and fresh.outputs[0].filename != first.outputs[0].filename

    asyncio.run(go())


def test_runtime_error_carries_node_and_exception(sim, tmp_path):
    real = fixture("history_error.json")
    ((_, entry),) = real.items()
    want = entry["status"]["messages"][-1][1]

    async def go():
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"this is not an image")
        async with ComfyClient(sim.url) as c:
            wf = workflow("runtime_error_corrupt_image.json")
            wf["1"]["inputs"]["image"] = await c.upload(broken)
            with pytest.raises(ExecutionFailed) as info:
                await c.run(wf)
            err = info.value
            assert (err.node_id, err.node_type) == (want["node_id"], want["node_type"])
            assert err.exception_type == want["exception_type"]
            assert "\n" not in str(err) and "LoadImage" in str(err)

    asyncio.run(go())


def test_interrupt_by_prompt_id(make_sim):
    held_sim = make_sim("ImageInvert")  # the node before the save: the interrupt lands between

    async def go():
        async with ComfyClient(held_sim.url) as c:
            wf = {**tiny_workflow("t/int"), "3": {"class_type": "ImageInvert", "inputs": {}}}
            wf["3"]["inputs"]["image"] = ["1", 0]
            wf["2"]["inputs"]["images"] = ["3", 0]
            pid = await c.submit(wf)
            waiter = asyncio.create_task(c.wait(pid))
            await asyncio.to_thread(held_sim.gate.entered.wait, 10)
            await c.interrupt("someone-elses-prompt")  # not ours: a no-op
            assert await c.cancel(pid) == "interrupted"
            held_sim.gate.release()
            with pytest.raises(Interrupted, match=pid):
                await waiter

    asyncio.run(go())


def test_cancel_deletes_a_pending_prompt_which_then_never_reaches_history(held_sim):
    assert fixture("history_unknown_id.json") == {}

    async def go():
        async with ComfyClient(held_sim.url) as c:
            running = await c.submit(tiny_workflow("t/run"))
            await asyncio.to_thread(held_sim.gate.entered.wait, 10)
            pending = await c.submit(tiny_workflow("t/pend"))
            q = await c.queue()
            assert [i[1] for i in q["queue_pending"]] == [pending]
            assert all(len(i) == 5 for i in q["queue_running"] + q["queue_pending"])
            assert await c.cancel(pending) == "deleted"
            assert not await c.in_queue(pending)
            held_sim.gate.release()
            assert (await c.wait(running)).outputs
            assert await c.history(pending) is None
            assert await c.cancel(pending) == "not queued"
            with pytest.raises(BackendUnavailable, match="no longer knows"):
                await c.wait(pending, lost_after_s=0.2)

    asyncio.run(go())


def test_unknown_prompt_id_is_lost_not_pending(sim):
    async def go():
        async with ComfyClient(sim.url) as c:
            assert await c.history("never-submitted") is None  # {} from the server
            assert not await c.in_queue("never-submitted")
            with pytest.raises(BackendUnavailable, match="must be submitted again"):
                await c.wait("never-submitted", lost_after_s=0.2)

    asyncio.run(go())


def test_every_media_output_is_downloaded(sim, tmp_path):
    real = parse_history_entry("x", next(iter(fixture("history_media_multi.json").values())), "u")
    real_kinds = {(r.key, r.suffix, r.type) for r in real.outputs}

    async def go():
        async with ComfyClient(sim.url) as c:
            result = await c.run(workflow("media_multi_outputs.json"))
            assert {(r.key, r.suffix, r.type) for r in result.outputs} == real_kinds
            paths = await c.download_all(result, tmp_path / "media")
            assert len(paths) == len(result.outputs)
            for p in paths:
                head = p.read_bytes()[:12]
                assert head.startswith(MAGIC[p.suffix]), p
            animated = {r.suffix for r in result.outputs if r.animated}
            assert {".webm", ".webp"} <= animated

    asyncio.run(go())


def test_video_is_listed_under_images(sim, tmp_path):
    real = parse_history_entry("x", next(iter(fixture("history_video.json").values())), "u")
    ((real_ref),) = real.outputs

    async def go():
        async with ComfyClient(sim.url) as c:
            (ref,) = (await c.run(workflow("video_frames_to_mp4.json"))).outputs
            assert (ref.key, ref.animated, ref.suffix) == (real_ref.key, True, ".mp4")
            path = await c.download(ref, tmp_path / "clip.mp4")
            assert path.read_bytes()[4:8] == b"ftyp"

    asyncio.run(go())


def test_upload_rename_and_round_trip(sim, tmp_path):
    renamed = fixture("upload_image_renamed.json")
    assert renamed["name"] == "ref (1).png"

    async def go():
        a, b = tmp_path / "a" / "ref.png", tmp_path / "b" / "ref.png"
        for path, colour in ((a, (255, 0, 0)), (b, (0, 0, 255))):
            path.parent.mkdir()
            Image.new("RGB", (8, 8), colour).save(path)
        async with ComfyClient(sim.url) as c:
            assert await c.upload(a, subfolder="factory", overwrite=False) == "factory/ref.png"
            # the same bytes again: same name, nothing written
            assert await c.upload(a, subfolder="factory", overwrite=False) == "factory/ref.png"
            name = await c.upload(b, subfolder="factory", overwrite=False)
            assert name == "factory/ref (1).png"
            wf = workflow("upload_roundtrip.json")
            wf["1"]["inputs"]["image"] = name
            wf["3"]["inputs"]["filename_prefix"] = f"factory/rt{random.randrange(1 << 30)}"
            (ref,) = (await c.run(wf)).outputs
            out = await c.download(ref, tmp_path / "rt.png")
            with Image.open(out) as im:
                assert im.size == (32, 32) and im.convert("RGB").getpixel((5, 5)) == (0, 0, 255)

    asyncio.run(go())
