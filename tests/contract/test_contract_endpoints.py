"""Contract: the plain endpoints through our client, shaped like the captured answers:
/system_stats, /object_info (cached per client), /queue and /history."""

from __future__ import annotations

import asyncio

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient

from .conftest import fixture, written_history

#: Core nodes the factory's checks and this suite use; every ComfyUI has them.
CORE = set(
    "EmptyImage ImageScale ImageInvert SaveImage LoadImage RepeatImageBatch CreateVideo "
    "SaveVideo LoadVideo GetVideoComponents PrimitiveString".split()
)


def test_system_stats_names_the_server_and_its_devices(comfy_server):
    real = fixture("system_stats.json")

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            return await c.system_stats()

    stats = asyncio.run(go())
    assert {"os", "comfyui_version", "python_version"} <= set(stats["system"])
    assert stats["devices"], "no device listed"
    for device in stats["devices"]:
        assert set(device) >= set(real["devices"][0]) - {"index"}
        assert device["vram_total"] >= device["vram_free"] >= 0


def test_object_info_describes_the_core_nodes_and_is_cached(comfy_server):
    real = fixture("object_info_subset.json")

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            info = await c.object_info()
            assert await c.object_info() is info  # asked once per client
            assert (await c.object_info(refresh=True)).keys() == info.keys()
            return info

    info = asyncio.run(go())
    assert CORE <= set(info)
    for name in CORE:
        assert set(info[name]) >= {"input", "output", "name", "output_node"}, name
        assert info[name]["name"] == name
        assert set(info[name]["input"]["required"]) == set(real[name]["input"]["required"]), name
    assert info["SaveImage"]["output_node"] and not info["ImageInvert"]["output_node"]


def test_queue_and_history_of_a_finished_prompt(comfy_server):
    idle = fixture("queue_idle.json")

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            q = await c.queue()
            assert set(q) == set(idle)
            assert all(isinstance(q[k], list) for k in q)
            result = await c.run(tiny_workflow(f"{comfy_server.unique()}/h"))
            entry = await written_history(c, result.prompt_id)
            assert not await c.in_queue(result.prompt_id)  # history and queue move together
            return result, entry

    result, entry = asyncio.run(go())
    assert entry["status"] == {
        "status_str": "success",
        "completed": True,
        "messages": entry["status"]["messages"],
    }
    names = [m[0] for m in entry["status"]["messages"]]
    assert names[0] == "execution_start" and names[-1] == "execution_success"
    (node,) = entry["outputs"]
    assert entry["outputs"][node]["images"][0]["filename"] == result.outputs[0].filename
