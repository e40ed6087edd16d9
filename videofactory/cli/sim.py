"""``videofactory sim``: a simulated ComfyUI farm in the foreground, or one server standing in
for ComfyUI when started with ComfyUI's own flags (as the farm launcher does)."""

from pathlib import Path
from typing import Any

import typer

from videofactory.cli.options import err, errors, example
from videofactory.constants import DEFAULT_SIM_PORT

__all__ = ["SIM_EPILOG", "sim"]

SIM_EPILOG = example(
    "videofactory sim --workers 6 --port 8188 --time-scale 0.1 "
    "--fail-rate 0.05 --http-error-rate 0.1 --fault gpu2:crash_after=3"
)


@errors
def sim(
    ctx: typer.Context,
    workers: int = typer.Option(6, "--workers", "-n", min=1, max=64, help="Simulated GPUs."),
    port: int = typer.Option(
        DEFAULT_SIM_PORT, "--port", help="First port; one port per GPU (0: any free ones)."
    ),
    root: Path = typer.Option(Path("sim-farm"), "--root", help="Folder for the servers' files."),
    time_scale: float = typer.Option(
        0.0,
        "--time-scale",
        min=0.0,
        help="Real seconds per modelled GPU second (each card at its own speed); 0 = CPU speed.",
    ),
    fail_rate: float | None = typer.Option(
        None, "--fail-rate", help="Chance a prompt fails with a CUDA error (every worker)."
    ),
    oom_above_gb: float | None = typer.Option(
        None, "--oom-above-gb", help="Out of memory when a prompt needs more VRAM than this."
    ),
    oom_kill_above_gb: float | None = typer.Option(
        None,
        "--oom-kill-above-gb",
        help="The server is killed (as by the kernel's OOM killer) when a prompt needs more "
        "than this.",
    ),
    hang_rate: float | None = typer.Option(
        None, "--hang-rate", help="Chance a render hangs mid-way until /interrupt."
    ),
    hang_after: int | None = typer.Option(
        None, "--hang-after", help="The prompt after this many hangs."
    ),
    crash_after: int | None = typer.Option(
        None, "--crash-after", help="The server dies in the middle of the prompt after this many."
    ),
    drop_ws_rate: float | None = typer.Option(
        None, "--drop-ws-rate", help="Chance every websocket is cut mid-prompt."
    ),
    corrupt_rate: float | None = typer.Option(
        None, "--corrupt-rate", help="Chance saved files are overwritten with undecodable bytes."
    ),
    http_error_rate: float | None = typer.Option(
        None,
        "--http-error-rate",
        help="Chance an HTTP request is answered 500 (half of them after taking effect).",
    ),
    slow_start: float | None = typer.Option(
        None, "--slow-start", help="Seconds each server waits before listening."
    ),
    leak_mb_per_job: float | None = typer.Option(
        None, "--leak-mb-per-job", help="Megabytes each prompt leaves behind (memory grows)."
    ),
    fault_seed: int | None = typer.Option(None, "--fault-seed", help="Seed of the fault draws."),
    listen: str = typer.Option(
        "127.0.0.1",
        "--listen",
        help="Address(es) to listen on. Any but loopback needs --i-know-this-is-exposed.",
    ),
    exposed_ok: bool = typer.Option(
        False,
        "--i-know-this-is-exposed",
        help="Allow a --listen address other than loopback (0.0.0.0, a LAN address): like "
        "ComfyUI, the servers have no authentication.",
    ),
    restart: bool = typer.Option(
        False,
        "--restart",
        help="Start a server that dies again on its port, as `farm up` does (back-off 1, 2, "
        "5, 10, 30 s; given up after 5 in a row).",
    ),
    cuda_device: int | None = typer.Option(
        None,
        "--cuda-device",
        min=0,
        help="Stand in for one ComfyUI server on GPU N: one simulated card, the seed's gpuN.",
    ),
    output_directory: Path | None = typer.Option(
        None, "--output-directory", help="ComfyUI's flag (one server)."
    ),
    input_directory: Path | None = typer.Option(
        None, "--input-directory", help="ComfyUI's flag (one server)."
    ),
    temp_directory: Path | None = typer.Option(
        None, "--temp-directory", help="ComfyUI's flag (one server)."
    ),
    base_directory: Path | None = typer.Option(
        None, "--base-directory", help="ComfyUI's flag (one server)."
    ),
    fault: list[str] = typer.Option(
        [],
        "--fault",
        help="Faults of one worker, WORKER:NAME=VALUE[,NAME=VALUE] (repeatable), "
        "e.g. gpu2:crash_after=3.",
    ),
) -> None:
    """Run a simulated ComfyUI farm in the foreground (one server per GPU) until Ctrl-C.

    Cards model their VRAM and speed; fault flags hit every worker, --fault just one.

    Faults can also be changed while it runs: POST /sim/faults to a server. A server that dies
    stays down (the dispatcher's failover is what a fault shows) unless --restart is given.

    The servers listen on 127.0.0.1: they have no authentication, like ComfyUI, so another
    address is refused unless --i-know-this-is-exposed says you mean it (then with a warning).

    Given ComfyUI's own flags (--cuda-device, --output-directory, ...) it stands in for one
    ComfyUI server, as the farm launcher starts it; other ComfyUI flags are ignored.
    """
    from videofactory.config import builtin_farm
    from videofactory.errors import ConfigError
    from videofactory.exposure import (
        exposed_addresses,
        exposed_allowed,
        exposure_refusal,
        exposure_warning,
    )
    from videofactory.sim.farm import RestartPolicy, SimWorkerSpec, main_foreground, with_faults
    from videofactory.sim.options import check_ports

    seed = builtin_farm().workers
    dirs = {
        "--output-directory": output_directory,
        "--input-directory": input_directory,
        "--temp-directory": temp_directory,
        "--base-directory": base_directory,
    }
    single = cuda_device is not None or any(v is not None for v in dirs.values())
    check_ports(port, 1 if single else workers)
    if exposed_addresses(listen):
        # The farm launcher says yes for the servers it starts through the environment.
        exposed_ok = exposed_allowed(exposed_ok)
        if not exposed_ok:
            raise ConfigError(exposure_refusal(listen))
        if not single:  # one server standing in for ComfyUI says it itself
            err.print(f"[yellow]warning:[/] {exposure_warning(listen)}", highlight=False)
    if ctx.args:
        err.print(f"note: ignoring {' '.join(ctx.args)} (nothing to the simulator)", markup=False)
    first = cuda_device or 0
    specs = []
    for i in range(first, first + 1) if single else range(workers):
        w = seed[i] if i < len(seed) else seed[1].model_copy(update={"id": f"gpu{i}"})
        specs.append(
            SimWorkerSpec(
                name=w.id,
                card=w.card,
                vram_gb=w.vram_gb,
                port=port if single or port == 0 else port + i,
                gpu_speed=w.speed,
                time_scale=time_scale,
            )
        )
    common = {
        "fail_rate": fail_rate,
        "oom_above_gb": oom_above_gb,
        "oom_kill_above_gb": oom_kill_above_gb,
        "hang_rate": hang_rate,
        "hang_after": hang_after,
        "crash_after": crash_after,
        "drop_ws_rate": drop_ws_rate,
        "corrupt_rate": corrupt_rate,
        "http_error_rate": http_error_rate,
        "slow_start_s": slow_start,
        "leak_mb_per_job": leak_mb_per_job,
        "seed": fault_seed,
    }
    specs = with_faults(specs, {k: v for k, v in common.items() if v is not None}, fault)
    if single:
        raise typer.Exit(_sim_one(specs[0], listen, cuda_device or 0, dirs, root, exposed_ok))
    policy = RestartPolicy.from_launcher() if restart else None
    main_foreground(specs, root, listen=listen, exposed_ok=exposed_ok, restart=policy)


def _sim_one(
    spec: Any, listen: str, cuda_device: int, dirs: dict[str, Any], root: Path, exposed_ok: bool
) -> int:
    """Serve one simulated GPU in this process, like the ComfyUI server it stands in for."""
    from videofactory.exposure import EXPOSED_FLAG
    from videofactory.sim.__main__ import main as sim_main
    from videofactory.sim.farm import fault_args

    argv = ["--listen", listen, "--port", str(spec.port), "--name", spec.name]
    argv += [EXPOSED_FLAG] if exposed_ok else []
    argv += ["--card", spec.card, "--vram-gb", str(spec.vram_gb), "--gpu-speed"]
    argv += [str(spec.gpu_speed), "--time-scale", str(spec.time_scale)]
    argv += ["--cuda-device", str(cuda_device), *fault_args(spec.faults)]
    if all(v is None for v in dirs.values()):
        dirs = {"--base-directory": root / spec.name}
    for flag, value in dirs.items():
        if value is not None:
            argv += [flag, str(value)]
    return sim_main(argv)
