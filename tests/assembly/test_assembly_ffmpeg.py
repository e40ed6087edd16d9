"""Finding ffmpeg and running it: capabilities, progress, failures with argv and stderr."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from videofactory.assembly import ffmpeg as ffmpeg_mod
from videofactory.assembly.ffmpeg import (
    REQUIRED_ENCODERS,
    REQUIRED_FILTERS,
    STDERR_TAIL_LINES,
    FFmpeg,
    find_ffmpeg,
    run_ffmpeg,
)
from videofactory.errors import AssemblyError


@pytest.fixture
def fresh_cache():
    """find_ffmpeg caches per process; these tests need it to look again."""
    find_ffmpeg.cache_clear()
    yield
    find_ffmpeg.cache_clear()


def fake_ffmpeg(folder: Path, filters: list[str], encoders: list[str]) -> Path:
    """A script that answers -version/-filters/-encoders like an ffmpeg with these features."""
    script = folder / "ffmpeg"
    filter_rows = "".join(f" .. {name}  V->V  x\\n" for name in filters)
    encoder_rows = "".join(f" V....D {name}  x\\n" for name in encoders)
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "flag = sys.argv[-1]\n"
        "if flag == '-version': print('ffmpeg version 5.1.6-0+deb12u1 Copyright')\n"
        # ffmpeg 5.1 prints no "------" between the legend and the filter rows; 9 does.
        f"elif flag == '-filters': print('Filters:\\n  T.. = Timeline support\\n"
        f"  A = Audio input/output\\n{filter_rows}')\n"
        f"elif flag == '-encoders': print('Encoders:\\n V..... = Video\\n ------\\n"
        f"{encoder_rows}')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_finds_a_capable_ffmpeg(ffmpeg_bin: FFmpeg) -> None:
    assert ffmpeg_bin.source in ("path", "imageio-ffmpeg", "override")
    assert REQUIRED_FILTERS <= ffmpeg_bin.filters
    assert REQUIRED_ENCODERS <= ffmpeg_bin.encoders
    assert {"tpad", "amix", "adelay", "anullsrc", "concat"} <= ffmpeg_bin.filters
    assert len(ffmpeg_bin.version_tuple) >= 2 and ffmpeg_bin.version_tuple >= (5, 1)
    assert find_ffmpeg() is find_ffmpeg()  # cached per process


def test_path_ffmpeg_lacking_features_loses_to_the_bundled_one(
    fresh_cache, tmp_path, monkeypatch
) -> None:
    fake_ffmpeg(tmp_path, ["xfade", "loudnorm"], ["aac"])
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = find_ffmpeg()
    assert found.source == "imageio-ffmpeg"


def test_capable_path_ffmpeg_is_preferred(fresh_cache, tmp_path, monkeypatch) -> None:
    fake_ffmpeg(tmp_path, sorted(REQUIRED_FILTERS), sorted(REQUIRED_ENCODERS))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = find_ffmpeg()
    assert (found.source, found.path, found.version_tuple) == (
        "path",
        str(tmp_path / "ffmpeg"),
        (5, 1, 6),
    )


def test_override_lacking_a_feature_says_what_and_how(fresh_cache, tmp_path) -> None:
    script = fake_ffmpeg(tmp_path, ["xfade", "loudnorm", "sidechaincompress"], ["aac"])
    with pytest.raises(AssemblyError) as err:
        find_ffmpeg(str(script))
    message = str(err.value)
    assert "filter subtitles" in message and "encoder libx264" in message
    assert "apt install ffmpeg" in message and "imageio-ffmpeg" in message


def test_override_that_does_not_exist(fresh_cache, tmp_path) -> None:
    with pytest.raises(AssemblyError, match="cannot run ffmpeg"):
        find_ffmpeg(str(tmp_path / "no-such-ffmpeg"))


def test_run_reports_progress_up_to_one(ffmpeg_bin: FFmpeg, tmp_path) -> None:
    seen: list[float] = []
    run_ffmpeg(
        ffmpeg_bin,
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x64:r=24:d=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(tmp_path / "p.mp4"),
        ],
        duration_s=2.0,
        on_progress=seen.append,
    )
    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen) and all(0 < f <= 1 for f in seen)
    assert (tmp_path / "p.mp4").stat().st_size > 0


def test_failure_carries_argv_returncode_and_stderr_tail(ffmpeg_bin: FFmpeg, tmp_path) -> None:
    args = ["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "x.mp4")]
    with pytest.raises(AssemblyError) as err:
        run_ffmpeg(ffmpeg_bin, args)
    assert err.value.argv[0] == ffmpeg_bin.path and err.value.argv[-3:] == args
    assert err.value.returncode not in (None, 0)
    assert "missing.mp4" in err.value.stderr_tail
    assert "No such file" in str(err.value)


def test_lots_of_stderr_does_not_deadlock(ffmpeg_bin: FFmpeg, tmp_path) -> None:
    # showinfo logs every frame: 500 frames write about 200 KB to stderr, three times a pipe
    # buffer (64 KiB). Unread, ffmpeg would block on it and never exit (the test would hang).
    args = ["-f", "lavfi", "-i", "testsrc2=s=32x32:r=25:d=20", "-vf", "showinfo", "-f", "null"]
    everything = run_ffmpeg(ffmpeg_bin, [*args, "-"], tail_lines=10**6)
    assert len(everything.encode()) > 3 * 65536
    assert " n:   0 " in everything and " n: 499 " in everything  # every frame, none lost
    # By default only the tail is kept: the last lines ffmpeg wrote, after the last frame's.
    tail = run_ffmpeg(ffmpeg_bin, [*args, "-"]).splitlines()
    assert len(tail) == STDERR_TAIL_LINES
    assert any(" n: 499 " in line for line in tail) and tail[-1].startswith("frame=  500 ")


def test_progress_blocks_parse_both_spellings() -> None:
    assert ffmpeg_mod._progress_seconds({"out_time_us": "1500000"}) == 1.5
    assert ffmpeg_mod._progress_seconds({"out_time_ms": "250000"}) == 0.25
    assert ffmpeg_mod._progress_seconds({"out_time_us": "N/A"}) is None
    assert ffmpeg_mod._progress_seconds({"out_time_us": "-5"}) == 0.0


def test_a_raising_progress_callback_stops_ffmpeg(ffmpeg_bin: FFmpeg, tmp_path) -> None:
    def boom(_fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ffmpeg(
            ffmpeg_bin,
            ["-re", "-f", "lavfi", "-i", "testsrc2=d=30", "-f", "null", "-"],
            duration_s=30,
            on_progress=boom,
        )
