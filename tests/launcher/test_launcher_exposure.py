"""Managed servers listening beyond this machine: refused unless the farm file (or `farm up`)
says yes, and then warned about; the yes reaches a simulator standing in for ComfyUI."""

from __future__ import annotations

import json

import httpx
import pytest
from subprocs import cli

from videofactory.errors import ConfigError
from videofactory.exposure import EXPOSED_ENV
from videofactory.launcher import build_specs, check_farm, farm_paths

from .conftest import Farms

HOW = (
    "or set launcher.i_know_this_is_exposed: true in the farm file (or pass "
    "--i-know-this-is-exposed to farm up) if you mean it"
)


def refusals(farms: Farms, workers: list[dict], **launcher) -> list[str]:
    farm = farms.load(farms.write(workers, **launcher))
    with pytest.raises(ConfigError) as info:
        check_farm(farm)
    first, *lines = str(info.value).splitlines()
    assert first == "the farm cannot start:"
    return [line.strip() for line in lines]


def test_an_exposed_listen_is_refused_one_line_for_its_servers(farms: Farms) -> None:
    lines = refusals(farms, [{"id": "gpu0"}, {"id": "gpu1"}], listen="0.0.0.0")
    (line,) = lines
    assert line.startswith(
        "gpu0, gpu1: listen address 0.0.0.0 opens the server to the network (0.0.0.0), and "
        "ComfyUI has no authentication"
    )
    assert line.endswith(HOW)
    # One worker's own listen: that worker only.
    (line,) = refusals(farms, [{"id": "gpu0", "listen": "0.0.0.0"}, {"id": "gpu1"}])
    assert line.startswith("gpu0: listen address 0.0.0.0 opens") and line.endswith(HOW)


def test_loopback_needs_nothing_and_a_yes_reaches_the_servers(farms: Farms, tmp_path) -> None:
    for listen in ("127.0.0.1", "localhost"):
        check_farm(farms.load(farms.write([{"id": "gpu0"}], name="lo.yaml", listen=listen)))
    farm = farms.load(
        farms.write(
            [{"id": "gpu0", "listen": "0.0.0.0"}, {"id": "gpu1"}],
            name="yes.yaml",
            i_know_this_is_exposed=True,
        )
    )
    check_farm(farm)  # no problem
    exposed, loopback = build_specs(farm, farm_paths(farm).folder)
    # The simulator standing in for ComfyUI hears the yes (ComfyUI ignores the variable).
    assert exposed.env[EXPOSED_ENV] == "1" and EXPOSED_ENV not in loopback.env
    # `{python} -m videofactory.sim`: nothing of the folder `farm up` is typed in is imported.
    assert exposed.env["PYTHONSAFEPATH"] == "1"
    comfy = farms.load(
        farms.write([{"id": "gpu0"}], name="comfy.yaml", command="{python} {comfyui}/main.py",
                    comfyui=str(tmp_path / "ComfyUI"))
    )  # fmt: skip
    (spec,) = build_specs(comfy, farm_paths(comfy).folder)
    assert "PYTHONSAFEPATH" not in spec.env  # `python main.py` needs its own folder on sys.path


def test_farm_up_refuses_then_starts_with_the_flag_and_warns(farms: Farms, tmp_path) -> None:
    path = farms.write([{"id": "gpu0"}], listen="0.0.0.0")
    farm = farms.load(path)
    res = cli("farm", "up", "--farm", str(path), cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.splitlines()[0] == "error: the farm cannot start:"
    assert len(res.stderr.splitlines()) == 2 and res.stderr.strip().endswith(HOW)
    assert not farm_paths(farm).state.exists()  # nothing was started
    # With the flag: the detached supervisor gets it too, and the server, the yes.
    res = cli("farm", "up", "--farm", str(path), "--i-know-this-is-exposed", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith(
        "warning: gpu0: listening on 0.0.0.0 opens the server to the network; ComfyUI has no "
        "authentication"
    )
    up = json.loads(res.stdout)
    assert up["ok"] and up["workers"][0]["reachable"]
    stats = httpx.get(farm.worker("gpu0").url + "/system_stats", timeout=10).json()
    argv = stats["system"]["argv"]
    assert argv[argv.index("--listen") + 1] == "0.0.0.0"
