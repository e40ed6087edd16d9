"""The LLM planner against local servers answering like OpenAI's /v1/chat/completions and
Anthropic's /v1/messages (the hosted APIs cannot be reached from tests; the shapes are theirs)."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from aiohttp import web
from standins import AppThread, anthropic_message, free_port_url, openai_completion

from videofactory.config import LLMConfig, load_farm, resolve_llm
from videofactory.errors import (
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    PlannerError,
    ProtocolError,
)
from videofactory.planning import plan_shotlist
from videofactory.planning.llm import draft_schema

CONCEPT = "warrior in mystical forest"


def draft(n: int = 6, *, total: float = 27.0, **over) -> dict:
    """A good draft whose durations add up to ``total`` (not the target: it gets normalised)."""
    types = ["establishing", "medium", "close_up", "detail", "action", "closing"]
    cams = ["zoom_in", "pan_left", "static", "pan_down", "pan_up", "zoom_out"]
    shots = [
        {
            "duration": total / n,
            "prompt": f"shot {i}: a lone warrior in a green cloak, the mystical forest, painterly",
            "shot_type": types[i % 6] if i < n - 1 else "closing",
            "camera": cams[i % 6],
            "narration": f"Line {i}.",
            "hero": i in (0, 4),
        }
        for i in range(n)
    ]
    data = {"style": "painterly", "character": "a lone warrior", "setting": "forest"}
    data["shots"] = shots
    data.update(over)
    return data


def scripted(path: str, answers: list):
    """A server that answers the n-th POST to ``path`` with ``answers[n]`` (status, body)."""
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        status, body = answers[min(calls["n"], len(answers) - 1)]
        calls["n"] += 1
        if body == "slow":
            await asyncio.sleep(5)
        if isinstance(body, str):
            return web.Response(text=body, status=status, content_type="text/html")
        return web.json_response(body, status=status)

    return AppThread([("POST", path, handler)])


def llm(url: str, **over) -> LLMConfig:
    return LLMConfig(endpoint=url, model=over.pop("model", "llama3.1:8b"), **over)


def _bodies(server) -> list[dict]:
    return [json.loads(r["body"]) for r in server.requests]


def test_openai_plan_is_validated_and_renormalised() -> None:
    answer = "```json\n" + json.dumps(draft(total=27.0)) + "\n```"  # fenced, sum 27 s not 30 s
    with scripted("/v1/chat/completions", [(200, openai_completion(answer))]) as server:
        config = llm(server.url + "/v1").model_copy(update={"api_key": "sk-local"})
        sl = plan_shotlist(CONCEPT, 30, planner="llm", llm=config, width=1280, height=720)
    assert sl.planner == "llm" and len(sl.shots) == 6
    assert sum(s.duration for s in sl.shots) == pytest.approx(30.0, abs=1e-9)
    assert all(round(s.duration * 24, 6) == round(s.duration * 24) for s in sl.shots[:-1])
    assert [s.id for s in sl.shots] == ["s01", "s02", "s03", "s04", "s05", "s06"]
    assert sl.shots[0].hero and sl.shots[4].hero and sl.shots[0].negative  # default negative
    (body,) = _bodies(server)
    assert body["model"] == "llama3.1:8b" and body["messages"][0]["role"] == "system"
    assert (
        CONCEPT in body["messages"][1]["content"]
        and "Plan 6 shots" in body["messages"][1]["content"]
    )
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == draft_schema()
    assert "$ref" not in json.dumps(draft_schema())
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-local"


def test_openai_invalid_answer_gets_one_repair_request() -> None:
    bad = draft()
    bad["shots"][2]["shot_type"] = "dolly zoom"
    del bad["shots"][3]["prompt"]
    answers = [
        (200, openai_completion(json.dumps(bad))),
        (200, openai_completion(json.dumps(draft()))),
    ]
    with scripted("/v1/chat/completions", answers) as server:
        sl = plan_shotlist(CONCEPT, 30, planner="llm", llm=llm(server.url))
    assert len(sl.shots) == 6
    first, second = _bodies(server)
    repair = second["messages"]
    assert repair[:2] == first["messages"] and repair[2]["role"] == "assistant"
    assert repair[2]["content"] == json.dumps(bad)  # the model sees its own answer
    note = repair[3]["content"]
    assert "shots.2.shot_type: Input should be 'establishing'" in note
    assert "shots.3.prompt: Field required" in note


def test_openai_invalid_twice_fails_clearly() -> None:
    answers = [(200, openai_completion("Sure! Here is a great plan for your film.")),
               (200, openai_completion(json.dumps(draft(n=60))))]  # fmt: skip
    with scripted("/v1/chat/completions", answers) as server:
        with pytest.raises(PlannerError, match="invalid shot list twice") as info:
            plan_shotlist(CONCEPT, 30, planner="llm", llm=llm(server.url))
    assert "60 shots are too many for 30 s" in str(info.value) and len(server.requests) == 2
    assert "no JSON object" in _bodies(server)[1]["messages"][-1]["content"]


def test_first_shot_cannot_continue_is_repaired() -> None:
    bad = draft()
    bad["shots"][0]["continuity"] = "continue"
    answers = [
        (200, openai_completion(json.dumps(bad))),
        (200, openai_completion(json.dumps(draft()))),
    ]
    with scripted("/v1/chat/completions", answers) as server:
        plan_shotlist(CONCEPT, 30, planner="llm", llm=llm(server.url, json_mode="object"))
    first, second = _bodies(server)
    assert first["response_format"] == {"type": "json_object"}
    assert "first shot cannot 'continue'" in second["messages"][-1]["content"]


def test_flow_is_planned_and_a_last_shot_that_flows_is_repaired() -> None:
    bad = draft()
    for shot in bad["shots"]:
        shot["continuity"] = "flow"
    good = copy.deepcopy(bad)
    good["shots"][-1]["continuity"] = "cut"
    answers = [
        (200, openai_completion(json.dumps(bad))),
        (200, openai_completion(json.dumps(good))),
    ]
    with scripted("/v1/chat/completions", answers) as server:
        sl = plan_shotlist(CONCEPT, 30, planner="llm", llm=llm(server.url))
    assert [s.continuity for s in sl.shots] == ["flow"] * 5 + ["cut"]
    first, second = _bodies(server)
    assert (
        "'flow' when a shot runs straight on into the next one" in first["messages"][1]["content"]
    )
    assert "last shot cannot 'flow'" in second["messages"][-1]["content"]


def test_anthropic_tool_use_with_repair() -> None:
    bad = draft()
    bad["shots"][1]["duration"] = -2
    tool = {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "submit_shot_list"}
    preamble = {"type": "text", "text": "Here is the plan."}
    answers = [
        (200, anthropic_message([preamble, {**tool, "input": bad}])),
        (200, anthropic_message([{**tool, "id": "toolu_02", "input": draft()}])),
    ]
    with scripted("/v1/messages", answers) as server:
        config = llm(server.url, kind="anthropic", model="claude-sonnet-4-20250514")
        sl = plan_shotlist(
            CONCEPT, 30, planner="llm", llm=config.model_copy(update={"api_key": "sk-ant"})
        )
    assert len(sl.shots) == 6 and sl.planner == "llm"
    headers = server.requests[0]["headers"]
    assert headers["x-api-key"] == "sk-ant" and headers["anthropic-version"] == "2023-06-01"
    first, second = _bodies(server)
    assert first["tool_choice"] == {"type": "tool", "name": "submit_shot_list"}
    assert first["tools"][0]["input_schema"] == draft_schema() and "system" in first
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == tool["id"]
    assert result["is_error"] is True and "shots.1.duration" in result["content"]


def test_anthropic_text_answer_is_accepted() -> None:
    text = "Here you go:\n" + json.dumps(draft())
    answer = anthropic_message([{"type": "text", "text": text}], stop="end_turn")
    with scripted("/v1/messages", [(200, answer)]) as server:
        config = llm(server.url, kind="anthropic").model_copy(update={"api_key": "k"})
        assert len(plan_shotlist(CONCEPT, 12, planner="llm", llm=config).shots) == 6


KEY_ERROR = {
    "error": {
        "message": "Incorrect API key provided: sk-bad",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}


def _err(message: str) -> dict:
    return {"error": {"message": message}}


@pytest.mark.parametrize(
    "answer,error,match",
    [
        ((401, KEY_ERROR), ConfigError, "refused the API key .*Incorrect API key"),
        ((404, _err("model 'llama9' not found")), ConfigError, r"404 \(model 'llama9' not found"),
        ((400, _err("json_schema is not supported")), ConfigError, "set llm.json_mode"),
        ((503, _err("overloaded")), BackendUnavailable, "HTTP 503: overloaded"),
        ((200, "<html>Welcome to nginx!</html>"), ProtocolError, "not a JSON object"),
        ((200, {"object": "list", "data": []}), ProtocolError, "without choices"),
        ((200, "slow"), BackendTimeout, "did not answer within 0.3 s"),
    ],
)
def test_openai_endpoint_failures(answer, error, match) -> None:
    with scripted("/v1/chat/completions", [answer]) as server:
        with pytest.raises(error, match=match):
            plan_shotlist(CONCEPT, 30, planner="llm", llm=llm(server.url, timeout_s=0.3))


def test_anthropic_error_shape() -> None:
    body = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    with scripted("/v1/messages", [(401, body)]) as server:
        config = llm(server.url, kind="anthropic").model_copy(update={"api_key": "bad"})
        with pytest.raises(ConfigError, match="invalid x-api-key"):
            plan_shotlist(CONCEPT, 30, planner="llm", llm=config)


def test_unreachable_and_keyless() -> None:
    with pytest.raises(BackendUnavailable, match="cannot reach the LLM .*is the server running"):
        plan_shotlist(CONCEPT, 30, planner="llm", llm=llm(free_port_url()))
    with pytest.raises(ConfigError, match="needs a key: set ANTHROPIC_API_KEY"):
        plan_shotlist(CONCEPT, 30, planner="llm", llm=llm("http://127.0.0.1:9", kind="anthropic"))
    with pytest.raises(ConfigError, match="--planner llm needs an LLM"):
        plan_shotlist(CONCEPT, 30, planner="llm")
    with pytest.raises(ConfigError, match="unknown planner 'gpt'"):
        plan_shotlist(CONCEPT, 30, planner="gpt")


def test_settings_from_flags_env_and_farm_file(tmp_path, monkeypatch) -> None:
    farm = tmp_path / "factory.yaml"
    farm.write_text(
        "workers: [{id: g, url: 'http://h:1'}]\n"
        "llm: {kind: anthropic, endpoint: 'https://api.anthropic.com', model: claude-x, "
        "api_key_env: MY_KEY}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    config = resolve_llm(load_farm(farm))
    assert (config.kind, config.model, config.api_key) == ("anthropic", "claude-x", "sk-from-env")
    monkeypatch.setenv("VIDEOFACTORY_LLM_MODEL", "claude-y")
    assert resolve_llm(load_farm(farm)).model == "claude-y"  # environment over file
    assert resolve_llm(load_farm(farm), model="claude-z").model == "claude-z"  # flag over both
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    local = resolve_llm(endpoint="http://localhost:11434/v1", model="llama3.1")
    assert local.kind == "openai" and local.api_key == "sk-openai"
    assert "sk-openai" not in repr(local) and "api_key" not in local.model_dump()
    with pytest.raises(ConfigError, match="has no endpoint"):
        resolve_llm(None, model="m")
    farm.write_text(
        "workers: [{id: g, url: 'http://h:1'}]\n"
        "llm: {endpoint: 'http://x', model: m, api_key: sk}\n"
    )
    with pytest.raises(ConfigError, match="keys do not go in the farm file"):
        load_farm(farm)
