"""Content keys (pure): what changes a key and what does not, as tables."""

from __future__ import annotations

import copy

import pytest

from videofactory.cache.keys import (
    OUTPUT_PLACEHOLDER,
    canonical_json,
    gpu_key,
    input_ref,
    is_key,
    model_files,
    speech_key,
)
from videofactory.comfy.workflow import load_template
from videofactory.config import SpeechConfig
from videofactory.farm.dag import build_tasks
from videofactory.farm.reuse import narration_key, plan_reuse, speaker_identity, task_key
from videofactory.shotlist import CameraMove, Shot, ShotList

pytestmark = pytest.mark.core

SHA_A = "a" * 64
SHA_B = "b" * 64

GRAPH = {
    "1": {
        "class_type": "LoadImage",
        "inputs": {"image": input_ref(SHA_A)},
        "_meta": {"title": "K"},
    },
    "2": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "flux1-dev-fp8.safetensors"},
    },
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 7, "steps": 20, "cfg": 3.5, "model": ["2", 0], "text": "a warrior"},
    },
    "4": {
        "class_type": "SaveImage",
        "inputs": {"images": ["3", 0], "filename_prefix": OUTPUT_PLACEHOLDER},
    },
}


def _key(graph=GRAPH, inputs=None, models=None, kind="keyframe"):
    inputs = {"keyframe": SHA_A} if inputs is None else inputs
    return gpu_key(
        kind, graph, inputs=inputs, models=model_files(graph) if models is None else models
    )


def _edit(path, value):
    graph = copy.deepcopy(GRAPH)
    node, field, name = path
    graph[node][field][name] = value
    return graph


def _reordered():
    # The same nodes and inputs written in another order (a workflow file saved elsewhere).
    graph = {}
    for nid in reversed(list(GRAPH)):
        node = GRAPH[nid]
        graph[nid] = {"inputs": dict(reversed(list(node["inputs"].items()))), **node}
    return graph


def _retitled():
    graph = copy.deepcopy(GRAPH)
    graph["3"]["_meta"] = {"title": "Sampler (renamed)"}
    del graph["1"]["_meta"]
    return graph


BASE = _key()


@pytest.mark.parametrize(
    ("what", "key", "same"),
    [
        ("nodes and inputs written in another order", lambda: _key(_reordered()), True),
        ("titles (_meta) changed or removed", lambda: _key(_retitled()), True),
        ("the same again", lambda: _key(copy.deepcopy(GRAPH)), True),
        ("the prompt", lambda: _key(_edit(("3", "inputs", "text"), "a dragon")), False),
        ("the seed", lambda: _key(_edit(("3", "inputs", "seed"), 8)), False),
        ("a float setting", lambda: _key(_edit(("3", "inputs", "cfg"), 3.6)), False),
        ("an int written as a float", lambda: _key(_edit(("3", "inputs", "steps"), 20.5)), False),
        (
            "the checkpoint",
            lambda: _key(_edit(("2", "inputs", "ckpt_name"), "sd_xl_base_1.0.safetensors")),
            False,
        ),
        ("a link", lambda: _key(_edit(("3", "inputs", "model"), ["1", 0])), False),
        ("the input's content", lambda: _key(inputs={"keyframe": SHA_B}), False),
        ("an input more", lambda: _key(inputs={"keyframe": SHA_A, "previous_clip": SHA_B}), False),
        ("the input's role", lambda: _key(inputs={"clip": SHA_A}), False),
        ("the task kind", lambda: _key(kind="hero"), False),
        ("the model list", lambda: _key(models=["other.safetensors"]), False),
    ],
)
def test_what_changes_a_gpu_key(what, key, same):
    assert (key() == BASE) is same, what


def test_keys_are_sha256_hex_and_canonical_json_is_stable():
    assert is_key(BASE) and not is_key(BASE.upper()) and not is_key(BASE[:-1])
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})  # a key is never made of what JSON cannot write


@pytest.mark.parametrize(
    ("graph", "models"),
    [
        (GRAPH, ["flux1-dev-fp8.safetensors"]),
        (
            {
                "1": {
                    "class_type": "UNETLoader",
                    "inputs": {"unet_name": "wan2.2_high.safetensors"},
                },
                "2": {
                    "class_type": "UNETLoader",
                    "inputs": {"unet_name": "wan2.2_high.safetensors"},
                },
                "3": {"class_type": "VAELoader", "inputs": {"vae_name": "wan_2.1_vae.SAFETENSORS"}},
                "4": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "x4.pth"}},
                "5": {
                    "class_type": "CLIPLoader",
                    "inputs": {"clip_name": "t5.gguf", "type": "wan"},
                },
            },
            ["t5.gguf", "wan2.2_high.safetensors", "wan_2.1_vae.SAFETENSORS", "x4.pth"],
        ),
        (load_template("clip").graph, []),  # the simulator's: no weights
    ],
)
def test_model_files_are_the_weights_a_workflow_names(graph, models):
    assert model_files(graph) == models


SPEAKER = {"backend": "espeak", "voice": "en-us", "engine": "espeak-ng 1.51"}


@pytest.mark.parametrize(
    ("what", "args", "same"),
    [
        ("the same", ("Hello there.", 2.0, SPEAKER, {}), True),
        ("the text", ("Hello here.", 2.0, SPEAKER, {}), False),
        ("the length it is fitted to", ("Hello there.", 2.5, SPEAKER, {}), False),
        ("the voice", ("Hello there.", 2.0, {**SPEAKER, "voice": "en-gb"}, {}), False),
        ("the engine's version", ("Hello there.", 2.0, {**SPEAKER, "engine": "1.52"}, {}), False),
        ("a shot field a plan adds", ("Hello there.", 2.0, SPEAKER, {"voice": "narrator"}), False),
    ],
)
def test_what_changes_a_speech_key(what, args, same):
    base = speech_key("Hello there.", 2.0, engine=SPEAKER, shot={})
    text, duration, speaker, shot = args
    assert (speech_key(text, duration, engine=speaker, shot=shot) == base) is same, what


def _plan(**shot_changes) -> ShotList:
    shots = [
        Shot(id="s01", duration=2, prompt="a warrior", narration="Once.", seed=1, hero=True),
        Shot(id="s02", duration=2, prompt="a forest", narration="Then.", seed=2),
        Shot(id="s03", duration=2, prompt="a river", seed=3, continuity="continue"),
    ]
    shots = [s.model_copy(update=shot_changes.get(s.id, {})) for s in shots]
    total = sum(s.duration for s in shots)
    return ShotList(concept="test", duration=total, width=320, height=180, shots=shots)


def _keys(plan: ShotList, shas: dict[str, str]) -> dict[str, str | None]:
    """Every task's key on the simulator's templates, given its inputs' output hashes."""
    tasks = {t.id: t for t in build_tasks("r", plan)}
    speaker = speaker_identity(SpeechConfig(), "espeak")
    out: dict[str, str | None] = {}
    for t in tasks.values():
        if t.kind.value == "speech":
            out[t.id] = narration_key(plan.shot(t.shot_id), plan, speaker)
        elif t.kind.value != "assemble":
            wf = load_template(t.kind.value)
            out[t.id] = task_key(t, tasks, plan, wf, scale=1.0, sha_of=shas.get)
    return out


DONE = {f"r/{s}/{k}": f"{i:064x}" for i, (s, k) in enumerate(
    (s, k) for s in ("s01", "s02", "s03") for k in ("keyframe", "clip", "hero")
)}  # fmt: skip


@pytest.mark.parametrize(
    ("what", "changes", "outputs", "changed"),
    [
        ("nothing", {}, {}, set()),
        (
            "a prompt: the shot's pictures, not its narration",
            {"s02": {"prompt": "a dark forest"}},
            {},
            {"r/s02/keyframe", "r/s02/clip"},
        ),
        (
            "a seed",
            {"s01": {"seed": 9}},
            {},
            {"r/s01/keyframe", "r/s01/clip"},
        ),
        (
            "a narration: only its speech",
            {"s01": {"narration": "Twice."}},
            {},
            {"r/s01/speech"},
        ),
        (
            "a length: the clip's frames and the narration's fit",
            {"s02": {"duration": 2.5}},
            {},
            {"r/s02/clip", "r/s02/speech"},
        ),
        (
            "a keyframe's output: its clip",
            {},
            {"r/s02/keyframe": "f" * 64},
            {"r/s02/clip"},
        ),
        (
            "a clip's output: its hero pass",
            {},
            {"r/s01/clip": "f" * 64},
            {"r/s01/hero"},
        ),
        (
            "a continued clip's output: the clip that continues it",
            {},
            {"r/s02/clip": "f" * 64},
            {"r/s03/clip"},
        ),
        (
            "a shot that now flows: its clip, which ends on the next keyframe",
            {"s01": {"continuity": "flow"}},
            {},
            {"r/s01/clip"},
        ),
        (
            "a camera move",
            {"s03": {"camera": CameraMove.pan_left}},
            {},
            {"r/s03/clip"},
        ),
    ],
)
def test_which_task_keys_a_change_touches(what, changes, outputs, changed):
    plan, after = _plan(), _plan(**changes)
    before = _keys(plan, DONE)
    now = _keys(after, {**DONE, **outputs})
    assert {t for t in before if before[t] != now[t]} == changed, what


def test_a_task_is_keyed_only_once_its_inputs_are_known():
    keys = _keys(_plan(), {"r/s01/keyframe": SHA_A})
    assert keys["r/s01/keyframe"] and keys["r/s01/clip"]
    assert keys["r/s01/hero"] is None  # its clip is not done
    assert keys["r/s02/clip"] is None  # its keyframe is not done
    assert keys["r/s03/clip"] is None


def test_the_output_prefix_and_upload_names_are_not_in_a_key():
    plan = _plan()
    tasks = {t.id: t for t in build_tasks("r", plan)}
    other = {t.id.replace("r/", "another-run/"): t for t in build_tasks("another-run", plan)}
    wf = load_template("clip")
    mine = task_key(tasks["r/s01/clip"], tasks, plan, wf, scale=1.0, sha_of=lambda _: SHA_A)
    theirs = task_key(
        other["another-run/s01/clip"], other, plan, wf, scale=1.0, sha_of=lambda _: SHA_A
    )
    assert mine == theirs  # another run's task: the same content
    shrunk = task_key(tasks["r/s01/clip"], tasks, plan, wf, scale=0.5, sha_of=lambda _: SHA_A)
    assert shrunk != mine  # rendered smaller after running out of memory: not the same file


def test_a_reference_picture_counts_by_content(tmp_path):
    plan = _plan(s01={"reference_image": str(tmp_path / "ref.png")})
    tasks = {t.id: t for t in build_tasks("r", plan)}
    wf = load_template("keyframe")
    task = tasks["r/s01/keyframe"]

    def key(ref):
        return task_key(task, tasks, plan, wf, scale=1.0, sha_of=DONE.get, reference_sha=ref)

    assert key(SHA_A) == key(SHA_A) != key(SHA_B)
    assert key(None) not in (key(SHA_A), key(SHA_B))


def test_plan_reuse_walks_the_cache_index_in_dependency_order(tmp_path):
    """What --dry-run predicts: a clip is found by the keyframe output the index records."""
    from videofactory.cache.artifacts import ArtifactCache

    plan = _plan()
    tasks = {t.id: t for t in build_tasks("r", plan)}
    speaker = speaker_identity(SpeechConfig(), "espeak")
    workflows = {k: [load_template(k.value)] for k in {t.kind for t in tasks.values()}
                 if k.value in ("keyframe", "clip", "hero")}  # fmt: skip
    src = tmp_path / "out.png"
    with ArtifactCache(tmp_path / "cache") as cache:
        empty = plan_reuse(tasks, plan, cache, workflows=workflows, speaker=speaker, file_sha=str)
        assert dict(empty.reused) == {}
        # Cache s01's keyframe and clip as a run would: each under the key its inputs give.
        shas: dict[str, str] = {}
        for tid in ("r/s01/keyframe", "r/s01/clip"):
            t = tasks[tid]
            src.write_bytes(tid.encode())
            key = task_key(t, tasks, plan, workflows[t.kind][0], scale=1.0, sha_of=shas.get)
            shas[tid] = cache.put(key, t.kind.value, src).sha256
        found = plan_reuse(tasks, plan, cache, workflows=workflows, speaker=speaker, file_sha=str)
    assert set(found.reused) == {"r/s01/keyframe", "r/s01/clip"}
    assert {t.id for t in found.will_run(tasks)} == set(tasks) - set(found.reused) - {"r/assemble"}


def test_a_keyframe_made_as_an_edit_is_keyed_by_its_look(tmp_path):
    plan = _plan().model_copy(update={"character": "a warrior", "setting": "a forest"})
    tasks = {t.id: t for t in build_tasks("r", plan)}
    task = tasks["r/s01/keyframe"]
    edit, t2i = load_template("keyframe", "sim_edit"), load_template("keyframe")
    looks = {"r/character/look": SHA_A, "r/setting/look": SHA_B}

    def key(wf, shas, p=plan, ts=tasks, file_sha=None):
        return task_key(ts["r/s01/keyframe"], ts, p, wf, scale=1.0, sha_of=shas.get,
                        file_sha=file_sha)  # fmt: skip

    assert key(edit, {}) is None  # keyed once its look is made
    assert key(edit, looks) == key(edit, dict(looks))
    assert key(edit, {**looks, "r/setting/look": "c" * 64}) != key(edit, looks)
    # Made from its prompt alone, it reads no look: keyed as if there were none.
    off = plan.model_copy(update={"look": "off"})
    off_tasks = {t.id: t for t in build_tasks("r", off)}
    assert key(t2i, looks) == key(t2i, {}, off, off_tasks) != key(edit, looks)
    # Your own picture counts by its content.
    mine = plan.model_copy(update={"look": {"character": str(tmp_path / "me.png")}})
    mine_tasks = {t.id: t for t in build_tasks("r", mine)}
    assert "r/character/look" not in mine_tasks and task.deps != mine_tasks[task.id].deps
    shas = {"r/setting/look": SHA_B}
    a = key(edit, shas, mine, mine_tasks, file_sha=lambda _p: SHA_A)
    b = key(edit, shas, mine, mine_tasks, file_sha=lambda _p: "d" * 64)
    assert a and b and a != b
