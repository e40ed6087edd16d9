"""The command starts at once: ``--help`` and the parent of a detached run import only what
they use. What they load is checked, not how long it takes (bench/startup.py times it): each
runs in a fresh Python that then reports its ``sys.modules``.

Planning a concept with the rules planner loads its English parser (spaCy and its model, which
need numpy, and httpx through spaCy's own command line package): only when a concept is
planned (``plan``, ``generate``), never for help, nor in the command of a detached run:
``generate --detach`` leaves the planning to its background process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videofactory.detach import pid_alive

#: Never needed to show help or to record and start a run: media, arrays, plotting, the HTTP
#: stacks and the simulator (each a tenth of a second or more).
HEAVY = ("av", "numpy", "PIL", "matplotlib", "aiohttp", "websockets", "httpx", "videofactory.sim")
#: Nor, for help, what only running a command needs: the farm file's models, YAML, the run
#: database, asyncio and the wiring of a run.
NOT_FOR_HELP = (
    "yaml",
    "asyncio",
    "sqlite3",
    "videofactory.config",
    "videofactory.store",
    "videofactory.factory",
    "videofactory.comfy",
    "videofactory.tts",
    "videofactory.farm",
    "videofactory.planning",
)
#: What planning a concept may load of ``HEAVY``: the concept parser's needs (spaCy's).
PARSER = ("spacy", "thinc", "numpy", "httpx")
#: Nor, for the parent of a detached run, what only its background process needs.
NOT_FOR_DETACH = (
    "videofactory.farm.dispatcher",
    "videofactory.comfy",
    "videofactory.tts",
    "videofactory.assembly.render",
    "videofactory.report",
    "videofactory.watching.live",
)

#: Runs ``videofactory ARGS`` for each line of JSON argument lists on stdin, in this one
#: process, then writes the names in ``sys.modules`` and the exit codes to the file ARGV[1].
_PROBE = """
import json, sys
import videofactory.cli as cli
codes = []
for line in sys.stdin:
    try:
        cli.app(json.loads(line), prog_name="videofactory")
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code or 0)
with open(sys.argv[1], "w") as f:
    json.dump({"codes": codes, "modules": sorted(sys.modules)}, f)
"""


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """The ones of ``names`` (a package counts with its submodules) among ``modules``."""
    return sorted({n for n in names for m in modules if m == n or m.startswith(n + ".")})


def _probe(calls: list[list[str]], cwd: Path) -> tuple[dict, str]:
    report = cwd / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report)],
        input="".join(json.dumps(c) + "\n" for c in calls),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(report.read_text()), proc.stdout


def _every_help() -> list[list[str]]:
    """``--help`` of the command, of every command and of every ``farm`` command."""
    import typer.main

    from videofactory.cli import app

    group = typer.main.get_command(app)
    calls = [["--help"]] + [[name, "--help"] for name in group.commands]
    farm = group.commands["farm"]
    return calls + [["farm", name, "--help"] for name in farm.commands]  # type: ignore[attr-defined]


def test_help_loads_nothing_heavy(tmp_path):
    calls = _every_help()
    assert len(calls) > 15 and ["sim", "--help"] in calls and ["assemble", "--help"] in calls
    report, out = _probe(calls, tmp_path)
    assert report["codes"] == [0] * len(calls)
    assert out.count("Usage: videofactory") == len(calls)  # each help was really printed
    assert "videofactory.cli" in report["modules"]
    assert _loaded(report["modules"], HEAVY) == []
    assert _loaded(report["modules"], NOT_FOR_HELP) == []


def test_farm_and_cache_are_built_only_when_invoked():
    """The main command lists them by name and help without building them (nor importing
    their modules); built, they say the same and have their commands."""
    import typer.main

    from videofactory.cli import app
    from videofactory.cli.groups import LazyGroup

    group = typer.main.get_command(app)
    assert list(group.commands)[-2:] == ["farm", "cache"]  # type: ignore[attr-defined]
    for name, commands in (("farm", {"up", "down", "status"}), ("cache", {"status", "prune"})):
        stand_in = group.commands[name]  # type: ignore[attr-defined]
        assert isinstance(stand_in, LazyGroup) and not stand_in.built
        listed = stand_in.get_short_help_str(60)
        real = stand_in.real()
        assert stand_in.built and real.name == name and set(real.commands) == commands
        assert real.get_short_help_str(60) == listed and real.help == stand_in.help


def _wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_planning_loads_the_concept_parser_and_nothing_else_heavy(tmp_path):
    """``plan`` (and ``generate``, which plans first) reads the concept with spaCy: of the
    heavy libraries it loads only what the parser needs, and spaCy only once a concept is
    planned (``--help`` loads none of it, above)."""
    args = ["plan", "cat on the moon", "-d", "4", "--clip-seconds", "2", "--json"]
    report, out = _probe([args], tmp_path)
    assert report["codes"] == [0], out
    assert json.loads(out.strip().splitlines()[-1])["concept"] == "cat on the moon"
    modules = report["modules"]
    assert "spacy" in modules  # the parse is real
    assert _loaded(modules, HEAVY) == _loaded(modules, tuple(n for n in HEAVY if n in PARSER))
    assert _loaded(modules, ("av", "PIL", "matplotlib", "aiohttp", "websockets")) == []
    assert _loaded(modules, NOT_FOR_DETACH) == []


@pytest.mark.slow
def test_the_parent_of_a_detached_run_loads_nothing_heavy(tmp_path):
    """``generate --detach`` checks the request, records the run in SQLite and starts the
    process that plans and renders it; that process (not the parent) loads the concept
    parser, brings up the simulated farm, the client and PyAV."""
    from videofactory.store import Store

    args = ["generate", "cat on the moon", "-d", "4", "--clip-seconds", "2", "--width", "160",
            "--height", "96", "--detach", "--json", "--workdir", "w"]  # fmt: skip
    report, out = _probe([args], tmp_path)
    assert report["codes"] == [0], out
    started = json.loads(out.strip().splitlines()[-1])
    assert started["ok"] and started["detached"] and started["state"] == "planning"
    workdir, run_id, pid = tmp_path / "w", started["run_id"], started["pid"]
    try:
        modules = report["modules"]
        # the parent did record the run: the run database, the request, the spawn
        assert {"videofactory.store", "videofactory.factory", "videofactory.detach"} <= set(modules)
        assert _loaded(modules, HEAVY) == []
        assert _loaded(modules, (*NOT_FOR_DETACH, *PARSER, "videofactory.planning.rules")) == []
        with Store.for_workdir(workdir) as store:
            assert store.run(run_id)["settings"]["planning"]["concept"] == "cat on the moon"
    finally:
        # Stop the background process once it drives the run (a cancel before would be
        # undone by its claim), and wait for it and its servers to be gone.
        def claimed() -> bool:
            with Store.for_workdir(workdir) as store:
                return store.run(run_id)["owner_pid"] == pid or not pid_alive(pid)

        _wait_until(claimed, 60)
        subprocess.run(
            [sys.executable, "-m", "videofactory", "cancel", run_id, "--workdir", "w"],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert _wait_until(lambda: not pid_alive(pid), 60), "the detached process went on"
