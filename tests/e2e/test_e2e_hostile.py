"""Hostile and broken input, as a user types it: one line saying what is wrong and how to fix
it, a non-zero exit code, never a traceback, and nothing written before the refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from subprocs import run_cli

from .conftest import REPO

#: A shot list with one shot, for the variations below.
ONE_SHOT = "concept: x\nduration: {total}\n{extra}shots:\n{shots}"


def _shots(*shots: tuple[str, float]) -> str:
    return "".join(f"  - {{id: {i}, duration: {d}, prompt: p}}\n" for i, d in shots)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A folder of hostile files; the commands run in it."""
    d = tmp_path_factory.mktemp("hostile")
    (d / "afile").write_text("not a folder\n")
    (d / "adir").mkdir()
    (d / "adir" / "factory.yaml").write_text("workers: [{id: g, url: 'http://127.0.0.1:9'}]\n")
    (d / "deep.json").write_text('{"a":' * 200_000 + "1" + "}" * 200_000)
    (d / "deep.yaml").write_text("x: " + "[" * 200_000 + "]" * 200_000)
    (d / "deepfarm.yaml").write_text("workers: " + "[" * 5000 + "]" * 5000)

    def farm(name: str, url: str) -> None:
        (d / name).write_text(f"workers:\n  - {{id: g, card: X, vram_gb: 8, url: {url}}}\n")

    farm("unreachable.yaml", "'http://127.0.0.1:9'")
    farm("port99999.yaml", "'http://127.0.0.1:99999'")
    farm("crlf.yaml", '"http://127.0.0.1:8188\\r\\nX-Injected: 1"')
    farm("port0.yaml", "'http://127.0.0.1:0'")
    farm("space.yaml", "'http://gpu box:8188'")
    workers = "".join(
        f"  - {{id: g{i}, url: 'http://127.0.0.1:{10000 + i}'}}\n" for i in range(10_000)
    )
    (d / "f10k.yaml").write_text("workers:\n" + workers)
    big = "".join(f"  - {{id: s{i}, duration: 0.1, prompt: a}}\n" for i in range(100_000))
    (d / "big.yaml").write_text(f"concept: x\nduration: 10000\nshots:\n{big}")
    one = _shots(("a", 4))
    (d / "dup.yaml").write_text(ONE_SHOT.format(total=4, extra="", shots=_shots(("a", 2)) * 2))
    (d / "zero.yaml").write_text(
        ONE_SHOT.format(total=4, extra="", shots=_shots(("a", 0), ("b", 4)))
    )
    (d / "subframe.yaml").write_text(
        ONE_SHOT.format(total=4, extra="", shots=_shots(("a", 0.001), ("b", 3.999)))
    )
    (d / "nan.yaml").write_text(ONE_SHOT.format(total=".nan", extra="", shots=one))
    (d / "odd.yaml").write_text(ONE_SHOT.format(total=4, extra="width: 1281\n", shots=one))
    (d / "fps0.yaml").write_text(ONE_SHOT.format(total=4, extra="fps: 0\n", shots=one))
    (d / "broken.bindings.yaml").write_text("seed: [\n")
    (d / "ghost.bindings.yaml").write_text("prompt: {node: '99', input: text}\n")
    from videofactory.comfy.workflow import load_template

    (d / "clip.json").write_text(json.dumps(load_template("clip", "sim").graph))
    return d


# (argv, exit code, a fragment of the one line on stderr (or stdout for `test` steps))
CASES = [
    # -- item 8 of the issue, in its order --
    (["status", "--farm", "unreachable.yaml"], 1, "no worker of the farm is reachable"),
    (["plan", "x", "--fps", "0"], 1, "fps 0 is out of range; use 1 to 120 frames per second"),
    (["plan", "x", "--fps", "1000"], 1, "fps 1000 is out of range; use 1 to 120"),
    (["plan", "x", "--width", "-5"], 1, "width -5 is out of range; use an even number of "
     "pixels from 64 to 7680"),
    (["plan", "x", "--width", "1281"], 1, "width 1281 is odd; H.264 video (yuv420p) needs "
     "even sizes: use 1280 or 1282"),
    (["generate", "x", "-d", "4", "--workdir", "afile"], 1, "--workdir afile is a file, not "
     "a folder; pass --workdir a folder for the runs"),
    (["runs", "--workdir", "afile"], 1, "--workdir afile is a file, not a folder"),
    (["show", "r1", "--workdir", "afile/sub"], 1, "--workdir afile/sub: afile is a file"),
    (["test", "--sim", "--workflow", "deep.json"], 1, "workflow deep.json is nested more "
     "than 100 levels deep"),
    (["render", "deep.yaml"], 1, "shot list deep.yaml is nested more than 100 levels deep"),
    (["status", "--farm", "deepfarm.yaml"], 1, "farm file deepfarm.yaml is nested more "
     "than 100 levels deep"),
    (["status", "--farm", "port99999.yaml"], 1, "has port 99999; a TCP port is 1 to 65535"),
    (["status", "--farm", "port0.yaml"], 1, "has port 0; a TCP port is 1 to 65535"),
    (["status", "--farm", "crlf.yaml"], 1, "contains a carriage return (CR); write the URL "
     "on one line"),
    (["status", "--farm", "space.yaml"], 1, "contains a space"),
    (["test", "--url", "http://127.0.0.1:99999"], 1, "--url 'http://127.0.0.1:99999' has "
     "port 99999"),
    (["test", "--url", "http://127.0.0.1:8188\r\nX: y"], 1, "contains a carriage return"),
    (["test", "--url", "ftp://gpu0"], 1, "--url must start with http:// or https://"),
    (["sim", "--port", "-1", "-n", "1"], 1, "--port -1 is not a TCP port; use 1 to 65535 "
     "(ComfyUI's is 8188), or 0 for any free port"),
    (["sim", "--port", "99999"], 1, "--port 99999 is not a TCP port"),
    (["sim", "--port", "65535", "-n", "2"], 1, "needs ports up to 65536, past 65535"),
    (["render", "big.yaml", "--workdir", "wbig"], 1, "more than 5,400 shots, over the limit "
     "of 5,400 in one shot list (3 hours of 2-second shots)"),
    # -- more of the same kind --
    (["plan", "x", "--height", "0"], 1, "height 0 is out of range"),
    (["plan", "x", "--height", "4322"], 1, "height 4322 is out of range; use an even number "
     "of pixels from 64 to 4320"),
    (["plan", "x", "--fps", "0", "--width", "3"], 1, "width 3 is out of range"),
    (["plan", "x", "--clip-seconds", "0"], 1, "clip length 0 s is out of range; use 1 to 60"),
    (["plan", "x", "--clip-seconds", "nan"], 1, "clip length nan s is out of range"),
    (["generate", "x", "-d", "0", "--workdir", "w0"], 1, "positive number of seconds"),
    (["generate", "x", "-d", "-3", "--workdir", "w0"], 1, "positive number of seconds"),
    (["generate", "x", "-d", "1e9", "--workdir", "w0"], 1, "over the limit of 3 hours"),
    (["generate", "x", "-d", "nan", "--workdir", "w0"], 1, "positive number of seconds"),
    (["generate", "x", "-d", "inf", "--workdir", "w0"], 1, "positive number of seconds"),
    (["plan", "x" * 131_000], 1, "the concept is 131,000 characters long"),
    (["plan", "\x01\x02\x1b\u200b"], 1, "the concept is empty"),
    (["render", "dup.yaml", "--workdir", "w0"], 1, "shot id 'a' is used twice"),
    (["render", "zero.yaml", "--workdir", "w0"], 1, "shot 'a', field 'duration': 0 s is not "
     "a shot length"),
    (["render", "subframe.yaml", "--workdir", "w0"], 1, "shot 'a' lasts 0.001 s, less than "
     "one frame at 24 fps"),
    (["render", "nan.yaml", "--workdir", "w0"], 1, "duration: nan s is not a video length"),
    (["render", "odd.yaml", "--workdir", "w0"], 1, "width 1281 is odd"),
    (["render", "fps0.yaml", "--workdir", "w0"], 1, "fps 0 is out of range"),
    (["render", "/dev/zero", "--workdir", "w0"], 1, "shot list /dev/zero is not a regular file"),
    (["render", "adir", "--workdir", "w0"], 1, "shot list adir is a folder"),
    (["status", "--farm", "f10k.yaml"], 1, "10,000 workers, over the limit of 256 in one farm"),
    (["status", "--farm", "adir"], 1, "--farm adir is a folder; pass the farm file, e.g. "
     "adir/factory.yaml"),
    (["generate", "x", "--farm", "adir", "--workdir", "w0"], 1, "--farm adir is a folder"),
    (["test", "--sim", "--workflow", "clip.json", "--bindings", "broken.bindings.yaml"], 1,
     "bindings broken.bindings.yaml is not valid YAML: while parsing a flow node; did not "
     "find expected node content at line 2, column 1"),
    (["test", "--sim", "--workflow", "clip.json", "--bindings", "ghost.bindings.yaml"], 1,
     "binding 'prompt' names node 99, which the workflow lacks"),
    (["test", "--sim", "--workflow", "adir"], 1, "workflow adir is a folder"),
    (["test", "--sim", "--url", "http://127.0.0.1:8188"], 1, "leave out --url and --farm"),
    (["plan", "\U0001f525\U0001f525\U0001f525", "-d", "10", "--json"], 0, '"shots"'),
]  # fmt: skip


@pytest.mark.parametrize("argv,code,fragment", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_hostile_input_gets_one_line(hostile, argv, code, fragment):
    before = sorted(hostile.iterdir())
    res = run_cli(argv, cwd=hostile, timeout=120)
    both = res.stdout + res.stderr
    assert res.returncode == code, both[-3000:]
    assert fragment in both, both[-3000:]
    assert "Traceback" not in both, both[-3000:]
    if code:
        # the error is one line (a `test` step's failure is one line of the report)
        (line,) = [ln for ln in both.splitlines() if fragment[:40] in ln]
        assert fragment in line
        # refused before anything was written (no run folder, no run database)
        assert sorted(hostile.iterdir()) == before


def test_status_table_with_an_unreachable_worker(hostile):
    # The table (not --json) used to crash formatting the missing VRAM of a worker that
    # did not answer.
    res = run_cli(["status", "--farm", "unreachable.yaml"], cwd=hostile)
    assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr
    assert "http://127.0.0.1:9" in res.stdout and "no" in res.stdout
    assert "g: cannot reach ComfyUI at http://127.0.0.1:9" in res.stderr


def test_sim_port_zero_gives_every_server_a_free_port(tmp_path):
    # --port 0 with several servers: each on a port of its own (it used to give the second
    # one port 1).
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "videofactory", "sim", "--port", "0", "-n", "2", "--root",
         str(tmp_path / "farm")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    ports = [int(line.split()[1].rsplit(":", 1)[1]) for line in lines]
    assert all(p > 1024 for p in ports) and ports[0] != ports[1], lines
