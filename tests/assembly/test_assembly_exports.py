"""The package's public names are exactly its ``__all__``."""

from __future__ import annotations

import types

import videofactory.assembly as assembly


def test_exports_match_all() -> None:
    # Most names are imported on first use (videofactory.lazy): ask for each one first.
    for name in assembly.__all__:
        assert getattr(assembly, name) is not None, name
    public = {
        name
        for name, value in vars(assembly).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert sorted(assembly.__all__) == sorted(public)
