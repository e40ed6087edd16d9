"""Real media in and out with PyAV: the VIDEO type, H.264/AAC mp4, WebM, and audio files.

Mirrors ComfyUI's ``comfy_api`` video types: ``VideoFromComponents`` (frames + fps + audio,
encoded only when saved) and ``VideoFromFile`` (a file, decoded only when its frames are asked
for). Encoding options match ComfyUI's so files look alike: yuv420p H.264, AAC audio cut to the
video length, ``movflags=use_metadata_tags`` with the prompt as JSON.
"""

from __future__ import annotations

import enum
import json
import math
import shutil
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

__all__ = [
    "VideoCodec",
    "VideoComponents",
    "VideoContainer",
    "VideoFromComponents",
    "VideoFromFile",
    "decode_audio",
    "encode_audio",
    "encode_webm",
]

#: Frames up to this size (320x240) are encoded by one x264 thread: for a tiny test clip the
#: encoder's thread pool costs more to start than it saves.
SMALL_FRAME_PIXELS = 320 * 240


class VideoContainer(str, enum.Enum):
    """SaveVideo's ``format`` values; anything else raises ValueError like ComfyUI."""

    AUTO = "auto"
    MP4 = "mp4"

    @classmethod
    def get_extension(cls, value: str) -> str:
        """File extension for a format value (raises for unknown values)."""
        value = cls(value)
        return "mp4" if value in (cls.MP4, cls.AUTO) else ""


class VideoCodec(str, enum.Enum):
    """SaveVideo's ``codec`` values."""

    AUTO = "auto"
    H264 = "h264"


@dataclass
class VideoComponents:
    """Decoded video: uint8 frames [B,H,W,3], frame rate, optional AUDIO dict."""

    images: np.ndarray
    frame_rate: Fraction
    audio: dict[str, Any] | None = None


class VideoFromComponents:
    """A VIDEO made from frames (CreateVideo); encoded when a save node asks."""

    def __init__(self, components: VideoComponents) -> None:
        self._components = components

    def get_components(self) -> VideoComponents:
        """Frames, fps and audio."""
        return self._components

    def get_dimensions(self) -> tuple[int, int]:
        """(width, height)."""
        images = self._components.images
        return int(images.shape[2]), int(images.shape[1])

    def save_to(
        self,
        path: str,
        format: str = "auto",
        codec: str = "auto",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Encode to an mp4 file (H.264 yuv420p, AAC when there is audio)."""
        if VideoContainer(format) not in (VideoContainer.AUTO, VideoContainer.MP4):
            raise ValueError("Only MP4 format is supported for now")
        if VideoCodec(codec) not in (VideoCodec.AUTO, VideoCodec.H264):
            raise ValueError("Only H264 codec is supported for now")
        _encode_mp4(path, self._components, metadata)


class VideoFromFile:
    """A VIDEO backed by a file (LoadVideo); decoded lazily."""

    def __init__(self, path: str) -> None:
        self._path = path

    def get_dimensions(self) -> tuple[int, int]:
        """(width, height) of the first video stream."""
        with av.open(self._path) as container:
            stream = container.streams.video[0]
            return int(stream.width), int(stream.height)

    def get_components(self) -> VideoComponents:
        """Decode every frame, the frame rate and the audio."""
        with av.open(self._path) as container:
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate) if stream.average_rate else Fraction(1)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        images = np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)
        audio = None
        try:
            waveform, rate_hz = decode_audio(self._path)
            audio = {"waveform": waveform[None], "sample_rate": rate_hz}
        except (ValueError, IndexError):  # no audio stream
            audio = None
        return VideoComponents(images=images, frame_rate=rate, audio=audio)

    def save_to(
        self,
        path: str,
        format: str = "auto",
        codec: str = "auto",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Copy the streams when they already fit, else re-encode (ComfyUI's rule)."""
        VideoContainer(format)
        VideoCodec(codec)
        with av.open(self._path) as container:
            fmt = container.format.name
            vcodec = (
                container.streams.video[0].codec_context.name if container.streams.video else None
            )
        reuse = (format == "auto" or format in fmt.split(",")) and (
            codec == "auto" or vcodec is None or codec == vcodec
        )
        if not reuse:
            VideoFromComponents(self.get_components()).save_to(path, format, codec, metadata)
            return
        if metadata is None:
            shutil.copyfile(self._path, path)
            return
        _remux(self._path, path, metadata)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} {self._path!r}>"


def _remux(src: str, dst: str, metadata: dict[str, Any]) -> None:
    with (
        av.open(src) as inp,
        av.open(dst, mode="w", format="mp4", options={"movflags": "use_metadata_tags"}) as out,
    ):
        for key, value in inp.metadata.items():
            if key not in metadata:
                out.metadata[key] = value
        for key, value in metadata.items():
            out.metadata[key] = value if isinstance(value, str) else json.dumps(value)
        mapping = {}
        for stream in inp.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = out.add_stream_from_template(stream, opaque=True)
        for packet in inp.demux():
            if packet.stream.index in mapping and packet.dts is not None:
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)


def _encode_mp4(path: str, comp: VideoComponents, metadata: dict[str, Any] | None) -> None:
    images = comp.images
    rate = Fraction(round(float(comp.frame_rate) * 1000), 1000)
    with av.open(path, mode="w", format="mp4", options={"movflags": "use_metadata_tags"}) as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = json.dumps(value)
        video = out.add_stream("h264", rate=rate)
        video.width = int(images.shape[2])
        video.height = int(images.shape[1])
        video.pix_fmt = "yuv420p"
        # ComfyUI keeps x264's default preset; a faster one keeps the CPU demo quick and
        # changes nothing a client can see but the bytes.
        small = video.width * video.height <= SMALL_FRAME_PIXELS
        video.options = {"preset": "veryfast", **({"threads": "1"} if small else {})}
        audio_stream = None
        if comp.audio is not None:
            audio_rate = int(comp.audio["sample_rate"])
            audio_stream = out.add_stream("aac", rate=audio_rate)
        for frame in images:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            out.mux(video.encode(vf.reformat(format="yuv420p")))
        out.mux(video.encode(None))
        if audio_stream is not None and comp.audio is not None:
            waveform = np.asarray(comp.audio["waveform"], dtype=np.float32)[0]  # [C, S]
            # Audio longer than the picture is cut, as ComfyUI does.
            keep = math.ceil(audio_rate / float(rate) * images.shape[0])
            _mux_audio(out, audio_stream, waveform[:, :keep], audio_rate)


def _mux_audio(out: Any, stream: Any, waveform: np.ndarray, rate: int) -> None:
    layout = "mono" if waveform.shape[0] == 1 else "stereo"
    interleaved = np.ascontiguousarray(waveform.T.reshape(1, -1), dtype=np.float32)
    frame = av.AudioFrame.from_ndarray(interleaved, format="flt", layout=layout)
    frame.sample_rate = rate
    frame.pts = 0
    out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def encode_webm(
    path: str, images: np.ndarray, codec: str, fps: float, crf: float, metadata: dict[str, str]
) -> None:
    """SaveWEBM's encoder: VP9 (yuv420p) or AV1 (10 bit), constant quality."""
    encoder = {"vp9": "libvpx-vp9", "av1": "libsvtav1"}[codec]  # KeyError like ComfyUI
    with av.open(path, mode="w") as out:
        for key, value in metadata.items():
            out.metadata[key] = value
        stream = out.add_stream(encoder, rate=Fraction(round(fps * 1000), 1000))
        stream.width = int(images.shape[-2])
        stream.height = int(images.shape[-3])
        stream.pix_fmt = "yuv420p10le" if codec == "av1" else "yuv420p"
        stream.bit_rate = 0
        stream.options = {"crf": str(crf)}
        if codec == "av1":
            stream.options["preset"] = "6"
        for frame in images:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            out.mux(stream.encode(vf))
        out.mux(stream.encode(None))


_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def encode_audio(
    path: str,
    waveform: np.ndarray,
    rate: int,
    fmt: str,
    quality: str = "",
    metadata: dict[str, str] | None = None,
) -> None:
    """Write one clip ``[C, S]`` as flac, mp3 or opus, with ComfyUI's bitrate choices."""
    waveform = np.asarray(waveform, dtype=np.float32)
    if fmt == "opus" and rate not in _OPUS_RATES:
        target = 48000 if rate > 48000 else next(r for r in _OPUS_RATES if r > rate)
        waveform = _resample(waveform, rate, target)
        rate = target
    layout = "mono" if waveform.shape[0] == 1 else "stereo"
    with av.open(path, mode="w", format=fmt) as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        if fmt == "opus":
            stream = out.add_stream("libopus", rate=rate, layout=layout)
            stream.bit_rate = int(quality.rstrip("k") or 128) * 1000
        elif fmt == "mp3":
            stream = out.add_stream("libmp3lame", rate=rate, layout=layout)
            if quality == "V0":
                stream.codec_context.qscale = 1
            else:
                stream.bit_rate = int(quality.rstrip("k")) * 1000
        else:
            stream = out.add_stream("flac", rate=rate, layout=layout)
        _mux_audio(out, stream, waveform, rate)


def decode_audio(path: str) -> tuple[np.ndarray, int]:
    """First audio stream of a file as float32 ``[C, S]`` and its sample rate."""
    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError(f"No audio stream found in the file {path}")
        stream = container.streams.audio[0]
        rate = int(stream.sample_rate or stream.codec_context.sample_rate)
        channels = stream.codec_context.channels or 1
        resampler = av.AudioResampler(
            format="fltp", layout="mono" if channels == 1 else "stereo", rate=rate
        )
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        return np.zeros((min(channels, 2), 0), np.float32), rate
    return np.concatenate(chunks, axis=1).astype(np.float32), rate


def _resample(waveform: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Linear resampling; good enough for silence and narration in a simulator."""
    n = waveform.shape[1]
    m = max(1, round(n * dst / src))
    x_old = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    x_new = np.linspace(0.0, 1.0, m)
    if n == 0:
        return np.zeros((waveform.shape[0], 0), np.float32)
    return np.stack([np.interp(x_new, x_old, ch) for ch in waveform]).astype(np.float32)


def resample(waveform: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Resample ``[C, S]`` from ``src`` Hz to ``dst`` Hz (identity when equal)."""
    return waveform if src == dst else _resample(waveform, src, dst)
