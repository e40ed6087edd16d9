"""A recorded run with a retry, an idle GPU and real keyframes, for the report tests."""

from __future__ import annotations

import time
from pathlib import Path

from PIL import Image

from videofactory.store import RunState, Store, TaskRow, TaskState

RUN = "20261125-120000-warrior-0001"
FARM = {
    "name": "test farm",
    "workers": [
        {"id": "gpu0", "card": "RTX 5090", "vram_gb": 32, "roles": ["primary"], "speed": 1.0},
        {"id": "gpu1", "card": "RTX 3090", "vram_gb": 24, "roles": ["worker"], "speed": 0.55},
        {"id": "gpu2", "card": "RTX 3090", "vram_gb": 24, "roles": ["worker"], "speed": 0.55},
        {"id": "gpu4", "card": "RTX 3090", "vram_gb": 24, "roles": ["worker"], "speed": 0.55},
        {"id": "gpu5", "card": "RTX 4080 Super", "vram_gb": 16, "roles": ["control"],
         "speed": 0.7},
    ],
}  # fmt: skip
HOSTILE = 'warrior <script>alert("x")</script> & "friends"'
SHOTS = [
    {"id": "s01", "duration": 2.0, "prompt": f"wide shot, {HOSTILE}", "narration": "It begins.",
     "camera": "pan_right", "shot_type": "establishing", "hero": True},
    {"id": "s02", "duration": 2.0, "prompt": "close-up of a sword", "narration": "Steel <b>.",
     "camera": "static", "shot_type": "close_up", "hero": False},
]  # fmt: skip

#: (task, worker, created, started, finished, state, error): seconds after T0.
ATTEMPTS = [
    ("s01/keyframe", "gpu5", 0.5, 1.0, 3.0, "done", None),
    ("s02/keyframe", "gpu5", 0.6, 3.0, 5.0, "done", None),
    ("s01/clip", "gpu1", 3.2, 3.5, 6.0, "failed", "CUDA error: an illegal memory access"),
    ("s01/clip", "gpu2", 7.0, 7.5, 12.0, "done", None),
    ("s02/clip", "gpu1", 5.2, 5.5, 10.0, "done", None),
    ("s01/hero", "gpu0", 12.2, 12.5, 16.5, "done", None),
]
T0 = 1_795_000_000.0


def rows() -> dict:
    """The run's rows as the store returns them (for the pure ``build_report``)."""

    def task(tid, kind, shot, worker, s, f, state="done"):
        return TaskRow(f"{RUN}/{tid}", RUN, kind, shot, (), state, worker, None, 1, {}, None,
                       T0, T0 + s, T0 + f)  # fmt: skip

    tasks = [
        task("s01/keyframe", "keyframe", "s01", "gpu5", 1.0, 3.0),
        task("s02/keyframe", "keyframe", "s02", "gpu5", 3.0, 5.0),
        task("s01/clip", "clip", "s01", "gpu2", 7.5, 12.0),
        task("s02/clip", "clip", "s02", "gpu1", 5.5, 10.0),
        task("s01/hero", "hero", "s01", "gpu0", 12.5, 16.5),
        task("s01/speech", "speech", "s01", "speech", 0.2, 0.6),
        task("s02/speech", "speech", "s02", "speech", 0.6, 0.9),
        task("assemble", "assemble", None, "ffmpeg", 16.6, 18.0),
    ]
    attempts = [
        {"id": i, "task_id": f"{RUN}/{t}", "run_id": RUN, "worker": w, "prompt_id": f"p{i}",
         "state": st, "error": err, "created_at": T0 + c, "started_at": T0 + s,
         "finished_at": T0 + f}
        for i, (t, w, c, s, f, st, err) in enumerate(ATTEMPTS)
    ]  # fmt: skip
    events = [
        {"ts": T0, "task_id": None, "kind": "run_started", "message": "8 tasks", "data": {}},
        {"ts": T0 + 6.0, "task_id": f"{RUN}/s01/clip", "kind": "task_failed",
         "message": "clip s01 on gpu1: CUDA error -> retry_elsewhere",
         "data": {"worker": "gpu1", "data": {"action": "retry_elsewhere", "attempt": 1}}},
        {"ts": T0 + 0.6, "task_id": f"{RUN}/s01/speech", "kind": "task_done",
         "message": "speech s01", "data": {"worker": "speech", "data": {"engine": "espeak"}}},
        {"ts": T0 + 18.0, "task_id": None, "kind": "run_done", "message": "final", "data": {}},
    ]  # fmt: skip
    run = {"id": RUN, "concept": HOSTILE, "duration": 4.0, "state": "done", "run_dir": "x",
           "farm": FARM, "settings": {}, "final_path": "x/final.mp4", "error": None,
           "created_at": T0 - 1, "updated_at": T0 + 18.0}  # fmt: skip
    artifacts = [
        {"kind": "final", "task_id": f"{RUN}/assemble", "path": "x/final.mp4", "size": 1000,
         "media": {"duration_s": 4.0, "width": 160, "height": 96, "fps": 24.0,
                   "video_codec": "h264", "audio_codec": "aac"}},
    ]  # fmt: skip
    return {"run": run, "shots": SHOTS, "tasks": tasks, "attempts": attempts,
            "events": events, "artifacts": artifacts}  # fmt: skip


def record(workdir: Path) -> Path:
    """Record the same run in a real run database (real keyframe PNGs); returns its folder."""
    run_dir = workdir / RUN
    (run_dir / "keyframes").mkdir(parents=True)
    colours = {"s01": (30, 90, 60), "s02": (140, 40, 40)}
    for sid, colour in colours.items():
        Image.new("RGB", (160, 96), colour).save(run_dir / "keyframes" / f"{sid}.png")
    data = rows()
    with Store.for_workdir(workdir) as store:
        store.create_run(RUN, plan={"concept": HOSTILE, "duration": 4.0, "shots": SHOTS},
                         run_dir=run_dir, farm=FARM)  # fmt: skip
        store.add_tasks(
            RUN,
            [{"id": t.id, "kind": t.kind, "shot_id": t.shot_id, "deps": []} for t in data["tasks"]],
        )
        store.add_event(RUN, "run_started", "8 tasks")
        for tid, worker, *_rest, state, error in ATTEMPTS:
            a = store.start_attempt(f"{RUN}/{tid}", RUN, worker, f"p-{tid}-{worker}")
            store.set_attempt_state(a, TaskState.running)
            time.sleep(0.01)
            store.set_attempt_state(a, TaskState(state), error=error)
            if state == "failed":
                why = {"worker": worker, "data": {"action": "retry_elsewhere"}}
                message = f"clip s01 on {worker}: {error}"
                store.add_event(RUN, "task_failed", message, task_id=f"{RUN}/{tid}", data=why)
            else:
                store.set_task_state(f"{RUN}/{tid}", TaskState.done)
        for sid in colours:
            path = run_dir / "keyframes" / f"{sid}.png"
            store.add_artifact(RUN, f"{RUN}/{sid}/keyframe", "keyframe", path, {})
        store.set_run_state(RUN, RunState.done)
        store.add_event(RUN, "run_done", "done")
    return run_dir
