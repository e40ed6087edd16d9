"""Contract: every 400 shape, node_errors on a 200, 500 text and 403, through our client."""

from __future__ import annotations

import asyncio

import pytest

from videofactory.comfy.client import ComfyClient, new_prompt_id
from videofactory.comfy.preflight import check_graph
from videofactory.errors import ExecutionFailed, ProtocolError, WorkflowRejected

from .conftest import FIXTURES, fixture, workflow

#: Workflow fixture -> the captured 400 answer a real ComfyUI gave for it.
REJECTED = {
    "invalid_unknown_class.json": "prompt_error_unknown_class.json",
    "invalid_missing_class_type.json": "prompt_error_missing_class_type.json",
    "invalid_no_outputs.json": "prompt_error_no_outputs.json",
    "invalid_bad_link.json": "prompt_error_bad_link.json",
    "invalid_int_node_id_link.json": "prompt_error_int_node_id_link.json",
    "invalid_bad_output_index.json": "prompt_error_bad_output_index.json",
    "invalid_missing_input.json": "prompt_error_missing_input.json",
    "invalid_value_range.json": "prompt_error_value_range.json",
    "invalid_invalid_type.json": "prompt_error_invalid_type.json",
    "invalid_value_not_in_list.json": "prompt_error_value_not_in_list.json",
    "invalid_load_image_missing_file.json": "prompt_error_load_image_missing_file.json",
    "invalid_type_mismatch.json": "prompt_error_type_mismatch.json",
}


def test_every_rejection_fixture_is_covered():
    captured = {p.name for p in FIXTURES.glob("prompt_error_*.json")}
    # no_prompt, malformed_json and origin_mismatch cannot be produced by a correct client;
    # they have their own tests below.
    rest = {"prompt_error_no_prompt.json", "prompt_error_malformed_json.json"}
    rest |= {"prompt_error_origin_mismatch.json"}
    assert captured - rest == set(REJECTED.values())


@pytest.mark.parametrize("wf_name", sorted(REJECTED))
def test_rejection_matches_the_real_answer(comfy_server, wf_name):
    real = fixture(REJECTED[wf_name])
    graph = workflow(wf_name)
    # the nodes the captured server had (not NoSuchNode, which is what one fixture is about)
    captured = fixture("object_info_subset.json")
    used = {n["class_type"] for n in graph.values() if n.get("class_type") in captured}

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            await comfy_server.needs(c, *used)
            with pytest.raises(WorkflowRejected) as info:
                await c.submit(graph)
            return info.value

    err = asyncio.run(go())
    assert err.error_type == real["error"]["type"]
    assert real["error"]["message"] in str(err)
    # One line per problem, each naming the node and (where there is one) the input.
    want = [(nid, e) for nid, n in real["node_errors"].items() for e in n["errors"]]
    if not want and real["error"]["details"]:  # invalid_prompt: "Node ID '#1'"
        want = [("1", {})]
    assert len(err.problems) == len(want)
    for (nid, e), line in zip(want, err.problems, strict=True):
        assert line.startswith(f"node {nid} (")
        name = (e.get("extra_info") or {}).get("input_name")
        if name:
            assert f"input {name!r}" in line
    assert all("\n" not in line for line in err.problems)
    # ... and preflight finds every one of them before anything is posted.
    info = fixture("object_info_subset.json")
    assert check_graph(graph, info), f"preflight missed {wf_name}"


def test_nothing_rejected_is_queued(comfy_server):
    rejected = new_prompt_id()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            with pytest.raises(WorkflowRejected):
                await c.submit(workflow("invalid_missing_input.json"), prompt_id=rejected)
            assert not await c.in_queue(rejected)
            assert await c.history(rejected) is None

    asyncio.run(go())


def test_node_errors_on_a_200_is_a_failure_and_the_prompt_is_withdrawn(comfy_server):
    real = fixture("prompt_ok_with_node_errors.json")
    assert real["node_errors"]  # the real server queued it anyway
    partial = new_prompt_id()

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            with pytest.raises(WorkflowRejected, match="part of the workflow is invalid") as info:
                await c.submit(workflow("partial_one_bad_output.json"), prompt_id=partial)
            assert any(line.startswith("node 3 (") for line in info.value.problems)
            for _ in range(100):  # withdrawn: deleted if pending, interrupted if running
                if not await c.in_queue(partial):
                    break
                await asyncio.sleep(0.1)
            assert not await c.in_queue(partial)

    asyncio.run(go())


def test_unvalidated_combo_is_accepted_then_fails_and_preflight_catches_it(comfy_server):
    graph = workflow("unvalidated_combo_saveVideo_webm.json")
    problems = check_graph(graph, fixture("object_info_subset.json"))
    assert [(p.node_id, p.input, p.kind) for p in problems] == [("4", "format", "not_in_list")]
    assert "auto, mp4" in str(problems[0])

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            pid = await c.submit(graph)  # 200: V3 combos are not checked at submit time
            with pytest.raises(ExecutionFailed) as info:
                await c.wait(pid)
            assert info.value.node_id == "4" and info.value.node_type == "SaveVideo"

    asyncio.run(go())


def test_server_500_text_is_a_protocol_error(comfy_server):
    real = fixture("prompt_error_malformed_json.json")
    assert real["status"] == 500 and "trouble" in real["body_text"]

    async def go():
        async with ComfyClient(comfy_server.url, retry_backoff=(0.01, 0.01)) as c:
            # Our client never sends malformed JSON; the same 500 comes for an empty /free body.
            # A 500 may be a blip: it is tried again on the same server, then surfaces.
            with pytest.raises(ProtocolError, match="500"):
                await c._json("POST", "/free", content=b"{not json")
            assert c.retries == 2

    asyncio.run(go())


def test_client_sends_no_origin_and_maps_the_403(comfy_server):
    assert fixture("prompt_error_origin_mismatch.json") == {"status": 403, "body_text": ""}

    async def go():
        async with ComfyClient(comfy_server.url) as c:
            assert "origin" not in {k.lower() for k in c._http.headers}
            await c.system_stats()  # no Origin: accepted
            with pytest.raises(ProtocolError, match="403"):
                await c._json("GET", "/system_stats", headers={"Origin": "http://evil.example"})

    asyncio.run(go())
