"""Which planner plans: ``auto`` asks a configured LLM that answers, else the rules planner says
why; ``llm`` is the LLM or one error; the plan, ``show`` and the report name the planner.

The LLMs are stand-ins on loopback speaking Ollama's OpenAI-compatible API and Anthropic's
Messages API (``servers.py``); the commands are real subprocesses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standins import (
    anthropic_app,
    chat_bodies,
    free_port_url,
    ollama_app,
    openai_completion,
)
from subprocs import run_cli

from planning.test_planning_llm import draft
from videofactory.config import ANTHROPIC_ENDPOINT, LLMConfig, configured_llm, load_farm
from videofactory.errors import BackendUnavailable, ConfigError
from videofactory.planning import plan_rules, plan_shotlist
from videofactory.planning.llm import draft_schema
from videofactory.shotlist import PlannerLLM, Shot

CONCEPT = "warrior in mystical forest"


def host(server) -> str:
    return server.url.removeprefix("http://")


def paths(server) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in server.requests]


def auto(url: str, *, planner: str = "auto", **over):
    """Plan CONCEPT (30 s) with an LLM at ``url``; the plan and what ``say`` was told."""
    lines: list[str] = []
    config = LLMConfig(endpoint=url, **over)
    sl = plan_shotlist(CONCEPT, 30, planner=planner, llm=config, say=lines.append)
    return sl, lines


# -- auto: the LLM when it answers -------------------------------------------------------------


def test_auto_plans_with_a_reachable_ollama_and_its_first_model() -> None:
    with ollama_app([draft()]) as server:
        sl, lines = auto(server.url + "/v1")
    assert sl.planner == "llm" and len(sl.shots) == 6
    assert sl.llm == PlannerLLM(model="llama3.1:8b", host=host(server))
    assert lines == [f"planning with the LLM llama3.1:8b at {host(server)}"]
    # The cheap check first, then one chat request for the first model the server lists.
    assert paths(server) == ["GET /v1/models", "POST /v1/chat/completions"]
    assert chat_bodies(server)[0]["model"] == "llama3.1:8b"


def test_auto_repairs_invalid_json_once() -> None:
    quoted = "{'style': 'painterly', 'shots': [{'duration': 5, 'prompt': 'a warrior'}]}"
    answers = [(200, openai_completion(quoted)), draft()]
    with ollama_app(answers) as server:
        sl, lines = auto(server.url, model="qwen2.5:7b")
    assert sl.planner == "llm" and sl.llm.model == "qwen2.5:7b" and len(sl.shots) == 6
    first, second = chat_bodies(server)
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2] == {"role": "assistant", "content": quoted}
    note = second["messages"][3]["content"]
    assert "not valid JSON (Expecting property name enclosed in double quotes" in note
    assert not any("not used" in line for line in lines)


def test_auto_falls_back_after_a_second_invalid_answer() -> None:
    bad = draft()
    bad["shots"][2]["shot_type"] = "dolly zoom"
    with ollama_app(["Sure! Here is a great plan for your film.", bad]) as server:
        sl, lines = auto(server.url + "/v1", model="llama3.1:8b")
    assert len(chat_bodies(server)) == 2  # one repair request, no third
    assert sl.planner == "rules" and sl.shots == plan_rules(CONCEPT, 30).shots
    assert sl.llm is not None and sl.llm.model == "llama3.1:8b" and sl.llm.host == host(server)
    assert "invalid shot list twice" in sl.llm.fallback
    assert "shots.2.shot_type" in sl.llm.fallback
    warnings = [line for line in lines if "the LLM planner was not used" in line]
    assert len(warnings) == 1 and "planned with the rules planner instead" in warnings[0]


@pytest.mark.parametrize(
    "answer,model,timeout,reason",
    [
        ((500, {"error": {"message": "CUDA out of memory"}}), "llama3.1:8b", 30, "HTTP 500"),
        (None, "llama9", 30, 'model "llama9" not found, try pulling it first'),
        ((200, "hang"), "llama3.1:8b", 0.5, "did not answer within 0.5 s"),
        ((200, "<html>502 Bad Gateway</html>"), "llama3.1:8b", 30, "not a JSON object"),
    ],
)
def test_auto_falls_back_when_the_model_fails_midway(answer, model, timeout, reason) -> None:
    with ollama_app([answer or draft()]) as server:
        sl, lines = auto(server.url, model=model, timeout_s=timeout)
    assert paths(server) == ["GET /v1/models", "POST /v1/chat/completions"]
    assert sl.planner == "rules" and reason in sl.llm.fallback
    assert sum("not used" in line for line in lines) == 1


def test_auto_falls_back_when_the_check_is_not_answered_quickly() -> None:
    with ollama_app([draft()], models_delay_s=2) as server:
        sl, lines = auto(server.url, model="llama3.1:8b", probe_timeout_s=0.3)
    assert paths(server) == ["GET /v1/models"]  # no planning request to a server that slow
    assert sl.planner == "rules" and "did not answer within 0.3 s" in sl.llm.fallback
    assert len(lines) == 1 and "the LLM planner was not used" in lines[0]


def test_auto_falls_back_when_unreachable() -> None:
    url = free_port_url()
    sl, lines = auto(url + "/v1")
    assert sl.planner == "rules" and sl.llm.host == url.removeprefix("http://")
    assert sl.llm.fallback.startswith(f"cannot reach the LLM at {url}/v1/models")
    assert len(lines) == 1 and lines[0].startswith("warning: the LLM planner was not used")


def test_auto_with_nothing_configured_is_the_rules_planner_silently() -> None:
    lines: list[str] = []
    sl = plan_shotlist(CONCEPT, 30, planner="auto", say=lines.append)
    assert sl.planner == "rules" and sl.llm is None and lines == []


def test_explicit_llm_never_falls_back() -> None:
    with ollama_app([(503, {"error": {"message": "server busy"}})]) as server:
        with pytest.raises(BackendUnavailable, match="HTTP 503: server busy"):
            auto(server.url, planner="llm")
    assert paths(server) == ["GET /v1/models", "POST /v1/chat/completions"]
    with pytest.raises(BackendUnavailable, match="cannot reach the LLM at .*/v1/models"):
        auto(free_port_url(), planner="llm")
    with ollama_app([], models={"object": "list", "data": []}) as server:
        with pytest.raises(ConfigError, match="lists no models; pass --llm-model"):
            auto(server.url, planner="llm")


# -- Anthropic ---------------------------------------------------------------------------------


def test_auto_with_anthropic_lists_models_then_repairs_through_the_tool() -> None:
    bad = draft()
    bad["shots"][1]["duration"] = -2
    with anthropic_app([bad, draft()]) as server:
        config = LLMConfig(endpoint=server.url, kind="anthropic")
        config = config.model_copy(update={"api_key": "sk-ant-test"})
        lines: list[str] = []
        sl = plan_shotlist(CONCEPT, 30, planner="auto", llm=config, say=lines.append)
    assert sl.planner == "llm"
    assert sl.llm == PlannerLLM(model="claude-sonnet-4-20250514", host=host(server))
    assert paths(server) == ["GET /v1/models", "POST /v1/messages", "POST /v1/messages"]
    listing = server.requests[0]["headers"]
    assert listing["x-api-key"] == "sk-ant-test" and listing["anthropic-version"] == "2023-06-01"
    first, second = chat_bodies(server)
    assert first["model"] == "claude-sonnet-4-20250514"
    assert first["tool_choice"] == {"type": "tool", "name": "submit_shot_list"}
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_01"
    assert "shots.1.duration" in result["content"]


def test_auto_with_a_refused_anthropic_key_falls_back_before_planning() -> None:
    with anthropic_app([draft()]) as server:
        config = LLMConfig(endpoint=server.url, kind="anthropic", model="claude-x")
        config = config.model_copy(update={"api_key": "sk-wrong"})
        lines: list[str] = []
        sl = plan_shotlist(CONCEPT, 30, planner="auto", llm=config, say=lines.append)
    assert paths(server) == ["GET /v1/models"]
    assert sl.planner == "rules" and "refused the API key" in sl.llm.fallback
    assert "invalid x-api-key" in sl.llm.fallback and len(lines) == 1


def test_what_configures_an_llm(tmp_path, monkeypatch) -> None:
    assert configured_llm() is None  # nothing: the rules planner, no check at all
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    alone = configured_llm()
    assert alone is not None and (alone.kind, alone.endpoint) == ("anthropic", ANTHROPIC_ENDPOINT)
    assert alone.api_key == "sk-ant-env" and alone.model == ""
    named = configured_llm(model="claude-x")
    assert named is not None and (named.kind, named.model) == ("anthropic", "claude-x")
    monkeypatch.setenv("VIDEOFACTORY_LLM_URL", "http://localhost:11434/v1")
    local = configured_llm()  # a URL wins over the bare key: the local model is asked
    assert local is not None and local.kind == "openai" and local.model == ""
    hosted = configured_llm(endpoint="https://api.anthropic.com", model="claude-x")
    assert hosted is not None and hosted.kind == "anthropic"
    monkeypatch.delenv("VIDEOFACTORY_LLM_URL")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError, match="has no endpoint: pass --llm-url"):
        configured_llm(model="llama3.1")  # half-named: an error, not a silent rules plan
    farm = tmp_path / "factory.yaml"
    farm.write_text(
        "workers: [{id: g, url: 'http://h:1'}]\n"
        "llm: {endpoint: 'http://localhost:8000/v1', probe_timeout_s: 1}\n",
        encoding="utf-8",
    )
    vllm = configured_llm(load_farm(farm))
    assert vllm is not None and vllm.model == "" and vllm.probe_timeout_s == 1


def test_the_schema_asks_for_every_shot_field_a_model_writes() -> None:
    """The draft asks for every field of a shot but those videofactory assigns (a new one in
    ``Shot``, e.g. a transition, must be asked of the model too)."""
    ours = {"id", "seed", "style", "reference_image", "takes"}
    shot = draft_schema()["properties"]["shots"]["items"]
    assert set(shot["properties"]) == set(Shot.model_fields) - ours
    assert set(shot["required"]) == {"duration", "prompt", "shot_type"}
    assert set(draft_schema()["properties"]) == {"style", "character", "setting", "shots"}


# -- --style -----------------------------------------------------------------------------------


def test_style_is_the_films_with_either_planner() -> None:
    style = "ink wash on rice paper, muted greys"
    rules = plan_shotlist(CONCEPT, 30, planner="rules", style=style)
    assert rules.style == style and all(s.style == style for s in rules.shots)
    assert all(s.prompt.endswith(style) and s.prompt.count(style) == 1 for s in rules.shots)
    own = plan_rules(CONCEPT, 30).style
    assert not any(own in s.prompt for s in rules.shots)
    with ollama_app([draft()]) as server:  # the model answers "painterly", as it likes
        sl, _ = auto(server.url, model="llama3.1:8b")
        styled = plan_shotlist(
            CONCEPT, 30, planner="llm", style=style,
            llm=LLMConfig(endpoint=server.url, model="llama3.1:8b"),
        )  # fmt: skip
    assert sl.style == "painterly"
    asked = chat_bodies(server)[-1]["messages"][1]["content"]
    assert f"set 'style' to exactly {json.dumps(style)}" in asked
    assert styled.style == style and all(s.style == style for s in styled.shots)
    assert all(style in s.prompt and "painterly" not in s.prompt for s in styled.shots)
    with pytest.raises(ConfigError, match="the style is empty"):
        plan_shotlist(CONCEPT, 30, style=" \n ")


# -- the command line --------------------------------------------------------------------------


def run(*args: str, cwd: Path, env: dict | None = None):
    return run_cli(args, cwd=cwd, env=env, timeout=240)


def test_cli_auto_asks_the_llm_and_plan_json_names_it(tmp_path) -> None:
    with ollama_app([draft(n=4, total=20)]) as server:
        res = run(
            "plan", CONCEPT, "-d", "20", "--json", "--style", "ink wash", cwd=tmp_path,
            env={"VIDEOFACTORY_LLM_URL": server.url + "/v1"},
        )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(res.stdout)
    assert data["planner"] == "llm" and len(data["shots"]) == 4 and data["style"] == "ink wash"
    assert data["llm"] == {"model": "llama3.1:8b", "host": host(server), "fallback": ""}
    assert res.stderr.strip() == f"planning with the LLM llama3.1:8b at {host(server)}"


def test_cli_auto_falls_back_with_one_line(tmp_path) -> None:
    url = free_port_url()
    res = run("plan", CONCEPT, "-d", "20", "--json", "--llm-url", url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(res.stdout)
    assert data["planner"] == "rules" and data["llm"]["host"] == url.removeprefix("http://")
    assert "cannot reach the LLM" in data["llm"]["fallback"]
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("warning: the LLM planner was not used: cannot reach the LLM at ")
    assert "planned with the rules planner instead" in line


@pytest.mark.parametrize("command", ["plan", "generate"])
def test_cli_explicit_llm_unreachable_is_one_error(tmp_path, command) -> None:
    url = free_port_url()
    res = run(
        command, CONCEPT, "-d", "10", "--planner", "llm", "--llm-url", url,
        "--workdir" if command == "generate" else "--seed", "w" if command == "generate" else "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 1 and res.stdout == ""
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach the LLM at {url}/v1/models")
    assert "Traceback" not in res.stderr and not (tmp_path / "w").exists()


@pytest.mark.slow
def test_generate_show_and_report_name_the_planner(tmp_path) -> None:
    small = ["-d", "4", "--clip-seconds", "2", "--width", "160", "--height", "96"]
    work = ["--workdir", str(tmp_path / "w")]
    with ollama_app([draft(n=2, total=4)]) as server:
        res = run("generate", CONCEPT, *small, *work, "--json", "--llm-url", server.url,
                  cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    llm_run = json.loads(res.stdout.strip().splitlines()[-1])["run_id"]
    res = run("generate", CONCEPT, *small, *work, "--json", "--llm-url", free_port_url(),
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stderr.count("the LLM planner was not used") == 1
    rules_run = json.loads(res.stdout.strip().splitlines()[-1])["run_id"]

    shown = json.loads(run("show", llm_run, *work, "--json", cwd=tmp_path).stdout)
    assert shown["planner"] == {
        "planner": "llm", "model": "llama3.1:8b", "host": host(server), "fallback": None
    }  # fmt: skip
    text = run("show", llm_run, *work, cwd=tmp_path).stdout
    assert f"planner: llm (llama3.1:8b at {host(server)})" in text
    page = (tmp_path / "w" / llm_run / "report.html").read_text(encoding="utf-8")
    assert f"planned by <b>llm (llama3.1:8b at {host(server)})</b>" in page

    shown = json.loads(run("show", rules_run, *work, "--json", cwd=tmp_path).stdout)
    assert shown["planner"]["planner"] == "rules"
    assert shown["planner"]["fallback"].startswith("cannot reach the LLM at")
    text = run("show", rules_run, *work, cwd=tmp_path).stdout
    assert "planner: rules (instead of the LLM: cannot reach the LLM at" in text
    page = (tmp_path / "w" / rules_run / "report.html").read_text(encoding="utf-8")
    assert "planned by <b>rules (instead of the LLM: cannot reach the LLM at" in page
