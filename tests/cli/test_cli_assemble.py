"""`videofactory assemble RUN`: a recorded run re-assembled as a new version, from the store."""

from __future__ import annotations

import json

import pytest
from mediakit import RUN
from subprocs import cli

from videofactory.assembly.probe import probe
from videofactory.assembly.runfiles import next_version
from videofactory.store import Store


def test_reassembles_as_a_new_version_recorded_in_the_store(workdir, tmp_path) -> None:
    work, run_dir, song = workdir
    res = cli(
        "assemble", RUN[:20], "--workdir", str(work), "--transition", "crossfade",
        "--music", str(song), "--aspect", "9:16", "--resolution", "480p", "--fit", "crop",
        "--burn-subtitles", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["final"] == str(run_dir / "final.v2.mp4") and summary["version"] == 2
    assert (run_dir / "final.mp4").read_bytes() == b"the first final"  # the old one stays
    info = probe(run_dir / "final.v2.mp4")
    assert (info.width, info.height) == (480, 854)
    assert info.duration_s == pytest.approx(4.5, abs=1 / 24)
    for name in ("final.v2.srt", "final.v2.vtt", "final.v2.thumb.jpg", "final.v2.contact.jpg"):
        assert (run_dir / name).stat().st_size > 0
    assert (run_dir / "final.v2.srt").read_text().count("-->") == 3
    with Store.for_workdir(work) as store:
        finals = [a for a in store.artifacts(RUN) if a["kind"] == "final"]
        events = [e["kind"] for e in store.events(RUN)]
    assert finals[-1]["path"] == str(run_dir / "final.v2.mp4")
    assert finals[-1]["media"]["transition"] == "fade" and finals[-1]["media"]["version"] == 2
    assert "reassembled" in events
    # Again: the next version, with the run's own size.
    res = cli("assemble", RUN, "--workdir", str(work), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "final.v3.mp4" in res.stdout
    assert (probe(run_dir / "final.v3.mp4").width, probe(run_dir / "final.v3.mp4").height) == (
        160,
        90,
    )


def test_the_hero_pass_is_used_and_the_thumbnail_is_the_first_hero(workdir, tmp_path) -> None:
    work, run_dir, _song = workdir
    res = cli("assemble", RUN, "--workdir", str(work), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    import av

    with av.open(str(run_dir / "final.v2.thumb.jpg")) as c:
        thumb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert thumb.mean() > 200  # s02's hero pass is white


@pytest.mark.parametrize(
    "break_it, words",
    [
        (lambda run_dir: (run_dir / "clips" / "s03.mp4").unlink(), "s03.mp4 (shot s03 of run"),
        (lambda run_dir: (run_dir / "speech" / "s01.wav").unlink(), "missing from the run folder"),
    ],
)
def test_a_run_folder_with_missing_files_is_one_clear_line(
    workdir, tmp_path, break_it, words
) -> None:
    work, run_dir, _song = workdir
    break_it(run_dir)
    res = cli("assemble", RUN, "--workdir", str(work), cwd=tmp_path)
    assert res.returncode == 1
    assert words in res.stderr and "Traceback" not in res.stderr
    assert not (run_dir / "final.v2.mp4").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--music", "nope.mp3"], "music: media file nope.mp3 is missing"),
        (["--transition", "spin"], "unknown transition 'spin'"),
        (["--aspect", "4:3"], "unknown aspect '4:3'"),
        (["--reframe", "stretch"], "--reframe must be follow"),
        (["--fit", "stretch"], "--reframe must be follow"),
    ],
)
def test_bad_options_are_one_clear_line(workdir, tmp_path, args, words) -> None:
    work, run_dir, _song = workdir
    res = cli("assemble", RUN, "--workdir", str(work), *args, cwd=tmp_path)
    assert res.returncode == 1, res.stdout
    assert words in res.stderr and "Traceback" not in res.stderr
    assert not list(run_dir.glob("final.v*"))


def test_unknown_run_and_missing_database(workdir, tmp_path) -> None:
    work, _run_dir, _song = workdir
    res = cli("assemble", "nope", "--workdir", str(work), cwd=tmp_path)
    assert res.returncode == 1 and "no run 'nope'" in res.stderr
    res = cli("assemble", RUN, "--workdir", str(tmp_path / "empty"), cwd=tmp_path)
    assert res.returncode == 1 and "no run database" in res.stderr


def test_next_version_counts_past_gaps(tmp_path) -> None:
    assert next_version(tmp_path) == (1, tmp_path / "final.mp4")
    (tmp_path / "final.mp4").write_bytes(b"")
    assert next_version(tmp_path) == (2, tmp_path / "final.v2.mp4")
    (tmp_path / "final.v5.mp4").write_bytes(b"")
    assert next_version(tmp_path) == (6, tmp_path / "final.v6.mp4")
