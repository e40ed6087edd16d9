"""The server's three folders and ComfyUI's rules for naming, finding and serving files in them.

The rules follow ``folder_paths.py`` and the ``/view`` and ``/upload/image`` handlers of
ComfyUI 0.3.64: annotated names (``x.png [output]``), the ``<prefix>_00001_.ext`` counter per
folder, ``%width%``-style substitutions, and the checks that keep paths inside their folder.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import time
from dataclasses import dataclass

__all__ = ["Folders", "SavePath", "UploadError", "content_type", "get_save_path"]

#: Types the host's mimetypes table may lack or get wrong; ComfyUI registers webp itself.
_EXTRA_TYPES = {
    ".webp": "image/webp",
    ".flac": "audio/flac",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".png": "image/png",
}

#: Served as downloads, never rendered, like ComfyUI does for safety.
_FORCE_DOWNLOAD = {
    "text/html",
    "text/html-sandboxed",
    "application/xhtml+xml",
    "text/javascript",
    "text/css",
}


def content_type(filename: str) -> str:
    """Content-Type that /view sends for a file name."""
    ext = os.path.splitext(filename)[1].lower()
    guessed = (
        _EXTRA_TYPES.get(ext) or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    )
    return "application/octet-stream" if guessed in _FORCE_DOWNLOAD else guessed


def media_kind(filename: str) -> str | None:
    """'image', 'video', 'audio' ... from the extension (ComfyUI's content-type filter)."""
    ctype = content_type(filename)
    return None if ctype == "application/octet-stream" else ctype.split("/")[0]


class UploadError(Exception):
    """An upload that ComfyUI answers with 400 and an empty body."""


@dataclass(frozen=True)
class SavePath:
    """Where a save node writes: folder, base name, first counter, subfolder for the UI."""

    folder: str
    filename: str
    counter: int
    subfolder: str


class Folders:
    """output/, input/ and temp/ of one server (absolute, created on construction)."""

    def __init__(
        self, output: str | os.PathLike, input: str | os.PathLike, temp: str | os.PathLike
    ) -> None:
        self.output = os.path.abspath(output)
        self.input = os.path.abspath(input)
        self.temp = os.path.abspath(temp)
        for d in (self.output, self.input, self.temp):
            os.makedirs(d, exist_ok=True)

    def by_type(self, kind: str | None) -> str | None:
        """Folder for a ``type`` value (output/input/temp), None for anything else."""
        return {"output": self.output, "input": self.input, "temp": self.temp}.get(kind or "")

    def annotated(self, name: str) -> tuple[str, str | None]:
        """Split ``name [output]`` into the name and the folder it selects (None: no suffix)."""
        for kind in ("output", "input", "temp"):
            suffix = f"[{kind}]"
            if name.endswith(suffix):
                return name[: -len(suffix) - 1], self.by_type(kind)
        return name, None

    def annotated_path(self, name: str, default_dir: str | None = None) -> str:
        """Absolute path of a LoadImage/LoadVideo/LoadAudio value (input/ unless annotated)."""
        name, base = self.annotated(name)
        return os.path.join(base or default_dir or self.input, name)

    def exists_annotated(self, name: str) -> bool:
        """Whether a loader's file exists. Unlike ComfyUI, a path escaping its folder never does."""
        stripped, base = self.annotated(name)
        base = base or self.input
        path = os.path.abspath(os.path.join(base, stripped))
        if os.path.commonpath((base, path)) != base:
            return False
        return os.path.exists(path)

    def input_files(self, kinds: set[str]) -> list[str]:
        """Sorted top-level files of input/ whose media kind is in ``kinds`` (combo options)."""
        try:
            names = [
                f for f in os.listdir(self.input) if os.path.isfile(os.path.join(self.input, f))
            ]
        except FileNotFoundError:
            return []
        return sorted(f for f in names if media_kind(f) in kinds)

    # -- /view -------------------------------------------------------------------------------

    def view_path(self, query: dict[str, str]) -> tuple[int, str | None]:
        """Resolve /view's query to (status, file). 200 comes with a path, the rest without."""
        if "filename" not in query:
            return 404, None
        filename, folder = self.annotated(query["filename"])
        if not filename:
            return 400, None
        # Never serve outside the three folders.
        if filename[0] == "/" or ".." in filename:
            return 400, None
        if folder is None:
            folder = self.by_type(query.get("type", "output"))
        if folder is None:
            return 400, None
        if "subfolder" in query:
            full = os.path.join(folder, query["subfolder"])
            if os.path.commonpath((os.path.abspath(full), folder)) != folder:
                return 403, None
            folder = full
        path = os.path.join(folder, os.path.basename(filename))
        return (200, path) if os.path.isfile(path) else (404, None)

    # -- /upload/image -----------------------------------------------------------------------

    def save_upload(
        self, kind: str | None, subfolder: str, filename: str, data: bytes, overwrite: bool
    ) -> dict[str, str]:
        """Store an upload with ComfyUI's duplicate/rename rule; returns the JSON answer.

        Raises ``KeyError`` for an unknown ``type`` (ComfyUI answers 500) and ``UploadError``
        for a missing name or a path that escapes (400).
        """
        kind = kind or "input"
        folder = self.by_type(kind)
        if folder is None:
            raise KeyError(kind)
        if not filename:
            raise UploadError("no filename")
        target_dir = os.path.join(folder, os.path.normpath(subfolder))
        path = os.path.abspath(os.path.join(target_dir, filename))
        if os.path.commonpath((folder, path)) != folder:
            raise UploadError("path escapes the upload folder")
        os.makedirs(target_dir, exist_ok=True)
        stem, ext = os.path.splitext(filename)
        duplicate = False
        if not overwrite:
            digest = hashlib.sha256(data).hexdigest()
            i = 1
            while os.path.exists(path):
                if _sha256(path) == digest:  # same bytes under this name: reuse, write nothing
                    duplicate = True
                    break
                filename = f"{stem} ({i}){ext}"
                path = os.path.join(target_dir, filename)
                i += 1
        if not duplicate:
            with open(path, "wb") as f:
                f.write(data)
        return {"name": filename, "subfolder": subfolder, "type": kind}


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _substitute(prefix: str, width: int, height: int) -> str:
    now = time.localtime()
    values = {
        "%width%": str(width),
        "%height%": str(height),
        "%year%": str(now.tm_year),
        "%month%": f"{now.tm_mon:02}",
        "%day%": f"{now.tm_mday:02}",
        "%hour%": f"{now.tm_hour:02}",
        "%minute%": f"{now.tm_min:02}",
        "%second%": f"{now.tm_sec:02}",
    }
    for key, value in values.items():
        prefix = prefix.replace(key, value)
    return prefix


def get_save_path(prefix: str, output_dir: str, width: int = 0, height: int = 0) -> SavePath:
    """ComfyUI's ``get_save_image_path``: subfolder from ``/``, next free counter, or raise."""
    if "%" in prefix:
        prefix = _substitute(prefix, width, height)
    base_len = len(os.path.basename(prefix))
    subfolder = os.path.dirname(os.path.normpath(prefix))
    filename = os.path.basename(os.path.normpath(prefix))
    folder = os.path.join(output_dir, subfolder)
    common = os.path.commonpath((output_dir, os.path.abspath(folder)))
    if common != output_dir:
        raise Exception(
            "**** ERROR: Saving image outside the output folder is not allowed."
            f"\n full_output_folder: {os.path.abspath(folder)}"
            f"\n         output_dir: {output_dir}"
            f"\n         commonpath: {common}"
        )

    def counter_of(name: str) -> tuple[int, str]:
        # Same parsing as ComfyUI: "<base>_" then digits up to the next "_".
        head = name[: base_len + 1]
        try:
            digits = int(name[base_len + 1 :].split("_")[0])
        except ValueError:
            digits = 0
        return digits, head

    try:
        taken = [
            c
            for c, head in map(counter_of, os.listdir(folder))
            if os.path.normcase(head[:-1]) == os.path.normcase(filename) and head[-1:] == "_"
        ]
        counter = max(taken) + 1 if taken else 1
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        counter = 1
    return SavePath(folder=folder, filename=filename, counter=counter, subfolder=subfolder)
