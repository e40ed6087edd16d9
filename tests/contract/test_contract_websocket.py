"""Contract: the websocket through our client: progress per node, events filtered by prompt id,
the socket dropping in the middle of a prompt, and the reconnect that must not orphan itself."""

from __future__ import annotations

import asyncio
import json

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient

from .conftest import FIXTURES


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


def real_sequence(name: str) -> list[str]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line).get("type", "binary") for line in lines if line.strip()]


def test_events_in_the_real_order_with_progress_per_node(sim):
    real = real_sequence("ws_messages_success.jsonl")
    assert real.index("execution_start") < real.index("execution_success")

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
            names = [n for n, _ in seen]
            assert names[0] == "execution_start" and "execution_success" in names
            # wait() returns once /history confirms; the final marker may or may not be in.
            assert names.index("execution_success") >= len(names) - 2
            ticks = [d for n, d in seen if n == "progress"]
            assert ticks and all(d["node"] == "1" and d["max"] == 6 for d in ticks)
            assert [d["value"] for d in ticks] == sorted(d["value"] for d in ticks)
            assert snapshots[-1] == ("1", ticks[-1]["value"])
            assert result.outputs and c.progress(pid) is None  # forgotten once finished

    asyncio.run(go())


def test_events_are_filtered_by_prompt_id(sim):
    async def go():
        async with ComfyClient(sim.url) as a, ComfyClient(sim.url) as b:
            got_a: list[str] = []
            got_b: list[str] = []
            pa = await a.submit(sampler_like(seed=2))
            pb = await b.submit(sampler_like(seed=3))
            qa = await a.submit(sampler_like(seed=4))  # same client, another prompt
            ra, rb = await asyncio.gather(
                a.wait(pa, on_event=lambda p, n, d: got_a.append(d.get("prompt_id", p))),
                b.wait(pb, on_event=lambda p, n, d: got_b.append(d.get("prompt_id", p))),
            )
            await a.wait(qa)
            assert got_a and set(got_a) == {pa} and got_b and set(got_b) == {pb}
            assert ra.prompt_id == pa and rb.prompt_id == pb

    asyncio.run(go())


def test_socket_drop_mid_prompt_misses_no_completion(held_sim):
    async def go():
        # A long reconnect backoff keeps the socket down while the prompt finishes.
        async with ComfyClient(held_sim.url, reconnect_backoff=(3.0,)) as c:
            events: list[str] = []
            pid = await c.submit(tiny_workflow("t/drop"))
            waiter = asyncio.create_task(c.wait(pid, on_event=lambda p, n, d: events.append(n)))
            await asyncio.to_thread(held_sim.gate.entered.wait, 10)  # running, mid-prompt
            assert c.ws_connects == 1
            await c.drop_websocket()
            held_sim.gate.release()
            result = await asyncio.wait_for(waiter, 30)
            assert result.outputs and result.prompt_id == pid
            assert "execution_success" not in events  # it came while the socket was down
            # The socket comes back (old one fully closed first) and is registered: the next
            # prompt's events arrive over it.
            for _ in range(100):
                if c.ws_connects >= 2:
                    break
                await asyncio.sleep(0.1)
            assert c.ws_connects == 2
            after: list[str] = []
            await c.run(tiny_workflow("t/after"), on_event=lambda p, n, d: after.append(n))
            assert "execution_start" in after and "execution_success" in after

    asyncio.run(go())


def test_a_prompt_finished_before_wait_is_read_from_history(sim):
    async def go():
        async with ComfyClient(sim.url) as c:
            pid = await c.submit(tiny_workflow("t/early"))
            for _ in range(100):
                if await c.history(pid) is not None:
                    break
                await asyncio.sleep(0.05)
        async with ComfyClient(sim.url) as other:  # e.g. a resumed run: no events at all
            result = await asyncio.wait_for(other.wait(pid), 10)
            assert result.prompt_id == pid and result.outputs

    asyncio.run(go())
