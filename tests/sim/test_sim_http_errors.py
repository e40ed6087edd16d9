"""The HTTP error fault: aiohttp's own 500 on ComfyUI's routes, before or after the request
took effect, repeating with the seed."""

from __future__ import annotations

import time
from typing import Any

from typer.testing import CliRunner

from videofactory.cli import app
from videofactory.sim import SimFaults, SimWorkerSpec
from videofactory.sim.__main__ import build_parser
from videofactory.sim.farm import fault_args, with_faults

from .simkit import SimClient, load_fixture, new_id, png_bytes, tiny

#: What aiohttp answers when a handler raises (captured from a real ComfyUI).
REAL_500 = load_fixture("prompt_error_malformed_json.json")


def _wire(response: Any) -> tuple[int, str, str, str]:
    h = response.headers
    return response.status_code, h["content-type"], h.get("connection", ""), response.text


def test_every_comfyui_route_answers_aiohttps_own_500(servers: Any) -> None:
    sim = servers()
    assert REAL_500["status"] == 500
    # The 500 of a handler that raised (a malformed body) and the injected one: same bytes.
    real = _wire(sim.http.post("/free", content=b"{not json"))
    assert real == (500, "text/plain; charset=utf-8", "close", REAL_500["body_text"])
    sim.http.post("/sim/faults", json={"http_error_rate": 1})
    routes = [
        ("GET", "/system_stats"),
        ("GET", "/object_info"),
        ("GET", "/object_info/SaveImage"),
        ("GET", "/queue"),
        ("GET", "/prompt"),
        ("GET", "/history"),
        ("GET", "/history/nope"),
        ("GET", "/view?filename=example.png&type=input"),
        ("GET", "/features"),
        ("GET", "/models"),
        ("GET", "/api/queue"),
        ("POST", "/interrupt"),
    ]
    for method, path in routes:
        assert _wire(sim.http.request(method, path)) == real, path
    # Spared: the websocket, unknown routes, the simulator's own routes.
    ws = sim.ws(new_id())
    assert ws.snapshot()[0]["type"] == "status"
    assert sim.http.get("/no/such/route").status_code == 404
    state = sim.http.get("/sim/faults").json()
    assert state["http_error_rate"] == 1.0
    assert state["http_errors"] == len(routes)
    log = sim.http.get("/sim/requests").json()
    assert [e["status"] for e in log if e["path"] in ("/queue", "/api/queue")] == [500, 500]


def test_a_failed_post_has_taken_effect_in_about_half_the_draws(servers: Any) -> None:
    sim = servers(faults=SimFaults(http_error_rate=1.0, seed=5))
    ids = [f"p{i}" for i in range(16)]
    for i, pid in enumerate(ids):
        r = sim.submit(tiny(i), prompt_id=pid)
        assert r.status_code == 500 and r.text == REAL_500["body_text"]
    names = [f"ref{i}.png" for i in range(16)]
    for name in names:
        r = sim.upload(name, png_bytes(), overwrite="true", subfolder="up")
        assert r.status_code == 500
    sim.http.post("/sim/faults", json={"http_error_rate": 0})
    # Queued despite the 500: they run and reach history; the others were never queued.
    log = sim.http.get("/sim/requests").json()
    assert [e["prompt_id"] for e in log if e["path"] == "/prompt"] == ids  # logged as asked
    deadline = time.monotonic() + 30
    while sim.http.get("/queue").json()["queue_pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    queued = [pid for pid in ids if sim.http.get(f"/history/{pid}").json()]
    saved = [name for name in names if (sim.root / "input" / "up" / name).exists()]
    assert 3 <= len(queued) <= 13 and 3 <= len(saved) <= 13, (queued, saved)
    for pid in queued:
        assert sim.history(pid)["status"]["status_str"] == "success"
    log = sim.http.get("/sim/requests").json()
    started = [e["prompt_id"] for e in log if e["event"] == "execution_start"]
    assert started == queued  # each ran once, in the order they were posted


def test_errors_repeat_with_the_seed_and_leave_prompt_draws_alone(servers: Any) -> None:
    def statuses(sim: SimClient) -> list[int]:
        return [sim.http.get("/queue").status_code for _ in range(40)]

    a = statuses(servers(faults=SimFaults(http_error_rate=0.3, seed=7)))
    b = statuses(servers(faults=SimFaults(http_error_rate=0.3, seed=7)))
    c = statuses(servers(faults=SimFaults(http_error_rate=0.3, seed=8)))
    assert a == b and a != c and 4 <= a.count(500) <= 20

    def fates(sim: SimClient) -> list[str]:
        out = []
        for i in range(8):
            pid = f"f{i}"
            while sim.submit(tiny(i), prompt_id=pid).status_code != 200:
                if _known(sim, pid):  # queued although its answer was a 500
                    break
            out.append(_history(sim, pid)["status"]["status_str"])
        return out

    quiet = fates(servers(faults=SimFaults(fail_rate=0.5, seed=3)))
    noisy = fates(servers(faults=SimFaults(fail_rate=0.5, http_error_rate=0.4, seed=3)))
    assert quiet == noisy and "error" in quiet and "success" in quiet


def _get(sim: SimClient, path: str) -> Any:
    """A GET tried until it is not an injected 500."""
    while (r := sim.http.get(path)).status_code == 500:
        pass
    return r.json()


def _known(sim: SimClient, pid: str) -> bool:
    queue = _get(sim, "/queue")
    items = queue["queue_running"] + queue["queue_pending"]
    return any(i[1] == pid for i in items) or bool(_get(sim, f"/history/{pid}"))


def _history(sim: SimClient, pid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while not (entry := _get(sim, f"/history/{pid}")) and time.monotonic() < deadline:
        time.sleep(0.02)
    return entry[pid]


def test_flag_and_targeted_fault_reach_the_server_command_line() -> None:
    specs = [SimWorkerSpec("gpu0", "RTX 5090", 32), SimWorkerSpec("gpu1", "RTX 3090", 24)]
    out = with_faults(specs, {"http_error_rate": 0.1}, ["gpu1:http_error_rate=0.25"])
    assert out[0].faults == SimFaults(http_error_rate=0.1)
    assert fault_args(out[1].faults) == ["--http-error-rate", "0.25"]
    args, _ = build_parser().parse_known_args(fault_args(out[1].faults))
    assert args.fault_http_error_rate == "0.25"
    result = CliRunner().invoke(app, ["sim", "--help"])
    assert "--http-error-rate" in result.output
    result = CliRunner().invoke(app, ["sim", "--http-error-rate", "1.5"])
    assert result.exit_code == 1 and "http_error_rate must be between 0 and 1" in result.output
    assert "Traceback" not in result.output
