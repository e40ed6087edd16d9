"""Content keys (pure): what makes a task's output what it is, as one sha256.

A GPU task's output is fixed by the workflow it posts once its parameters are bound, by the
files it reads (keyframe, clip, reference picture: their content, never their names) and by
the models named in the workflow; a speech task's by its text, its shot's length (the narration
is fitted to it) and the engine, voice and settings that speak it. Two tasks with the same key
make the same file, so a file made once is reused for the other (``videofactory.cache``).

What is run-specific is left out: the output prefix (it names the run), the names a server gave
the uploaded inputs (replaced by their content hashes before binding: ``input_ref``), and node
titles (``_meta``, which change nothing). The graph is written as canonical JSON (keys sorted,
no spaces, floats as Python writes them), so the key does not depend on the order in which a
workflow file or a binding wrote it.

    key = gpu_key("clip", bound_graph, inputs={"keyframe": sha}, models=model_files(graph))

A model file is known by its name only: a checkpoint replaced under the same name on a server
is not seen (render with ``--fresh`` then). ``KEY_VERSION`` changes when what goes into a key
changes, so that no key of an older rule ever matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "KEY_VERSION",
    "MODEL_SUFFIXES",
    "OUTPUT_PLACEHOLDER",
    "canonical_json",
    "gpu_key",
    "input_ref",
    "is_key",
    "model_files",
    "speech_key",
    "strip_titles",
]

#: The rule a key was made by; part of every key.
KEY_VERSION = 1
#: What a workflow's output prefix is bound to when its key is made (the real one names the run).
OUTPUT_PLACEHOLDER = "videofactory/output"
#: File names that are model weights (checkpoints, LoRAs, VAEs, text encoders, upscalers).
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
_HEX = frozenset("0123456789abcdef")


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes: sorted keys, no spaces, UTF-8 (not ASCII-escaped).

    Raises:
        TypeError: the value holds something JSON cannot write (a key must be of plain data).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def input_ref(sha256: str) -> str:
    """What an input file's binding gets when a key is made: its content, not its name."""
    return f"sha256:{sha256}"


def strip_titles(graph: Mapping[str, Any]) -> dict[str, Any]:
    """The graph without node titles (``_meta``): they are for people and change no output."""
    return {
        str(nid): {k: v for k, v in node.items() if k != "_meta"} for nid, node in graph.items()
    }


def model_files(graph: Mapping[str, Any]) -> list[str]:
    """The model files a workflow names (any input whose value is a weights file name),
    sorted and without repeats: the model identity of a ComfyUI task."""
    found = set()
    for node in graph.values():
        for value in (node.get("inputs") or {}).values():
            if isinstance(value, str) and value.lower().endswith(MODEL_SUFFIXES):
                found.add(value)
    return sorted(found)


def gpu_key(
    kind: str,
    graph: Mapping[str, Any],
    *,
    inputs: Mapping[str, str],
    models: Iterable[str] = (),
) -> str:
    """The key of a ComfyUI task: its kind, its bound graph (output prefix set to
    ``OUTPUT_PLACEHOLDER``, input names to ``input_ref``), the content hashes of every file it
    reads (by role: keyframe, clip, previous clip, reference picture) and its model files."""
    return _digest(
        {
            "v": KEY_VERSION,
            "engine": "comfyui",
            "kind": kind,
            "graph": strip_titles(graph),
            "inputs": dict(inputs),
            "models": sorted(set(models)),
        }
    )


def speech_key(
    text: str, duration_s: float, *, engine: Mapping[str, Any], shot: Mapping[str, Any]
) -> str:
    """The key of a narration: its text, the length it is fitted to, the engine that speaks it
    (backend, voice, settings, version) and whatever else of its shot may change the voice
    (``shot``: fields a later plan may add, such as a voice per shot)."""
    return _digest(
        {
            "v": KEY_VERSION,
            "engine": "speech",
            "text": text,
            "duration_s": float(duration_s),
            "speaker": dict(engine),
            "shot": dict(shot),
        }
    )


def is_key(text: str) -> bool:
    """Whether ``text`` looks like a content key (64 lower-case hex digits)."""
    return len(text) == 64 and set(text) <= _HEX


def _digest(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(record)).hexdigest()
