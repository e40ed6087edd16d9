"""What each MCP tool does, as plain functions: arguments in (already typed and bounded by the
server's schemas), JSON-ready data out, a FactoryError for anything the caller must change.

They call what the commands call (``factory``, ``watching.follow``, ``assembly.reassemble``,
``detach``) and print nothing: on the stdio transport standard output is the protocol's. A
render starts the run as ``render --detach`` does (recorded here, driven by a background
``videofactory resume`` process), so that a tool call never waits on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videofactory.errors import ShotListError, StoreError

__all__ = [
    "Defaults",
    "assemble",
    "cancel",
    "farm_status",
    "list_runs",
    "pick",
    "plan",
    "redo",
    "render",
    "run_status",
    "shot_picture",
    "wait",
]


@dataclass(frozen=True)
class Defaults:
    """The server's defaults (``videofactory mcp --workdir --farm``); a tool's own argument
    wins. ``farm`` None: the CLI's search ($VIDEOFACTORY_FARM, ./factory.yaml, else the
    built-in simulated farm)."""

    workdir: Path
    farm: str | None = None
    debug: bool = False

    def workdir_of(self, given: str | None) -> Path:
        """The work directory a call names, else the server's, made absolute (the server's
        own folder is what a relative one is relative to)."""
        return Path(given).expanduser().absolute() if given else self.workdir.absolute()

    def farm_of(self, given: str | None) -> str | None:
        return given or self.farm


def _store(workdir: Path) -> Any:
    """The run database of a work directory; a clear error where there is none."""
    from videofactory.store import DB_NAME, Store, check_workdir

    if not (check_workdir(workdir) / DB_NAME).exists():
        raise StoreError(f"no run database in {workdir}; pass workdir where the runs are")
    return Store.for_workdir(workdir)


# -- the farm and planning ------------------------------------------------------------------------


def farm_status(defaults: Defaults, farm: str | None) -> dict[str, Any]:
    """The farm as ``videofactory status --json`` tells it."""
    from videofactory.factory import farm_status as survey

    return survey(defaults.farm_of(farm))


def plan(
    defaults: Defaults,
    concept: str,
    duration: float,
    *,
    aspect: str | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: int,
    seed: int,
    clip_seconds: float | None = None,
    planner: str = "auto",
    style: str | None = None,
    transition: str = "auto",
    farm: str | None = None,
) -> dict[str, Any]:
    """A shot list for a concept, as ``videofactory plan --json`` gives it; nothing runs."""
    import sys

    from videofactory.factory import plan_for_farm
    from videofactory.shotlist import frame_for

    shotlist = plan_for_farm(
        concept,
        duration,
        farm_file=defaults.farm_of(farm),
        planner=planner,
        style=style,
        size=(*frame_for(aspect, width, height), fps, seed, clip_seconds),
        transition=transition,
        say=lambda line: print(line, file=sys.stderr, flush=True),  # the server's log
    )
    return shotlist.model_dump(mode="json")


# -- runs -----------------------------------------------------------------------------------------


def _shotlist(shotlist: dict[str, Any] | None, shotlist_file: str | None) -> Any:
    """The shot list a render names: given as data (``plan``'s answer, maybe edited) or as a
    YAML file (``plan -o``)."""
    from videofactory.shotlist import load_shotlist, parse_shotlist

    if (shotlist is None) == (shotlist_file is None):
        raise ShotListError(
            "give the shot list either as shotlist (the object plan returns, maybe edited) or "
            "as shotlist_file (a YAML file's path), not both and not neither"
        )
    if shotlist_file is not None:
        return load_shotlist(Path(shotlist_file).expanduser())
    return parse_shotlist(shotlist, source="shotlist")


def _start(defaults: Defaults, run_id: str, run_dir: Path, workdir: Path, farm: Path | None) -> Any:
    """Drive a recorded run from a background process, as ``--detach`` does (``detach``):
    ``videofactory resume RUN`` that outlives this server, logging to the run's run.log.
    ``farm`` None: the farm the run recorded."""
    from videofactory.detach import resume_detached

    return resume_detached(run_id, run_dir, workdir, farm, debug=defaults.debug)


def render(
    defaults: Defaults,
    *,
    shotlist: dict[str, Any] | None = None,
    shotlist_file: str | None = None,
    workdir: str | None = None,
    farm: str | None = None,
    assemble: bool = True,
    music: str | None = None,
    fresh: bool = False,
    aspect: str | None = None,
    style: str | None = None,
    transition: str | None = None,
    preview: bool = False,
    takes: int | None = None,
) -> dict[str, Any]:
    """Record a run of the shot list and start it in the background; returns at once with
    its id (follow it with ``run_status`` and ``wait``). ``preview``: keyframes and narration
    only, assembled into an animatic (``render --preview``); ``takes``: clips per shot."""
    from videofactory.assembly.soundtrack import music_setting
    from videofactory.config import find_farm_file
    from videofactory.factory import adjusted_shotlist, record_run

    sound = music_setting(music)  # a bad file is refused before anything is recorded
    plan_ = _shotlist(shotlist, shotlist_file)
    plan_ = adjusted_shotlist(plan_, aspect=aspect, style=style, transition=transition, takes=takes)
    where, farm_file = defaults.workdir_of(workdir), find_farm_file(defaults.farm_of(farm))
    run_id, run_dir = record_run(
        plan_, workdir=where, farm_file=farm_file, assemble=assemble, music=sound, fresh=fresh,
        settings={"preview": True} if preview else None,
    )  # fmt: skip
    started = _start(defaults, run_id, run_dir, where, farm_file)
    return {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "shots": len(plan_.shots),
        "pid": started.pid,
        "log": started.log,
        "state": "starting",
        "preview": preview,
    }


def redo(
    defaults: Defaults,
    run: str,
    shot: str,
    *,
    prompt: str | None = None,
    seed: int | None = None,
    duration: float | None = None,
    workdir: str | None = None,
    farm: str | None = None,
) -> dict[str, Any]:
    """``videofactory redo RUN SHOT --detach``: a new run with one shot edited (none of
    prompt, seed, duration: a new seed, another take), started in the background."""
    from videofactory.config import find_farm_file
    from videofactory.factory import redo_run

    where = defaults.workdir_of(workdir)
    _store(where).close()  # a missing database is said as such, not as "no run"
    run_id, run_dir, _ = redo_run(
        run, shot, workdir=where, prompt=prompt, seed=seed, duration=duration,
        farm_file=farm, detach=True,
    )  # fmt: skip
    started = _start(defaults, run_id, run_dir, where, find_farm_file(farm) if farm else None)
    with _store(where) as store:
        settings = store.run(run_id)["settings"]
    return {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "redo_of": settings.get("redo_of"),
        "shot": shot,
        "changes": settings.get("changes", {}),
        "pid": started.pid,
        "log": started.log,
        "state": "starting",
    }


def _status(store: Any, run: str) -> dict[str, Any]:
    """A run's state now (``show --json``'s ``live``) with its result and shots."""
    import time

    from videofactory.watching.follow import replay, run_result, run_status

    status = run_status(store, run)
    data = status.to_json()
    watch = replay(store, status.run_id) if status.state in ("running", "starting") else None
    data["eta_s"] = watch.eta_s(time.time()) if watch is not None else None
    data["finished"] = status.finished
    data["ok"] = status.ok
    data["result"] = run_result(store, status) if status.finished else None
    data["shots"] = _shots(store, status.run_id)
    return data


def run_status(defaults: Defaults, run: str, workdir: str | None = None) -> dict[str, Any]:
    """Where a run stands (``videofactory show RUN``): state, tasks, jobs in flight, ETA,
    each shot's tasks and pictures, and its result once it ended."""
    with _store(defaults.workdir_of(workdir)) as store:
        return _status(store, run)


def wait(
    defaults: Defaults, run: str, timeout_s: float, workdir: str | None = None
) -> dict[str, Any]:
    """Follow a run until it ends or ``timeout_s`` passes, whichever is first, and say where
    it stands then (``finished`` False: it goes on; wait again)."""
    from videofactory.watching.follow import follow

    with _store(defaults.workdir_of(workdir)) as store:
        status = follow(store, run, lambda ev: None, timeout_s=timeout_s)
        data = _status(store, status.run_id)
    data["timed_out"] = not status.finished
    return data


def cancel(defaults: Defaults, run: str, workdir: str | None = None) -> dict[str, Any]:
    """``videofactory cancel RUN``: its jobs interrupted or dequeued, its process stopped."""
    from videofactory.factory import cancel_run

    where = defaults.workdir_of(workdir)
    _store(where).close()
    return cancel_run(run, workdir=where)


def list_runs(defaults: Defaults, workdir: str | None = None) -> list[dict[str, Any]]:
    """The runs of the work directory, newest first (``videofactory runs --json``)."""
    from videofactory.store import DB_NAME, Store, check_workdir

    where = defaults.workdir_of(workdir)
    if not (check_workdir(where) / DB_NAME).exists():
        return []
    keys = ("id", "state", "concept", "duration", "run_dir", "final_path", "error", "created_at")
    with Store.for_workdir(where) as store:
        return [{k: r.get(k) for k in keys} for r in store.runs()]


def _shots(store: Any, run_id: str) -> list[dict[str, Any]]:
    """Each shot of a run: its id, prompt, duration, its tasks' states and the newest file
    each made (the pictures ``show_shot`` can show)."""
    from videofactory.vocabulary import TaskId

    tasks: dict[str, dict[str, str]] = {}
    for t in store.tasks(run_id):
        if t.shot_id:
            tasks.setdefault(t.shot_id, {})[t.kind] = t.state
    files: dict[str, dict[str, str]] = {}
    takes: dict[str, dict[int, str]] = {}
    for a in store.artifacts(run_id):
        which = TaskId.of(a["task_id"])
        if which is not None and which.shot_id:
            files.setdefault(which.shot_id, {})[a["kind"]] = a["path"]
            if a["kind"] == "clip":
                takes.setdefault(which.shot_id, {})[which.take] = a["path"]
    return [
        {
            "id": s["id"],
            "duration": s.get("duration"),
            "prompt": s.get("prompt"),
            "hero": s.get("hero", False),
            "tasks": tasks.get(s["id"], {}),
            "files": files.get(s["id"], {}),
            "takes": takes.get(s["id"], {}),
        }
        for s in store.shots(run_id)
    ]


# -- pictures and the film ------------------------------------------------------------------------


def shot_picture(
    defaults: Defaults,
    run: str,
    shot: str,
    *,
    source: str = "auto",
    at_s: float | None = None,
    max_side: int = 1024,
    take: int | None = None,
    workdir: str | None = None,
) -> tuple[bytes, str, dict[str, Any]]:
    """A picture of one shot of a run: its keyframe, or a frame of its clip or hero pass
    (``at_s`` seconds in; default its middle). ``auto``: the best there is (hero, clip,
    keyframe). Returns the encoded picture, its MIME type and what it shows."""
    from videofactory.mcpserver.pictures import encode, frame_of, still_of

    with _store(defaults.workdir_of(workdir)) as store:
        run_id = store.run(run)["id"]
        store.planned(run_id)  # one line for a run with no shots yet
        shots = _shots(store, run_id)
    found = next((s for s in shots if s["id"] == shot), None)
    if found is None:
        ids = ", ".join(s["id"] for s in shots[:12]) + (" ..." if len(shots) > 12 else "")
        raise ShotListError(f"run {run_id} has no shot {shot!r}; its shots are {ids}")
    files = found["files"]
    if take is not None:  # one take's clip
        if source not in ("auto", "clip"):
            raise ShotListError(f"a take is a clip: ask for source 'clip' (not {source!r})")
        if take not in found["takes"]:
            have = ", ".join(str(t) for t in sorted(found["takes"])) or "none yet"
            raise ShotListError(f"shot {shot} of run {run_id} has no take {take} (takes: {have})")
        files, source = {"clip": found["takes"][take]}, "clip"
    order = ("hero", "clip", "keyframe") if source == "auto" else (source,)
    kind = next((k for k in order if k in files), None)
    if kind is None:
        have = ", ".join(sorted(k for k in files if k in ("keyframe", "clip", "hero"))) or "none"
        states = ", ".join(f"{k} {v}" for k, v in sorted(found["tasks"].items()))
        raise StoreError(
            f"shot {shot} of run {run_id} has no {' or '.join(order)} yet (pictures made: "
            f"{have}; tasks: {states}); wait for the run, or ask for another source"
        )
    path = Path(files[kind])
    if kind == "keyframe":
        picture, when = still_of(path), None
    else:
        length = float(found["duration"] or 0.0)
        when = length / 2 if at_s is None else at_s
        picture = frame_of(path, when)
    data, mime = encode(picture, max_side)
    info = {
        "run_id": run_id,
        "shot": shot,
        "source": kind,
        "path": str(path),
        "at_s": when,
        "size": list(picture.size),
        "prompt": found["prompt"],
        **({"take": take} if take is not None else {}),
    }
    return data, mime, info


def pick(
    defaults: Defaults,
    run: str,
    shot: str,
    take: int,
    *,
    hero: bool = False,
    workdir: str | None = None,
    farm: str | None = None,
) -> dict[str, Any]:
    """``videofactory pick RUN SHOT TAKE [--hero] --detach``: the film uses that take from now
    on; a hero pass to render renders in a background process (the tool returns at once, as
    render does: ``wait`` follows the run)."""
    from videofactory.factory import pick_take

    where = defaults.workdir_of(workdir)
    _store(where).close()
    return pick_take(run, shot, take, workdir=where, hero=hero, farm_file=farm, detach=True)


def assemble(defaults: Defaults, run: str, workdir: str | None = None, **options: Any) -> dict:
    """``videofactory assemble RUN``: the run's next version of the video, no GPU work."""
    from videofactory.assembly.reassemble import reassemble_run

    where = defaults.workdir_of(workdir)
    return reassemble_run(run, workdir=where, **options)
