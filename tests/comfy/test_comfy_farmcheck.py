"""Farm preflight: per worker and task kind, the workflow and why a kind is refused."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.farmcheck import choose_workflow, preflight_farm
from videofactory.config import FarmConfig, WorkerConfig
from videofactory.sim.options import SimOptions
from videofactory.sim.thread import ServerThread
from videofactory.vocabulary import TaskKind

from .conftest import fixture_workflow

REAL = json.loads((Path(__file__).parent / "data" / "object_info_templates.json").read_text())


def test_defaults_pick_the_first_template_whose_models_are_installed():
    worker = WorkerConfig(id="g", url="http://x")
    check = choose_workflow(worker, TaskKind.keyframe, REAL)
    assert not check.ok and check.source == "default"
    assert {p.kind for p in check.problems} == {"missing_model"}
    installed = copy.deepcopy(REAL)
    installed["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0].append(
        "sd_xl_base_1.0.safetensors"
    )
    check = choose_workflow(worker, TaskKind.keyframe, installed)
    assert check.ok and check.workflow.name == "sdxl/keyframe"  # flux is not installed


def test_a_wan_server_gets_the_first_last_frame_template_and_an_older_one_plain_wan():
    worker = WorkerConfig(id="g", url="http://x")
    installed = copy.deepcopy(REAL)
    unets = installed["UNETLoader"]["input"]["required"]["unet_name"][0]
    unets += [f"wan2.2_i2v_{n}_noise_14B_fp8_scaled.safetensors" for n in ("high", "low")]
    installed["CLIPLoader"]["input"]["required"]["clip_name"][0].append(
        "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
    )
    installed["VAELoader"]["input"]["required"]["vae_name"][0].append("wan_2.1_vae.safetensors")
    check = choose_workflow(worker, TaskKind.clip, installed)
    assert check.ok and check.workflow.name == "wan22_flf/clip"
    del installed["WanFirstLastFrameToVideo"]  # a ComfyUI from before the node
    check = choose_workflow(worker, TaskKind.clip, installed)
    assert check.ok and check.workflow.name == "wan22/clip"


def _install(info, loader, name, *files):
    info[loader]["input"]["required"][name][0].extend(files)


def test_keyframes_are_edits_where_the_models_are_there_else_independent():
    worker = WorkerConfig(id="g", url="http://x")
    flux_only = copy.deepcopy(REAL)
    _install(flux_only, "CheckpointLoaderSimple", "ckpt_name", "flux1-dev-fp8.safetensors")
    check = choose_workflow(worker, TaskKind.keyframe, flux_only)
    assert check.ok and check.workflow.name == "flux/keyframe" and not check.edits
    assert check.fallback.startswith("qwen_edit/keyframe: node 37")
    assert "qwen_image_edit_2509_fp8_e4m3fn.safetensors" in check.fallback
    assert check.to_json()["fallback"] == check.fallback
    look = choose_workflow(worker, TaskKind.look, flux_only)
    assert look.ok and look.workflow.name == "flux/keyframe" and not look.fallback
    qwen = copy.deepcopy(flux_only)
    _install(qwen, "UNETLoader", "unet_name", "qwen_image_edit_2509_fp8_e4m3fn.safetensors")
    _install(qwen, "CLIPLoader", "clip_name", "qwen_2.5_vl_7b_fp8_scaled.safetensors")
    _install(qwen, "VAELoader", "vae_name", "qwen_image_vae.safetensors")
    check = choose_workflow(worker, TaskKind.keyframe, qwen)
    assert check.ok and check.workflow.name == "qwen_edit/keyframe" and check.edits
    assert not check.fallback and check.to_json()["edits"]
    # An old server without the edit node: the same fallback, saying so.
    old = copy.deepcopy(qwen)
    del old["TextEncodeQwenImageEditPlus"], old["ReferenceLatent"]
    check = choose_workflow(worker, TaskKind.keyframe, old)
    assert check.workflow.name == "flux/keyframe" and "TextEncodeQwenImageEditPlus" in (
        check.fallback
    )


def test_the_simulator_edits_unless_it_lacks_its_edit_node(tmp_path):
    worker = WorkerConfig(id="g", url="http://x")
    from videofactory.sim.catalog import Catalog  # what the simulator's /object_info answers
    from videofactory.sim.paths import Folders

    catalogue = Catalog(Folders(tmp_path / "o", tmp_path / "i", tmp_path / "t")).all()
    check = choose_workflow(worker, TaskKind.keyframe, catalogue)
    assert check.workflow.name == "sim_edit/keyframe" and check.edits and not check.fallback
    assert choose_workflow(worker, TaskKind.look, catalogue).workflow.name == "sim/keyframe"
    del catalogue["SimImageEdit"]
    check = choose_workflow(worker, TaskKind.keyframe, catalogue)
    assert check.ok and check.workflow.name == "sim/keyframe" and not check.edits
    assert "unknown node type 'SimImageEdit'" in check.fallback


def test_farm_preflight_over_loopback(tmp_path):
    mine = tmp_path / "clip_api.json"
    mine.write_text(json.dumps(fixture_workflow("video_frames_to_mp4.json")))
    broken = tmp_path / "hero_api.json"
    broken.write_text(json.dumps({"nodes": [], "links": []}))
    with ServerThread(SimOptions(base_directory=tmp_path / "s", port=0)) as sim:
        farm = FarmConfig(
            workers=[
                WorkerConfig(id="plain", url=sim.url),
                WorkerConfig(
                    id="custom",
                    url=sim.url,
                    workflows={
                        TaskKind.keyframe: "sdxl",
                        TaskKind.clip: str(mine),
                        TaskKind.hero: str(broken),
                    },
                ),
                WorkerConfig(id="down", url="http://127.0.0.1:9"),
            ]
        )

        async def go():
            async with ComfyClient(sim.url) as shared:  # the dispatcher passes its clients
                return await preflight_farm(farm, clients={"plain": shared})

        report = asyncio.run(go())
    plain, custom, down = report["plain"], report["custom"], report["down"]
    assert plain.refused == frozenset() and plain.kinds[TaskKind.clip].source == "simulator"
    assert plain.workflow(TaskKind.hero).name == "sim/hero"
    # Its sdxl keyframe workflow also makes its look pictures (none named): refused alike.
    assert custom.refused == {TaskKind.look, TaskKind.keyframe, TaskKind.hero}
    assert custom.workflow(TaskKind.clip).name == "clip_api"
    (problem,) = custom.kinds[TaskKind.keyframe].problems
    assert "sd_xl_base_1.0.safetensors" in str(problem) and "none installed" in str(problem)
    assert "UI-format" in str(custom.kinds[TaskKind.hero].problems[0])
    assert not down.reachable and down.refused == set(TaskKind) - {
        TaskKind.speech,
        TaskKind.assemble,
    }
    data = custom.to_json()
    assert data["refused"] == ["hero", "keyframe", "look"]
    assert data["kinds"]["keyframe"]["problems"][0]["input"] == "ckpt_name"
