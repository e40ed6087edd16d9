"""Weight-free core video, audio and utility nodes (comfy_extras nodes_video/audio/preview_any),
plus the model nodes that a weight-free server lists but cannot run."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from typing import Any

import numpy as np

from videofactory.sim import media
from videofactory.sim.nodes.base import NodeContext, NodeOutput, register
from videofactory.sim.nodes.image import temp_prefix
from videofactory.sim.paths import Folders, get_save_path


def _stat_fingerprint(folders: Folders, **inputs: Any) -> tuple[int, int]:
    # Like ComfyUI's LoadVideo: the modification time, so big files are not re-hashed.
    (name,) = inputs.values()
    st = os.stat(folders.annotated_path(name))
    return st.st_mtime_ns, st.st_size


def _container_metadata(ctx: NodeContext) -> dict[str, Any] | None:
    if ctx.disable_metadata:
        return None
    meta: dict[str, Any] = dict(ctx.extra_pnginfo or {})
    meta["prompt"] = ctx.prompt
    return meta


@register("CreateVideo")
def create_video(
    ctx: NodeContext, images: np.ndarray, fps: float, audio: dict[str, Any] | None = None
) -> NodeOutput:
    """A lazy VIDEO from frames (+ audio); nothing is encoded yet."""
    comp = media.VideoComponents(images=images, frame_rate=Fraction(fps), audio=audio)
    return NodeOutput((media.VideoFromComponents(comp),))


@register("SaveVideo")
def save_video(
    ctx: NodeContext, video: Any, filename_prefix: str, format: str, codec: str
) -> NodeOutput:
    """mp4 (H.264 yuv420p, AAC) in output/; listed under ``images`` with ``animated``."""
    width, height = video.get_dimensions()
    where = get_save_path(filename_prefix, ctx.folders.output, width, height)
    file = f"{where.filename}_{where.counter:05}_.{media.VideoContainer.get_extension(format)}"
    video.save_to(
        os.path.join(where.folder, file),
        format=format,
        codec=codec,
        metadata=_container_metadata(ctx),
    )
    ref = {"filename": file, "subfolder": where.subfolder, "type": "output"}
    return NodeOutput(ui={"images": [ref], "animated": (True,)})


@register("SaveWEBM")
def save_webm(
    ctx: NodeContext, images: np.ndarray, filename_prefix: str, codec: str, fps: float, crf: float
) -> NodeOutput:
    """WebM (VP9 or AV1) in output/."""
    where = get_save_path(
        filename_prefix, ctx.folders.output, int(images.shape[2]), int(images.shape[1])
    )
    file = f"{where.filename}_{where.counter:05}_.webm"
    meta = (
        {}
        if ctx.disable_metadata
        else {
            "prompt": json.dumps(ctx.prompt),
            **{k: json.dumps(v) for k, v in (ctx.extra_pnginfo or {}).items()},
        }
    )
    media.encode_webm(os.path.join(where.folder, file), images, codec, fps, crf, meta)
    ref = {"filename": file, "subfolder": where.subfolder, "type": "output"}
    return NodeOutput(ui={"images": [ref], "animated": (True,)})


def _validate_load_video(folders: Folders, file: str) -> bool | str:
    return True if folders.exists_annotated(file) else f"Invalid video file: {file}"


@register(
    "LoadVideo",
    validate=_validate_load_video,
    validate_inputs=("file",),
    fingerprint=_stat_fingerprint,
)
def load_video(ctx: NodeContext, file: str) -> NodeOutput:
    """A lazy VIDEO backed by a file of input/."""
    return NodeOutput((media.VideoFromFile(ctx.folders.annotated_path(file)),))


@register("GetVideoComponents")
def get_video_components(ctx: NodeContext, video: Any) -> NodeOutput:
    """Frames, audio (or None) and fps of a VIDEO."""
    comp = video.get_components()
    return NodeOutput((comp.images, comp.audio, float(comp.frame_rate)))


@register("EmptyAudio")
def empty_audio(ctx: NodeContext, duration: float, sample_rate: int, channels: int) -> NodeOutput:
    """Silence."""
    samples = int(round(duration * sample_rate))
    return NodeOutput(
        ({"waveform": np.zeros((1, channels, samples), np.float32), "sample_rate": sample_rate},)
    )


def _validate_load_audio(folders: Folders, audio: str) -> bool | str:
    return True if folders.exists_annotated(audio) else f"Invalid audio file: {audio}"


@register(
    "LoadAudio",
    validate=_validate_load_audio,
    validate_inputs=("audio",),
    fingerprint=_stat_fingerprint,
)
def load_audio(ctx: NodeContext, audio: str) -> NodeOutput:
    """The first audio stream of a file in input/ (audio or video)."""
    waveform, rate = media.decode_audio(ctx.folders.annotated_path(audio))
    return NodeOutput(({"waveform": waveform[None], "sample_rate": rate},))


@register("AudioConcat")
def audio_concat(
    ctx: NodeContext, audio1: dict[str, Any], audio2: dict[str, Any], direction: str = "after"
) -> NodeOutput:
    """Join two clips (the lower sample rate and mono are converted up first)."""
    w1, w2 = np.asarray(audio1["waveform"]), np.asarray(audio2["waveform"])
    r1, r2 = int(audio1["sample_rate"]), int(audio2["sample_rate"])
    rate = max(r1, r2)
    w1 = np.stack([media.resample(b, r1, rate) for b in w1])
    w2 = np.stack([media.resample(b, r2, rate) for b in w2])
    channels = max(w1.shape[1], w2.shape[1])
    w1 = np.repeat(w1, channels // w1.shape[1], axis=1)
    w2 = np.repeat(w2, channels // w2.shape[1], axis=1)
    joined = np.concatenate([w1, w2] if direction == "after" else [w2, w1], axis=2)
    return NodeOutput(({"waveform": joined.astype(np.float32), "sample_rate": rate},))


@register("TrimAudioDuration")
def trim_audio_duration(
    ctx: NodeContext, audio: dict[str, Any], start_index: float, duration: float
) -> NodeOutput:
    """Cut a time range (negative start counts from the end)."""
    waveform, rate = audio["waveform"], int(audio["sample_rate"])
    length = waveform.shape[-1]
    start = int(round(start_index * rate))
    start = length + start if start_index < 0 else start
    start = max(0, min(start, length - 1))
    end = max(0, min(start + int(round(duration * rate)), length))
    if start >= end:
        raise ValueError(
            "AudioTrim: Start time must be less than end time and be within the audio length."
        )
    return NodeOutput(({"waveform": waveform[..., start:end], "sample_rate": rate},))


def _save_audio(
    ctx: NodeContext,
    audio: dict[str, Any],
    prefix: str,
    fmt: str,
    quality: str,
    folder: str,
    kind: str,
) -> NodeOutput:
    where = get_save_path(prefix, folder)
    meta = (
        {}
        if ctx.disable_metadata
        else {
            "prompt": json.dumps(ctx.prompt),
            **{k: json.dumps(v) for k, v in (ctx.extra_pnginfo or {}).items()},
        }
    )
    results = []
    counter = where.counter
    for batch_number, waveform in enumerate(np.asarray(audio["waveform"])):
        name = where.filename.replace("%batch_num%", str(batch_number))
        file = f"{name}_{counter:05}_.{fmt}"
        media.encode_audio(
            os.path.join(where.folder, file),
            waveform,
            int(audio["sample_rate"]),
            fmt,
            quality,
            meta,
        )
        results.append({"filename": file, "subfolder": where.subfolder, "type": kind})
        counter += 1
    return NodeOutput(ui={"audio": results})


@register("SaveAudio")
def save_audio(
    ctx: NodeContext, audio: dict[str, Any], filename_prefix: str = "audio/ComfyUI"
) -> NodeOutput:
    """FLAC in output/."""
    return _save_audio(ctx, audio, filename_prefix, "flac", "", ctx.folders.output, "output")


@register("SaveAudioMP3")
def save_audio_mp3(
    ctx: NodeContext,
    audio: dict[str, Any],
    filename_prefix: str = "audio/ComfyUI",
    quality: str = "V0",
) -> NodeOutput:
    """MP3 in output/."""
    return _save_audio(ctx, audio, filename_prefix, "mp3", quality, ctx.folders.output, "output")


@register("SaveAudioOpus")
def save_audio_opus(
    ctx: NodeContext,
    audio: dict[str, Any],
    filename_prefix: str = "audio/ComfyUI",
    quality: str = "128k",
) -> NodeOutput:
    """Opus in output/."""
    return _save_audio(ctx, audio, filename_prefix, "opus", quality, ctx.folders.output, "output")


@register("PreviewAudio")
def preview_audio(ctx: NodeContext, audio: dict[str, Any]) -> NodeOutput:
    """FLAC in temp/."""
    return _save_audio(ctx, audio, temp_prefix(), "flac", "", ctx.folders.temp, "temp")


@register("PreviewAny")
def preview_any(ctx: NodeContext, source: Any = None) -> NodeOutput:
    """Show any value as text."""
    if isinstance(source, str):
        value = source
    elif isinstance(source, int | float | bool):
        value = str(source)
    elif source is None:
        value = "None"
    else:
        try:
            value = json.dumps(source)
        except (TypeError, ValueError):
            value = str(source)
    return NodeOutput(ui={"text": (value,)})


@register("PrimitiveString")
def primitive_string(ctx: NodeContext, value: str) -> NodeOutput:
    """A STRING constant."""
    return NodeOutput((value,))


@register("PrimitiveInt")
def primitive_int(ctx: NodeContext, value: int) -> NodeOutput:
    """An INT constant."""
    return NodeOutput((value,))


class NoModelWeights(RuntimeError):
    """A node that needs model weights ran on the simulator."""


def _needs_weights(name: str) -> None:
    def fn(ctx: NodeContext, **inputs: Any) -> NodeOutput:
        raise NoModelWeights(
            f"{name}: the videofactory simulator has no model weights; "
            "use the Sim* nodes (videofactory/workflows/sim/*.json)"
        )

    register(name)(fn)


for _name in ("CheckpointLoaderSimple", "KSampler", "CLIPTextEncode", "VAEDecode"):
    _needs_weights(_name)


@register("EmptyLatentImage")
def empty_latent_image(
    ctx: NodeContext, width: int, height: int, batch_size: int = 1
) -> NodeOutput:
    """A zero latent (4 channels at 1/8 size), which only model nodes can use."""
    return NodeOutput(
        ({"samples": np.zeros((batch_size, 4, height // 8, width // 8), np.float32)},)
    )
