"""The artifact cache on a real folder and a real SQLite index: written whole or not at all,
checked on every reuse, linked into run folders, bounded by prune."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videofactory.cache.artifacts import GRACE_S, ArtifactCache, file_sha256
from videofactory.cache.keys import is_key

pytestmark = pytest.mark.core

KEY_A, KEY_B, KEY_C = ("a" * 64, "b" * 64, "c" * 64)


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _rows(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "index.db") as db:
        return db.execute("SELECT key, sha256, size FROM entries ORDER BY key").fetchall()


def test_put_get_and_materialize_by_hard_link(tmp_path):
    src = _file(tmp_path / "run1" / "clips" / "s01.mp4", b"clip bytes" * 100)
    with ArtifactCache(tmp_path / "cache") as cache:
        entry = cache.put(KEY_A, "clip", src, media={"duration_s": 2.0}, source="run1/s01/clip")
        assert entry.sha256 == file_sha256(src) and entry.size == 1000 and entry.suffix == ".mp4"
        assert cache.path_of(entry).is_file()
        # Linked, not copied: the cache takes no space of its own while the run keeps its file.
        assert cache.path_of(entry).stat().st_ino == src.stat().st_ino
        hit = cache.get(KEY_A)
        assert hit is not None and hit.uses == 1 and hit.media == {"duration_s": 2.0}
        dest = cache.materialize(hit, tmp_path / "run2" / "clips" / "s01.mp4")
        assert dest.read_bytes() == src.read_bytes()
        assert dest.stat().st_ino == src.stat().st_ino
        assert not list(dest.parent.glob(".*.part"))
        assert cache.get(KEY_B) is None
        status = cache.status()
    assert status["entries"] == 1 and status["bytes"] == 1000
    assert status["shared_bytes"] == 1000 and status["kinds"] == {
        "clip": {"entries": 1, "bytes": 1000}
    }


def test_a_new_render_of_a_key_replaces_the_old_file(tmp_path):
    with ArtifactCache(tmp_path / "cache") as cache:
        old = cache.put(KEY_A, "keyframe", _file(tmp_path / "a.png", b"first"))
        new = cache.put(KEY_A, "keyframe", _file(tmp_path / "b.png", b"second"))
        assert not cache.path_of(old).exists() and cache.path_of(new).read_bytes() == b"second"
        got = cache.get(KEY_A)
        assert got is not None and got.sha256 == new.sha256
    assert _rows(tmp_path / "cache") == [(KEY_A, new.sha256, 6)]


@pytest.mark.parametrize(
    "damage",
    ["changed bytes, same size", "cut short", "removed", "replaced by a directory"],
)
def test_a_damaged_file_is_never_reused(tmp_path, damage):
    src = _file(tmp_path / "s01.mp4", b"x" * 4096)
    seen = []
    with ArtifactCache(tmp_path / "cache") as cache:
        entry = cache.put(KEY_A, "clip", src)
        path = cache.path_of(entry)
        path.unlink()  # the run's file is linked: damage the cache's own copy only
        if damage == "changed bytes, same size":
            _file(path, b"y" * 4096)
        elif damage == "cut short":
            _file(path, b"x" * 4000)
        elif damage == "replaced by a directory":
            path.mkdir()
        assert cache.get(KEY_A, on_damaged=seen.append) is None
        assert [e.key for e in seen] == [KEY_A]
        assert cache.entry(KEY_A) is None  # dropped with its row
    assert src.read_bytes() == b"x" * 4096  # the run's own file untouched


def test_a_file_written_by_hand_into_the_cache_is_not_reused(tmp_path):
    with ArtifactCache(tmp_path / "cache") as cache:
        # Named exactly as an object of KEY_A would be, but no index row names it.
        forged = _file(cache.objects / "aa" / f"{KEY_A}-{'0' * 16}.png", b"not a render")
        assert cache.get(KEY_A) is None and cache.entry(KEY_A) is None
        assert cache.sweep() == 0  # young: its writer may be about to index it
        assert cache.sweep(now=time.time() + GRACE_S + 60) == 1
        assert not forged.exists()


WRITER = r"""
import sys
from pathlib import Path
from videofactory.cache.artifacts import ArtifactCache
cache = ArtifactCache(Path(sys.argv[1]))
print("writing", flush=True)
cache.put(sys.argv[2], "clip", Path(sys.argv[3]))   # reads a FIFO that never ends
print("done", flush=True)
"""


def test_a_writer_killed_mid_write_leaves_nothing_that_is_reused(tmp_path):
    folder = tmp_path / "cache"
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), KEY_A, str(fifo)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        with open(fifo, "wb") as feed:  # opens once the writer reads it
            # More than one read of the writer (1 MiB): it has written the first to its file
            # and waits for the rest of the second when it is killed.
            feed.write(b"z" * (3 << 19))
            feed.flush()
            parts: list[Path] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                parts = [p for p in (folder / "tmp").glob("*.part") if p.stat().st_size >= 1 << 20]
                if parts:
                    break
                time.sleep(0.02)
            assert parts, "the writer never wrote"
            proc.send_signal(signal.SIGKILL)  # mid-write: the FIFO is still open, more to come
            assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _rows(folder) == []
    assert not [p for p in (folder / "objects").rglob("*") if p.is_file()]
    with ArtifactCache(folder) as cache:
        assert cache.get(KEY_A) is None
        assert cache.status()["temporary_files"] == 1
        # A later put of the same key is unaffected by the leftover, and a sweep takes it.
        entry = cache.put(KEY_A, "clip", _file(tmp_path / "whole.mp4", b"whole"))
        hit = cache.get(KEY_A)
        assert hit is not None and hit.sha256 == entry.sha256 and hit.size == 5
        assert cache.prune(now=time.time() + GRACE_S + 60).swept == 1
        assert cache.status()["temporary_files"] == 0 and cache.get(KEY_A) is not None


def test_prune_removes_the_least_recently_used_first(tmp_path):
    with ArtifactCache(tmp_path / "cache") as cache:
        for key in (KEY_A, KEY_B, KEY_C):  # put in this order: A oldest
            cache.put(key, "clip", _file(tmp_path / f"{key[0]}.mp4", key[0].encode() * 1000))
            time.sleep(0.01)
        assert cache.get(KEY_A) is not None  # A used again: B is now the least recent
        report = cache.prune(max_bytes=2000)
        assert [e.key for e in report.removed] == [KEY_B]
        assert report.removed_bytes == 1000 and report.bytes_left == 2000
        assert report.freed_bytes == 0  # b.mp4 (its "run folder" file) still holds the bytes
        assert {e.key for e in cache.entries()} == {KEY_A, KEY_C}
        assert not cache.path_of(report.removed[0]).exists()
        assert cache.prune(max_bytes=2000).removed == ()  # nothing more to do
        (tmp_path / "c.mp4").unlink()  # the run folder of C is deleted: C's bytes are the cache's
        report = cache.prune(max_bytes=1000)
        assert [e.key for e in report.removed] == [KEY_C] and report.freed_bytes == 1000
        assert [e.key for e in cache.entries()] == [KEY_A]


def test_prune_older_than(tmp_path):
    with ArtifactCache(tmp_path / "cache") as cache:
        cache.put(KEY_A, "speech", _file(tmp_path / "a.wav", b"a" * 10))
        cache.put(KEY_B, "speech", _file(tmp_path / "b.wav", b"b" * 10))
        now = time.time()
        assert cache.prune(older_than_s=86400, now=now).removed == ()
        with cache._tx() as db:  # A last used ten days ago
            db.execute("UPDATE entries SET last_used=? WHERE key=?", (now - 10 * 86400, KEY_A))
        report = cache.prune(older_than_s=7 * 86400, now=now)
        assert [e.key for e in report.removed] == [KEY_A]
        assert [e.key for e in cache.entries()] == [KEY_B]


def test_put_refuses_what_is_not_a_key(tmp_path):
    with ArtifactCache(tmp_path / "cache") as cache, pytest.raises(ValueError):
        cache.put("../../etc/passwd", "clip", _file(tmp_path / "a.mp4", b"a"))
    assert not is_key("../../etc/passwd")
