"""The one exception tree of videofactory.

Every failure a user or the scheduler can act on is a ``FactoryError``. Third-party exceptions
(httpx, websockets, PyAV, subprocess, pydantic, yaml) are mapped to one of these at the adapter
boundary with ``raise Ours(...) from exc``; nothing else escapes to the CLI.

The branches say what the caller can do about it::

    FactoryError
    ├── ConfigError                 bad farm file, bad option: fix the input, nothing ran
    │   └── ShotListError           a shot list that does not validate
    ├── BackendError                a ComfyUI or speech server misbehaved
    │   ├── BackendUnavailable      unreachable / refused / died: retry elsewhere (retryable)
    │   ├── BackendTimeout          no answer or no progress in time (retryable)
    │   ├── ProtocolError           the server answered something that is not the protocol
    │   ├── WorkflowRejected        400 / node_errors: the workflow is wrong (permanent)
    │   ├── ExecutionFailed         a node raised while running (retry may help)
    │   │   └── OutOfMemory         ... and it was an out-of-memory error (move to more VRAM)
    │   └── Interrupted             the prompt was interrupted (cancel or someone else)
    ├── WorkflowError               a workflow/bindings file that cannot be used (permanent)
    ├── SpeechError                 the speech engine failed
    │   └── SpeechServerError       a speech server was down, slow or answered no audio
    ├── PlannerError                the LLM planner gave no valid shot list (after a repair)
    ├── MediaError                  a clip/audio file is missing, empty, corrupt or wrong length
    ├── AssemblyError               ffmpeg failed: carries argv, returncode, stderr tail
    ├── StoreError                  the run database is missing or unreadable
    ├── ReportError                 the run report could not be written
    ├── WaitTimeout                 `videofactory wait` gave up; the run goes on
    └── RunFailed                   a run ended with a failed task (keeps what finished)
        └── RunCancelled            ... because somebody cancelled it
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AssemblyError",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "ConfigError",
    "ExecutionFailed",
    "FactoryError",
    "Interrupted",
    "MediaError",
    "OutOfMemory",
    "PlannerError",
    "ProtocolError",
    "ReportError",
    "RunCancelled",
    "RunFailed",
    "ShotListError",
    "SpeechError",
    "SpeechServerError",
    "StoreError",
    "WaitTimeout",
    "WorkflowError",
    "WorkflowRejected",
]


class FactoryError(Exception):
    """Root of every error videofactory raises on purpose.

    ``str(err)`` is one line a user can act on: what went wrong and how to fix it.
    """

    #: Retrying the same thing (possibly elsewhere) may succeed.
    retryable: bool = False


class ConfigError(FactoryError):
    """A farm file, setting or command-line value is invalid."""


class ShotListError(ConfigError):
    """A shot list does not validate; the message names the shot and the field."""


class BackendError(FactoryError):
    """A ComfyUI or speech server failed us. ``url`` says which one."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class BackendUnavailable(BackendError):
    """The server could not be reached, refused the connection or went away."""

    retryable = True


class BackendTimeout(BackendError):
    """The server did not answer, or the job made no progress, within the deadline."""

    retryable = True


class ProtocolError(BackendError):
    """The server answered something that is not the ComfyUI protocol (HTML, garbage)."""

    retryable = True


class WorkflowRejected(BackendError):
    """The server refused the workflow (HTTP 400, or node_errors on a 200).

    ``problems`` holds one human line per problem: node id, title, input, reason.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        problems: Sequence[str] = (),
        error_type: str = "",
    ) -> None:
        lines = [message, *(f"  - {p}" for p in problems)]
        super().__init__("\n".join(lines), url=url)
        self.problems = list(problems)
        self.error_type = error_type


class ExecutionFailed(BackendError):
    """A node raised while the prompt ran (``execution_error``)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        node_id: str | None = None,
        node_type: str | None = None,
        exception_type: str | None = None,
        exception_message: str | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.node_id = node_id
        self.node_type = node_type
        self.exception_type = exception_type
        self.exception_message = exception_message


class OutOfMemory(ExecutionFailed):
    """The execution error was an out-of-memory error: move the task to more VRAM."""


class Interrupted(BackendError):
    """The prompt was interrupted (``execution_interrupted``)."""


class WorkflowError(FactoryError):
    """A workflow or bindings file cannot be used as it is."""


class SpeechError(FactoryError):
    """The speech engine could not speak a narration."""

    retryable = True


class SpeechServerError(SpeechError):
    """A speech server was unreachable, too slow, or answered something that is not audio.

    ``retryable`` is False for an answer that would come again (a 4xx refusal, a page that is
    not audio); ``retry_after`` is the server's ``Retry-After`` in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.retryable = retryable
        self.retry_after = retry_after
        #: Every error met on the way to this one, oldest first, this one last (the requests
        #: that a backend retried before giving up).
        self.history: tuple[str, ...] = (message,)
        #: Requests sent before giving up.
        self.requests = 1


class PlannerError(FactoryError):
    """The LLM planner could not produce a valid shot list, even after one repair request."""


class MediaError(FactoryError):
    """A media file is missing, empty, corrupt or of the wrong length.

    ``path`` names the file; ``task`` (when known) names the task that made it, so that the
    scheduler can render it again.
    """

    def __init__(self, message: str, *, path: str | None = None, task: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.task = task


class AssemblyError(FactoryError):
    """ffmpeg failed. Carries the argv, the exit code and the tail of its stderr."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        detail = f"{message} (ffmpeg exit {returncode})" if returncode is not None else message
        if stderr_tail:
            detail += "\n" + stderr_tail.rstrip()
        super().__init__(detail)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class StoreError(FactoryError):
    """The run database is missing, locked or not ours."""


class ReportError(FactoryError):
    """The run report (report.html, timeline.png) could not be written."""


class WaitTimeout(FactoryError):
    """``videofactory wait --timeout`` passed before the run ended (the run goes on)."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class RunFailed(FactoryError):
    """A run could not finish; everything already rendered is kept in its folder."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class RunCancelled(RunFailed):
    """The run was cancelled (``videofactory cancel``); what finished is kept."""
