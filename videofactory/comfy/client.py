"""An async client for one ComfyUI server: HTTP for requests, one websocket for events.

It speaks the protocol; timeouts, retries of a task and choice of server are the dispatcher's
business. Every transport failure becomes a FactoryError subclass here.

A request that fails in transit is tried again on the same server, a few times over a few
seconds (``retry_backoff``), before its error surfaces: a 5xx answer, a connection reset or
closed before the answer, a body broken off. Those are what a busy server, a proxy or a
network blip produce, and a film must not lose a GPU to them. A refused connection (nobody
listens: the process is gone), a timeout (nobody answers: it is hung) and every 4xx surface at
once. ``POST /prompt`` is never queued twice: before posting again, the server's /queue and
/history are asked whether the lost answer had queued it after all.

The websocket is opened before anything is posted (events are not buffered server-side), is
shared by every prompt of this client, and is reopened with backoff when it drops, after the old
one is fully closed (closing an old socket unregisters a newer one of the same client id).
While it is down, /history is polled so that no completion is missed. The verdict of a prompt
always comes from /history, never from the websocket alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
import websockets
from websockets.asyncio.client import connect as ws_connect

from videofactory.comfy.protocol import (
    Reply,
    check_queue,
    check_system_stats,
    item_id,
    json_of,
    server_error,
    timed_out,
    unreachable,
)
from videofactory.comfy.results import (
    OutputRef,
    Progress,
    PromptResult,
    parse_history_entry,
    rejection,
)
from videofactory.constants import HISTORY_POLL_S, HTTP_TIMEOUT_S
from videofactory.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ProtocolError,
)

__all__ = ["ComfyClient", "ProgressCallback", "RetryCallback", "new_prompt_id"]

log = logging.getLogger(__name__)

#: (prompt_id, event name, data) for every websocket event of a prompt we wait on.
ProgressCallback = Callable[[str, str, Mapping[str, Any]], None]

#: (method, path, attempt, error) before each retry of a request that failed in transit:
#: ``attempt`` is the number of the try that failed (1 for the first), ``error`` what it
#: would have raised.
RetryCallback = Callable[[str, str, int, BackendError], None]

#: Waits before each retry of a request that failed in transit, in seconds: five tries over
#: 7.5 s, then the error surfaces and the server counts as down.
HTTP_RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
#: Backoff between websocket reconnects, in seconds.
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
#: With the websocket up, /history is still checked this often as a safety net.
SAFETY_POLL_S = 5.0
#: How ComfyUI's progress_state frames begin (json.dumps with default separators).
PROGRESS_STATE_PREFIX = '{"type": "progress_state"'
#: Events that end a prompt.
TERMINAL_EVENTS = {"execution_success", "execution_error", "execution_interrupted"}


class ComfyClient:
    """One ComfyUI server. Use as ``async with ComfyClient(url) as c: ...``."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = HTTP_TIMEOUT_S,
        client_id: str | None = None,
        reconnect_backoff: Sequence[float] = RECONNECT_BACKOFF_S,
        retry_backoff: Sequence[float] = HTTP_RETRY_BACKOFF_S,
        on_retry: RetryCallback | None = None,
    ):
        self.url = url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.reconnect_backoff = tuple(reconnect_backoff) or RECONNECT_BACKOFF_S
        #: Waits before each retry of a request that failed in transit (empty: no retries).
        self.retry_backoff = tuple(retry_backoff)
        self.on_retry = on_retry
        #: How many requests were tried again after failing in transit.
        self.retries = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        # Made on first use: an aiohttp session belongs to the event loop that runs it.
        self._session: aiohttp.ClientSession | None = None
        self._object_info: dict[str, Any] | None = None
        self._listeners: dict[str, asyncio.Queue[tuple[str, dict[str, Any]]]] = {}
        self._ws_task: asyncio.Task[None] | None = None
        self._ws: Any = None
        #: How many times the websocket was (re)opened; more than 1 means it dropped.
        self.ws_connects = 0
        #: prompt id -> the websocket connection (``ws_connects``) it was posted under.
        self._posted_on: dict[str, int] = {}
        self._ws_up = asyncio.Event()
        self._closed = False
        self._progress: dict[str, Progress] = {}

    async def __aenter__(self) -> ComfyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the websocket and the HTTP connections."""
        self._closed = True
        if self._ws_task:
            self._ws_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ws_task
        if self._session is not None:
            await self._session.close()

    # -- plain requests ---------------------------------------------------------------------

    @property
    def _http(self) -> aiohttp.ClientSession:
        """The HTTP session (aiohttp: a third of httpx's CPU per request, which matters with
        thousands of jobs on a farm)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(ssl=_tls_context(), limit=16),
                # ComfyUI answers 403 to a foreign Origin; never send one, or a User-Agent
                # that a proxy might rewrite into one.
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def _request(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> Reply:
        """One request, its whole answer read; every transport failure mapped to ours.

        With ``retry`` a failure in transit (see ``_in_transit``) or a 5xx answer is tried
        again after each wait of ``retry_backoff``; a 5xx still there at the end is returned
        (the caller says what it means), any other failure raised. Only idempotent requests
        may be retried like this (``POST /prompt`` has its own loop, see ``_post_prompt``).
        """
        if "content" in kwargs:  # raw bytes, as callers (and tests) hand them
            kwargs["data"] = kwargs.pop("content")
        for attempt in itertools.count(1):
            last = not retry or attempt > len(self.retry_backoff)
            try:
                reply = await self._send(method, path, **kwargs)
            except _InTransit as exc:
                if last:
                    raise exc.error from exc.__cause__
                error = exc.error
            else:
                if reply.status_code < 500 or last:
                    return reply
                error = self._server_error(method, path, reply)
            await self._before_retry(method, path, attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method: str, path: str, **kwargs: Any) -> Reply:
        """One try of a request; a failure in transit is raised as ``_InTransit``."""
        try:
            async with self._http.request(method, self.url + path, **kwargs) as resp:
                body = await resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return Reply(resp.status, headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise timed_out(self.url, method, path) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            error = unreachable(self.url, exc)
            if _in_transit(exc):
                raise _InTransit(error) from exc
            raise error from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(
                f"{self.url}: {method} {path} failed: {exc}", url=self.url
            ) from exc

    def _server_error(self, method: str, path: str, reply: Reply) -> ProtocolError:
        """What a 5xx answer raises (once its retries are spent)."""
        return server_error(self.url, method, path, reply)

    async def _before_retry(
        self, method: str, path: str, attempt: int, error: BackendError
    ) -> None:
        """Announce a retry, then wait its turn of the backoff."""
        self.retries += 1
        delay = self.retry_backoff[attempt - 1]
        log.info("%s %s%s failed (%s); trying again in %g s", method, self.url, path, error, delay)
        if self.on_retry is not None:
            try:
                self.on_retry(method, path, attempt, error)
            except Exception:  # a watcher's bug must not turn a blip into an outage
                log.exception("on_retry callback failed")
        await asyncio.sleep(delay)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json_of(self.url, method, path, await self._request(method, path, **kwargs))

    async def system_stats(self) -> dict[str, Any]:
        """GET /system_stats (also the liveness probe)."""
        return check_system_stats(self.url, await self._json("GET", "/system_stats"))

    async def object_info(self, *, refresh: bool = False) -> dict[str, Any]:
        """GET /object_info, cached per client until ``refresh``."""
        if self._object_info is None or refresh:
            data = await self._json("GET", "/object_info")
            if not isinstance(data, dict):
                raise ProtocolError(f"{self.url}/object_info is not a mapping", url=self.url)
            self._object_info = data
        return self._object_info

    async def queue(self) -> dict[str, Any]:
        """GET /queue: running and pending items (5-element arrays)."""
        return check_queue(self.url, await self._json("GET", "/queue"))

    async def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry of a prompt, or None while pending/running or unknown."""
        data = await self._json("GET", f"/history/{prompt_id}")
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.url}/history is not a mapping", url=self.url)
        entry = data.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    async def in_queue(self, prompt_id: str) -> bool:
        """Whether the prompt is running or pending on the server."""
        q = await self.queue()
        items = [*(q.get("queue_running") or []), *(q.get("queue_pending") or [])]
        return any(item_id(i) == prompt_id for i in items)

    async def interrupt(self, prompt_id: str) -> None:
        """Interrupt this prompt if it is the one running (never someone else's)."""
        await self._request("POST", "/interrupt", json={"prompt_id": prompt_id})

    async def delete(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts from the queue."""
        await self._request("POST", "/queue", json={"delete": prompt_ids})

    async def cancel(self, prompt_id: str) -> str:
        """Stop one of our prompts wherever it is: "interrupted" (it was running), "deleted"
        (it was pending) or "not queued" (finished, or unknown)."""
        q = await self.queue()
        if any(item_id(i) == prompt_id for i in q.get("queue_running") or []):
            await self.interrupt(prompt_id)
            return "interrupted"
        if any(item_id(i) == prompt_id for i in q.get("queue_pending") or []):
            await self.delete([prompt_id])
            return "deleted"
        return "not queued"

    async def free(self, *, unload_models: bool = True, free_memory: bool = True) -> None:
        """Ask the server to unload models and free memory after the current prompt."""
        await self._request(
            "POST", "/free", json={"unload_models": unload_models, "free_memory": free_memory}
        )

    # -- files --------------------------------------------------------------------------------

    async def upload(self, path: Path, *, subfolder: str = "", overwrite: bool = True) -> str:
        """Upload a file to input/ and return the name to put in a Load* node."""
        data = {
            "type": "input",
            "subfolder": subfolder,
            "overwrite": "true" if overwrite else "false",
        }
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise BackendError(f"cannot read {path} to upload it: {exc.strerror or exc}") from exc
        body, content_type = multipart_form(data, ("image", Path(path).name, content))
        resp = await self._request(
            "POST", "/upload/image", data=body, headers={"Content-Type": content_type}
        )
        if resp.status_code != 200:
            raise ProtocolError(
                f"{self.url} refused the upload of {path} ({resp.status_code})", url=self.url
            )
        try:
            info = resp.json()
            name, sub = str(info["name"]), str(info.get("subfolder") or "")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(
                f"{self.url}/upload/image answered {resp.text[:80]!r}", url=self.url
            ) from exc
        return f"{sub}/{name}" if sub else name

    async def download_all(
        self, result: PromptResult, dest_dir: Path, *, types: Sequence[str] = ("output", "temp")
    ) -> list[Path]:
        """Download every output file of a result into ``dest_dir/<subfolder>/<filename>``.

        Names are the server's, read from history; one that would land outside ``dest_dir``
        is refused with a ProtocolError before anything is written.
        """
        root = Path(dest_dir).resolve()
        plan = []
        for ref in result.outputs:
            if ref.type not in types:
                continue
            _check_name(ref, self.url)
            dest = (root / ref.subfolder / ref.filename).resolve()
            if not dest.is_relative_to(root):
                raise ProtocolError(
                    f"{self.url} named an output file outside {root}: "
                    f"{ref.subfolder!r}/{ref.filename!r}",
                    url=self.url,
                )
            plan.append((ref, dest))
        return [await self.download(ref, dest) for ref, dest in plan]

    async def download(self, ref: OutputRef, dest: Path) -> Path:
        """Stream one output file to ``dest`` (a file path), checking its announced size.

        It is written to a hidden ``.part`` file beside ``dest`` and renamed when whole; a
        download that fails in transit (a 5xx, a reset, a body shorter than announced) starts
        again from scratch on the same server, like any request.
        """
        _check_name(ref, self.url)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            for attempt in itertools.count(1):
                try:
                    await self._fetch(ref, dest, tmp)
                except _InTransit as exc:
                    if attempt > len(self.retry_backoff):
                        raise exc.error from exc.__cause__
                    await self._before_retry("GET", "/view", attempt, exc.error)
                else:
                    tmp.replace(dest)
                    return dest
        finally:
            tmp.unlink(missing_ok=True)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch(self, ref: OutputRef, dest: Path, tmp: Path) -> None:
        """One try of a download into ``tmp``; a failure in transit raises ``_InTransit``."""
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        try:
            async with self._http.get(self.url + "/view", params=params) as resp:
                if resp.status != 200:
                    error = ProtocolError(
                        f"{self.url}/view answered {resp.status} for {ref.filename}",
                        url=self.url,
                    )
                    if resp.status >= 500:
                        raise _InTransit(error)
                    raise error
                announced = resp.headers.get("content-length")
                got = 0
                with tmp.open("wb") as fh:
                    async for chunk in resp.content.iter_chunked(1 << 20):
                        fh.write(chunk)
                        got += len(chunk)
            if announced is not None and int(announced) != got:
                raise _InTransit(
                    ProtocolError(
                        f"{self.url}/view sent {got} bytes of {ref.filename}, "
                        f"announced {announced}",
                        url=self.url,
                    )
                )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise BackendTimeout(
                f"{self.url}: download of {ref.filename} timed out", url=self.url
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            # Typically the body ended before the announced Content-Length.
            raise _InTransit(
                ProtocolError(f"{self.url}/view broke off {ref.filename}: {exc}", url=self.url)
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            if not isinstance(exc, ConnectionError | aiohttp.ClientError):
                raise BackendError(f"cannot write {dest}: {exc}") from exc
            error = BackendUnavailable(
                f"{self.url}: download of {ref.filename} failed: {exc}", url=self.url
            )
            if _in_transit(exc):
                raise _InTransit(error) from exc
            raise error from exc

    # -- prompts ------------------------------------------------------------------------------

    def _forget(self, prompt_id: str) -> None:
        """Stop following a prompt that was not queued after all."""
        self._listeners.pop(prompt_id, None)
        self._posted_on.pop(prompt_id, None)

    async def submit(self, workflow: Mapping[str, Any], *, prompt_id: str | None = None) -> str:
        """Queue a workflow under our client id and prompt id; return the prompt id."""
        prompt_id = prompt_id or str(uuid.uuid4())
        await self._ensure_ws()
        self._listeners.setdefault(prompt_id, asyncio.Queue())
        if self._ws_up.is_set():
            # The socket that will carry this prompt's events: if it is still the one at the
            # end, no event of the prompt can have been lost (see ``wait``).
            self._posted_on[prompt_id] = self.ws_connects
        body = {"prompt": workflow, "client_id": self.client_id, "prompt_id": prompt_id}
        try:
            resp = await self._post_prompt(body, prompt_id)
        except BaseException:
            self._forget(prompt_id)
            raise
        if resp is None:  # queued although its answer was lost
            return prompt_id
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if resp.status_code == 400:
            self._forget(prompt_id)
            raise rejection(answer, workflow, self.url)
        if resp.status_code != 200 or not isinstance(answer, dict) or "prompt_id" not in answer:
            self._forget(prompt_id)
            raise ProtocolError(
                f"{self.url} answered {resp.status_code} to POST /prompt: {resp.text[:120]!r}",
                url=self.url,
            )
        if answer.get("node_errors"):
            # Queued, but only the outputs that validated will run: for us that is a failure,
            # so take it back (delete it if pending, interrupt it if it already runs).
            with contextlib.suppress(BackendError):
                await self.cancel(prompt_id)
            self._forget(prompt_id)
            err = rejection(
                {"error": {"message": "part of the workflow is invalid"}, **answer},
                workflow,
                self.url,
            )
            raise err
        return str(answer["prompt_id"])

    async def _post_prompt(self, body: Mapping[str, Any], prompt_id: str) -> Reply | None:
        """POST /prompt, retried like other requests but never queued twice.

        A 5xx or a connection lost mid-request does not say whether the server queued the
        prompt: ComfyUI queues it before it answers, and queues a second POST with the same
        prompt id as a second job (``PromptQueue.put`` is a plain heap push; the later run
        overwrites the first one's history entry), so posting again blindly could pay for
        the GPU time twice. Before each retry the server's /queue, then /history, are asked
        about our prompt id; None means it is there already (the prompt is ours to follow).
        """
        for attempt in itertools.count(1):
            last = attempt > len(self.retry_backoff)
            try:
                reply = await self._send("POST", "/prompt", json=body)
            except _InTransit as exc:
                if last:
                    raise exc.error from exc.__cause__
                error: BackendError = exc.error
            else:
                if reply.status_code < 500 or last:
                    return reply
                error = self._server_error("POST", "/prompt", reply)
            await self._before_retry("POST", "/prompt", attempt, error)
            if await self._known(prompt_id):
                log.info(
                    "%s queued prompt %s although its answer was lost; not posting it again",
                    self.url,
                    prompt_id,
                )
                return None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _known(self, prompt_id: str) -> bool:
        """Whether the server has the prompt queued, running or finished. /queue is read
        before /history: a prompt that finishes between the two is then seen in one."""
        if await self.in_queue(prompt_id):
            return True
        return await self.history(prompt_id) is not None

    async def wait(
        self,
        prompt_id: str,
        *,
        on_event: ProgressCallback | None = None,
        lost_after_s: float = 3.0,
        timeout: float | None = None,
    ) -> PromptResult:
        """Follow a submitted prompt to its end and return its verdict.

        The verdict comes from /history, except for a success seen whole on one websocket:
        posted while the socket was up, every event from ``execution_start`` to
        ``execution_success`` on that same connection (a socket delivers all or breaks, and
        ComfyUI sends a prompt's events in order). Then the ``executed`` events carry the very
        outputs /history would list, and the request is saved. Errors, interruptions and
        anything seen across a reconnect are read from /history.

        ``timeout`` (seconds, None for none) bounds the whole wait: past it a BackendTimeout
        is raised and the prompt is left on the server (cancel it if it should stop).
        """
        events = self._listeners.setdefault(prompt_id, asyncio.Queue())
        progress = self._progress.setdefault(prompt_id, Progress(prompt_id))
        last_poll = time.monotonic()
        deadline = None if timeout is None else last_poll + timeout
        absent_since: float | None = None
        polls = 0
        try:
            while True:
                # The first look at /history comes soon (the prompt may be long finished: a
                # resumed run); later ones are a safety net while the socket is up.
                up = self._ws_up.is_set() and absent_since is None and polls > 0
                poll = SAFETY_POLL_S if up else HISTORY_POLL_S
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BackendTimeout(
                            f"{self.url}: prompt {prompt_id} did not finish within {timeout:g} s",
                            url=self.url,
                        )
                    poll = min(poll, left)
                try:
                    if events.empty():
                        async with asyncio.timeout(poll):
                            name, data = await events.get()
                    else:
                        name, data = events.get_nowait()
                except TimeoutError:
                    name, data = "", {}
                if name:
                    progress.update(name, data)
                    if on_event:
                        on_event(prompt_id, name, data)
                    # Posted and finished on this same, unbroken connection: no event was lost.
                    whole = self._posted_on.get(prompt_id) == self.ws_connects
                    if name == "execution_success" and whole and (ok := progress.success()):
                        return ok
                finished = name in TERMINAL_EVENTS or (
                    name == "executing" and data.get("node") is None
                )
                if not finished and name and time.monotonic() - last_poll < poll:
                    continue
                last_poll = time.monotonic()
                polls += 1
                entry = await self.history(prompt_id)
                if entry is not None:
                    return parse_history_entry(prompt_id, entry, self.url)
                if finished:
                    continue  # the entry is written before the final message; poll again
                if await self.in_queue(prompt_id):
                    absent_since = None
                    continue
                # Neither in history nor queued: maybe between the two, maybe lost for good.
                absent_since = absent_since or time.monotonic()
                if time.monotonic() - absent_since > lost_after_s:
                    raise BackendUnavailable(
                        f"{self.url} no longer knows prompt {prompt_id} (restarted, or deleted "
                        "from its queue); it must be submitted again",
                        url=self.url,
                    )
        finally:
            self._listeners.pop(prompt_id, None)
            self._progress.pop(prompt_id, None)
            self._posted_on.pop(prompt_id, None)

    def progress(self, prompt_id: str) -> Progress | None:
        """What the websocket has said so far about a prompt being waited on."""
        return self._progress.get(prompt_id)

    async def run(
        self,
        workflow: Mapping[str, Any],
        *,
        prompt_id: str | None = None,
        on_event: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> PromptResult:
        """Submit and wait."""
        pid = await self.submit(workflow, prompt_id=prompt_id)
        return await self.wait(pid, on_event=on_event, timeout=timeout)

    # -- websocket ------------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        """The websocket address of this server for our client id."""
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/ws?clientId={self.client_id}"

    async def drop_websocket(self) -> None:
        """Close the websocket now (a watchdog's remedy); it reopens with backoff meanwhile
        /history is polled, so no completion is missed."""
        if self._ws is not None:
            await self._ws.close()

    async def _ensure_ws(self) -> None:
        if self._ws_task is None or self._ws_task.done():
            self._ws_task = asyncio.create_task(self._ws_loop(), name=f"ws {self.url}")
        # Give the socket a moment to connect so that the first events are not missed; if it
        # cannot, history polling covers the gap.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ws_up.wait(), 5.0)

    async def _ws_loop(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                # No permessage-deflate: on a LAN, compressing every small event costs
                # both ends more CPU than the bytes it saves.
                async with ws_connect(
                    self.ws_url, max_size=None, open_timeout=5, compression=None
                ) as ws:
                    self._ws = ws
                    self.ws_connects += 1
                    self._ws_up.set()
                    attempt = 0
                    async for frame in ws:
                        if isinstance(frame, str):
                            self._dispatch(frame)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                log.debug("websocket to %s dropped: %s", self.url, exc)
            finally:
                # The context manager has closed the old socket fully before we reconnect.
                self._ws = None
                self._ws_up.clear()
                # Wake every waiter: it checks /history now and polls while the socket is down.
                for q in self._listeners.values():
                    q.put_nowait(("", {}))
            if self._closed:
                return
            backoff = self.reconnect_backoff
            await asyncio.sleep(backoff[min(attempt, len(backoff) - 1)])
            attempt += 1

    def _dispatch(self, frame: str) -> None:
        # progress_state repeats the state of every node at every tick (large, and nothing
        # here reads it): skip it before paying for its JSON.
        if frame.startswith(PROGRESS_STATE_PREFIX):
            return
        try:
            msg = json.loads(frame)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
            return
        data = msg["data"]
        pid = data.get("prompt_id")
        if isinstance(pid, str) and pid in self._listeners:
            self._listeners[pid].put_nowait((str(msg.get("type")), data))


class _InTransit(Exception):
    """A request failed in transit (see ``_in_transit``): it may be tried again; ``error``
    is what surfaces when it is not."""

    def __init__(self, error: BackendError) -> None:
        super().__init__(str(error))
        self.error = error


def _in_transit(exc: BaseException | None) -> bool:
    """Whether a transport failure struck an exchange under way (connection reset or closed
    before the answer, body broken off), which trying again may cure; not one that found
    nobody listening (refused, no route, DNS, TLS) or nobody answering (timeout)."""
    if isinstance(
        exc,
        TimeoutError
        | aiohttp.ClientConnectorError
        | aiohttp.ServerFingerprintMismatch
        | ConnectionRefusedError,
    ):
        return False
    return isinstance(
        exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | ConnectionError
    )


def _check_name(ref: OutputRef, url: str) -> None:
    """Refuse file names from the server that could escape a folder."""
    for part in (ref.filename, ref.subfolder):
        if part.startswith(("/", "\\")) or ".." in Path(part).parts or "\\" in part:
            raise ProtocolError(f"{url} named an unsafe output file {part!r}", url=url)
    if not ref.filename or "/" in ref.filename or "\x00" in ref.filename + ref.subfolder:
        raise ProtocolError(f"{url} named an unsafe output file {ref.filename!r}", url=url)


def multipart_form(fields: Mapping[str, str], file: tuple[str, str, bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body (and its Content-Type) built in memory: one write on the
    socket, where a streamed form costs a system call per boundary, header and part.

    ``file`` is (field name, file name, content). Quotes and line breaks in names are
    percent-encoded, as browsers do.
    """
    boundary = uuid.uuid4().hex

    def quoted(text: str) -> str:
        return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")

    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    name, filename, content = file
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"; '
        f'filename="{quoted(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
    )
    chunks += [content, f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def new_prompt_id() -> str:
    """A fresh prompt id (what the dispatcher records before posting)."""
    return str(uuid.uuid4())


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) costs ~0.1 s,
    and a farm has a client per server."""
    return ssl.create_default_context(cafile=certifi.where())
