"""Binding detection (pure): where a workflow without a bindings file wants our parameters.

It knows the common core nodes. The prompt and the negative are the texts of the
``CLIPTextEncode`` nodes that feed a sampler's (or guider's) positive and negative inputs, traced
back through nodes that pass conditioning on (FluxGuidance, WanImageToVideo, LTXVConditioning,
...). Seeds come from the samplers (KSampler, KSamplerAdvanced that adds noise, SamplerCustom,
RandomNoise). Size, frames and batch come from the empty-latent and video-latent nodes, the fps
from the nodes that encode video, the input image/video from LoadImage/LoadVideo and the output
prefix from every save node. Inputs fed by a ``Primitive*`` node are bound on that node.

Every choice is reported as one line (``Detection.lines``) so that the user sees what was
guessed and can write a bindings file where the guess is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Detection", "Target", "detect_bindings", "is_link"]

#: Sampler node -> its seed input. KSamplerAdvanced only counts when it adds noise.
SAMPLER_SEEDS = {
    "KSampler": "seed",
    "KSamplerAdvanced": "noise_seed",
    "SamplerCustom": "noise_seed",
    "RandomNoise": "noise_seed",
}
#: Seeds of weight-free noise nodes, used only when no sampler is present.
OTHER_SEEDS = {"ImageAddNoise": "seed"}
#: Nodes with positive/negative conditioning inputs whose text we want.
CONDITIONING_SINKS = (
    "KSampler",
    "KSamplerAdvanced",
    "SamplerCustom",
    "CFGGuider",
    "DualCFGGuider",
    "BasicGuider",
)
#: Text encoders -> the input holding the prompt text.
TEXT_ENCODERS = {
    "CLIPTextEncode": "text",
    "CLIPTextEncodeSDXL": "text_g",
    "CLIPTextEncodeFlux": "t5xxl",
    "CLIPTextEncodeSD3": "t5xxl",
    "TextEncodeHunyuanVideo_ImageToVideo": "prompt",
    "TextEncodeQwenImageEditPlus": "prompt",
    "TextEncodeQwenImageEdit": "prompt",
}
#: Latent makers whose width/height/length/batch_size are the picture's size and length.
LATENT_NODES = (
    "EmptyLatentImage",
    "EmptySD3LatentImage",
    "EmptyHunyuanLatentVideo",
    "EmptyHunyuanImageLatent",
    "EmptyLTXVLatentVideo",
    "EmptyMochiLatentVideo",
    "EmptyCosmosLatentVideo",
    "EmptyChromaRadianceLatentImage",
    "WanImageToVideo",
    "Wan22ImageToVideoLatent",
    "WanFirstLastFrameToVideo",
    "WanVaceToVideo",
    "LTXVImgToVideo",
    "HunyuanImageToVideo",
    "CosmosImageToVideoLatent",
)
#: Weight-free image makers, used for the size only when no latent node is present.
IMAGE_NODES = ("EmptyImage",)
#: Resizers: with neither latent nor image maker (an upscale workflow), the last one sets the
#: size of the result.
RESIZE_NODES = ("ImageScale",)
#: Nodes that take our parameters directly (the simulator's stand-ins for model workflows).
DIRECT = {
    "SimTextToImage": {
        "prompt": "prompt",
        "negative": "negative",
        "seed": "seed",
        "width": "width",
        "height": "height",
    },
    "SimImageEdit": {
        "prompt": "prompt",
        "negative": "negative",
        "seed": "seed",
        "width": "width",
        "height": "height",
    },
    "SimImageToVideo": {
        "prompt": "prompt",
        "seed": "seed",
        "width": "width",
        "height": "height",
        "frames": "length",
        "camera": "camera",
    },
}
#: Nodes whose input sets the frame rate of the result.
FPS_INPUTS = {
    "CreateVideo": "fps",
    "SaveWEBM": "fps",
    "SaveAnimatedWEBP": "fps",
    "SaveAnimatedPNG": "fps",
    "LTXVConditioning": "frame_rate",
}
#: Save nodes (their filename_prefix is our output prefix).
SAVE_NODES = (
    "SaveImage",
    "SaveVideo",
    "SaveWEBM",
    "SaveAnimatedWEBP",
    "SaveAnimatedPNG",
    "SaveAudio",
    "SaveAudioMP3",
    "SaveAudioOpus",
)
#: Loaders of inputs we upload: parameter -> (class, input).
INPUT_LOADERS = {
    "input_image": ("LoadImage", "image"),
    "input_video": ("LoadVideo", "file"),
    "input_audio": ("LoadAudio", "audio"),
}
#: The input of a first-last-frame node (WanFirstLastFrameToVideo) that takes the picture a
#: clip ends on; a LoadImage feeding it is bound as the optional ``end_image``.
END_INPUT = "end_image"
#: A node's primitive widget, followed when a size or seed comes from one.
PRIMITIVES = {
    "PrimitiveInt",
    "PrimitiveFloat",
    "PrimitiveString",
    "PrimitiveStringMultiline",
    "PrimitiveBoolean",
}


@dataclass(frozen=True)
class Target:
    """One node input a parameter is written to."""

    node: str
    input: str


@dataclass
class Detection:
    """What was detected: parameter -> targets, and one line per choice or doubt."""

    targets: dict[str, list[Target]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def add(self, graph: Mapping[str, Any], name: str, targets: list[Target], why: str) -> None:
        """Record a parameter's targets and say where they are."""
        targets = list(dict.fromkeys(targets))  # keep order, drop repeats
        if not targets:
            return
        self.targets[name] = targets
        where = ", ".join(
            f"node {t.node} ({_label(graph, t.node)}) input {t.input!r}" for t in targets
        )
        self.lines.append(f"{name} -> {where} [{why}]")


def is_link(value: Any) -> bool:
    """Whether an input value is a link ``[source node id, output index]``."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def detect_bindings(graph: Mapping[str, Any]) -> Detection:
    """Detect where prompt, negative, seed, size, frames, fps, inputs and prefix go."""
    det = Detection()
    for nid, cls, _node in _nodes(graph):
        for name, input_name in DIRECT.get(cls, {}).items():
            if name not in det.targets:
                det.add(graph, name, _settable(graph, nid, input_name), f"{cls} input")
    _detect_text(graph, det)
    _detect_seed(graph, det)
    _detect_size(graph, det)
    fps = [
        t
        for nid, cls, node in _nodes(graph)
        if cls in FPS_INPUTS
        for t in _settable(graph, nid, FPS_INPUTS[cls])
    ]
    det.add(graph, "fps", fps, "frame rate of the encoded video")
    # A picture a clip ends on (WanFirstLastFrameToVideo's end_image): bound as end_image, not
    # taken for the keyframe.
    ends = _feeding(graph, "LoadImage", END_INPUT)
    if ends:
        det.add(graph, END_INPUT, [Target(ends[0], "image")], f"LoadImage feeding {END_INPUT}")
    for name, (cls_name, input_name) in INPUT_LOADERS.items():
        loaders = [nid for nid, cls, _ in _nodes(graph) if cls == cls_name and nid not in ends]
        if loaders:
            det.add(graph, name, [Target(loaders[0], input_name)], f"first {cls_name}")
            if len(loaders) > 1:
                det.lines.append(
                    f"{name}: {len(loaders)} {cls_name} nodes ({', '.join(loaders)}); only node "
                    f"{loaders[0]} is bound, write a bindings file to choose another"
                )
    saves = [
        Target(nid, "filename_prefix")
        for nid, cls, node in _nodes(graph)
        if cls in SAVE_NODES and "filename_prefix" in (node.get("inputs") or {})
    ]
    det.add(graph, "output_prefix", saves, "every save node")
    for name in ("prompt", "seed", "output_prefix"):
        if name not in det.targets:
            det.lines.append(
                f"{name}: not detected (write a bindings file if the workflow has one)"
            )
    return det


# -- the parts ----------------------------------------------------------------------------------


def _feeding(graph: Mapping[str, Any], cls_name: str, input_name: str) -> list[str]:
    """Nodes of ``cls_name`` linked into an input called ``input_name`` of some node."""
    ids = {nid for nid, cls, _ in _nodes(graph) if cls == cls_name}
    return list(
        dict.fromkeys(
            str(value[0])
            for _nid, _cls, node in _nodes(graph)
            for key, value in (node.get("inputs") or {}).items()
            if key == input_name and is_link(value) and str(value[0]) in ids
        )
    )


def _nodes(graph: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for nid, node in graph.items():
        if isinstance(node, dict):
            yield str(nid), str(node.get("class_type", "")), node


def _settable(graph: Mapping[str, Any], node_id: str, input_name: str) -> list[Target]:
    """The input itself when literal; the primitive feeding it when linked; else nothing."""
    value = (graph[node_id].get("inputs") or {}).get(input_name)
    if value is None:
        return []
    if not is_link(value):
        return [Target(node_id, input_name)]
    src = graph.get(value[0])
    if isinstance(src, dict) and src.get("class_type") in PRIMITIVES:
        if "value" in (src.get("inputs") or {}) and not is_link(src["inputs"]["value"]):
            return [Target(str(value[0]), "value")]
    return []


def _detect_text(graph: Mapping[str, Any], det: Detection) -> None:
    for polarity in ("positive", "negative"):
        found: list[Target] = []
        for _nid, cls, node in _nodes(graph):
            if cls not in CONDITIONING_SINKS:
                continue
            inputs = node.get("inputs") or {}
            key = "conditioning" if cls == "BasicGuider" and polarity == "positive" else polarity
            if cls == "DualCFGGuider":
                key = {"positive": "cond1", "negative": "negative"}[polarity]
            link = inputs.get(key)
            if is_link(link):
                found += _trace_text(graph, link, set())
        name = "prompt" if polarity == "positive" else "negative"
        if name in det.targets:
            continue
        det.add(graph, name, found, f"text encoder feeding the sampler's {polarity}")


def _trace_text(graph: Mapping[str, Any], link: list[Any], seen: set[str]) -> list[Target]:
    """Follow conditioning upstream to the text encoders it came from."""
    src_id, index = str(link[0]), link[1]
    src = graph.get(src_id)
    if not isinstance(src, dict) or src_id in seen:
        return []
    seen.add(src_id)
    cls = str(src.get("class_type", ""))
    inputs = src.get("inputs") or {}
    if cls in TEXT_ENCODERS:
        return _settable(graph, src_id, TEXT_ENCODERS[cls])
    # Nodes with positive/negative inputs pass them on as outputs 0 and 1, in that order.
    if "positive" in inputs and "negative" in inputs and index in (0, 1):
        nxt = inputs["positive" if index == 0 else "negative"]
        return _trace_text(graph, nxt, seen) if is_link(nxt) else []
    # Single-conditioning pass-throughs (FluxGuidance, ConditioningSetTimestepRange, ...).
    out: list[Target] = []
    for key in ("conditioning", "conditioning_to", "conditioning_1", "conditioning_2"):
        if is_link(inputs.get(key)):
            out += _trace_text(graph, inputs[key], seen)
    return out


def _detect_seed(graph: Mapping[str, Any], det: Detection) -> None:
    seeds: list[Target] = []
    for nid, cls, node in _nodes(graph):
        if cls not in SAMPLER_SEEDS:
            continue
        if cls == "KSamplerAdvanced" and (node.get("inputs") or {}).get("add_noise") == "disable":
            continue  # a second stage that adds no noise: its seed changes nothing
        seeds += _settable(graph, nid, SAMPLER_SEEDS[cls])
    if "seed" in det.targets:
        return
    why = "sampler seeds"
    if not seeds:
        why = "noise seeds (no sampler in the workflow)"
        seeds = [
            t
            for nid, cls, _ in _nodes(graph)
            if cls in OTHER_SEEDS
            for t in _settable(graph, nid, OTHER_SEEDS[cls])
        ]
    det.add(graph, "seed", seeds, why)


def _detect_size(graph: Mapping[str, Any], det: Detection) -> None:
    if "width" in det.targets:
        return
    makers = [nid for nid, cls, _ in _nodes(graph) if cls in LATENT_NODES]
    why = "latent size"
    if not makers:
        makers = [nid for nid, cls, _ in _nodes(graph) if cls in IMAGE_NODES]
        why = "image size (no latent node in the workflow)"
    if not makers:
        makers = [nid for nid, cls, _ in _nodes(graph) if cls in RESIZE_NODES][-1:]
        why = "size of the last resize (no latent or image node in the workflow)"
    if not makers:
        return
    first = makers[0]
    for name, input_name in (
        ("width", "width"),
        ("height", "height"),
        ("frames", "length"),
        ("batch", "batch_size"),
    ):
        det.add(graph, name, _settable(graph, first, input_name), why)
    if len(makers) > 1:
        det.lines.append(
            f"size: {len(makers)} latent/image nodes ({', '.join(makers)}); only node {first} is "
            "bound, write a bindings file to choose another"
        )


def _label(graph: Mapping[str, Any], node_id: str) -> str:
    node = graph.get(node_id) or {}
    title = (node.get("_meta") or {}).get("title")
    cls = str(node.get("class_type", "?"))
    return f"{title}, {cls}" if title and title != cls else cls
