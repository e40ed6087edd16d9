"""Several runs on one farm: no ComfyUI server is ever given a second waiting job.

A dispatcher keeps each server at most ``JOBS_AHEAD_PER_SERVER`` job ahead of the running one,
but it counts only its own jobs: two runs at the same time (two processes, maybe two work
folders) would each put a job in the same server's queue. So before posting, a dispatcher
takes that server's lock, a file lock shared by every process of this user on this machine,
reads the server's ``GET /queue``, and posts only while fewer than ``JOBS_AHEAD_PER_SERVER``
jobs wait there (anybody's). The lock is held until the server has accepted the job, so the
next process to look sees it. The server's own queue is the truth: jobs that some other client
put there count as well. Within one process, posts to one server take turns on an asyncio lock
first, so a run's second job for a server waits for its first post, not for a poll.

Use::

    async with submit_slot(lane.client):
        await lane.client.submit(graph, prompt_id=prompt_id)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from videofactory.comfy.protocol import queue_ids
from videofactory.constants import JOBS_AHEAD_PER_SERVER
from videofactory.errors import BackendError, BackendTimeout
from videofactory.locks import lock_file

__all__ = ["lock_path", "pending_jobs", "submit_slot"]

#: How often a waiting dispatcher looks again (the lock, then the server's queue), seconds.
POLL_S = 0.2


def lock_path(url: str, folder: Path | None = None) -> Path:
    """The lock file of a server (one per host and port; localhost and 127.0.0.1 are one)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").lower()
    host = "127.0.0.1" if host in ("localhost", "::1", "") else host
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return lock_file(f"{host}:{port}", folder)


#: Per event loop, per lock file: the asyncio lock that queues this process's own posts to one
#: server. Two tasks of one run posting to the same server wait their turn here (woken the
#: moment the first is done) instead of polling the file lock, which they would find taken.
_LOCAL: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _local_lock(path: str) -> asyncio.Lock:
    locks = _LOCAL.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(path)
    if lock is None:
        lock = locks[path] = asyncio.Lock()
    return lock


def pending_jobs(queue: dict[str, Any]) -> int:
    """How many jobs wait (queued, not running) in a ``GET /queue`` answer."""
    return len(queue_ids(queue)[1])


@contextlib.asynccontextmanager
async def submit_slot(
    client: Any,
    *,
    limit: int = JOBS_AHEAD_PER_SERVER,
    max_wait_s: float | None = None,
    lock_folder: Path | None = None,
) -> AsyncIterator[int]:
    """Hold the server's slot while the caller posts one job; yields the pending count seen.

    ``client`` is a ``ComfyClient`` (its ``url`` and ``queue()`` are used). A server that does
    not answer ``/queue`` is not waited for: the post that follows fails with the real error
    and the dispatcher's recovery handles it.

    Raises:
        BackendTimeout: other jobs kept the server's queue full for ``max_wait_s`` seconds.
    """
    path = str(lock_path(client.url, lock_folder))
    async with _local_lock(path):  # our own posts to this server, one at a time
        async with _file_slot(client, path, limit, max_wait_s) as pending:
            yield pending


@contextlib.asynccontextmanager
async def _file_slot(
    client: Any, path: str, limit: int, max_wait_s: float | None
) -> AsyncIterator[int]:
    """The file lock shared with other processes, held while the server's queue has room."""
    lock = FileLock(path, thread_local=False)
    started = time.monotonic()
    while True:
        try:
            lock.acquire(timeout=0)  # never blocks the event loop: look again later
        except Timeout:
            pending = -1
        else:
            try:
                pending = pending_jobs(await client.queue())
            except BackendError:
                pending = 0
            except BaseException:
                lock.release()
                raise
            if pending < limit:
                break
            lock.release()
        if max_wait_s is not None and time.monotonic() - started > max_wait_s:
            raise BackendTimeout(
                f"{client.url} kept {max(pending, limit)} job(s) of other runs waiting for "
                f"{max_wait_s:g} s; its GPU is taken by another run",
                url=client.url,
            )
        await asyncio.sleep(POLL_S)
    try:
        yield pending
    finally:
        lock.release()
