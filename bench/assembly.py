"""Assembly benchmark: our one-pass ffmpeg assembly against MoviePy 2.x and against the floor.

The edit (from issue 6): 12 clips of 5 s at 1280x720, 24 fps; a 60 s music file; 12 narration
files. Crossfades of 0.5 s between shots, narration at each shot's start, the music looped to
length, ducked under the narration and faded out, loudness normalised, H.264 + AAC.

- **ours**: ``videofactory.assembly.assemble`` (loudness passes + one ffmpeg run that also
  writes the thumbnail and the contact sheet's pictures);
- **moviepy**: MoviePy 2.x doing the same edit the MoviePy way (CompositeVideoClip with
  CrossFadeIn, the outgoing clip frozen under the fade; CompositeAudioClip with AudioLoop,
  MultiplyVolume under each narration for ducking, AudioFadeOut, AudioNormalize: MoviePy has
  no sidechain compressor or loudness normaliser, so its audio work is lighter than ours);
- **floor**: ffmpeg decoding the same 1440 frames once (concat demuxer) and encoding them with
  no filters, plus the music as AAC.

All three use the same ffmpeg binary (imageio-ffmpeg's), libx264 with the same preset and
CRF, and AAC. Each contender runs as its own process tree, three times, interleaved; the
figure is the median wall time. Peak RSS is the largest sum of RSS over the process and all
its descendants (ffmpeg children included), sampled every 20 ms.

Run: ``pip install -e ".[bench]" && python bench/assembly.py [--preset veryfast]``; the last
line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from videofactory.assembly import (
    Music,
    OutputSpec,
    Timeline,
    TimelineShot,
    Transition,
    assemble,
    find_ffmpeg,
    probe,
)

SHOTS = 12
SHOT_S = 5.0
WIDTH, HEIGHT, FPS = 1280, 720, 24
FADE_S = 0.5
#: x264 preset and CRF shared by all three contenders; ultrafast keeps the whole bench
#: (9 renders of 60 s of 720p on 2 cores) well under five minutes. The product's default is
#: veryfast (``--preset veryfast``: the encoder's share grows, and the ratio to the floor falls).
PRESET = "ultrafast"
CRF = 20
RUNS = 3
#: Narration length: a little over half of each shot.
SPEECH_S = 3.0
SOURCES = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc", "yuvtestsrc", "pal100bars"]


def make_inputs(folder: Path) -> tuple[list[Path], list[Path], Path]:
    """Make the clips, narration and music with lavfi (no downloads)."""
    ffmpeg = find_ffmpeg().path
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([ffmpeg, "-v", "error", "-y", *args], check=True)

    clips, speech = [], []
    for i in range(SHOTS):
        clip = folder / f"clip{i:02d}.mp4"
        # A moving pattern, hue-rotated per shot so the shots differ.
        src = f"{SOURCES[i % len(SOURCES)]}=s={WIDTH}x{HEIGHT}:r={FPS}:d={SHOT_S}"
        run("-f", "lavfi", "-i", src, "-vf", f"hue=h={i * 30}", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
        clips.append(clip)
        voice = folder / f"speech{i:02d}.wav"
        # Speech-like: a gliding pitch, chopped into syllables at 4 Hz.
        expr = f"0.5*sin(2*PI*(140+{i * 7}+30*sin(2*PI*2*t))*t)*max(0\\,sin(2*PI*4*t))"
        run("-f", "lavfi", "-i", f"aevalsrc={expr}:s=22050:d={SPEECH_S}", str(voice))
        speech.append(voice)
    music = folder / "music.m4a"
    chord = "0.15*sin(2*PI*220*t)+0.1*sin(2*PI*277*t)*(0.6+0.4*sin(2*PI*0.5*t))"
    run("-f", "lavfi", "-i", f"aevalsrc={chord}|{chord}:s=44100:d=60",
        "-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.02:d=60:r=44100",
        "-filter_complex", "[0][1]amix=inputs=2:normalize=0",
        "-c:a", "aac", str(music))  # fmt: skip
    return clips, speech, music


def ours(folder: Path, out: Path, preset: str = PRESET) -> None:
    """Our assembly of the edit."""
    clips, speech, music = _inputs(folder)
    shots = tuple(
        TimelineShot(f"s{i:02d}", clip, SHOT_S, voice, f"Shot {i + 1}.")
        for i, (clip, voice) in enumerate(zip(clips, speech, strict=True))
    )
    timeline = Timeline(
        shots,
        OutputSpec(WIDTH, HEIGHT, FPS, crf=CRF, preset=preset),
        transition=Transition("crossfade", FADE_S),
        music=Music(music),
    )
    assemble(timeline, out)


def moviepy(folder: Path, out: Path, preset: str = PRESET) -> None:
    """MoviePy 2.x doing the same edit."""
    from moviepy import (
        AudioFileClip,
        CompositeAudioClip,
        CompositeVideoClip,
        VideoFileClip,
        afx,
        vfx,
    )

    clips, speech, music = _inputs(folder)
    total = SHOTS * SHOT_S
    layers = []
    for i, path in enumerate(clips):
        clip = VideoFileClip(str(path), audio=False).with_start(i * SHOT_S)
        if i < SHOTS - 1:  # held under the next shot's crossfade, as ours does
            clip = clip.with_effects([vfx.Freeze(t="end", freeze_duration=FADE_S)])
        if i > 0:
            clip = clip.with_effects([vfx.CrossFadeIn(FADE_S)])
        layers.append(clip)
    voices = [AudioFileClip(str(p)).with_start(i * SHOT_S) for i, p in enumerate(speech)]
    ducks = [
        afx.MultiplyVolume(0.3, start_time=i * SHOT_S, end_time=i * SHOT_S + SPEECH_S)
        for i in range(SHOTS)
    ]
    bed = AudioFileClip(str(music)).with_effects(
        [afx.AudioLoop(duration=total), *ducks, afx.AudioFadeOut(2.0)]
    )
    audio = CompositeAudioClip([bed, *voices]).with_duration(total)
    audio = audio.with_effects([afx.AudioNormalize()])
    # An opaque black background: without one MoviePy composites a second, mask clip per frame.
    video = CompositeVideoClip(layers, size=(WIDTH, HEIGHT), bg_color=(0, 0, 0))
    video = video.with_duration(total)
    video = video.with_audio(audio)
    video.write_videofile(
        str(out),
        fps=FPS,
        codec="libx264",
        preset=preset,
        audio_codec="aac",
        ffmpeg_params=["-crf", str(CRF), "-pix_fmt", "yuv420p"],
        logger=None,
    )
    video.close()


def floor_argv(folder: Path, out: Path, preset: str = PRESET) -> list[str]:
    """ffmpeg decoding and encoding the same frames once, with no filters."""
    clips, _speech, music = _inputs(folder)
    listing = folder / "concat.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in clips))
    return [
        find_ffmpeg().path, "-v", "error", "-y", "-f", "concat", "-safe", "0",
        "-i", str(listing), "-i", str(music), "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", preset, "-crf", str(CRF), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-movflags", "+faststart", "-t", str(SHOTS * SHOT_S), str(out),
    ]  # fmt: skip


def _inputs(folder: Path) -> tuple[list[Path], list[Path], Path]:
    clips = sorted(folder.glob("clip*.mp4"))
    speech = sorted(folder.glob("speech*.wav"))
    return clips, speech, folder / "music.m4a"


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the whole process tree of ``argv``."""
    start = time.perf_counter()
    proc = psutil.Popen(argv, stdout=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
        except psutil.NoSuchProcess:
            pass
        peak = max(peak, total)
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return elapsed, peak / 1e6


def main() -> None:
    """Run the benchmark and print the figures, the last line as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", choices=["ours", "moviepy"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--preset", default=PRESET, help="x264 preset of all three contenders")
    args = parser.parse_args()
    if args.contender:  # a child: run one contender
        {"ours": ours, "moviepy": moviepy}[args.contender](args.folder, args.out, args.preset)
        return
    with tempfile.TemporaryDirectory(prefix="vf-bench-") as tmp:
        folder = Path(tmp) / "in"
        t0 = time.perf_counter()
        make_inputs(folder)
        print(f"inputs made in {time.perf_counter() - t0:.1f} s", flush=True)
        me = [sys.executable, str(Path(__file__).resolve()), "--preset", args.preset]
        contenders = {
            "ours": lambda out: [*me, "--contender", "ours", "--folder", str(folder), "--out", out],
            "floor": lambda out: floor_argv(folder, Path(out), args.preset),
            "moviepy": lambda out: [
                *me, "--contender", "moviepy", "--folder", str(folder), "--out", out
            ],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in contenders}
        peaks: dict[str, list[float]] = {name: [] for name in contenders}
        lengths: dict[str, float] = {}
        for run in range(args.runs):
            for name, argv in contenders.items():
                out = Path(tmp) / f"{name}{run}.mp4"
                seconds, peak = measure(argv(str(out)))
                times[name].append(seconds)
                peaks[name].append(peak)
                lengths[name] = probe(out).duration_s
                print(f"run {run + 1} {name:8s} {seconds:6.2f} s  peak tree RSS {peak:6.0f} MB")
    med = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "ratio_to_floor": round(med["ours"] / med["floor"], 3),
        "speedup_vs_moviepy": round(med["moviepy"] / med["ours"], 2),
        "peak_tree_rss_mb": round(max(peaks["ours"])),
        "moviepy_peak_tree_rss_mb": round(max(peaks["moviepy"])),
        "floor_peak_tree_rss_mb": round(max(peaks["floor"])),
        "median_s": {name: round(value, 2) for name, value in med.items()},
        "output_s": {name: round(value, 3) for name, value in lengths.items()},
        "runs": args.runs,
        "preset": args.preset,
        "ffmpeg": find_ffmpeg().version,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
