"""Wiring: plan or load a shot list, record the run, bring up the farm, dispatch, assemble.

The CLI calls these functions; they hold no policy of their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from videofactory.config import FarmConfig, SpeechConfig, resolve_farm
from videofactory.detach import cancelled_since_start, pid_alive
from videofactory.errors import (
    BackendError,
    ConfigError,
    FactoryError,
    RunCancelled,
    RunFailed,
    ShotListError,
    StoreError,
)
from videofactory.events import Event, EventSink
from videofactory.farm.dag import build_tasks
from videofactory.shotlist import Shot, ShotList, dump_shotlist, parse_shotlist
from videofactory.stopping import sigterm_as_ctrl_c
from videofactory.store import IN_FLIGHT, RunState, Store, TaskState, driven_elsewhere
from videofactory.vocabulary import TaskId, TaskKind

if TYPE_CHECKING:
    # Imported where used: recording a run (`generate --detach`) needs none of them, and the
    # simulator alone is 24 modules with PyAV, numpy and Pillow.
    from videofactory.cache.artifacts import ArtifactCache
    from videofactory.comfy.client import ComfyClient
    from videofactory.farm.context import Supervision
    from videofactory.farm.outcome import RunResult
    from videofactory.planning.request import PlanRequest
    from videofactory.tts.base import SpeechBackend

__all__ = [
    "adjusted_shotlist",
    "cancel_run",
    "farm_status",
    "new_run_id",
    "pick_take",
    "place_hero",
    "plan_for_farm",
    "reassemble_run",
    "record_planning",
    "record_run",
    "redo_plan",
    "redo_run",
    "refill_cache",
    "render_shotlist",
    "reopen_heroes",
    "resume_run",
    "running_farm",
    "speech_backend",
    "sweep_sim_folders",
]


def new_run_id(concept: str, now: float | None = None) -> str:
    """A readable, unique run id: ``20261125-181500-warrior-in-mystical-3f2a``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    slug = re.sub(r"[^a-z0-9]+", "-", concept.lower()).strip("-")[:24].strip("-") or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def speech_backend(config: SpeechConfig) -> SpeechBackend:
    """The speech engine a farm asks for (a server comes wrapped in retries + local fallback)."""
    from videofactory.tts.build import build_speech

    return build_speech(config)


#: The temporary folder of a built-in farm's servers: ``<tmp>/videofactory-sim-XXXX``.
SIM_FOLDER_PREFIX = "videofactory-sim-"
#: In that folder: the process id of the run that owns it.
SIM_OWNER_FILE = "owner.pid"


def sweep_sim_folders(root: Path | None = None) -> list[Path]:
    """Remove the folders that built-in farms of killed processes left; return them.

    A run stops its simulated servers and removes their folder on the way out, but a run
    killed with SIGKILL cannot: its servers exit by themselves (they watch their parent) and
    the folder stays. A folder whose owner is alive, or that names no owner, is left alone.
    """
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{SIM_FOLDER_PREFIX}*"):
        try:
            owner = int((folder / SIM_OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or its owner is still writing the file
        if not pid_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def running_farm(farm: FarmConfig, *, root: Path | None = None) -> Iterator[FarmConfig]:
    """The farm with URLs: a simulated farm is started here and stopped on exit.

    It heals itself as the farm launcher would (its ``launcher:`` restart settings): a server
    that dies is started again on its port. Its folder is the farm's ``launcher.folder``, so
    that the dispatcher finds the restarts in ``restarts.jsonl`` there for the run's log.
    """
    if not farm.simulated:
        yield farm
        return
    from videofactory.sim.farm import RestartPolicy, SimFarm, SimWorkerSpec

    specs = [
        SimWorkerSpec(name=w.id, card=w.card, vram_gb=w.vram_gb, gpu_speed=w.speed)
        for w in farm.workers
    ]
    sweep_sim_folders(root)
    folder = Path(tempfile.mkdtemp(prefix=SIM_FOLDER_PREFIX, dir=root)).absolute()
    try:
        (folder / SIM_OWNER_FILE).write_text(str(os.getpid()))
        policy = RestartPolicy.from_launcher(farm.launcher)
        with SimFarm(specs, folder, restart=policy) as sim:
            urls = sim.urls
            workers = [w.model_copy(update={"url": urls[w.id]}) for w in farm.workers]
            launcher = farm.launcher.model_copy(update={"folder": str(folder)})
            yield farm.model_copy(update={"workers": workers, "launcher": launcher})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: What ``status`` says of the built-in farm (nothing runs until a run starts it).
BUILTIN_FARM_NOTE = (
    "no farm file: the built-in simulated farm (six ComfyUI-protocol servers on loopback) is "
    "started by `generate` and stopped when the run ends"
)


def farm_status(farm_file: str | Path | None = None) -> dict[str, Any]:
    """The farm as ``videofactory status --json`` tells it: each worker's card, roles, URL,
    reachability, memory, queue, the task kinds it refuses (preflight), and the kinds no
    worker can run (``impossible``). The built-in farm is described, not started."""
    import asyncio

    from videofactory.config import builtin_farm, find_farm_file, load_farm
    from videofactory.farm.feasibility import impossible_kinds
    from videofactory.farm.flow import flow_notes, takes_end_frame
    from videofactory.farm.workers import survey_farm
    from videofactory.vocabulary import GPU_KINDS, TaskKind

    path = find_farm_file(farm_file)
    if path is None:
        config = builtin_farm()
        rows = [
            {
                "id": w.id,
                "card": w.card,
                "roles": [r.value for r in w.roles],
                "url": "",
                "reachable": None,
                "vram_total_gb": w.vram_gb,
                "vram_free_gb": None,
                "queue_running": None,
                "queue_pending": None,
                "device": "simulated",
                "error": "",
            }
            for w in config.workers
        ]
        return {"farm": config.name, "simulated": True, "note": BUILTIN_FARM_NOTE, "workers": rows}
    config = load_farm(path)
    survey = asyncio.run(survey_farm(config))
    rows = [s.to_json() for s in survey.statuses]
    for row, ability in zip(rows, survey.abilities, strict=True):
        check = survey.checks[row["id"]]
        row["refused"] = sorted(k.value for k in check.refused) if row["reachable"] else []
        row["preflight"] = {k.value: c.to_json() for k, c in check.kinds.items()}
        row["needs_gb"] = {k.value: gb for k, gb in ability.needs.items()}
        clip = check.workflow(TaskKind.clip)
        row["end_frame"] = takes_end_frame(clip) if clip is not None else None
        row["keyframes"] = _keyframe_mode(check) if row["reachable"] else None
    # Workers whose clip workflow cannot end on a picture: a flowing shot is a plain clip there
    flow = flow_notes({r["id"]: survey.checks[r["id"]].workflow(TaskKind.clip) for r in rows})
    # Could the farm run a film at all? (Every plan has keyframes and clips; the planner
    # marks hero shots too.)
    impossible = impossible_kinds(dict.fromkeys(GPU_KINDS), survey.abilities, strict=config.strict)
    return {
        "farm": config.name,
        "file": str(path),
        "simulated": False,
        "reachable": sum(1 for s in survey.statuses if s.reachable),
        "impossible": impossible,
        "flow_fallback": flow,
        "workers": rows,
    }


def _keyframe_mode(check: Any) -> dict[str, Any]:
    """How a worker makes keyframes: as edits of the look (``edits``), or from their prompts
    alone, with why (``fallback``: the edit templates' first problem on that server)."""
    kc = check.kinds.get(TaskKind.keyframe)
    if kc is None or not kc.ok:
        return {"mode": "none", "workflow": None, "fallback": ""}
    mode = "look edits" if kc.edits else "independent"
    return {"mode": mode, "workflow": kc.workflow.name, "fallback": kc.fallback}


def plan_for_farm(
    concept: str,
    duration: float,
    *,
    farm_file: str | Path | None = None,
    planner: str = "auto",
    style: str | None = None,
    llm: tuple[str | None, str | None, str | None] = (None, None, None),
    size: tuple[int, int, int, int, float | None],
    transition: str = "auto",
    say: Callable[[str], None] | None = None,
) -> ShotList:
    """Plan a shot list as ``plan`` and ``generate`` do: the LLM's settings come from ``llm``
    (endpoint, kind, model), the environment, then the farm file; the clip length (None in
    ``size``: width, height, fps, seed, clip seconds) and the narration's pace from the farm.

    Raises:
        ConfigError: bad input or farm file; PlannerError, BackendError: the LLM failed.
    """
    from videofactory.config import configured_llm, find_farm_file, load_farm, resolve_llm
    from videofactory.constants import DEFAULT_CLIP_SECONDS
    from videofactory.planning import plan_shotlist
    from videofactory.planning.speech import speaking_rate

    width, height, fps, seed, clip_s = size
    settings = None
    path = find_farm_file(farm_file)
    config = load_farm(path) if path else None
    if clip_s is None:
        # As many shots as the farm's scene workflow makes clips of this length.
        clip_s = config.clip_seconds if config else DEFAULT_CLIP_SECONDS
    url, kind, model = llm
    if planner == "llm":
        settings = resolve_llm(config, endpoint=url, kind=kind, model=model)
    elif planner == "auto":
        settings = configured_llm(config, endpoint=url, kind=kind, model=model)
    return plan_shotlist(
        concept,
        duration,
        planner=planner,
        seed=seed,
        width=width,
        height=height,
        fps=fps,
        clip_s=clip_s,
        llm=settings,
        style=style,
        say=say,
        rate=speaking_rate(config.speech if config else None),
        transition=transition,
    )


def render_shotlist(
    shotlist: ShotList,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
    assemble: bool = True,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> RunResult:
    """Render a shot list on the farm into ``<workdir>/<run-id>/final.mp4``.

    ``music``: the run's ``--music`` as ``soundtrack.music_setting`` gives it (None: the
    generated bed), recorded with the run so that a resumed run sounds the same. What the
    artifact cache holds of it is reused (``fresh``: nothing is). ``settings``: more to record
    with the run (what it redoes; ``{"preview": True}``: a preview, keyframes and narration
    only, assembled into ``<run>/preview.mp4``, see ``farm.dag.preview_tasks``).
    """
    farm = resolve_farm(farm_file)
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store, running_farm(farm) as live:
        run_id, run_dir, shotlist = _record(
            store, shotlist, workdir, live, assemble=assemble, music=music, fresh=fresh,
            settings=settings,
        )  # fmt: skip
        return _drive(store, live, run_id, run_dir, shotlist, on_event, assemble=assemble,
                      fresh=fresh)  # fmt: skip


def adjusted_shotlist(
    shotlist: ShotList,
    *,
    aspect: str | None = None,
    style: str | None = None,
    transition: str | None = None,
    takes: int | None = None,
) -> ShotList:
    """The shot list as one render asks for it (``render`` and the MCP ``render`` tool):
    another shape keeping its short side, another look, one transition for every shot, N takes
    a shot. None leaves that as the shot list has it.

    Raises:
        ConfigError: an unknown aspect or transition, a style that does not pass its checks.
    """
    from videofactory.shotlist import reshaped, with_transition

    if aspect is not None:
        shotlist = reshaped(shotlist, aspect)
    if style is not None:
        from videofactory.planning.style import apply_style
        from videofactory.planning.validate import check_style

        shotlist = apply_style(shotlist, check_style(style))
    if transition is not None:
        shotlist = with_transition(shotlist, transition)
    if takes is not None:
        shotlist = shotlist.model_copy(update={"takes": takes})
    return shotlist


def record_run(
    shotlist: ShotList,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    assemble: bool = True,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> tuple[str, Path]:
    """Record a new run (folder, shot list, farm, tasks) without starting it; returns its id
    and folder. ``resume_run`` (or ``videofactory resume``) then renders it (``--detach``)."""
    farm = resolve_farm(farm_file)
    with Store.for_workdir(Path(workdir)) as store:
        run_id, run_dir, _ = _record(
            store, shotlist, Path(workdir), farm, assemble=assemble, music=music, fresh=fresh,
            settings=settings,
        )  # fmt: skip
        return run_id, run_dir


def record_planning(
    request: PlanRequest,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> tuple[str, Path]:
    """Record a new run still to be planned (``generate --detach``): the request checked
    (one line for bad input) and kept with the run (with ``settings``, e.g. a preview's), which
    is ``planning`` with no shots yet;
    ``resume_run`` plans it, then renders it. Returns its id and folder. Nothing here loads a
    planner: the command that calls it answers at once."""
    farm = resolve_farm(farm_file)
    request = request.checked(farm)
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        run_id = new_run_id(request.concept)
        run_dir = workdir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        fields = ("concept", "duration", "width", "height", "fps")
        store.create_run(
            run_id,
            plan={k: getattr(request, k) for k in fields},
            run_dir=run_dir,
            farm=farm.model_dump(mode="json"),
            settings={
                "assemble": True,
                "music": music or "auto",
                "fresh": fresh,
                PLANNING: request.to_json(),
                **(settings or {}),
            },
            state=RunState.planning,
        )
        store.add_event(
            run_id,
            "run_planning",
            f"{request.duration:g} s of {request.concept!r} to plan ({request.planner} planner)",
        )
    return run_id, run_dir


def _record(
    store: Store,
    shotlist: ShotList,
    workdir: Path,
    farm: FarmConfig,
    *,
    assemble: bool,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> tuple[str, Path, ShotList]:
    """Record a new run: its folder (with the user's pictures kept in it, ``kept_pictures``),
    shot list, farm, settings and tasks. Returns its id, folder and the shot list as recorded."""
    run_id = new_run_id(shotlist.concept)
    run_dir = workdir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    try:
        shotlist = kept_pictures(shotlist, run_dir)
    except ShotListError:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    # The run database is the record of the shot list; shots.yaml beside the video is a copy
    # for people (to read, or to edit and render as a new run), never read back.
    (run_dir / "shots.yaml").write_text(dump_shotlist(shotlist), encoding="utf-8")
    store.create_run(
        run_id,
        plan=shotlist.model_dump(mode="json"),
        run_dir=run_dir,
        farm=farm.model_dump(mode="json"),
        settings={
            "assemble": assemble,
            "music": music or "auto",
            "fresh": fresh,
            **(settings or {}),
        },
    )
    preview = bool((settings or {}).get("preview"))
    tasks = build_tasks(run_id, shotlist, preview=preview)
    store.add_tasks(run_id, [t.to_record() for t in tasks])
    return run_id, run_dir, shotlist


def kept_pictures(shotlist: ShotList, run_dir: Path) -> ShotList:
    """The shot list with the user's pictures (``look:`` pictures, shots' ``reference_image``)
    copied into the run and named there, so that a run resumed, redone or re-rendered later
    needs nothing outside its folder: a look picture as ``look/<name><ext>`` beside the ones a
    run makes, a shot's reference as ``inputs/<shot>-reference<ext>``. A picture already in the
    run's folder stays where it is."""

    def keep(picture: str, folder: str, name: str) -> str:
        source = Path(picture)
        if source.resolve().is_relative_to(run_dir.resolve()):
            return picture
        target = run_dir / folder / f"{name}{source.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except OSError as exc:
            raise ShotListError(
                f"cannot keep {source} in the run ({exc.strerror or exc}); check that it is "
                "still there and readable"
            ) from exc
        return str(target.resolve())

    update: dict[str, Any] = {}
    if isinstance(shotlist.look, dict) and shotlist.look:
        update["look"] = {n: keep(p, "look", n) for n, p in shotlist.look.items()}
    if any(s.reference_image for s in shotlist.shots):
        update["shots"] = [
            s.model_copy(
                update={"reference_image": keep(s.reference_image, "inputs", f"{s.id}-reference")}
            )
            if s.reference_image
            else s
            for s in shotlist.shots
        ]
    return shotlist.model_copy(update=update) if update else shotlist


def resume_run(
    run: str,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
) -> RunResult:
    """Carry a stopped run to its end: finished work is reused, jobs still on the servers are
    collected, only lost work is rendered again."""
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        record = store.run(run)
        run_id, run_dir = record["id"], Path(record["run_dir"])
        owner = record["owner_pid"]
        if owner not in (None, os.getpid()) and pid_alive(owner):
            # Said before any farm starts; the dispatcher's claim is what decides, though.
            raise driven_elsewhere(run_id, owner)
        if cancelled_since_start(record, run_dir):  # before its farm starts, for nothing
            raise RunCancelled(
                f"run {run_id} was cancelled before it started; nothing was rendered",
                run_id=run_id,
            )
        farm = _recorded_farm(record, farm_file)
        planned_here = _unplanned(store, record)
        if planned_here:
            shotlist = _plan_recorded(store, record, farm, on_event)
        else:
            shotlist = _recorded_shotlist(store, record)
        # A run recorded with --no-assemble stays unassembled when resumed; one recorded
        # with --fresh takes nothing from the cache.
        assemble = bool(record["settings"].get("assemble", True))
        fresh = bool(record["settings"].get("fresh", False))
        with running_farm(farm) as live:
            if planned_here and store.run(run_id)["state"] == RunState.cancelled.value:
                # Cancelled while the farm came up: this process holds the run since it
                # planned it, so the cancel is meant for it (the dispatcher's claim would
                # otherwise take it as a resume of a cancelled run).
                store.release_run(run_id, os.getpid())
                raise RunCancelled(f"run {run_id} was cancelled before it started")
            return _drive(store, live, run_id, run_dir, shotlist, on_event, assemble=assemble,
                          fresh=fresh)  # fmt: skip


#: The run setting that holds what a run still to be planned asks (``PlanRequest.to_json``).
PLANNING = "planning"


def _unplanned(store: Store, record: dict[str, Any]) -> bool:
    """Whether a run has still to be planned: recorded by ``record_planning``, and its
    planning never finished (it is planning, or its planning failed or was interrupted)."""
    return PLANNING in record["settings"] and not store.shots(record["id"])


def _plan_recorded(
    store: Store, record: dict[str, Any], farm: FarmConfig, on_event: EventSink | None
) -> ShotList:
    """Plan a run recorded as ``planning`` in this process, which claims it first, and
    record its shot list and task graph (the run is then ``planned``). A planning failure
    ends the run as failed, the planner's reason (one line) as its error.

    Raises:
        RunFailed: planning failed or was interrupted (Ctrl-C, SIGTERM).
        RunCancelled: the run was cancelled while it was planned.
        StoreError: another live process drives the run.
    """
    from videofactory.planning.request import PlanRequest, plan_request

    run_id, run_dir, pid = record["id"], Path(record["run_dir"]), os.getpid()
    claim = store.claim_run(run_id, pid)
    if not claim.won:
        raise driven_elsewhere(run_id, claim.owner)
    if record["state"] != RunState.planning.value:
        store.restart_planning(run_id)  # a resume of a run whose planning failed or stopped

    def note(kind: str, message: str) -> None:
        store.add_event(run_id, kind, message)
        if on_event is not None:
            on_event(Event(kind=kind, run_id=run_id, message=message))

    request = PlanRequest.from_json(record["settings"][PLANNING])
    t0 = time.monotonic()
    try:
        with sigterm_as_ctrl_c():
            shotlist = plan_request(request, farm, say=lambda line: note("run_planning", line))
    except (FactoryError, KeyboardInterrupt) as exc:
        reason = "interrupted (Ctrl-C or SIGTERM)" if isinstance(exc, KeyboardInterrupt) else exc
        why = "planning failed: " + " ".join(str(reason).split())  # one line
        store.set_run_state(run_id, RunState.failed, error=why)
        note("run_failed", why)
        _report(store, run_id, run_dir, on_event)  # every run that ends has its report
        store.release_run(run_id, pid)
        raise RunFailed(
            f"run {run_id} failed: {why}; `videofactory resume {run_id}` plans it again",
            run_id=run_id,
        ) from None
    (run_dir / "shots.yaml").write_text(dump_shotlist(shotlist), encoding="utf-8")
    preview = bool(record["settings"].get("preview"))
    tasks = [t.to_record() for t in build_tasks(run_id, shotlist, preview=preview)]
    if not store.set_plan(run_id, shotlist.model_dump(mode="json"), tasks):
        store.release_run(run_id, pid)
        raise RunCancelled(f"run {run_id} was cancelled while it was planned")
    note(
        "run_planned",
        f"{len(shotlist.shots)} shots planned by the {shotlist.planner} planner "
        f"in {time.monotonic() - t0:.1f} s",
    )
    return shotlist


def _recorded_farm(record: dict[str, Any], farm_file: str | Path | None) -> FarmConfig:
    """The farm a recorded run goes on with: ``farm_file`` if given, else the one it recorded
    (a simulated one started afresh: its servers died with the process that drove it)."""
    if farm_file:
        return resolve_farm(farm_file)
    try:
        farm = FarmConfig.model_validate(record["farm"])
    except ValidationError as exc:
        raise ConfigError(
            f"run {record['id']} recorded a farm this version cannot read; pass --farm"
        ) from exc
    if farm.simulated:
        farm = farm.model_copy(
            update={"workers": [w.model_copy(update={"url": ""}) for w in farm.workers]}
        )
    return farm


#: Shots a redo's "no such shot" names before "and N more".
SHOTS_LISTED = 12


def redo_plan(
    store: Store,
    run: str,
    shot_id: str,
    *,
    prompt: str | None = None,
    seed: int | None = None,
    duration: float | None = None,
    takes: int | None = None,
) -> tuple[dict[str, Any], ShotList, dict[str, Any]]:
    """A run's shot list with one shot edited, for ``videofactory redo``: its record, the new
    shot list and what changed. No edit given: the shot gets a new seed (another take).
    ``takes``: how many takes of the shot to render (each with its own seed).

    Raises:
        StoreError: no such run.
        ShotListError: no such shot, an edit that changes nothing or that does not validate.
    """
    record = store.run(run)
    shotlist = _recorded_shotlist(store, record)
    shot = _shot_of(record, shotlist, shot_id)
    if prompt is None and seed is None and duration is None and takes is None:
        seed = (shot.seed + 1 + secrets.randbelow(2**31)) % 2**63  # another take
    update: dict[str, Any] = {}
    if takes is not None and shotlist.takes_of(shot) != takes:
        update["takes"] = takes
    if prompt is not None:
        update["prompt"] = prompt
    if seed is not None:
        update["seed"] = seed
    if duration is not None:
        update["duration"] = duration
    changes = {k: v for k, v in update.items() if getattr(shot, k) != v}
    if not changes:
        given = {**update, **({"takes": takes} if takes is not None else {})}
        raise ShotListError(
            f"shot {shot_id} of run {record['id']} already has "
            + ", ".join(f"{k} {v!r}" for k, v in given.items())
            + "; give a different --prompt, --seed, --duration or --takes (or none of them: "
            "a new seed)"
        )
    data = shotlist.model_dump(mode="json")
    for s in data["shots"]:
        if s["id"] == shot_id:
            s.update(changes)
    if "duration" in changes:
        data["duration"] = round(data["duration"] + changes["duration"] - shot.duration, 6)
    return record, parse_shotlist(data, source=f"redo of shot {shot_id}"), changes


def _shot_of(record: dict[str, Any], shotlist: ShotList, shot_id: str) -> Shot:
    """The run's shot of that id; a ShotListError naming the run's shots otherwise."""
    ids = [s.id for s in shotlist.shots]
    if shot_id not in ids:
        listed = ", ".join(ids[:SHOTS_LISTED])
        if len(ids) > SHOTS_LISTED:
            listed += f" and {len(ids) - SHOTS_LISTED} more"
        raise ShotListError(
            f"run {record['id']} has no shot {shot_id!r}; its shots are {listed} "
            f"(`videofactory show {record['id']}` lists them)"
        )
    return shotlist.shot(shot_id)


def redo_run(
    run: str,
    shot_id: str,
    *,
    workdir: Path,
    prompt: str | None = None,
    seed: int | None = None,
    duration: float | None = None,
    takes: int | None = None,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
    detach: bool = False,
) -> tuple[str, Path, RunResult | None]:
    """A new run of an earlier one with one shot edited (``redo_plan``): only that shot and
    what depends on it render, everything else comes from the artifact cache (filled again
    from the earlier run's files where it lost them), and the video is assembled anew.
    Returns the new run's id, folder and result (None with ``detach``: it is only recorded,
    for a background process to render)."""
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        record, shotlist, changes = redo_plan(
            store, run, shot_id, prompt=prompt, seed=seed, duration=duration, takes=takes
        )
        farm = _recorded_farm(record, farm_file)
        assemble = bool(record["settings"].get("assemble", True))
        settings = {"redo_of": record["id"], "redo_shot": shot_id, "changes": changes}
        if record["settings"].get("preview"):  # a redone preview is a preview
            settings["preview"] = True
        refill_cache(store, record["id"], workdir)
        # The other shots keep the takes picked for them (a pick as the best keeps its hero
        # pass: the shot is marked hero in the new run's plan).
        picks = {s: p for s, p in store.picks(record["id"]).items() if s != shot_id}
        shotlist = _with_picked_heroes(shotlist, picks)
        if detach:
            run_id, run_dir, _ = _record(store, shotlist, workdir, farm, assemble=assemble,
                                         settings=settings)  # fmt: skip
            _carry_picks(store, run_id, picks)
            return run_id, run_dir, None
        with running_farm(farm) as live:
            run_id, run_dir, shotlist = _record(store, shotlist, workdir, live,
                                                assemble=assemble, settings=settings)  # fmt: skip
            _carry_picks(store, run_id, picks)
            result = _drive(store, live, run_id, run_dir, shotlist, on_event, assemble=assemble)
        return run_id, run_dir, result


def _with_picked_heroes(shotlist: ShotList, picks: dict[str, dict[str, Any]]) -> ShotList:
    """The shot list with the shots picked as the best (``pick --hero``) marked hero."""
    heroes = {s for s, p in picks.items() if p["hero"]}
    if not heroes:
        return shotlist
    shots = [s.model_copy(update={"hero": True}) if s.id in heroes else s for s in shotlist.shots]
    return shotlist.model_copy(update={"shots": shots})


def _carry_picks(store: Store, run_id: str, picks: dict[str, dict[str, Any]]) -> None:
    """Record an earlier run's picks for the new run (before it renders: its hero passes and
    its film use them)."""
    with store.batch():
        for shot, pick in picks.items():
            store.set_pick(run_id, shot, pick["take"], hero=pick["hero"])


def refill_cache(store: Store, run_id: str, workdir: Path) -> int:
    """Put back in the artifact cache what a run made that the cache no longer holds (pruned,
    or made before it existed), under the keys its attempts recorded; returns how many. A
    file that is gone or a cache that cannot be written is passed over."""
    from videofactory.cache.artifacts import ArtifactCache

    keys = {
        a["task_id"]: a["content_key"]
        for a in store.attempts(run_id)
        if a["state"] == TaskState.done.value and a.get("content_key")
    }
    if not keys:
        return 0
    latest = {a["task_id"]: a for a in store.artifacts(run_id)}
    added = 0
    try:
        with ArtifactCache.for_workdir(workdir) as cache:
            for tid, key in keys.items():
                art = latest.get(tid)
                if art is None or cache.entry(key) is not None:
                    continue
                path = Path(art["path"])
                if path.is_file():
                    cache.put(key, art["kind"], path, media=art["media"], source=tid)
                    added += 1
    except (OSError, FactoryError):
        pass  # the redo renders what it cannot reuse
    return added


def reopen_heroes(run: str, *, workdir: Path) -> list[str]:
    """Give a run's skipped hero passes another go: they and the assembly are due again, so
    that the next ``resume`` renders them and assembles a new version of the video (the old
    one is kept). Returns the shots whose hero pass was reopened."""
    with Store.for_workdir(Path(workdir)) as store:
        from videofactory.watching.follow import DRIVEN, run_status

        status = run_status(store, run)
        run_id = status.run_id
        if status.state in DRIVEN:
            raise StoreError(
                f"run {run_id} is being driven by process {status.driver_pid}; let it finish "
                f"(`videofactory wait {run_id}`), then `videofactory resume {run_id} --heroes`"
            )
        tasks = store.tasks(run_id)
        skipped = [
            t for t in tasks if t.kind == TaskKind.hero.value and t.state == TaskState.skipped.value
        ]
        if not skipped:
            return []
        with store.batch():
            for t in skipped:
                store.set_task_state(t.id, TaskState.pending, error=None)
            for t in tasks:
                if t.kind == TaskKind.assemble.value:
                    store.set_task_state(t.id, TaskState.pending, error=None)
            shots = [t.shot_id or "" for t in skipped]
            store.add_event(
                run_id,
                "heroes_reopened",
                f"hero passes of {', '.join(shots)} are due again; the video is assembled anew",
                data={"shots": shots},
            )
        return shots


def pick_take(
    run: str,
    shot_id: str,
    take: int,
    *,
    workdir: Path,
    hero: bool = False,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
    detach: bool = False,
) -> dict[str, Any]:
    """Pick the take a shot of a run uses (``videofactory pick RUN SHOT TAKE``).

    The pick is recorded in the run database and the film uses that take from then on. With
    ``hero`` the take is picked as the best: it gets a hero pass even when the shot list did
    not mark the shot ``hero`` (and keeps one when a later pick moves it to another take).
    A shot marked ``hero`` has its hero pass moved to the picked take.

    A run whose video was assembled is re-assembled at once, in place: the run keeps its id,
    the new video is the next version beside the old one (``final.v2.mp4`` ...), and nothing
    but the assembly (and a hero pass on a take that had none) runs: every take is already
    rendered, and a hero pass made before on the same take comes from the artifact cache. A
    run that has not finished keeps the pick for when it goes on (``videofactory resume``).
    A run a process is rendering now records a pick of a shot with no hero pass at once
    (``pending``): its video uses it (``_drive`` assembles again if the assembly had already
    chosen); a pick that would move a hero pass is refused until the run ends.
    A hero pass to render goes on the run's farm here, or with ``detach`` in a background
    process (``detached`` and ``pid`` in the answer; ``videofactory wait RUN`` follows it) so
    that the call returns at once.

    Returns a JSON-ready dict: ``run_id``, ``shot``, ``take``, ``hero``, ``previous`` (the
    take the film used before), ``reassembled``, ``final``, ``tasks_rendered`` and
    ``tasks_reused`` (the run's, after the re-assembly), ``rendered_now`` (what this pick
    made, per kind: ``{"hero": 1}``, ``{}`` when only the assembly ran; ``reused`` for what
    the cache gave),
    ``sheet`` (the shot's contact sheet) and ``message``.

    Raises:
        StoreError: no such run (or no run database), or a process is driving it now.
        ShotListError: no such shot, or no such take of it.
    """
    from videofactory.store import FINISHED
    from videofactory.takes import choose_take, hero_wanted
    from videofactory.watching.follow import run_status

    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        record = store.run(run)
        run_id = record["id"]
        before = _attempt_counts(store, run_id)
        shotlist = _recorded_shotlist(store, record)
        shot = _shot_of(record, shotlist, shot_id)
        takes = shotlist.takes_of(shot)
        if not 1 <= take <= takes:
            hint = (
                f"pick one of 1-{takes}"
                if takes > 1
                else f"it was rendered with one take: `videofactory redo {run_id} {shot_id} "
                "--takes 3` renders more"
            )
            raise ShotListError(f"shot {shot_id} of run {run_id} has no take {take}; {hint}")
        status = run_status(store, run_id)
        old = store.picks(run_id).get(shot_id)
        if status.state in ("running", "starting"):
            if hero_wanted(shot.hero, hero or bool(old and old["hero"])):
                raise StoreError(
                    f"run {run_id} is being driven by process {status.driver_pid} and shot "
                    f"{shot_id} has a hero pass, which the pick would move; let the run finish "
                    f"(`videofactory wait {run_id}`), then pick"
                )
            # Only the assembly reads it: the process driving the run uses it when it
            # assembles, or assembles again once it has (``_drive``: ``picks_not_used``).
            store.set_pick(run_id, shot_id, take, hero=False)
            store.add_event(run_id, "take_picked",
                            f"shot {shot_id}: take {take} picked while the run renders",
                            data={"shot": shot_id, "take": take, "hero": False})  # fmt: skip
            return {
                "run_id": run_id, "shot": shot_id, "take": take, "hero": False,
                "previous": None, "reassembled": False, "pending": True,
                "final": record.get("final_path"), "continue_from_other_take": [],
                "rendered_now": {}, "sheet": None,
                "tasks_reused": None, "tasks_rendered": None,
                "message": (
                    f"shot {shot_id} uses take {take}: recorded; run {run_id} is being "
                    f"rendered by process {status.driver_pid}, and its video will use it "
                    f"(`videofactory wait {run_id}`)"
                ),
            }  # fmt: skip
        scores = {t: s.get("score") for t, s in store.take_scores(run_id).get(shot_id, {}).items()}
        previous = choose_take(takes, old["take"] if old else None, scores)
        hero = hero or bool(old and old["hero"])
        store.set_pick(run_id, shot_id, take, hero=hero)
        hero_changed = place_hero(store, run_id, shotlist, shot, take,
                                  hero_wanted(shot.hero, hero))  # fmt: skip
        rows = store.tasks(run_id)
        # A hero pass on this shot still to render (placed now, or by a pick that stopped).
        hero_due = any(
            t.kind == TaskKind.hero.value and t.shot_id == shot_id and t.state not in FINISHED
            for t in rows
        )
        has_video = bool(record["settings"].get("assemble", True) and record.get("final_path"))
        due = has_video and (take != previous or hero_changed or hero_due)
        with store.batch():
            if due and hero_due:  # the resumed run assembles once the hero pass is done
                for t in rows:
                    if t.kind == TaskKind.assemble.value:
                        store.set_task_state(t.id, TaskState.pending, error=None)
            store.add_event(
                run_id,
                "take_picked",
                f"shot {shot_id}: take {take} picked"
                + (" as the best (hero pass)" if hero else "")
                + ("; the video is assembled anew" if due else ""),
                data={"shot": shot_id, "take": take, "hero": hero},
            )
        run_dir = Path(record["run_dir"])
        stale = _continuing_elsewhere(rows, shot_id, take)
    out: dict[str, Any] = {
        "run_id": run_id, "shot": shot_id, "take": take, "hero": hero, "previous": previous,
        "reassembled": due, "final": record.get("final_path"), "continue_from_other_take": stale,
    }  # fmt: skip
    if due and hero_due and detach:  # the same, in a background process
        from videofactory.detach import resume_detached

        started = resume_detached(run_id, run_dir, workdir, Path(farm_file) if farm_file else None)
        out.update(detached=True, pid=started.pid)
        out["message"] = (
            f"shot {shot_id} uses take {take}; its hero pass renders in the background "
            f"(process {started.pid}), then the video is re-assembled: `videofactory wait "
            f"{run_id}` follows it"
        )
    elif due and hero_due:  # a hero pass to render: the run goes on on its farm
        result = resume_run(run_id, workdir=workdir, farm_file=farm_file, on_event=on_event)
        out["final"] = str(result.final) if result.final else None
        out["message"] = f"shot {shot_id} uses take {take}; re-assembled into {result.final}"
    elif due:  # only the assembly: here, with no farm (it may be off, and needs none)
        final = reassemble_run(run_id, workdir=workdir)
        out["final"] = str(final)
        out["message"] = f"shot {shot_id} uses take {take}; re-assembled into {final}"
    else:
        if take == previous and not hero_changed:
            out["message"] = f"shot {shot_id} already uses take {take}; the pick is recorded"
        elif not record["settings"].get("assemble", True):
            out["message"] = (
                f"shot {shot_id} uses take {take} from now on; the run was rendered without "
                f"its assembly: `videofactory assemble {run_id}` makes its video with it"
            )
        else:
            out["message"] = (
                f"shot {shot_id} uses take {take} from now on; the run has no video yet: "
                f"`videofactory resume {run_id}` goes on with it"
            )
        _redraw_sheets(run_id, run_dir, workdir)
    with Store.for_workdir(workdir) as store:
        out["tasks_reused"], out["tasks_rendered"] = store.reuse_counts(run_id)
        after = _attempt_counts(store, run_id)
    # What this pick made: GPU and speech tasks rendered, and taken from the cache.
    out["rendered_now"] = {
        k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)
    }
    sheet = run_dir / "takes" / f"{shot_id}.jpg"
    out["sheet"] = str(sheet) if sheet.is_file() else None
    for other in stale:
        out["message"] += (
            f"; shot {other} went on from another take of {shot_id}: `videofactory redo "
            f"{run_id} {other}` makes it go on from take {take}"
        )
    return out


def _continuing_elsewhere(rows: list[Any], shot_id: str, take: int) -> list[str]:
    """The shots whose rendered clip continues ``shot_id`` from a take other than ``take``
    (a pick does not render them again: its cut would not land; ``redo`` does)."""
    from videofactory.farm.dag import Task, from_take
    from videofactory.farm.flow import previous_clip_dep

    tasks = {r.id: Task.from_record(r) for r in rows}
    found = []
    for r in rows:
        task = tasks[r.id]
        if task.kind is not TaskKind.clip or r.state != TaskState.done:
            continue
        dep = previous_clip_dep(task, tasks)
        goes_on_from_another = dep and tasks[dep].shot_id == shot_id and from_take(task) != take
        if goes_on_from_another and task.shot_id not in found:
            found.append(task.shot_id)
    return found


def _redraw_sheets(run_id: str, run_dir: Path, workdir: Path) -> None:
    """Draw the run's contact sheets again (the pick marked) from the takes it has rendered,
    when no assembly does; a run with a shot's takes unfinished is passed over."""
    from videofactory.farm.picking import film_takes

    with Store.for_workdir(workdir) as store:
        outputs = {a["task_id"]: Path(a["path"]) for a in store.artifacts(run_id)}
        with contextlib.suppress(FactoryError, OSError):
            film_takes(store, run_id, run_dir, _recorded_shotlist(store, store.run(run_id)),
                       outputs)  # fmt: skip


def reassemble_run(run: str, *, workdir: Path) -> Path:
    """Assemble a finished run again from what it rendered, as the next version of its video
    (``final.v2.mp4`` ...), with the takes it uses now; no farm, no GPU work. Its contact
    sheets are drawn again (the pick marked) first, the video recorded as the run's final."""
    from videofactory.assembly.reassemble import reassemble_run as assemble_again
    from videofactory.farm.picking import WHY, film_takes

    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        record = store.run(run)
        run_id = record["id"]
        # Every take scored (and its sheet drawn) before the pieces are chosen by them.
        outputs = {a["task_id"]: Path(a["path"]) for a in store.artifacts(run_id)}
        takes = film_takes(store, run_id, Path(record["run_dir"]),
                           _recorded_shotlist(store, record), outputs)  # fmt: skip
    # The run's own options: its size and rate, its music, a clip of another shape cropped to
    # follow its subject (the assembly's defaults).
    final = Path(assemble_again(run_id, workdir=workdir)["final"])
    with Store.for_workdir(workdir) as store, store.batch():
        store.set_run_state(run_id, RunState.done, final=str(final))
        store.add_event(
            run_id, "takes_used",
            "the film uses " + ", ".join(f"{s} take {t['take']} ({WHY[t['why']]})"
                                         for s, t in takes.items()),
            data={"data": {"takes": {s: t["take"] for s, t in takes.items()}}},
        )  # fmt: skip
    with Store.for_workdir(workdir) as store:
        _report(store, run_id, Path(record["run_dir"]), None)
    return final


def _attempt_counts(store: Store, run_id: str) -> dict[str, int]:
    """Finished attempts of a run per kind (``clip``, ``hero`` ...; ``reused`` for those
    the cache gave)."""
    counts: dict[str, int] = {}
    for a in store.attempts(run_id):
        if a["state"] == TaskState.done.value:
            kind = "reused" if a.get("reused") else TaskId.parse(a["task_id"]).kind.value
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def place_hero(
    store: Store, run_id: str, shotlist: ShotList, shot: Shot, take: int, wanted: bool
) -> bool:
    """Put a shot's hero pass on the picked take: moved there (due again if it ran on
    another), or added, with the assembly waiting for it, when the shot had none. True when
    the hero pass changed."""
    from dataclasses import replace

    from videofactory.constants import DEFAULT_CLIP_SECONDS
    from videofactory.farm.dag import hero_task, task_id
    from videofactory.store import FINISHED

    if not wanted:
        return False
    tasks = {t.id: t for t in store.tasks(run_id)}
    hero_id = task_id(run_id, TaskKind.hero, shot.id)
    row = tasks.get(hero_id)
    if row is None:
        clips = tuple(
            task_id(run_id, TaskKind.clip, shot.id, n)
            for n in range(1, shotlist.takes_of(shot) + 1)
        )
        task = hero_task(run_id, shot.id, clips, shot.duration / DEFAULT_CLIP_SECONDS)
        with store.batch():
            store.add_tasks(run_id, [replace(task, params={"take": take}).to_record()])
            assemble = task_id(run_id, TaskKind.assemble)
            if assemble in tasks:
                store.update_task_deps(assemble, [*tasks[assemble].deps, hero_id])
        return True
    if int(row.params.get("take", 1)) == take and row.state != TaskState.skipped.value:
        return False
    with store.batch():
        store.update_task_params(hero_id, {**row.params, "take": take})
        if row.state in FINISHED:
            store.set_task_state(hero_id, TaskState.pending, error=None)
    return True


def _recorded_shotlist(store: Store, record: dict[str, Any]) -> ShotList:
    """The run's shot list as recorded (``Store.planned``: one clear line for a run not
    planned yet)."""
    return parse_shotlist(store.planned(record["id"]), source=f"run {record['id']}")


def _drive(
    store: Store,
    farm: FarmConfig,
    run_id: str,
    run_dir: Path,
    shotlist: ShotList,
    on_event: EventSink | None,
    *,
    assemble: bool = True,
    fresh: bool = False,
) -> RunResult:
    import asyncio

    from videofactory.farm.dispatcher import Dispatcher
    from videofactory.farm.outcome import INTERRUPTED

    cache = _open_cache(store, run_id, run_dir.parent, on_event)
    preview = bool(store.run(run_id)["settings"].get("preview"))
    dispatcher = Dispatcher(
        store,
        farm,
        run_id,
        run_dir,
        shotlist,
        speech=speech_backend(farm.speech),
        on_event=on_event,
        assemble=assemble,
        supervision=_supervision(farm),
        cache=cache,
        fresh=fresh,
        preview=preview,
    )
    try:
        with sigterm_as_ctrl_c():
            result = asyncio.run(dispatcher.run())
    except KeyboardInterrupt:
        if store.run(run_id)["owner_pid"] == os.getpid():
            store.set_run_state(run_id, RunState.failed, error="interrupted (Ctrl-C or SIGTERM)")
            store.close_open_attempts(run_id, TaskState.cancelled, INTERRUPTED)
        raise RunFailed(
            f"run {run_id} interrupted; what finished is kept in {run_dir}; "
            f"`videofactory resume {run_id}` goes on from there",
            run_id=run_id,
        ) from None
    finally:
        # Only the process that drove the run writes its report, then lets go of it (a resume
        # refused because another process drives the run leaves everything to that one).
        if store.run(run_id)["owner_pid"] == os.getpid():
            _report(store, run_id, run_dir, on_event)
            store.release_run(run_id, os.getpid())
        if cache is not None:
            cache.close()
    if result.final is not None and picks_not_used(store, run_id):
        # A pick made while the run rendered, after its assembly chose its takes: the video
        # is assembled again with it, as `pick` does once a run is done.
        from videofactory.assembly.probe import check_media

        final = reassemble_run(run_id, workdir=run_dir.parent)
        result = dataclasses.replace(result, final=final, media=check_media(final, kind="video"))
    return result


def picks_not_used(store: Store, run_id: str) -> list[str]:
    """The shots whose picked take differs from the take the run's newest video uses (its
    newest ``takes_used`` event): picks made while the run rendered, after it assembled."""
    picks = store.picks(run_id)
    if not picks:  # the common case: the run's log is not read
        return []
    events = [e for e in store.events(run_id) if e["kind"] == "takes_used"]
    if not events:
        return []
    used = (events[-1].get("data") or {}).get("data", {}).get("takes", {})
    return [
        shot
        for shot, pick in picks.items()
        if shot in used and int(used[shot]) != int(pick["take"])
    ]


def _open_cache(
    store: Store, run_id: str, workdir: Path, on_event: EventSink | None
) -> ArtifactCache | None:
    """The work directory's artifact cache; one that cannot be opened is a warning (the run
    renders everything), never a failure of the run."""
    from videofactory.cache.artifacts import ArtifactCache

    try:
        return ArtifactCache.for_workdir(workdir)
    except StoreError as exc:
        message = f"{exc}; nothing is reused or kept"
        store.add_event(run_id, "warning", message)
        if on_event is not None:
            on_event(Event(kind="warning", run_id=run_id, message=message))
        return None


def _supervision(farm: FarmConfig) -> Supervision | None:
    """What supervises the farm's servers, for the run: the farm launcher (managed servers) or
    the built-in farm, which keeps the launcher's records in its folder; None otherwise."""
    if not (farm.simulated or any(w.managed for w in farm.workers)):
        return None
    from videofactory.launcher import RecordedSupervision

    return RecordedSupervision(farm, "the built-in farm" if farm.simulated else "the launcher")


def _report(store: Store, run_id: str, run_dir: Path, on_event: EventSink | None) -> None:
    """Write the run report, whatever the run's outcome; a report that cannot be written is a
    warning, never a failure of the run."""
    from videofactory.report import write_report

    try:
        write_report(store, run_id, run_dir)
    except Exception as exc:  # noqa: BLE001 - the run's own outcome must come through
        message = f"the run report was not written: {exc}"
        with contextlib.suppress(Exception):
            store.add_event(run_id, "warning", message)
        if on_event is not None:
            on_event(Event(kind="warning", run_id=run_id, message=message))


#: What ``cancel`` says of a job that finished on its server before the cancel reached it.
FINISHED_ANYWAY = "finished before it could be cancelled"


def cancel_run(run: str, *, workdir: Path) -> dict[str, Any]:
    """Cancel a run: mark it, interrupt its running jobs and take its queued ones off the
    servers. A process driving it stops at its next look (within a second).

    A job that had already finished on its server is recorded as such: its attempt done (it
    rendered), its task cancelled but keeping the prompt id, so that ``videofactory resume``
    collects the output from the server instead of rendering it again.
    """
    import asyncio

    with Store.for_workdir(Path(workdir)) as store:
        record = store.run(run)
        run_id = record["id"]
        if record["state"] in (RunState.done.value, RunState.cancelled.value):
            return {"run_id": run_id, "state": record["state"], "jobs": []}
        store.set_run_state(run_id, RunState.cancelled, error="cancelled by the user")
        urls = {w["id"]: w.get("url", "") for w in record["farm"].get("workers", [])}
        flying = [t for t in store.tasks(run_id) if t.state in IN_FLIGHT]
        jobs = asyncio.run(_cancel_jobs(flying, urls))
        for t, job in zip(flying, jobs, strict=True):
            _record_cancel(store, t, job)
        if not pid_alive(store.run(run_id)["owner_pid"]):
            # Nobody drives it to close the rest (a driving process does so on its way out).
            store.close_open_attempts(run_id, TaskState.cancelled, "run cancelled")
        store.add_event(
            run_id, "run_cancelled", f"cancelled; {len(jobs)} job(s) stopped", data={"jobs": jobs}
        )
    return {"run_id": run_id, "state": RunState.cancelled.value, "jobs": jobs}


def _record_cancel(store: Store, task: Any, job: dict[str, str]) -> None:
    """The task cancelled (unless its process finished it meanwhile), its attempt ended as
    its server says."""
    finished = job["outcome"] == FINISHED_ANYWAY
    if finished:
        error = (
            f"{job['outcome']} on {task.worker} (prompt {task.prompt_id}), not downloaded; "
            "`videofactory resume` collects it without rendering it again"
        )
    else:
        error = "cancelled by the user"
    store.cancel_task(task.id, error)
    attempt = store.attempt_of_prompt(task.id, task.prompt_id) if task.prompt_id else None
    if attempt is None:
        return
    if finished:  # the server's word: it rendered, whatever a stopping process guessed
        store.end_attempt(attempt["id"], TaskState.done, None, force=True)
    else:
        store.end_attempt(attempt["id"], TaskState.cancelled, "run cancelled")


async def _cancel_jobs(tasks: list[Any], urls: dict[str, str]) -> list[dict[str, str]]:
    import asyncio

    from videofactory.comfy.client import ComfyClient

    async def one(task: Any) -> dict[str, str]:
        url = urls.get(task.worker or "", "")
        outcome = "no server recorded"
        if task.kind in (TaskKind.speech.value, TaskKind.assemble.value):
            outcome = "stops with the run's process"  # its own work, not a server's job
        elif url and task.prompt_id:
            try:
                async with ComfyClient(url, timeout=5) as client:
                    outcome = await client.cancel(task.prompt_id)
                    if outcome == "not queued":
                        outcome = await _ended_how(client, task.prompt_id)
            except BackendError as exc:
                outcome = f"server unreachable ({exc})"
        return {"task": task.id, "worker": task.worker or "", "outcome": outcome}

    return list(await asyncio.gather(*(one(t) for t in tasks)))


async def _ended_how(client: ComfyClient, prompt_id: str) -> str:
    """How a prompt no longer queued ended, from the server's history."""
    from videofactory.comfy.results import parse_history_entry

    entry = await client.history(prompt_id)
    if entry is None:
        return "not queued (unknown to the server)"
    try:
        parse_history_entry(prompt_id, entry, client.url)
    except FactoryError as exc:
        return f"had already ended: {str(exc).splitlines()[0]}"
    return FINISHED_ANYWAY
