"""Reading the files a user hands us: shot lists, farm files, workflows and bindings.

One place that holds every such file to its limits, so that a hostile or broken file gets one
line naming what is wrong instead of a hang or a traceback: a regular file (not a folder, a
FIFO or /dev/zero) of at most ``limits.MAX_FILE_BYTES``, text in UTF-8, and JSON or YAML
nested at most ``limits.MAX_NESTING`` levels deep (the parsers recurse: a file nested 200 000
deep would raise RecursionError). Parse errors are told on one line, with the line and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from videofactory.errors import FactoryError
from videofactory.limits import MAX_FILE_BYTES, MAX_NESTING

__all__ = [
    "check_picture",
    "nesting_depth",
    "parse_json",
    "parse_yaml",
    "read_text",
    "yaml_error_line",
]


# libyaml's safe loader when PyYAML was built with it (the wheels are): fast, and it refuses
# nesting past 1000 levels itself instead of recursing like the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path, what: str, error: type[FactoryError]) -> str:
    """The UTF-8 text of the user's file ``path`` (``what`` it is, e.g. "shot list")."""
    path = Path(path)
    try:
        if path.is_dir():
            raise error(f"{what} {path} is a folder; pass the file itself")
        if path.exists() and not path.is_file():
            raise error(f"{what} {path} is not a regular file (a device or a pipe?)")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(
                f"{what} {path} is {size / 2**20:,.0f} MB, over the limit of "
                f"{MAX_FILE_BYTES // 2**20} MB; is it the right file?"
            )
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not a text file (not UTF-8 at byte {exc.start})") from exc


#: The first bytes of the picture formats a ComfyUI LoadImage reads (PNG, JPEG, WebP).
PICTURE_MAGIC = {
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "JPEG": (b"\xff\xd8\xff",),
    "WebP": (b"RIFF",),
}


def check_picture(path: Path, what: str, error: type[FactoryError]) -> Path:
    """The user's picture ``path`` (``what`` it is, e.g. "look picture 'setting'"), checked to
    be a readable PNG, JPEG or WebP file of at most ``MAX_FILE_BYTES`` by its first bytes (not
    its name): a missing, unreadable, empty or renamed file is told now, not on a server."""
    path = Path(path)
    try:
        if not path.exists():
            raise error(f"{what}: {path} does not exist; give the path of a PNG, JPEG or WebP")
        if path.is_dir():
            raise error(f"{what}: {path} is a folder; give the picture file itself")
        if not path.is_file():
            raise error(f"{what}: {path} is not a regular file (a device or a pipe?)")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(
                f"{what}: {path} is {size / 2**20:,.0f} MB, over the limit of "
                f"{MAX_FILE_BYTES // 2**20} MB; give a smaller picture"
            )
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if not webp and not any(
        head.startswith(m) for name, ms in PICTURE_MAGIC.items() if name != "WebP" for m in ms
    ):
        kind = "empty" if not head else "not a PNG, JPEG or WebP picture"
        raise error(f"{what}: {path} is {kind}; give a PNG, JPEG or WebP file")
    return path


def parse_json(text: str, source: str, error: type[FactoryError], hint: str = "") -> Any:
    """JSON from the user's file ``source``; ``hint`` ends a syntax error's message."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise error(_too_deep(source)) from None
    except ValueError as exc:
        raise error(f"{source} is not valid JSON ({exc}){'; ' + hint if hint else ''}") from exc
    _check_depth(data, source, error)
    return data


def parse_yaml(text: str, source: str, error: type[FactoryError]) -> Any:
    """YAML (or JSON, which is YAML) from the user's file ``source``, with safe tags only."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise error(_too_deep(source)) from None
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):
            raise error(_too_deep(source)) from None
        raise error(f"{source} is not valid YAML: {yaml_error_line(exc)}") from exc
    _check_depth(data, source, error)
    return data


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: what is wrong and where ("line 3, column 5")."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{what}{where}"
    return " ".join(str(exc).split())


def nesting_depth(data: Any, limit: int = MAX_NESTING) -> int:
    """How deeply lists and mappings nest in ``data`` (a scalar is 0), counted without
    recursion; stops counting once past ``limit``.

    YAML aliases share one object between many places (and can make a list hold itself): a
    container is walked again only when reached deeper than before, so a "billion laughs"
    file costs what its distinct containers cost, and a cycle ends at ``limit``.
    """
    deepest = 0
    reached: dict[int, int] = {}
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if reached.get(id(item), -1) >= depth:
            continue
        reached[id(item)] = depth
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def _check_depth(data: Any, source: str, error: type[FactoryError]) -> None:
    if nesting_depth(data) > MAX_NESTING:
        raise error(_too_deep(source))


def _too_deep(source: str) -> str:
    return (
        f"{source} is nested more than {MAX_NESTING} levels deep; no workflow, shot list or "
        "farm file needs that many: is it the right file?"
    )
