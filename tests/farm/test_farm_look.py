"""The look stage on a real simulated farm: a film's keyframes made as edits of its character
sheet and setting plate keep the character the same from shot to shot, where keyframes made
from their prompts alone do not.

The same 3-shot film (tiny frames, time scale 0) is rendered twice on one simulated server:
with its look, and with ``look: off``. The character's region of each keyframe (where the
simulator's painter stands it, ``paint_scene(...).subject``) is compared across the shots: its
colour histogram (intersection, 1 = the same) and the colour of its clothes (mean pairwise RGB
distance, 0 = the same).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from runkit import one_server_farm

from videofactory.factory import render_shotlist
from videofactory.shotlist import parse_shotlist
from videofactory.sim.farm import SimFarm, SimWorkerSpec
from videofactory.sim.render import paint_scene
from videofactory.store import Store

pytestmark = pytest.mark.slow

W, H = 192, 108
CHARACTER = "a lone warrior in a weathered cloak"
PROMPTS = {
    "s1": f"{CHARACTER} walks through a misty forest",
    "s2": f"{CHARACTER} crosses a desert at noon",
    "s3": f"{CHARACTER} stands on a snowy ridge at night",
}


def film(look: str | None):
    data = {
        "concept": "a lone warrior's journey",
        "duration": 3.0,
        "character": CHARACTER,
        "setting": "a misty mystical forest at dawn",
        "width": W,
        "height": H,
        "fps": 12,
        "shots": [
            {"id": sid, "duration": 1.0, "prompt": prompt, "seed": i}
            for i, (sid, prompt) in enumerate(PROMPTS.items(), start=1)
        ],
    }
    if look is not None:
        data["look"] = look
    return parse_shotlist(data)


def character_region(path: Path, shot_id: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The keyframe's character box, and the middle of its body (its clothes)."""
    picture = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    subject = paint_scene(PROMPTS[shot_id], seed, W, H).subject
    assert subject is not None
    left, top, right, bottom = (int(round(v)) for v in subject)
    box = picture[top:bottom, left:right]
    h, w = box.shape[:2]
    body = box[int(h * 0.45) : int(h * 0.85), int(w * 0.3) : int(w * 0.7)]
    return box, body


def histogram(region: np.ndarray) -> np.ndarray:
    hist, _ = np.histogramdd(region.reshape(-1, 3), bins=(8, 8, 8), range=[(0, 256)] * 3)
    return hist / hist.sum()


def consistency(keyframes: dict[str, Path]) -> tuple[float, float]:
    """(mean pairwise histogram intersection of the character's box, mean pairwise distance
    of its clothes' colour) over the film's shots."""
    regions = {
        sid: character_region(keyframes[sid], sid, i) for i, sid in enumerate(PROMPTS, start=1)
    }
    pairs = list(itertools.combinations(PROMPTS, 2))
    inter = [
        float(np.minimum(histogram(regions[a][0]), histogram(regions[b][0])).sum())
        for a, b in pairs
    ]
    dist = [
        float(np.linalg.norm(regions[a][1].mean(axis=(0, 1)) - regions[b][1].mean(axis=(0, 1))))
        for a, b in pairs
    ]
    return float(np.mean(inter)), float(np.mean(dist))


def keyframes_of(workdir: Path, run_id: str) -> dict[str, Path]:
    with Store.for_workdir(workdir) as store:
        arts = store.artifacts(run_id)
        kinds = {t.id: t.kind for t in store.tasks(run_id)}
    assert sorted(k for k in kinds.values() if k == "look") == (
        ["look", "look"] if any(k == "look" for k in kinds.values()) else []
    )
    return {a["task_id"].split("/")[1]: Path(a["path"]) for a in arts if a["kind"] == "keyframe"}


def test_the_look_stage_keeps_the_character_the_same_across_shots(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("VIDEOFACTORY_")]:
        monkeypatch.delenv(key)
    spec = SimWorkerSpec(name="g0", card="RTX 5090", vram_gb=32, time_scale=0.0)
    with SimFarm([spec], tmp_path / "sim") as sim:
        farm = one_server_farm(tmp_path / "farm.yaml", sim.urls["g0"])
        runs = tmp_path / "runs"
        with_look = render_shotlist(film(None), workdir=runs, farm_file=farm, assemble=False)
        without = render_shotlist(film("off"), workdir=runs, farm_file=farm, assemble=False)
    looked = keyframes_of(runs, with_look.run_id)
    plain = keyframes_of(runs, without.run_id)
    assert sorted(looked) == sorted(plain) == sorted(PROMPTS)
    assert sorted(p.name for p in (with_look.run_dir / "look").iterdir()) == [
        "character.png",
        "setting.png",
    ]
    assert not (without.run_dir / "look").exists()
    hist_look, dist_look = consistency(looked)
    hist_plain, dist_plain = consistency(plain)
    print(
        f"\ncharacter consistency over 3 shots ({W}x{H}):"
        f"\n  with the look stage:    histogram intersection {hist_look:.3f}, "
        f"clothes colour distance {dist_look:.1f}"
        f"\n  without (look: off):    histogram intersection {hist_plain:.3f}, "
        f"clothes colour distance {dist_plain:.1f}"
    )
    # The clothes are the sheet's colour in every shot (texture and blur aside) ...
    assert dist_look < 25 and dist_plain > 3 * dist_look
    # ... and the character's whole region is clearly more alike.
    assert hist_look > hist_plain + 0.1


def test_a_look_picture_of_the_users_is_kept_in_the_run_and_dresses_every_keyframe(
    tmp_path, monkeypatch
):
    """``look: {character: me.png}``: no character sheet is made (only the setting plate),
    the user's picture is copied into the run (``look/character.png``) and uploaded from
    there, every keyframe's character wears its colour, and a redo after the original is gone
    still renders: the run needs nothing outside its folder."""
    from videofactory.factory import redo_run
    from videofactory.sim.lookpaint import paint_sheet, read_sheet

    for key in [k for k in os.environ if k.startswith("VIDEOFACTORY_")]:
        monkeypatch.delenv(key)
    mine = tmp_path / "refs" / "me.PNG"
    mine.parent.mkdir()
    sheet = paint_sheet("character sheet of a warrior in an orange cloak", 7, W, H)
    Image.fromarray(sheet).save(mine, format="PNG")
    orange = np.array(read_sheet(sheet), dtype=np.float32)
    spec = SimWorkerSpec(name="g0", card="RTX 5090", vram_gb=32, time_scale=0.0)
    with SimFarm([spec], tmp_path / "sim") as sim:
        farm = one_server_farm(tmp_path / "farm.yaml", sim.urls["g0"])
        runs = tmp_path / "runs"
        first = render_shotlist(
            film({"character": str(mine)}), workdir=runs, farm_file=farm, assemble=False
        )
        kept = first.run_dir / "look" / "character.png"
        assert kept.read_bytes() == mine.read_bytes()
        with Store.for_workdir(runs) as store:
            looks = [t.id for t in store.tasks(first.run_id) if t.kind == "look"]
            recorded = store.plan(first.run_id)["look"]
        assert looks == [f"{first.run_id}/setting/look"]
        assert recorded == {"character": str(kept.resolve())}
        assert "refs" not in (first.run_dir / "shots.yaml").read_text()
        for sid, path in keyframes_of_any(runs, first.run_id).items():
            _, body = character_region(path, sid, list(PROMPTS).index(sid) + 1)
            assert np.linalg.norm(body.mean(axis=(0, 1)) - orange) < 25, sid

        mine.unlink()  # the user tidies up: the run still has the picture
        run_id, run_dir, result = redo_run(
            first.run_id, "s2", workdir=runs, prompt=f"{CHARACTER} crosses a frozen lake"
        )
    assert result is not None and result.run_id == run_id
    with Store.for_workdir(runs) as store:
        states = {t.id: t.state for t in store.tasks(run_id) if t.kind != "assemble"}
        worked = {t.id for t in store.tasks(run_id) if t.worker not in (None, "cache")}
    assert set(states.values()) == {"done"}  # not assembled: the film was made without
    # The redone shot's keyframe, made as an edit of the kept picture, and its clip.
    assert {f"{run_id}/s2/keyframe", f"{run_id}/s2/clip"} <= worked
    assert (run_dir / "look" / "character.png").read_bytes() == kept.read_bytes()


def keyframes_of_any(workdir: Path, run_id: str) -> dict[str, Path]:
    """The run's keyframes by shot, whatever its look tasks."""
    with Store.for_workdir(workdir) as store:
        arts = store.artifacts(run_id)
    return {a["task_id"].split("/")[1]: Path(a["path"]) for a in arts if a["kind"] == "keyframe"}
