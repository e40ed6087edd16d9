"""The artifact cache of a work directory: every file a task made, kept under its content key.

``<workdir>/cache/`` holds ``index.db`` (SQLite, WAL: one row per key) and ``objects/ab/`` (the
files, named ``<key>-<sha256[:16]><suffix>``). It is written like the run store, so that a crash
at any point leaves nothing that is ever reused:

1. the file is linked (same file system: no copy, no extra space) or copied to a temporary name
   in ``tmp/``, hashed as it is written, and flushed to disk (``fsync``);
2. it is renamed to its object name (atomic) and the folder flushed;
3. only then is its index row written. An object without a row is never reused (and swept).

Every reuse checks the file against its row first (size, then sha256 of the bytes): a file
written by hand, cut short or changed later is dropped, never handed to a run. A reused file is
linked into the run folder (copied across file systems). Whoever reuses an entry marks it used:
``prune`` removes the least recently used first. A file linked into run folders as well takes
no space of its own; ``status`` says how much of the cache is shared so.

    with ArtifactCache.for_workdir(Path("runs")) as cache:
        entry = cache.put(key, "clip", clip_path, media={...}, source="run/s01/clip")
        hit = cache.get(key)              # verified, or None
        if hit: cache.materialize(hit, run_dir / "clips" / "s01.mp4")
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.cache.keys import is_key
from videofactory.errors import StoreError

__all__ = [
    "CACHE_DIR",
    "ArtifactCache",
    "Entry",
    "PruneReport",
    "file_sha256",
]

#: The cache's folder in a work directory.
CACHE_DIR = "cache"
INDEX_NAME = "index.db"
#: Temporary and unindexed files younger than this are left alone by a sweep: their writer may
#: still be at work.
GRACE_S = 3600.0
CHUNK = 1 << 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    suffix TEXT NOT NULL,
    media_json TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    last_used REAL NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_used ON entries(last_used);
"""


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One cached file, as its index row says it is."""

    key: str
    #: The task kind that made it (keyframe, clip, hero, speech).
    kind: str
    #: sha256 of its bytes: what tasks reading it put in their own keys.
    sha256: str
    size: int
    #: Its file suffix (".png", ".mp4", ".wav").
    suffix: str
    #: What the run recorded of it when it was checked (duration, size, codecs).
    media: dict[str, Any] = field(default_factory=dict)
    #: The task that made it (``run/shot/kind``).
    source: str = ""
    created_at: float = 0.0
    last_used: float = 0.0
    uses: int = 0

    @property
    def name(self) -> str:
        """Its object file's name."""
        return f"{self.key}-{self.sha256[:16]}{self.suffix}"

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        return {
            "key": self.key,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "source": self.source,
            "created_at": self.created_at,
            "last_used": self.last_used,
            "uses": self.uses,
        }


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed and what is left."""

    removed: tuple[Entry, ...]
    #: Bytes the removed entries held / of those, bytes no run folder also held (now free).
    removed_bytes: int
    freed_bytes: int
    #: Stray files swept (temporary files of killed writers, objects no row names).
    swept: int
    entries_left: int
    bytes_left: int

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "removed": len(self.removed),
            "removed_bytes": self.removed_bytes,
            "freed_bytes": self.freed_bytes,
            "swept": self.swept,
            "entries_left": self.entries_left,
            "bytes_left": self.bytes_left,
            "removed_keys": [e.key for e in self.removed],
        }


class ArtifactCache:
    """The artifact cache in one folder. Thread-safe: one connection, guarded by a lock."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.objects = self.folder / "objects"
        self.tmp = self.folder / "tmp"
        self._lock = threading.RLock()
        try:
            self.objects.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot make the artifact cache {self.folder}: {exc.strerror or exc}"
            ) from exc
        try:
            self._db = sqlite3.connect(
                str(self.folder / INDEX_NAME), check_same_thread=False, isolation_level=None
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the artifact cache index {self.folder}: {exc}") from exc

    @classmethod
    def for_workdir(cls, workdir: Path | str) -> ArtifactCache:
        """The cache of a work directory (made on first use)."""
        return cls(Path(workdir) / CACHE_DIR)

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ArtifactCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def path_of(self, entry: Entry) -> Path:
        """Where an entry's file lives."""
        return self.objects / entry.key[:2] / entry.name

    # -- reading ----------------------------------------------------------------------------

    def entry(self, key: str) -> Entry | None:
        """The index row of a key, unverified (for planning: ``render --dry-run``)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM entries WHERE key=?", (key,)).fetchone()
        return _entry(row) if row else None

    def entries(self) -> list[Entry]:
        """Every entry, least recently used first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM entries ORDER BY last_used, key").fetchall()
        return [_entry(r) for r in rows]

    def get(self, key: str, *, on_damaged: Callable[[Entry], None] | None = None) -> Entry | None:
        """The entry of a key if its file is whole and unchanged (size, then sha256), marked
        used; None otherwise. A file that fails the check is dropped with its row (and
        ``on_damaged`` told)."""
        entry = self.entry(key)
        if entry is None:
            return None
        if not self.verify(entry):
            self._drop(entry)
            if on_damaged is not None:
                on_damaged(entry)
            return None
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE entries SET last_used=?, uses=uses+1 WHERE key=? AND sha256=?",
                (now, key, entry.sha256),
            )
        return Entry(**{**entry.__dict__, "last_used": now, "uses": entry.uses + 1})

    def verify(self, entry: Entry) -> bool:
        """Whether an entry's file is there, whole and unchanged (size, then sha256)."""
        path = self.path_of(entry)
        try:
            return path.stat().st_size == entry.size and file_sha256(path) == entry.sha256
        except OSError:
            return False

    def materialize(self, entry: Entry, dest: Path) -> Path:
        """Put an entry's file at ``dest`` (a hard link, else a copy), replacing what is there
        at once (a temporary name, then a rename)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        try:
            _link_or_copy(self.path_of(entry), tmp)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    # -- writing ----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        kind: str,
        src: Path,
        *,
        media: dict[str, Any] | None = None,
        source: str = "",
    ) -> Entry:
        """Keep ``src`` under ``key`` (see the module's docstring for the order of writes);
        the new file replaces an older one of the same key. Returns its entry."""
        if not is_key(key):
            raise ValueError(f"not a content key: {key!r}")
        src = Path(src)
        suffix = src.suffix.lower()
        tmp = self.tmp / f"{key}.{os.getpid()}.{secrets.token_hex(4)}.part"
        try:
            sha, size = _write_whole(src, tmp)
            entry = Entry(key, kind, sha, size, suffix, dict(media or {}), source)
            final = self.path_of(entry)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(final)
            _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        now = time.time()
        with self._tx() as db:
            old = db.execute("SELECT * FROM entries WHERE key=?", (key,)).fetchone()
            db.execute(
                "INSERT INTO entries (key, kind, sha256, size, suffix, media_json, source,"
                " created_at, last_used, uses) VALUES (?,?,?,?,?,?,?,?,?,0)"
                " ON CONFLICT(key) DO UPDATE SET kind=excluded.kind, sha256=excluded.sha256,"
                " size=excluded.size, suffix=excluded.suffix, media_json=excluded.media_json,"
                " source=excluded.source, created_at=excluded.created_at,"
                " last_used=excluded.last_used",
                (key, kind, sha, size, suffix, json.dumps(media or {}), source, now, now),
            )
        if old is not None:
            stale = _entry(old)
            if stale.name != entry.name:  # another render of the same key: the newest wins
                _remove(self.path_of(stale))
        return Entry(key, kind, sha, size, suffix, dict(media or {}), source, now, now, 0)

    def drop(self, key: str) -> bool:
        """Forget a key and remove its file; True if it was there."""
        entry = self.entry(key)
        if entry is None:
            return False
        self._drop(entry)
        return True

    def _drop(self, entry: Entry) -> None:
        # The row goes first: a crash in between leaves an unindexed file, never a row
        # pointing at nothing (and a newer render of the key keeps its row and file).
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM entries WHERE key=? AND sha256=?", (entry.key, entry.sha256)
            )
        if cur.rowcount:
            _remove(self.path_of(entry))

    # -- keeping it bounded -----------------------------------------------------------------

    def prune(
        self,
        *,
        max_bytes: int | None = None,
        older_than_s: float | None = None,
        now: float | None = None,
    ) -> PruneReport:
        """Remove entries not used for ``older_than_s``, then the least recently used until
        the cache holds at most ``max_bytes``; sweep stray files. Neither limit: sweep only."""
        now = time.time() if now is None else now
        swept = self.sweep(now)
        entries = self.entries()  # least recently used first
        total = sum(e.size for e in entries)
        removed: list[Entry] = []
        freed = 0
        for e in entries:
            old = older_than_s is not None and now - e.last_used > older_than_s
            over = max_bytes is not None and total > max_bytes
            if not (old or over):
                if older_than_s is None:
                    break  # sorted by use: the rest are newer and the size fits
                continue
            freed += self._size_alone(e)
            self._drop(e)
            removed.append(e)
            total -= e.size
        left = len(entries) - len(removed)
        return PruneReport(tuple(removed), sum(e.size for e in removed), freed, swept, left, total)

    def sweep(self, now: float | None = None) -> int:
        """Remove what no index row names and no writer can still be writing: temporary files
        of writers killed mid-write, and objects renamed but never indexed. Returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            named = {
                f"{r['key']}-{r['sha256'][:16]}{r['suffix']}"
                for r in self._db.execute("SELECT key, sha256, suffix FROM entries")
            }
        count = 0
        strays = [p for p in self.tmp.glob("*") if p.is_file()]
        strays += [p for p in self.objects.glob("*/*") if p.is_file() and p.name not in named]
        for path in strays:
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > GRACE_S:
                    path.unlink()
                    count += 1
        return count

    def status(self) -> dict[str, Any]:
        """What the cache holds: entries and bytes (by kind), what run folders also hold, the
        oldest and newest use, stray files."""
        entries = self.entries()
        kinds: dict[str, dict[str, int]] = {}
        shared = 0
        for e in entries:
            k = kinds.setdefault(e.kind, {"entries": 0, "bytes": 0})
            k["entries"] += 1
            k["bytes"] += e.size
            if self._size_alone(e) == 0:
                shared += e.size
        strays = sum(1 for p in self.tmp.glob("*") if p.is_file())
        return {
            "folder": str(self.folder),
            "entries": len(entries),
            "bytes": sum(e.size for e in entries),
            "shared_bytes": shared,
            "kinds": kinds,
            "oldest_use": entries[0].last_used if entries else None,
            "newest_use": max(e.last_used for e in entries) if entries else None,
            "temporary_files": strays,
        }

    def _size_alone(self, entry: Entry) -> int:
        """The bytes removing an entry frees: none while a run folder links the same file."""
        try:
            st = self.path_of(entry).stat()
        except OSError:
            return 0
        return st.st_size if st.st_nlink <= 1 else 0

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        key=row["key"],
        kind=row["kind"],
        sha256=row["sha256"],
        size=int(row["size"]),
        suffix=row["suffix"],
        media=json.loads(row["media_json"] or "{}"),
        source=row["source"],
        created_at=float(row["created_at"]),
        last_used=float(row["last_used"]),
        uses=int(row["uses"]),
    )


def _write_whole(src: Path, tmp: Path) -> tuple[str, int]:
    """``src`` at ``tmp``, linked (else copied), flushed to disk; its sha256 and size, read
    from what was written."""
    if src.is_file():
        try:
            os.link(src, tmp)
        except OSError:
            pass
        else:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            return file_sha256(tmp), tmp.stat().st_size
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest(), size


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        with open(src, "rb") as fin, open(dest, "wb") as fout:
            shutil.copyfileobj(fin, fout, CHUNK)
            fout.flush()
            os.fsync(fout.fileno())


def _remove(path: Path) -> None:
    """Remove an object, whatever it has become (a file, or a folder someone put there)."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` last (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
