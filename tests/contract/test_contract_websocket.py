"""Contract: the websocket through our client: events in the real server's order, progress per
node, events filtered by prompt id, the socket dropping in the middle of a prompt, and the
reconnect that must not orphan itself."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient

from .conftest import FIXTURES, image_chain, workflow


def sampler_like(seed: int, steps: int = 6) -> dict:
    """The simulator's text-to-image node: it reports progress like a sampler."""
    return {
        "1": {
            "class_type": "SimTextToImage",
            "inputs": {
                "prompt": "progress",
                "negative": "",
                "seed": seed,
                "width": 64,
                "height": 64,
                "steps": steps,
            },
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t/p"}},
    }


def real_events(name: str) -> list[tuple[str, Any]]:
    """(type, node) of a captured run's events that carry its prompt id, up to its success;
    progress_state left out (the client skips it unread)."""
    out = []
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        msg = json.loads(line) if line.strip() else {}
        data = msg.get("data")
        if isinstance(data, dict) and "prompt_id" in data and msg["type"] != "progress_state":
            out.append((msg["type"], data.get("node")))
            if msg["type"] == "execution_success":
                return out
    raise AssertionError(f"{name} has no execution_success")


def test_events_in_the_real_order_fresh_and_cached(comfy_server):
    graph = workflow("image_empty_to_save.json")
    graph["1"]["inputs"]["color"] = random.randrange(1 << 24)  # run it, not a cached copy
    graph["2"]["inputs"]["filename_prefix"] = f"{comfy_server.unique()}/order"

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            runs = []
            for _ in range(2):  # the second time every node is cached
                seen: list[tuple[str, dict]] = []
                result = await c.run(graph, on_event=lambda p, n, d, s=seen: s.append((n, d)))
                assert {d["prompt_id"] for _, d in seen} == {result.prompt_id}
                runs.append((result, seen))
            return runs

    (fresh, fresh_seen), (cached, cached_seen) = asyncio.run(go())
    for result, seen, fixture_name, was_cached in (
        (fresh, fresh_seen, "ws_messages_image_success.jsonl", []),
        (cached, cached_seen, "ws_messages_cached.jsonl", ["1", "2"]),
    ):
        want = [*real_events(fixture_name), ("executing", None)]
        got = [(name, data.get("node")) for name, data in seen]
        # wait() returns once the verdict is in: at execution_success when it saw the run
        # whole on its socket, else when /history has it (a busy machine: the socket's events
        # may lag behind), and the events still to come are not passed on.
        assert got == want[: len(got)], (fixture_name, got)
        if result.raw.get("from") != "websocket":
            continue
        assert len(got) >= len(want) - 1, (fixture_name, got)
        (listed,) = [d["nodes"] for n, d in seen if n == "execution_cached"]
        assert sorted(listed) == was_cached
        (executed,) = [d for n, d in seen if n == "executed"]
        assert executed["output"]["images"][0]["filename"].endswith("_.png")


def test_progress_per_node(sim):
    """Simulator only: progress comes from samplers, and a real one needs model files."""

    async def go():
        async with ComfyClient(sim.url) as c:
            seen: list[tuple[str, dict]] = []
            snapshots = []
            pid = await c.submit(sampler_like(seed=1))

            def on_event(p, name, data):
                assert p == pid and data.get("prompt_id", pid) == pid
                seen.append((name, dict(data)))
                if name == "progress":
                    snapshots.append((c.progress(pid).node, c.progress(pid).value))

            result = await c.wait(pid, on_event=on_event)
            ticks = [d for n, d in seen if n == "progress"]
            assert ticks and all(d["node"] == "1" and d["max"] == 6 for d in ticks)
            assert [d["value"] for d in ticks] == sorted(d["value"] for d in ticks)
            assert snapshots[-1] == ("1", ticks[-1]["value"])
            assert result.outputs and c.progress(pid) is None  # forgotten once finished

    asyncio.run(go())


def test_events_are_filtered_by_prompt_id(comfy_server):
    sub = comfy_server.unique()

    async def go():
        async with ComfyClient(comfy_server.url) as a, ComfyClient(comfy_server.url) as b:
            got_a: list[str] = []
            got_b: list[str] = []
            pa = await a.submit(image_chain(f"{sub}/a"))
            pb = await b.submit(image_chain(f"{sub}/b"))
            qa = await a.submit(image_chain(f"{sub}/qa"))  # same client, another prompt
            ra, rb = await asyncio.gather(
                a.wait(pa, on_event=lambda p, n, d: got_a.append(d.get("prompt_id", p))),
                b.wait(pb, on_event=lambda p, n, d: got_b.append(d.get("prompt_id", p))),
            )
            await a.wait(qa)
            assert got_a and set(got_a) == {pa} and got_b and set(got_b) == {pb}
            assert ra.prompt_id == pa and rb.prompt_id == pb

    asyncio.run(go())


def test_socket_drop_mid_prompt_misses_no_completion(comfy_server):
    sub = comfy_server.unique()

    async def go():
        # A long reconnect backoff keeps the socket down while the hold is interrupted (its
        # verdict read from /history, polled each second) and our prompt runs after it.
        async with ComfyClient(comfy_server.url, reconnect_backoff=(6.0,)) as c:
            events: list[str] = []
            held = await comfy_server.hold(c)  # ours waits behind it, posted on socket 1
            pid = await c.submit(tiny_workflow(f"{sub}/drop"))
            waiter = asyncio.create_task(c.wait(pid, on_event=lambda p, n, d: events.append(n)))
            assert c.ws_connects == 1
            await c.drop_websocket()
            await comfy_server.stop(c, held)  # ours runs now, while the socket is down
            result = await asyncio.wait_for(waiter, 30)
            assert result.outputs and result.prompt_id == pid
            assert "execution_success" not in events  # it came while the socket was down
            assert "from" not in result.raw  # so the verdict is the /history entry itself
            # The socket comes back (old one fully closed first) and is registered: the next
            # prompt's events arrive over it.
            for _ in range(100):
                if c.ws_connects >= 2:
                    break
                await asyncio.sleep(0.1)
            assert c.ws_connects == 2
            after: list[str] = []
            await c.run(tiny_workflow(f"{sub}/after"), on_event=lambda p, n, d: after.append(n))
            assert "execution_start" in after and "execution_success" in after

    asyncio.run(go())


def test_a_prompt_finished_before_wait_is_read_from_history(comfy_server):
    async def go():
        async with ComfyClient(comfy_server.url) as c:
            pid = await c.submit(tiny_workflow(f"{comfy_server.unique()}/early"))
            for _ in range(100):
                if await c.history(pid) is not None:
                    break
                await asyncio.sleep(0.05)
        async with ComfyClient(comfy_server.url) as other:  # e.g. a resumed run: no events
            result = await asyncio.wait_for(other.wait(pid), 10)
            assert result.prompt_id == pid and result.outputs

    asyncio.run(go())
