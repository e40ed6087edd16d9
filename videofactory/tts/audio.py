"""Audio bytes from speech engines, decoded to 16-bit mono PCM and joined (PyAV, no ffprobe).

Speech servers answer with WAV (16-bit, or 32-bit float from torchaudio), MP3, FLAC or Opus.
Everything is decoded with PyAV and resampled to one format so that the pieces of a long
narration can be joined into a single WAV. Anything that does not decode as audio (an HTML
error page, a JSON error, a truncated body) is refused with a message that says what it was.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

from videofactory.errors import SpeechError

__all__ = ["Pcm", "decode_audio", "describe_body", "join_pcm", "silence"]

#: Pause put between the pieces of a split narration (they end at sentence boundaries).
JOIN_GAP_S = 0.12


@dataclass(frozen=True)
class Pcm:
    """16-bit little-endian mono samples and their rate."""

    data: bytes
    rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.data) / 2 / self.rate if self.rate else 0.0


def silence(seconds: float, rate: int) -> Pcm:
    """``seconds`` of digital silence."""
    return Pcm(b"\0\0" * max(0, round(seconds * rate)), rate)


def describe_body(body: bytes, content_type: str = "") -> str:
    """A short description of a body for error messages: type, size and its first bytes."""
    head = body[:60].decode("utf-8", "replace").replace("\n", " ").strip()
    kind = f"{content_type}, " if content_type else ""
    return f"{kind}{len(body)} bytes starting {head!r}"


def decode_audio(body: bytes, *, rate: int | None = None, source: str = "speech server") -> Pcm:
    """Decode any audio container PyAV knows into mono 16-bit PCM (at ``rate`` if given).

    Raises:
        SpeechError: the bytes are empty, not audio, or hold no samples.
    """
    if not body:
        raise SpeechError(f"{source} answered with an empty body instead of audio")
    chunks: list[bytes] = []
    try:
        with av.open(io.BytesIO(body), mode="r") as container:
            if not container.streams.audio:
                raise SpeechError(f"{source} answered without an audio stream")
            stream = container.streams.audio[0]
            out_rate = rate or stream.codec_context.sample_rate or 24000
            resampler = av.AudioResampler(format="s16", layout="mono", rate=out_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(_plane(out))
            for out in resampler.resample(None):
                chunks.append(_plane(out))
    except SpeechError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise SpeechError(
            f"{source} answered with something that is not audio ({describe_body(body)}): {exc}"
        ) from exc
    data = b"".join(chunks)
    if not data:
        raise SpeechError(f"{source} answered with audio that holds no samples")
    return Pcm(data, out_rate)


def _plane(frame: av.AudioFrame) -> bytes:
    """The samples of a packed s16 mono frame (planes may be padded past the samples)."""
    return bytes(frame.planes[0])[: frame.samples * 2]


def join_pcm(pieces: list[Pcm], gap_s: float = JOIN_GAP_S) -> Pcm:
    """Join pieces of one narration with a short pause; all must share one rate.

    Raises:
        ValueError: no pieces, or rates differ.
    """
    if not pieces:
        raise ValueError("nothing to join")
    rate = pieces[0].rate
    if any(p.rate != rate for p in pieces):
        raise ValueError("pieces have different sample rates; decode them with one rate")
    gap = silence(gap_s, rate).data
    return Pcm(gap.join(p.data for p in pieces), rate)
