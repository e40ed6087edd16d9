"""`farm up` typed in a folder holding ``json.py``, ``concurrent.py`` ...: neither the supervisor
nor a simulated server it starts (``{python} -m videofactory.sim``) imports them."""

from __future__ import annotations

from pathlib import Path

import pytest
from subprocs import shadowed, shadowing_folder

from videofactory.launcher import farm_up

from .conftest import Farms


def test_supervisor_and_servers_ignore_the_folder_farm_up_is_typed_in(
    farms: Farms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = farms.write([{"id": "gpu0"}, {"id": "gpu1"}])
    farm = farms.load(path)
    user = shadowing_folder(tmp_path / "user")
    monkeypatch.chdir(user)
    up = farm_up(farm, path)  # the supervisor: a process of its own, started here
    assert up["failures"] == [], up["failures"]
    assert up["supervisor"]["running"]
    assert all(r["reachable"] and r["process"] == "up" for r in up["workers"]), up["workers"]
    assert shadowed(user) == []
