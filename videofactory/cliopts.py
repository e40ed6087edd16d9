"""What every ``videofactory`` command shares: the consoles, the common options and the
error handling that turns a FactoryError into one line and exit code 1."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from videofactory.constants import DEFAULT_WORKDIR
from videofactory.errors import FactoryError

__all__ = [
    "DETACH_OPT",
    "FARM_OPT",
    "JSON_OPT",
    "LLM_KIND_OPT",
    "LLM_MODEL_OPT",
    "LLM_URL_OPT",
    "MUSIC_OPT",
    "PLANNER_OPT",
    "RUN_JSON_OPT",
    "WORKDIR_OPT",
    "console",
    "err",
    "errors",
    "out",
    "state",
]


def console(*, stderr: bool = False) -> Console:
    # Piped output is read by programs and logs: do not wrap tables at 80 columns.
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


out = console()
err = console(stderr=True)
#: --debug: let errors raise with their traceback.
state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])

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
    "rules",
    "--planner",
    help="rules (default, needs no model) or llm (an OpenAI-compatible or Anthropic endpoint).",
)
LLM_URL_OPT = typer.Option(
    None,
    "--llm-url",
    help="LLM endpoint, e.g. http://localhost:11434/v1 "
    "(default: $VIDEOFACTORY_LLM_URL, then the farm file's llm section).",
)
LLM_MODEL_OPT = typer.Option(
    None, "--llm-model", help="LLM model (default: $VIDEOFACTORY_LLM_MODEL, then the farm file)."
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
