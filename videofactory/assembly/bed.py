"""The default music bed: a short loop synthesised here with numpy, varied by mood. Pure.

Generated rather than bundled: there is no sample library to ship or licence and nothing to
download, every film gets a bed in its mood, and a seed makes it repeatable (the same plan
gives the same bed, sample for sample).

A bed is a chord progression played by a soft pad (two detuned voices per chord tone, one to
each side), a bass, an arpeggio and, for the livelier moods, a soft kick and ticks. The mood
(a ``BedStyle``) sets the tempo, the scale, the progressions, how dark the timbres are and
which layers play; the seed picks the key, one of the mood's progressions and the arpeggio's
pattern.

It loops without a click because every note is laid into a buffer of exactly one loop
*circularly*: whatever of a note rings past the loop's end is added at its start, as the notes
of the previous pass would ring into the next. The buffer is then exactly periodic, its last
sample leads into its first as any sample leads into the next, and ``-stream_loop`` plays it
seamlessly for any length (``seam_jump`` measures it). Every note starts and ends at zero
(raised-cosine attack and release), and the timbres are additive (a few harmonics with a
roll-off, read from a wavetable), so nothing aliases and no filter, whose state would not
wrap round, is needed.
"""

from __future__ import annotations

import math
import os
import secrets
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BedStyle",
    "MOODS",
    "loop_seconds",
    "render_bed",
    "seam_jump",
    "write_wav",
]

#: Scales as semitones above the key's root.
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
LYDIAN = (0, 2, 4, 6, 7, 9, 11)
PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)

#: Samples in one wavetable period (read with linear interpolation).
TABLE_SIZE = 4096
#: Peak of the written loop, in dBFS: headroom for the mix; its level is set by measuring.
PEAK_DBFS = -3.0


@dataclass(frozen=True)
class BedStyle:
    """How a mood sounds: tempo, harmony, timbre and which layers play (levels 0 = silent)."""

    name: str
    bpm: float
    scale: tuple[int, ...]
    #: Chord roots as scale degrees (0 = the key's root); the seed picks one progression.
    progressions: tuple[tuple[int, ...], ...]
    beats_per_chord: int = 4
    #: Harmonic roll-off exponent: amplitude of harmonic k is 1 / k**darkness (higher: darker).
    darkness: float = 1.6
    #: Add the seventh to the pad's chords.
    sevenths: bool = False
    #: Lowest and highest key root the seed may pick (MIDI note numbers, the bass octave).
    roots: tuple[int, int] = (40, 47)
    pad: float = 0.5
    bass: float = 0.3
    #: Bass note length in beats (the chord's whole length when larger).
    bass_step: float = 4.0
    arp: float = 0.2
    #: Arpeggio step in beats (0.5: eighth notes).
    arp_step: float = 1.0
    #: Arpeggio note decay time constant, in seconds.
    arp_decay_s: float = 0.35
    kick: float = 0.0
    #: Beats between kicks.
    kick_every: float = 1.0
    tick: float = 0.0
    #: Beats between ticks (they fall on the off-beats).
    tick_every: float = 0.5


#: Every mood the bed knows (``mood.py`` picks one for a film from its kind, mood or words).
MOODS: dict[str, BedStyle] = {
    style.name: style
    for style in (
        BedStyle(
            "warm",
            bpm=76,
            scale=MAJOR,
            progressions=((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 5, 4)),
            sevenths=True,
            arp=0.18,
            arp_step=1.0,
        ),
        BedStyle(
            "wistful",
            bpm=68,
            scale=MINOR,
            progressions=((0, 5, 2, 6), (0, 3, 5, 4), (0, 5, 3, 4)),
            darkness=1.9,
            arp=0.16,
            arp_step=0.5,
            arp_decay_s=0.5,
        ),
        BedStyle(
            "bright",
            bpm=100,
            scale=MAJOR,
            progressions=((0, 3, 5, 4), (0, 4, 5, 3), (3, 4, 0, 5)),
            darkness=1.2,
            pad=0.35,
            bass=0.3,
            bass_step=1.0,
            arp=0.22,
            arp_step=0.5,
            arp_decay_s=0.22,
            kick=0.2,
            kick_every=2.0,
            tick=0.04,
        ),
        BedStyle(
            "driving",
            bpm=118,
            scale=MINOR,
            progressions=((0, 5, 2, 6), (0, 6, 5, 6), (0, 3, 6, 5)),
            darkness=1.3,
            pad=0.3,
            bass=0.35,
            bass_step=0.5,
            arp=0.14,
            arp_step=0.25,
            arp_decay_s=0.15,
            kick=0.4,
            kick_every=1.0,
            tick=0.05,
        ),
        BedStyle(
            "airy",
            bpm=84,
            scale=LYDIAN,
            progressions=((0, 1, 0, 4), (0, 3, 1, 4), (0, 5, 1, 3)),
            darkness=1.4,
            sevenths=True,
            roots=(43, 50),
            pad=0.5,
            bass=0.2,
            arp=0.2,
            arp_step=1.0,
            arp_decay_s=0.8,
        ),
        BedStyle(
            "pulse",
            bpm=108,
            scale=DORIAN,
            progressions=((0, 3, 0, 3), (0, 3, 6, 3), (0, 6, 3, 4)),
            darkness=1.4,
            pad=0.3,
            bass=0.3,
            bass_step=0.5,
            arp=0.2,
            arp_step=0.5,
            arp_decay_s=0.2,
            kick=0.3,
            kick_every=1.0,
            tick=0.05,
        ),
        BedStyle(
            "tense",
            bpm=64,
            scale=PHRYGIAN,
            progressions=((0, 1, 0, 5), (0, 5, 1, 0), (0, 6, 1, 0)),
            darkness=2.0,
            roots=(38, 44),
            pad=0.55,
            bass=0.35,
            arp=0.1,
            arp_step=0.5,
            arp_decay_s=0.3,
            kick=0.25,
            kick_every=2.0,
        ),
        BedStyle(
            "calm",
            bpm=60,
            scale=MAJOR,
            progressions=((0, 3), (0, 5, 3, 4), (0, 4)),
            beats_per_chord=8,
            darkness=1.8,
            sevenths=True,
            pad=0.6,
            bass=0.25,
            bass_step=8.0,
            arp=0.12,
            arp_step=2.0,
            arp_decay_s=1.0,
        ),
        BedStyle(
            "epic",
            bpm=90,
            scale=MINOR,
            progressions=((0, 5, 2, 6), (0, 6, 5, 4), (0, 3, 5, 6)),
            darkness=1.5,
            roots=(38, 45),
            pad=0.5,
            bass=0.35,
            bass_step=1.0,
            arp=0.15,
            arp_step=0.5,
            arp_decay_s=0.25,
            kick=0.4,
            kick_every=1.0,
        ),
    )
}


def _beat_samples(style: BedStyle, rate: int) -> int:
    """Samples in one beat: a whole number, so that every note falls on a sample."""
    return round(rate * 60.0 / style.bpm)


def loop_seconds(style: BedStyle, rate: int = 48000) -> float:
    """The length of one loop of ``style`` (every progression has the same count of chords)."""
    chords = len(style.progressions[0])
    return chords * style.beats_per_chord * _beat_samples(style, rate) / rate


def _table(darkness: float, harmonics: int) -> np.ndarray:
    """One period of an additive waveform: harmonic k at 1 / k**darkness, peak 1."""
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    wave_ = sum(
        math.pow(k, -darkness) * np.sin(2 * np.pi * k * phase) for k in range(1, harmonics + 1)
    )
    return wave_ / np.abs(wave_).max()


def _osc(table: np.ndarray, hz: float, n: int, rate: int, phase: float = 0.0) -> np.ndarray:
    """``n`` samples of the wavetable played at ``hz``, from ``phase`` (0..1)."""
    pos = ((phase + hz * np.arange(n) / rate) % 1.0) * TABLE_SIZE
    return np.interp(pos, np.arange(TABLE_SIZE), table, period=TABLE_SIZE)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _swell(n: int, attack: int, release: int) -> np.ndarray:
    """A raised-cosine attack, a flat top and a raised-cosine release: 0 at both ends."""
    attack, release = min(attack, n // 2), min(release, n // 2)
    env = np.ones(n)
    if attack:
        env[:attack] = 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    if release:
        env[n - release :] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, release + 1) / release)
    return env


def _pluck(n: int, rate: int, decay_s: float) -> np.ndarray:
    """A 5 ms attack, an exponential decay, and a 20 ms taper to exactly zero at the end."""
    env = np.exp(-np.arange(n) / (decay_s * rate))
    return env * _swell(n, round(0.005 * rate), round(0.02 * rate))


def _place(buf: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Add ``sound`` (samples x 2) into ``buf`` from ``start``, wrapping round its end."""
    size = buf.shape[0]
    start %= size
    done = 0
    while done < len(sound):
        take = min(size - start, len(sound) - done)
        buf[start : start + take] += sound[done : done + take]
        done += take
        start = 0


def _pan(mono: np.ndarray, pan: float) -> np.ndarray:
    """A mono sound as stereo, ``pan`` from -1 (left) to 1 (right), constant power."""
    angle = (pan + 1) * np.pi / 4
    return np.stack([mono * math.cos(angle), mono * math.sin(angle)], axis=1)


def _note(scale: tuple[int, ...], root: int, degree: int) -> int:
    """The MIDI note of a scale degree above ``root`` (degrees past 6 climb octaves)."""
    octave, step = divmod(degree, len(scale))
    return root + 12 * octave + scale[step]


def _chord(style: BedStyle, root: int, degree: int) -> list[int]:
    """The chord on ``degree``: a triad (and seventh) stacked in thirds within the scale."""
    steps = (0, 2, 4, 6) if style.sevenths else (0, 2, 4)
    return [_note(style.scale, root, degree + s) for s in steps]


def render_bed(style: BedStyle, seed: int, rate: int = 48000) -> np.ndarray:
    """One loop of the bed (float32, samples x 2, peak ``PEAK_DBFS``), exactly periodic.

    The same style, seed and rate give the same samples.
    """
    rng = np.random.default_rng(seed)
    beat = _beat_samples(style, rate)
    progression = style.progressions[int(rng.integers(len(style.progressions)))]
    root = int(rng.integers(style.roots[0], style.roots[1] + 1))
    chord_len = style.beats_per_chord * beat
    size = len(progression) * chord_len
    buf = np.zeros((size, 2))
    pad_table = _table(style.darkness, 8)
    pluck_table = _table(style.darkness + 0.3, 6)
    bass_table = _table(2.5, 3)
    # The arpeggio's pattern over one chord: indexes into the chord's notes, one per step.
    steps_per_chord = max(1, round(style.beats_per_chord / style.arp_step))
    pattern = [int(i) for i in rng.integers(0, 4, size=steps_per_chord)]
    pattern[0] = 0
    release = round(1.5 * rate)
    for index, degree in enumerate(progression):
        start = index * chord_len
        notes = _chord(style, root + 24, degree)
        bass_note = _note(style.scale, root, degree)
        if style.pad:
            # Each chord swells in over 0.6 s and rings 1.5 s into the next one.
            length = chord_len + release
            env = _swell(length, round(0.6 * rate), release) * style.pad / len(notes)
            for midi in notes:
                # Two voices 12 cents apart, one to each side: a slow, wide chorus.
                for side, cents in ((-1.0, -6.0), (1.0, 6.0)):
                    voice = _osc(pad_table, _hz(midi + cents / 100), length, rate, rng.random())
                    _place(buf, _pan(voice * env, side * 0.6), start)
            # The root an octave down, centred: body under the chord.
            low = _osc(pad_table, _hz(notes[0] - 12), length, rate, rng.random())
            _place(buf, _pan(low * env * 0.7, 0.0), start)
        if style.bass:
            step = min(chord_len, round(style.bass_step * beat))
            for at in range(start, start + chord_len, step):
                n = step + round(0.05 * rate)
                env = _swell(n, round(0.01 * rate), round(0.08 * rate))
                tone = _osc(bass_table, _hz(bass_note), n, rate)
                _place(buf, _pan(tone * env * style.bass * 1.6, 0.0), at)
        if style.arp:
            step = max(1, round(style.arp_step * beat))
            for i, at in enumerate(range(start, start + chord_len, step)):
                idx = pattern[i % len(pattern)] % len(notes)
                n = round(min(4 * style.arp_decay_s, 3.0) * rate)
                tone = _osc(pluck_table, _hz(notes[idx] + 12), n, rate)
                pan = 0.4 if i % 2 else -0.4
                _place(buf, _pan(tone * _pluck(n, rate, style.arp_decay_s) * style.arp, pan), at)
    _rhythm(buf, style, beat, rate, rng)
    peak = float(np.abs(buf).max()) or 1.0
    return (buf * (10 ** (PEAK_DBFS / 20) / peak)).astype(np.float32)


def _rhythm(
    buf: np.ndarray, style: BedStyle, beat: int, rate: int, rng: np.random.Generator
) -> None:
    """The kick (a sine falling from 110 to 45 Hz) and the ticks (a burst of noise)."""
    size = buf.shape[0]
    if style.kick:
        n = round(0.35 * rate)
        t = np.arange(n) / rate
        hz = 45 + 65 * np.exp(-t / 0.03)
        kick = np.sin(2 * np.pi * np.cumsum(hz) / rate) * _pluck(n, rate, 0.09)
        every = round(style.kick_every * beat)
        for at in range(0, size, every):
            _place(buf, _pan(kick * style.kick * 1.5, 0.0), at)
    if style.tick:
        n = round(0.04 * rate)
        noise = rng.standard_normal(n)
        tick = np.diff(noise, prepend=0.0) * _pluck(n, rate, 0.008)  # differenced: bright
        every = round(style.tick_every * beat)
        for at in range(every // 2, size, every):
            _place(buf, _pan(tick * style.tick, 0.3), at)


def seam_jump(samples: np.ndarray, at: int, window: int = 480) -> float:
    """How large the step into sample ``at`` is next to the steps around it (about 1: none).

    The step between two samples is compared with the RMS of the sample-to-sample steps in the
    ``window`` samples on each side (the seam's own step left out), the largest over channels:
    a click stands out as tens or hundreds, a seamless join is where the material's own steps
    are (below about 3).
    """
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    lo, hi = max(1, at - window), min(len(data), at + window + 1)
    steps = np.abs(np.diff(data[lo - 1 : hi], axis=0))
    seam = at - lo  # index of the step data[at - 1] -> data[at] in ``steps``
    around = np.delete(steps, seam, axis=0)
    typical = np.sqrt((around**2).mean(axis=0))
    return float(np.max(steps[seam] / np.maximum(typical, 1e-9)))


def write_wav(path: Path, samples: np.ndarray, rate: int, *, seed: int = 0) -> Path:
    """Write float samples (samples x channels) as a 16-bit PCM WAV, dithered; atomically.

    Triangular dither keeps quiet passages noise-like rather than stepped (and never exactly
    zero). The file appears complete or not at all.
    """
    path = Path(path)
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    rng = np.random.default_rng(seed)
    lsb = 1 / 32768
    dither = (rng.random(data.shape) - rng.random(data.shape)) * lsb
    pcm = np.clip(np.round((data + dither) * 32767), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(data.shape[1])
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
