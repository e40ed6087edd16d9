"""The shared half of the speech-server backends: split, request one piece at a time, join.

A ``ServerSpeech`` cleans the narration (no emoji or control characters), splits it at sentence
boundaries into pieces of at most ``max_chars``, sends the pieces one by one, decodes each answer
(WAV, MP3, ...) and writes one 16-bit mono WAV. A server gets one request at a time from this
process, whatever the number of backends or threads using it (a lock per server): Kokoro-FastAPI
fails under parallel requests and a single GPU would only queue them anyway.

Each piece is retried on its own (``retries`` times, with exponential back-off, honouring a
``Retry-After``): a server that drops one request of a long narration costs that request again,
not the pieces it already spoke. Transient failures are retried (connection refused or reset,
a timeout, HTTP 5xx, 408 and 429); a refusal is not (any other 4xx: a bad voice, a missing key,
a wrong path), nor an answer that is a page and not audio: they would come again.

Every transport failure is mapped to ``SpeechServerError`` naming the server and what to do.
What happens when a server still fails (the film's one fallback voice) is ``FallbackSpeech``'s.
"""

from __future__ import annotations

import json
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from videofactory.errors import SpeechError, SpeechServerError
from videofactory.tts.audio import Pcm, decode_audio, describe_body, join_pcm, silence
from videofactory.tts.base import SpeechBackend, SpeechResult, write_wav
from videofactory.tts.local import SILENCE_S, clean_text
from videofactory.tts.text import DEFAULT_MAX_CHARS, speakable, split_text

__all__ = ["ServerSpeech", "server_lock"]

#: Seconds to wait for a TCP connection; a server that is up accepts at once.
CONNECT_TIMEOUT_S = 10.0
#: Longest wait between two tries of one request, whatever the back-off or Retry-After say.
MAX_BACKOFF_S = 30.0
#: HTTP statuses worth another try: a 5xx, a request timeout, too many requests.
RETRY_STATUSES = frozenset({408, 429})
#: Answers with these content types are errors, whatever their status code says.
_NOT_AUDIO_TYPES = ("text/", "application/json", "application/problem+json", "application/xml")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass
class _Tally:
    """What one narration cost a server: requests sent, and the failures met on the way."""

    requests: int = 0
    errors: list[str] = field(default_factory=list)


def server_lock(url: str) -> threading.Lock:
    """The lock that serialises requests to one server (keyed by scheme, host and port)."""
    parts = urlsplit(url)
    key = f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class ServerSpeech(SpeechBackend):
    """A speech engine behind HTTP: subclasses say how one piece of text is requested."""

    #: What the server is called in messages ("Chatterbox server").
    SERVER_KIND = "speech server"

    def __init__(
        self,
        url: str,
        *,
        voice: str | None = None,
        options: dict[str, Any] | None = None,
        timeout_s: float = 120.0,
        max_chars: int = DEFAULT_MAX_CHARS,
        api_key: str | None = None,
        retries: int = 2,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise SpeechServerError(f"speech url must start with http:// or https:// ({url!r})")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.url = url.rstrip("/")
        self.voice = voice
        self.options = dict(options or {})
        self.timeout_s = timeout_s
        self.max_chars = max_chars
        #: Further tries of one request that failed in a way worth trying again.
        self.retries = retries
        #: Wait before the first retry of a request; doubled before each next one.
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._api_key = api_key

    @abstractmethod
    def _request(self, piece: str) -> tuple[str, dict[str, Any]]:
        """The path (under ``url``) and the JSON body that speak ``piece``."""

    def describe(self) -> str:
        """Server kind, URL and voice."""
        voice = f", voice {self.voice}" if self.voice else ""
        return f"{self.SERVER_KIND} at {self.url}{voice}"

    def synthesize(self, text: str, out_path: Path) -> Path:
        """Speak ``text`` through the server into a 16-bit mono WAV at ``out_path``.

        Raises:
            SpeechServerError: the server is unreachable, too slow, refused, or sent no audio
                (after the retries a transient failure gets).
        """
        return self.speak(text, out_path).path

    def speak(self, text: str, out_path: Path) -> SpeechResult:
        """Like ``synthesize``; the result counts the requests and names the failures that
        were retried on the way (``attempts``, ``errors``).

        Raises:
            SpeechServerError: as ``synthesize``; its ``history`` holds every failure met and
                ``requests`` the requests sent.
        """
        tally = _Tally()
        try:
            path = self._speak(text, Path(out_path), tally)
        except SpeechServerError as exc:
            log = tally.errors
            exc.history = tuple(log) if log and log[-1] == str(exc) else (*log, str(exc))
            exc.requests = tally.requests
            raise
        return SpeechResult(
            path=path,
            engine=self.BACKEND_NAME,
            description=self.describe(),
            attempts=tally.requests,
            errors=tuple(tally.errors),
        )

    def _speak(self, text: str, out_path: Path, tally: _Tally) -> Path:
        cleaned = clean_text(text)
        if not speakable(cleaned):
            quiet = silence(SILENCE_S, 22050)
            return write_wav(out_path, quiet.data, quiet.rate)
        pieces: list[Pcm] = []
        headers = {"Accept": "audio/wav, audio/*;q=0.9"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        timeout = httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s))
        with httpx.Client(timeout=timeout, headers=headers) as client:
            for piece in split_text(cleaned, self.max_chars):
                path, body = self._request(piece)
                rate = pieces[0].rate if pieces else None
                pieces.append(self._piece(client, path, body, rate, tally))
        joined = join_pcm(pieces)
        return write_wav(out_path, joined.data, joined.rate)

    def _piece(
        self,
        client: httpx.Client,
        path: str,
        body: dict[str, Any],
        rate: int | None,
        tally: _Tally,
    ) -> Pcm:
        """One piece of a narration spoken, its request tried up to ``1 + retries`` times."""
        for attempt in range(self.retries + 1):
            tally.requests += 1
            try:
                with server_lock(self.url):
                    audio = self._post(client, path, body)
                try:
                    return decode_audio(audio, rate=rate, source=self._who(path))
                except SpeechError as exc:  # a body cut short decodes badly: worth a retry
                    raise SpeechServerError(str(exc), url=self.url) from exc
            except SpeechServerError as exc:
                tally.errors.append(str(exc))
                if not exc.retryable or attempt == self.retries:
                    raise
                self._sleep(self._delay(attempt, exc.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before the next try: exponential back-off, or the server's Retry-After if
        longer, never more than ``MAX_BACKOFF_S``."""
        wait = self.backoff_s * 2**attempt
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, MAX_BACKOFF_S)

    def _who(self, path: str) -> str:
        return f"{self.SERVER_KIND} {self.url}{path}"

    def _post(self, client: httpx.Client, path: str, body: dict[str, Any]) -> bytes:
        """POST one request and return the audio bytes, mapping every failure."""
        who = self._who(path)
        try:
            response = client.post(self.url + path, json=body)
        except httpx.ConnectTimeout as exc:
            raise SpeechServerError(
                f"{who} did not accept a connection within {CONNECT_TIMEOUT_S:g} s; "
                "check the speech url and that the server is running",
                url=self.url,
            ) from exc
        except httpx.TimeoutException as exc:
            raise SpeechServerError(
                f"{who} did not answer within {self.timeout_s:g} s "
                "(raise speech.timeout_s if the server is just slow)",
                url=self.url,
            ) from exc
        except httpx.ConnectError as exc:
            raise SpeechServerError(
                f"{who} is unreachable ({exc}); start the server or fix speech.url "
                "in the farm file",
                url=self.url,
            ) from exc
        except httpx.HTTPError as exc:
            raise SpeechServerError(
                f"{who} dropped the request ({type(exc).__name__}: {exc})", url=self.url
            ) from exc
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code >= 400:
            status = response.status_code
            # A refused request (bad voice, no key, wrong path) fails the same way again.
            raise SpeechServerError(
                f"{who} answered HTTP {status}: {_error_text(response.content)}{_hint(status)}",
                url=self.url,
                retryable=status >= 500 or status in RETRY_STATUSES,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if content_type.startswith(_NOT_AUDIO_TYPES):
            raise SpeechServerError(  # a page, not audio: the same page comes again
                f"{who} answered with something that is not audio "
                f"({describe_body(response.content, content_type)})",
                url=self.url,
                retryable=False,
            )
        return response.content


def _error_text(body: bytes) -> str:
    """The server's error message: FastAPI's ``detail``, OpenAI's ``error.message``, or text."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return " ".join(text.split())[:300] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        for key in ("detail", "error", "message"):
            if data.get(key):
                value = data[key]
                return (value if isinstance(value, str) else json.dumps(value))[:300]
    return json.dumps(data)[:300]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (an HTTP date is ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None


def _hint(status: int) -> str:
    if status in (401, 403):
        return "; the server wants an API key: set speech.api_key_env to the variable holding it"
    if status == 404:
        return "; check speech.url and speech.backend (chatterbox: POST /generate, openai: /v1)"
    if status == 422 or status == 400:
        return "; check speech.voice, speech.model and speech.options"
    return ""
