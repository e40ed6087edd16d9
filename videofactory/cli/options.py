"""What every ``videofactory`` command shares: the consoles, the common options and the
error handling that turns a FactoryError into one line and exit code 1."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from videofactory.constants import DEFAULT_WORKDIR
from videofactory.errors import FactoryError
from videofactory.limits import MAX_TAKES

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "CACHE_GROUP_HELP",
    "FARM_GROUP_HELP",
    "DETACH_OPT",
    "FARM_OPT",
    "FRESH_OPT",
    "JSON_OPT",
    "LLM_KIND_OPT",
    "LLM_MODEL_OPT",
    "LLM_URL_OPT",
    "MUSIC_OPT",
    "PLANNER_OPT",
    "RUN_JSON_OPT",
    "STYLE_OPT",
    "TAKES_OPT",
    "WORKDIR_OPT",
    "console",
    "err",
    "errors",
    "example",
    "out",
    "state",
]


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    # Piped output is read by programs and logs: do not wrap tables at 80 columns.
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


class _FirstUse:
    """A console made when first used: rich's Console costs a fifth of a command's start-up,
    and ``--help`` and a detached ``generate --json`` never print through one."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = console(stderr=self._stderr)
        return getattr(self._console, name)


out: Console = _FirstUse(stderr=False)  # type: ignore[assignment]
err: Console = _FirstUse(stderr=True)  # type: ignore[assignment]
#: --debug: let errors raise with their traceback.
state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def example(command: str) -> str:
    """A command's epilog: ``Example: <command>`` on a line of its own, never rewrapped (``\\b``
    tells Click to keep the paragraph's lines as they are)."""
    return f"\b\nExample: {command}"


#: The help of the command groups registered by name (``cli.groups``): ``videofactory --help``
#: lists them with it before their modules are imported.
FARM_GROUP_HELP = (
    "Start and look after one ComfyUI server per GPU (the farm file's managed workers)."
)
CACHE_GROUP_HELP = (
    "The work directory's artifact cache: what runs made, kept by content so that an "
    "unchanged task is never rendered twice."
)

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object (for agents and scripts).")
RUN_JSON_OPT = typer.Option(
    False, "--json", help="One JSON object per event, one per line, ending with the result."
)
DETACH_OPT = typer.Option(
    False,
    "--detach",
    help="Run in a background process that outlives the terminal; print the run id at once "
    "(follow it with `videofactory wait RUN`).",
)
MUSIC_OPT = typer.Option(
    None,
    "--music",
    "-m",
    metavar="FILE|none",
    help="The soundtrack's music: an audio file of yours (looped or trimmed to the film, ducked "
    "under the narration), or 'none'. Default: a music bed generated for the film's kind and "
    "mood. Room tone plays under everything either way.",
)
FRESH_OPT = typer.Option(
    False,
    "--fresh",
    help="Render every task, reusing nothing from the work directory's artifact cache (what "
    "the run makes is still kept there).",
)
TAKES_OPT = typer.Option(
    None,
    "--takes",
    min=1,
    max=MAX_TAKES,
    help="Render N clips of every shot, each with its own seed, spread over the worker GPUs "
    "(a shot's own `takes:` in the shot list wins); a contact sheet per shot shows them, "
    "`videofactory pick RUN SHOT TAKE` chooses one (unpicked: the best automatic score).",
)
WORKDIR_OPT = typer.Option(
    Path(DEFAULT_WORKDIR), "--workdir", "-w", help="Folder of runs and of the run database."
)
FARM_OPT = typer.Option(
    None,
    "--farm",
    help="Farm file (default: $VIDEOFACTORY_FARM, then ./factory.yaml, "
    "else the built-in simulated farm).",
)
PLANNER_OPT = typer.Option(
    "auto",
    "--planner",
    help="auto (default): the LLM when one is configured and answers, else the rules planner "
    "(saying why on stderr); llm: the LLM or an error; rules: no model.",
)
STYLE_OPT = typer.Option(
    None,
    "--style",
    help='The film\'s look, put in every prompt, e.g. "watercolour, soft pastel light" '
    "(default: the planner chooses).",
)
LLM_URL_OPT = typer.Option(
    None,
    "--llm-url",
    help="OpenAI-compatible LLM endpoint: Ollama http://localhost:11434/v1, vLLM "
    "http://localhost:8000/v1, LM Studio http://localhost:1234/v1 (default: "
    "$VIDEOFACTORY_LLM_URL, the farm file's llm section, else Anthropic's API when "
    "$ANTHROPIC_API_KEY is set).",
)
LLM_MODEL_OPT = typer.Option(
    None,
    "--llm-model",
    help="LLM model (default: $VIDEOFACTORY_LLM_MODEL, the farm file, else the first model "
    "the server lists).",
)
LLM_KIND_OPT = typer.Option(
    None, "--llm-kind", help="openai (any OpenAI-compatible server, the default) or anthropic."
)


def errors(fn: F) -> F:
    """Turn a FactoryError into one line on stderr (or JSON) and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FactoryError as exc:
            if state["debug"]:
                raise
            if kwargs.get("as_json"):
                failure = {"ok": False, "error": str(exc), "type": type(exc).__name__}
                if getattr(exc, "run_id", None):
                    failure["run_id"] = exc.run_id  # type: ignore[attr-defined]
                print(json.dumps(failure))
            # soft_wrap: one line however long (a program reads it, a terminal wraps it).
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
