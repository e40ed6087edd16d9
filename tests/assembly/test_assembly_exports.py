"""The package's public names are exactly its ``__all__``."""

from __future__ import annotations

import videofactory.assembly as assembly

SUBMODULES = {"annotations", "ffmpeg", "probe", "render", "timeline"}


def test_exports_match_all() -> None:
    public = {name for name in dir(assembly) if not name.startswith("_")} - SUBMODULES
    assert sorted(assembly.__all__) == sorted(public)
