"""The farm file's managed workers and the command lines they give (pure; no process)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from videofactory.config import FarmConfig, load_farm
from videofactory.errors import ConfigError
from videofactory.launcher import build_specs, draining, restarts_since
from videofactory.launcher.plan import extra_model_paths_yaml
from videofactory.launcher.state import append_record, farm_paths


def farm_of(tmp: Path, doc: dict) -> FarmConfig:
    path = tmp / "factory.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_farm(path)


def test_default_command_is_comfyui_with_its_flags(tmp_path: Path) -> None:
    farm = farm_of(
        tmp_path,
        {
            "launcher": {"comfyui": "ComfyUI", "python": "ComfyUI/venv/bin/python",
                         "extra_args": ["--preview-method", "auto"]},
            "workers": [
                {"id": "gpu0", "managed": True, "cuda_device": 0, "port": 8188},
                {"id": "gpu1", "managed": True, "cuda_device": 1, "port": 8189,
                 "extra_args": ["--highvram"], "rss_limit_gb": 12},
                {"id": "remote", "url": "http://10.0.0.5:8188"},
            ],
        },
    )  # fmt: skip
    specs = build_specs(farm, Path(farm.launcher.folder))
    assert [s.id for s in specs] == ["gpu0", "gpu1"]  # only the managed ones
    g1 = specs[1]
    home = tmp_path / "farm" / "workers" / "gpu1"
    assert list(g1.argv) == [
        str(tmp_path / "ComfyUI/venv/bin/python"),
        str(tmp_path / "ComfyUI") + "/main.py",
        "--listen", "127.0.0.1", "--port", "8189", "--cuda-device", "1",
        "--output-directory", str(home / "output"), "--input-directory", str(home / "input"),
        "--temp-directory", str(home / "temp"), "--user-directory", str(home / "user"),
        "--disable-auto-launch", "--preview-method", "auto", "--highvram",
    ]  # fmt: skip
    assert "--base-directory" not in g1.argv  # models/ and custom_nodes/ stay shared
    assert g1.url == "http://127.0.0.1:8189" and g1.port == 8189
    assert g1.rss_limit_bytes == 12 * 1024**3 and specs[0].rss_limit_bytes is None
    assert g1.log == tmp_path / "farm" / "logs" / "gpu1.log"
    assert g1.comfyui == tmp_path / "ComfyUI" and g1.uses_comfyui
    assert farm.worker("gpu0").url == "http://127.0.0.1:8188"  # filled in for the dispatcher


def test_gpu_env_listen_models_and_placeholders(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    farm = farm_of(
        tmp_path,
        {
            "launcher": {
                "command": ["{python}", "-m", "videofactory.sim", "--name", "{id}",
                            "--card", "{card}", "--vram-gb", "{vram_gb}"],
                "gpu_env": True,
                "listen": "0.0.0.0",
                "models": "models",
                "extra_model_paths": "mine.yaml",
            },
            "workers": [{"id": "g5", "card": "RTX 4080 Super", "vram_gb": 16, "managed": True,
                         "cuda_device": 5, "url": "http://127.0.0.1:9005",
                         "env": {"HF_HOME": "/cache"}}],
        },
    )  # fmt: skip
    (spec,) = build_specs(farm, Path(farm.launcher.folder))
    argv = list(spec.argv)
    assert argv[:8] == [sys.executable, "-m", "videofactory.sim", "--name", "g5",
                        "--card", "RTX 4080 Super", "--vram-gb"]  # fmt: skip
    assert argv[8] == "16" and "--cuda-device" not in argv
    assert spec.env["CUDA_VISIBLE_DEVICES"] == "5" and spec.env["HF_HOME"] == "/cache"
    assert argv[argv.index("--listen") + 1] == "0.0.0.0" and spec.port == 9005
    i = argv.index("--extra-model-paths-config")
    assert argv[i + 1] == str(tmp_path / "farm" / "extra_model_paths.yaml")
    assert argv[i + 2 : i + 4] == ["--extra-model-paths-config", str(tmp_path / "mine.yaml")]
    assert not spec.uses_comfyui and spec.comfyui is None


def test_shared_model_folders_become_extra_model_paths() -> None:
    text = extra_model_paths_yaml(
        [Path("/srv/models"), Path("/nas/loras")],
        {Path("/srv/models"): ["checkpoints", "vae", "diffusion_models"], Path("/nas/loras"): []},
    )
    doc = yaml.safe_load(text)
    assert doc["videofactory_0"] == {
        "base_path": "/srv/models",
        "is_default": True,
        "checkpoints": "checkpoints/",
        "diffusion_models": "diffusion_models/",
        "vae": "vae/",
    }
    assert doc["videofactory_1"] == {"base_path": "/nas/loras"}


@pytest.mark.parametrize(
    ("workers", "launcher", "message"),
    [
        (
            [{"id": "a", "managed": True, "cuda_device": 0, "port": 8188},
             {"id": "b", "managed": True, "cuda_device": 1, "port": 8188}],
            {},
            "workers a and b both use port 8188; give each managed server its own port",
        ),
        (
            [{"id": "a", "managed": True, "cuda_device": 0, "port": 8188},
             {"id": "b", "url": "http://localhost:8188"}],
            {},
            "workers a and b both use port 8188",
        ),
        (
            [{"id": "a", "managed": True, "cuda_device": 0}],
            {},
            "worker a is managed: give it a port",
        ),
        (
            [{"id": "a", "managed": True, "port": 8188, "url": "http://127.0.0.1:8190"}],
            {},
            "worker a: port 8188 is not the port of url http://127.0.0.1:8190",
        ),
        (
            [{"id": "a", "managed": True, "port": 8188},
             {"id": "b", "managed": True, "port": 8189}],
            {},
            "managed workers a, b name no cuda_device",
        ),
        (
            [{"id": "a", "managed": True, "port": 8188, "cuda_device": -1}],
            {},
            "workers.0.cuda_device",
        ),
        ([{"id": "a", "url": "http://x:1"}], {"restart_backoff_s": []}, "restart_backoff_s"),
        ([{"id": "a", "url": "http://x:1"}], {"comfyui_folder": "x"}, "unknown field"),
    ],
)  # fmt: skip
def test_bad_managed_workers_are_one_line(tmp_path, workers, launcher, message) -> None:
    with pytest.raises(ConfigError) as info:
        farm_of(tmp_path, {"workers": workers, "launcher": launcher})
    assert message in str(info.value)
    assert "Value error" not in str(info.value) and "\n" not in str(info.value)


def test_unmanaged_workers_may_share_a_server(tmp_path: Path) -> None:
    farm = farm_of(
        tmp_path,
        {"workers": [{"id": "a", "url": "http://127.0.0.1:8188"},
                     {"id": "b", "url": "http://127.0.0.1:8188"}]},
    )  # fmt: skip
    assert not farm.launcher.models and build_specs(farm, tmp_path) == []


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("{python} main.py --gpu {gpu}", "the command template names {gpu}; it may use {python}"),
        ("{python} {comfyui}/main.py", "no ComfyUI folder; set launcher.comfyui"),
        ("{python} -c 'print({)'", "write a literal brace as {{"),
        ("", "the command template is empty"),
    ],
)
def test_bad_command_templates(tmp_path: Path, command: str, message: str) -> None:
    farm = farm_of(
        tmp_path,
        {"launcher": {"command": command},
         "workers": [{"id": "a", "managed": True, "port": 8188}]},
    )  # fmt: skip
    with pytest.raises(ConfigError) as info:
        build_specs(farm, tmp_path)
    assert message in str(info.value) and str(info.value).startswith("worker a: ")


def test_restarts_since_pairs_each_restart_with_its_return(tmp_path: Path) -> None:
    paths = farm_paths(tmp_path / "farm")
    append_record(paths, {"event": "restart", "worker": "gpu1", "cause": "exited", "ts": 10.0})
    append_record(paths, {"event": "up", "worker": "gpu1", "pid": 42, "ts": 12.0})
    append_record(paths, {"event": "drain", "worker": "gpu2", "ts": 20.0})
    append_record(paths, {"event": "restart", "worker": "gpu2", "cause": "memory", "ts": 21.0})
    append_record(paths, {"event": "restart", "worker": "gpu3", "cause": "exited", "ts": 30.0})
    append_record(paths, {"event": "gave_up", "worker": "gpu3", "ts": 31.0})
    with open(paths.records, "a") as f:
        f.write('{"event": "restart", "worker": "gpu4"')  # torn last line: skipped
    got = restarts_since(tmp_path / "farm", 0)
    assert [(r["worker"], r["cause"]) for r in got] == [
        ("gpu1", "exited"), ("gpu2", "memory"), ("gpu3", "exited")
    ]  # fmt: skip
    assert got[0]["back_at"] == 12.0 and got[0]["new_pid"] == 42
    assert "back_at" not in got[1] and got[2]["gave_up"] is True
    assert [r["worker"] for r in restarts_since(tmp_path / "farm", 21.0)] == ["gpu2", "gpu3"]
    assert restarts_since(tmp_path / "nothing", 0) == []
    json.dumps(got)  # JSON-ready for the run report


def test_draining_is_empty_without_a_supervisor(tmp_path: Path) -> None:
    paths = farm_paths(tmp_path)
    paths.state.write_text(json.dumps({"workers": {"gpu1": {"state": "draining"}}}))
    assert draining(tmp_path) == {}  # a state file left behind is not a live drain
