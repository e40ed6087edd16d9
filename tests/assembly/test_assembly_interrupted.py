"""An assembly killed, stopped, or run twice at once: no orphan ffmpeg, no leftovers, no clash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from mediakit import RUN
from subprocs import cli, python_child, slow_ffmpeg_on_path, wait_for_render

from videofactory.assembly import outputs
from videofactory.assembly.ffmpeg import find_ffmpeg
from videofactory.assembly.outputs import OutputBusy, output_lock, stale_partials
from videofactory.assembly.render import assemble
from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot
from videofactory.detach import pid_alive

SPEC = OutputSpec(160, 90, 24, preset="ultrafast")


def one_shot(media) -> Timeline:
    return Timeline((TimelineShot("s1", media.clip_a, 0.5, media.tone_short, "Hi."),), SPEC)


def leftovers(folder):
    """What a killed assembly of final.mp4 leaves: the render, the mix, the pictures, the
    sheet, the burned subtitles' script and the subtitles being written."""
    made = [
        folder / ".final.partial-0123abcd.mp4",
        folder / ".final.mix.partial-4567cdef.wav",
        folder / ".final.contact.partial-89abcdef.jpg",
        folder / ".final.partial-00000000.ass",
        folder / ".final.partial-11111111.srt",
    ]
    for path in made:
        path.write_bytes(b"half")
    pictures = folder / ".final.partial-22222222.pictures"
    pictures.mkdir()
    (pictures / "000.jpg").write_bytes(b"half")
    return sorted([*made, pictures])


def test_a_killed_assemblys_leftovers_are_removed_by_the_next(media, ffmpeg_bin, tmp_path):
    stale = leftovers(tmp_path)
    # Not this output's: another version's temporary file, and names that only look alike.
    others = [
        tmp_path / ".final.v2.partial-0123abcd.mp4",
        tmp_path / ".final.partial-xyz.mp4",
        tmp_path / "final.partial-0123abcd.mp4",
    ]
    for path in others:
        path.write_bytes(b"keep")
    assert stale_partials(tmp_path / "final.mp4") == stale
    assemble(one_shot(media), tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert not any(path.exists() for path in stale)
    assert all(path.read_bytes() == b"keep" for path in others)
    assert (tmp_path / "final.mp4").stat().st_size > 0


def test_one_assembly_of_an_output_at_a_time(media, ffmpeg_bin, tmp_path, monkeypatch):
    final = tmp_path / "final.mp4"
    stale = leftovers(tmp_path)
    monkeypatch.setattr(outputs, "LOCK_WAIT_S", 0.2)
    with output_lock(final):  # another process is assembling it
        started = time.monotonic()
        with pytest.raises(OutputBusy, match="being assembled by another process"):
            assemble(one_shot(media), final, ffmpeg=ffmpeg_bin)
        assert time.monotonic() - started >= 0.2  # it waited its turn first
        with pytest.raises(OutputBusy):
            assemble(one_shot(media), final, ffmpeg=ffmpeg_bin, new=True)
    # The other one's files were left alone: they were not stale while it held the lock.
    assert all(path.exists() for path in stale) and not final.exists()
    assemble(one_shot(media), final, ffmpeg=ffmpeg_bin)
    with pytest.raises(OutputBusy, match="exists already"):
        assemble(one_shot(media), final, ffmpeg=ffmpeg_bin, new=True)


def test_two_reassemblies_at_once_make_two_versions(workdir, tmp_path):  # noqa: F811
    work, run_dir, _song = workdir
    with output_lock(run_dir / "final.v2.mp4"):  # another `assemble` is making v2
        res = cli("assemble", RUN, "--workdir", str(work), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["version"] == 3 and summary["final"] == str(run_dir / "final.v3.mp4")
    assert not (run_dir / "final.v2.mp4").exists()


#: A child that runs a long ffmpeg, prints its pid at the first progress, then waits on it.
CHILD = """
import os, sys
from pathlib import Path
from videofactory.assembly.ffmpeg import find_ffmpeg, run_ffmpeg

def progress(_fraction):
    if not os.environ.get("SHOWN"):
        os.environ["SHOWN"] = "1"
        tasks = Path("/proc/self/task").iterdir()
        kids = [c for t in tasks for c in (t / "children").read_text().split()]
        print(" ".join(kids), flush=True)

args = ["-re", "-f", "lavfi", "-i", "testsrc=s=64x64:r=10:d=120", "-f", "null", "-"]
run_ffmpeg(find_ffmpeg(sys.argv[1]), args, duration_s=120, on_progress=progress)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_ffmpeg_dies_with_the_process_that_started_it(ffmpeg_bin):
    with python_child("-c", CHILD, ffmpeg_bin.path) as child:
        assert child.stdout is not None
        pids = [int(pid) for pid in child.stdout.readline().split()]
        assert len(pids) == 1 and pid_alive(pids[0])  # ffmpeg, rendering
        os.kill(child.pid, signal.SIGKILL)  # as the OOM killer or `kill -9` would
        child.wait(timeout=10)
        end = time.monotonic() + 10
        while pid_alive(pids[0]) and time.monotonic() < end:
            time.sleep(0.05)
        assert not pid_alive(pids[0]), "ffmpeg outlived the process that started it"


def test_sigterm_stops_an_assemble_and_leaves_nothing(workdir, tmp_path, monkeypatch):  # noqa: F811
    work, run_dir, _song = workdir
    marker = slow_ffmpeg_on_path(tmp_path / "bin", find_ffmpeg().path, monkeypatch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    argv = ["-m", "videofactory", "assemble", RUN, "--workdir", str(work), "--json"]
    with python_child(*argv, env=env, stderr=subprocess.PIPE) as proc:
        ffmpeg_pid = wait_for_render(marker, proc)
        proc.send_signal(signal.SIGTERM)  # as Ctrl-C: ffmpeg stopped, partial files removed
        assert proc.wait(timeout=30) != 0
    assert not pid_alive(ffmpeg_pid)
    assert not (run_dir / "final.v2.mp4").exists()
    assert stale_partials(run_dir / "final.v2.mp4") == []
