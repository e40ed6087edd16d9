"""Lock files that this user's videofactory processes on this machine share.

They live in one folder of the temporary directory (not beside what they guard, which stays
clean): a ComfyUI server's submit slot (``farm/sharing.py``), an output being assembled
(``assembly/render.py``). The name is a hash of what is locked.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["lock_file"]


def lock_file(key: str, folder: Path | None = None) -> Path:
    """The lock file of ``key`` (any text naming what is locked), in ``folder`` if given."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    base = folder or Path(tempfile.gettempdir()) / f"videofactory-{uid}-locks"
    base.mkdir(parents=True, exist_ok=True)
    return base / f"{digest}.lock"
