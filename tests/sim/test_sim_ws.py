"""Websocket message sequences compared with captures from a real ComfyUI."""

from __future__ import annotations

import time
from typing import Any

from .simkit import SimClient, load_fixture, load_jsonl, new_id, workflow


def norm(msg: dict[str, Any], strict: bool = True) -> tuple[Any, ...]:
    """A message without ids/timestamps/file names; ``strict=False`` keeps type and keys only."""
    if msg.get("__binary__"):
        return ("binary", msg["event_type"], msg.get("node_id"), msg.get("text"))
    kind, data = msg["type"], msg["data"]
    if not strict:
        return (kind, tuple(sorted(data)))
    if kind == "status":
        return (kind, data["status"]["exec_info"]["queue_remaining"], "sid" in data)
    if kind == "progress_state":
        return (
            kind,
            tuple(
                (nid, s["state"], type(s["value"]).__name__, tuple(sorted(s)))
                for nid, s in data["nodes"].items()
            ),
        )
    if kind == "executing":
        return (kind, data["node"], tuple(sorted(data)))
    if kind == "executed":
        return (kind, data["node"], tuple(sorted(data["output"])), tuple(sorted(data)))
    if kind == "execution_cached":
        return (kind, tuple(data["nodes"]), tuple(sorted(data)))
    return (kind, tuple(sorted(data)))


def compare(got: list[dict[str, Any]], fixture: str, strict: bool = True) -> None:
    expected = load_jsonl(fixture)
    assert [norm(m, strict) for m in got] == [norm(m, strict) for m in expected]


def run_with_socket(sim: SimClient, prompt: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    cid = new_id()
    ws = sim.ws(cid)
    r = sim.submit(prompt, client_id=cid)
    assert r.status_code == 200, r.text
    pid = r.json()["prompt_id"]
    messages = ws.wait_done(pid)
    ws.close()
    assert messages[0]["data"]["sid"] == cid
    assert all(m["data"].get("prompt_id", pid) == pid for m in messages if "data" in m)
    return messages, pid


def test_image_success_sequence(sim: SimClient) -> None:
    messages, _ = run_with_socket(sim, workflow("image_empty_to_save.json"))
    compare(messages, "ws_messages_image_success.jsonl")


def test_video_success_sequence(sim: SimClient) -> None:
    messages, _ = run_with_socket(sim, workflow("video_frames_to_mp4.json"))
    compare(messages, "ws_messages_success.jsonl")


def test_error_sequence(sim: SimClient) -> None:
    sim.upload("broken.png", b"definitely not a png")
    messages, _ = run_with_socket(sim, workflow("runtime_error_corrupt_image.json"))
    compare(messages, "ws_messages_error.jsonl")
    error = next(m["data"] for m in messages if m["type"] == "execution_error")
    assert error["exception_type"] == "PIL.UnidentifiedImageError"
    assert error["current_inputs"] == {"image": ["broken.png"]}
    assert all(isinstance(line, str) for line in error["traceback"])


def test_media_multi_sequence_and_binary_text(sim: SimClient) -> None:
    messages, _ = run_with_socket(sim, workflow("media_multi_outputs.json"))
    # Node order among ready outputs follows a Python set on ComfyUI: compare types and keys.
    compare(messages, "ws_messages_media_multi.jsonl", strict=False)
    binary = [m for m in messages if m.get("__binary__")]
    assert binary == [
        {
            "__binary__": True,
            "event_type": 3,
            "length": 45,
            "node_id": "9",
            "text": "width: 96, height: 64\n batch size: 8",
        }
    ]


def test_cached_rerun_replays_old_files(sim: SimClient) -> None:
    prompt = workflow("image_empty_to_save.json")
    first, _ = run_with_socket(sim, prompt)
    before = sorted(p.name for p in (sim.root / "output" / "factory").iterdir())
    second, pid = run_with_socket(sim, prompt)
    compare(second, "ws_messages_cached.jsonl")
    assert sorted(p.name for p in (sim.root / "output" / "factory").iterdir()) == before
    entry = sim.history(pid)
    expected = next(iter(load_fixture("history_cached.json").values()))
    assert entry["outputs"] == expected["outputs"]
    assert entry["meta"] == expected["meta"]
    assert [m[0] for m in entry["status"]["messages"]] == [
        m[0] for m in expected["status"]["messages"]
    ]
    assert entry["status"]["messages"][1][1]["nodes"] == ["1", "2"]
    # A changed input runs that node and everything downstream again.
    changed = workflow("image_empty_to_save.json")
    changed["2"]["inputs"]["filename_prefix"] = "factory/other"
    third, _ = run_with_socket(sim, changed)
    cached = next(m for m in third if m["type"] == "execution_cached")
    assert cached["data"]["nodes"] == ["1"]
    assert [m["data"]["node"] for m in third if m["type"] == "executing"] == ["2", None]


def test_observer_without_client_id(sim: SimClient) -> None:
    observer = sim.ws(new_id())
    r = sim.submit(workflow("image_empty_to_save.json"), prompt_id="no-client")
    sim.history(r.json()["prompt_id"])
    observer.wait_for(
        lambda m: (
            m.get("type") == "status"
            and m["data"]["status"]["exec_info"]["queue_remaining"] == 0
            and "sid" not in m["data"]
        )
    )
    time.sleep(0.1)
    compare(observer.snapshot(), "ws_messages_observer_no_client_id.jsonl")


def test_observer_other_client_sees_status_and_text_only(sim: SimClient) -> None:
    observer = sim.ws(new_id())
    runner = sim.ws(new_id())
    r = sim.submit(workflow("media_multi_outputs.json"), client_id=runner.client_id)
    runner.wait_done(r.json()["prompt_id"])
    time.sleep(0.1)
    compare(observer.snapshot(), "ws_messages_observer_other_client.jsonl")


def test_feature_flags_reply(sim: SimClient) -> None:
    ws = sim.ws(new_id())
    ws.send({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
    ws.wait_for(lambda m: m.get("type") == "feature_flags")
    compare(ws.snapshot(), "ws_messages_connect_feature_flags.jsonl")


def test_same_client_id_reconnect_quirk(sim: SimClient) -> None:
    quirk = load_fixture("ws_reconnect_same_client_id.json")
    cid = new_id()
    a = sim.ws(cid)
    b = sim.ws(cid)
    a.close()
    time.sleep(0.2)  # let the server run A's cleanup, which unregisters the id B now holds
    r = sim.submit(workflow("image_empty_to_save.json"), client_id=cid)
    sim.history(r.json()["prompt_id"])
    time.sleep(0.2)
    for got, expected in (
        (a.snapshot(), quirk["messages_on_A"]),
        (b.snapshot(), quirk["messages_on_B"]),
    ):
        assert [norm(m) for m in got] == [norm(m) for m in expected]
        assert got[0]["data"]["sid"] == cid
