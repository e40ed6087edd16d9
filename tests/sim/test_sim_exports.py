"""The public API of videofactory.sim is what __all__ says."""

from __future__ import annotations

import videofactory.sim as sim


def test_all_matches_public_names() -> None:
    public = {name for name in dir(sim) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(sim, name)).__name__ == "module"}
    assert set(sim.__all__) == public - modules - {"annotations"}  # the __future__ import
    for name in sim.__all__:
        assert getattr(sim, name).__doc__, name
