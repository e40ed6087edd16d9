"""Start-up benchmark: how long ``videofactory --help`` and ``generate --detach`` take.

A command line tool is judged by its first second. Measured as subprocesses, each the way a
user starts it (the ``videofactory`` console script of this Python), interleaved, the median
of the runs counting:

- **baseline**: ``python -c "import typer, rich"``, the two libraries the CLI is built on;
- **Typer's help**: ``--help`` of a two-command Typer app: Typer's rich help on its own (it
  imports ``typer.rich_utils``, rich's Markdown, tables and tracebacks), the least any Typer CLI
  with rich help pays;
- **Typer's command**: the same app running a command with ``generate``'s fifteen options that
  does nothing: Typer 0.29 checks each option's value with a pydantic ``TypeAdapter``, so it
  imports pydantic and builds fifteen of them, the least any command of ours pays;
- **--help**: ``videofactory --help``;
- **--detach**: ``videofactory generate "warrior in mystical forest" -d 30 --detach --json``
  until it returns: it checks the request, records the run in SQLite as planning (in a work
  directory whose run database an untimed first run made, as a user's ``runs/`` has one) and
  starts the process that plans and renders it, then prints the run id. That process is then
  cancelled (``videofactory cancel RUN``) and waited for, with its simulated servers, outside
  the timing: the bench leaves nothing running.

Each command runs once untimed first, so that its modules' bytecode is written (the
environment's ``PYTHONDONTWRITEBYTECODE`` is dropped for the commands measured: an installed
package has its bytecode). Targets, as ratios of wall time to the baseline's: ``--help``
<= 1.5, ``--detach`` <= 2. The CPU time of each command (user and system, the command's
process only) is given beside it: on cores shared with other work it moves less than the wall
time. One more run of each under ``python -X importtime`` names the heavy libraries each loads
and its costliest imports.

Run: ``python bench/startup.py [--runs 5]``; about a minute and a half on 2 cores. The last
line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_TARGET = 1.5
DETACH_TARGET = 2.0
#: What neither command should load: media, arrays, plotting, HTTP stacks, the simulator.
HEAVY = ("av", "numpy", "PIL", "matplotlib", "aiohttp", "websockets", "httpx", "videofactory.sim")
CONCEPT = "warrior in mystical forest"
#: A Typer app of two commands, the first with ``generate``'s options: what Typer costs by
#: itself, for ``--help`` and for running a command.
TYPER_APP = """
from pathlib import Path
import typer
app = typer.Typer(help="Two commands.", add_completion=False)
@app.command()
def generate(
    concept: str = typer.Argument(..., help="What the video is about."),
    duration: float = typer.Option(30.0, "--duration", "-d", help="Length in seconds."),
    farm: str | None = typer.Option(None, "--farm", help="Farm file."),
    workdir: Path = typer.Option(Path("runs"), "--workdir", "-w", help="Folder of runs."),
    width: int = typer.Option(1280, help="Width."),
    height: int = typer.Option(720, help="Height."),
    fps: int = typer.Option(24, help="Frame rate."),
    seed: int = typer.Option(0, help="Seed."),
    clip_seconds: float | None = typer.Option(None, help="Clip length."),
    planner: str = typer.Option("rules", "--planner", help="Planner."),
    llm_url: str | None = typer.Option(None, "--llm-url", help="LLM endpoint."),
    llm_model: str | None = typer.Option(None, "--llm-model", help="LLM model."),
    llm_kind: str | None = typer.Option(None, "--llm-kind", help="LLM kind."),
    detach: bool = typer.Option(False, "--detach", help="In the background."),
    as_json: bool = typer.Option(False, "--json", help="JSON."),
) -> None:
    '''Does nothing with all of generate's options.'''
@app.command()
def two(count: int = typer.Option(1, help="How many.")) -> None:
    '''The second.'''
app()
"""


def videofactory_argv() -> list[str]:
    """The ``videofactory`` console script beside this Python, else ``python -m``."""
    script = Path(sys.executable).with_name("videofactory")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "videofactory"]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time of one command until it exits, the CPU time it spent (user and system; not
    that of a process it left running) and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return seconds, cpu, proc.stdout


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    """The simulated servers a run started: they are told their parent with --parent-pid."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--parent-pid" in argv and argv[argv.index(b"--parent-pid") + 1 :][:1] == [
            str(pid).encode()
        ]:
            found.append(int(proc.name))
    return found


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def owner_pid(workdir: Path, run_id: str) -> int | None:
    db = sqlite3.connect(workdir / "videofactory.db", timeout=10)
    try:
        row = db.execute("SELECT owner_pid FROM runs WHERE id=?", (run_id,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def stop_detached(vf: list[str], workdir: Path, run_id: str, pid: int, env: dict) -> str:
    """Cancel a detached run and wait for its process and its servers to exit.

    The cancel waits until the process has claimed the run: a run cancelled before its
    process starts would simply be resumed by it. Returns how it ended.
    """
    deadline = time.monotonic() + 120
    while alive(pid) and owner_pid(workdir, run_id) != pid and time.monotonic() < deadline:
        time.sleep(0.05)
    servers = children_of(pid)
    if alive(pid):
        subprocess.run(
            [*vf, "cancel", run_id, "--workdir", str(workdir), "--json"],
            env=env,
            capture_output=True,
            check=False,
        )
    if wait_gone([pid], 60) and wait_gone(servers + children_of(pid), 30):
        return "cancelled"
    for sig in (signal.SIGTERM, signal.SIGKILL):  # its own session: one group with its servers
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        if wait_gone([pid, *servers], 10):
            break
    return "killed"


def import_profile(
    argv: list[str], cwd: Path, env: dict[str, str]
) -> tuple[list[str], list[tuple[str, float]], str]:
    """One run under -X importtime: the heavy modules it loaded, its costliest imports (the
    command's own and those of ``videofactory.cli``, in cumulative seconds) and its output."""
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    loaded, top = set(), []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():
            continue  # the header
        module = name.strip()
        loaded.update(h for h in HEAVY if module == h or module.startswith(h + "."))
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth <= 1 and module not in ("videofactory.cli", "site", "encodings"):
            top.append((int(cumulative) / 1e6, module))
    top.sort(reverse=True)
    return sorted(loaded), [(module, round(s, 3)) for s, module in top[:6]], proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="Timed runs of each (median counts).")
    args = ap.parse_args()
    vf = videofactory_argv()
    root = Path(tempfile.mkdtemp(prefix="vf-bench-startup-"))
    # The built-in simulated farm: no farm file here, none named by the environment. Bytecode
    # is written and used, as in a user's installed package: with PYTHONDONTWRITEBYTECODE set
    # (some shells and containers set it) every run would compile the package's modules anew,
    # while the baseline's typer and rich come with theirs.
    drop = ("VIDEOFACTORY_FARM", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    (root / "typer_app.py").write_text(TYPER_APP, encoding="utf-8")
    commands = {
        "baseline": [sys.executable, "-c", "import typer, rich"],
        "typer_help": [sys.executable, str(root / "typer_app.py"), "--help"],
        "typer_command": [sys.executable, str(root / "typer_app.py"), "generate", CONCEPT]
        + ["-d", "30", "--detach", "--json"],
        "help": [*vf, "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in [*commands, "detach"]}
    cpus: dict[str, list[float]] = {name: [] for name in times}
    ended: list[str] = []
    running: list[tuple[Path, str, int]] = []  # detached runs not stopped yet

    def detach(workdir: Path) -> tuple[float, float]:
        argv = [*vf, "generate", CONCEPT, "-d", "30", "--detach", "--json"]
        seconds, cpu, out = timed([*argv, "--workdir", str(workdir)], root, env)
        started = json.loads(out.strip().splitlines()[-1])
        running.append((workdir, started["run_id"], started["pid"]))
        return seconds, cpu

    def stop_all() -> None:
        while running:
            ended.append(stop_detached(vf, *running.pop(), env))

    try:
        for argv in commands.values():  # once untimed: bytecode compiled, files in page cache
            timed(argv, root, env)
        detach(root / "runs")  # makes the run database: the timed runs find it, as a user's do
        stop_all()
        for n in range(1, args.runs + 1):
            for name, argv in commands.items():
                seconds, cpu, _ = timed(argv, root, env)
                times[name].append(seconds)
                cpus[name].append(cpu)
            seconds, cpu = detach(root / "runs")
            times["detach"].append(seconds)
            cpus["detach"].append(cpu)
            stop_all()
            line = "  ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items())
            print(f"run {n}: {line}", flush=True)
        profiles = {"help": import_profile(commands["help"], root, env)}
        profiles["detach"] = import_profile(
            [*vf, "generate", CONCEPT, "-d", "30", "--detach", "--json"]
            + ["--workdir", str(root / "runs")],
            root,
            env,
        )
        started = json.loads(profiles["detach"][2].strip().splitlines()[-1])
        running.append((root / "runs", started["run_id"], started["pid"]))
    finally:
        stop_all()  # also when interrupted: the bench leaves nothing running
        shutil.rmtree(root, ignore_errors=True)

    med = {name: statistics.median(v) for name, v in times.items()}
    cpu = {name: statistics.median(v) for name, v in cpus.items()}
    ratio = {name: med[name] / med["baseline"] for name in med}
    cpu_ratio = {name: cpu[name] / cpu["baseline"] for name in cpu}
    met = {"help": ratio["help"] <= HELP_TARGET, "detach": ratio["detach"] <= DETACH_TARGET}
    print(
        f"\n{'median of ' + str(args.runs):<34}{'wall s':>8}{'x base':>8}"
        f"{'CPU s':>8}{'x base':>8}   target (wall)"
    )
    rows = [
        ("python -c 'import typer, rich'", "baseline", ""),
        ("Typer's own --help (2 commands)", "typer_help", "(Typer's floor for --help)"),
        (
            "videofactory --help",
            "help",
            f"<= {HELP_TARGET}: " + ("met" if met["help"] else "NOT met"),
        ),
        ("Typer's own 15-option command", "typer_command", "(Typer's floor for a command)"),
        (
            "generate --detach (returns)",
            "detach",
            f"<= {DETACH_TARGET}: " + ("met" if met["detach"] else "NOT met"),
        ),
    ]
    for label, key, target in rows:
        print(
            f"{label:<34}{med[key]:>8.3f}{ratio[key]:>8.2f}{cpu[key]:>8.3f}{cpu_ratio[key]:>8.2f}"
            f"   {target}"
        )
    for key, (loaded, top, _) in profiles.items():
        print(f"\n{key}: heavy modules loaded: {', '.join(loaded) or 'none'}")
        print("  costliest top-level imports (cumulative s): ")
        print("  " + ", ".join(f"{m} {s:.3f}" for m, s in top))
    stopped = ", ".join(f"{ended.count(how)} {how}" for how in sorted(set(ended)))
    print(f"\ndetached runs: {stopped}; none left running")
    print(
        json.dumps(
            {
                "baseline_s": round(med["baseline"], 3),
                "typer_help_s": round(med["typer_help"], 3),
                "typer_command_s": round(med["typer_command"], 3),
                "help_s": round(med["help"], 3),
                "detach_s": round(med["detach"], 3),
                "typer_help_ratio": round(ratio["typer_help"], 2),
                "typer_command_ratio": round(ratio["typer_command"], 2),
                "help_ratio": round(ratio["help"], 2),
                "detach_ratio": round(ratio["detach"], 2),
                "help_target": HELP_TARGET,
                "detach_target": DETACH_TARGET,
                "help_met": met["help"],
                "detach_met": met["detach"],
                "help_cpu_ratio": round(cpu_ratio["help"], 2),
                "detach_cpu_ratio": round(cpu_ratio["detach"], 2),
                "heavy_at_help": profiles["help"][0],
                "heavy_at_detach": profiles["detach"][0],
                "runs": args.runs,
            }
        )
    )


if __name__ == "__main__":
    main()
