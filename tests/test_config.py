"""Farm files: found via flag, env, cwd; errors name the field; the built-in farm is the seed's."""

from __future__ import annotations

import pytest

from videofactory.config import FARM_ENV, builtin_farm, find_farm_file, load_farm, resolve_farm
from videofactory.errors import ConfigError

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

GOOD = """
name: home
workers:
  - {id: gpu0, card: RTX 5090, vram_gb: 32, roles: [primary, worker], url: "http://10.0.0.2:8188"}
  - {id: gpu1, card: RTX 3090, vram_gb: 24, roles: [worker],
     url: "http://10.0.0.3:8188/", speed: 0.55}
"""


def test_builtin_farm_is_the_seed():
    farm = builtin_farm()
    assert [(w.id, w.card, w.vram_gb) for w in farm.workers] == [
        ("gpu0", "RTX 5090", 32),
        ("gpu1", "RTX 3090", 24),
        ("gpu2", "RTX 3090", 24),
        ("gpu3", "RTX 3090", 24),
        ("gpu4", "RTX 3090", 24),
        ("gpu5", "RTX 4080 Super", 16),
    ]
    assert [r.value for r in farm.worker("gpu5").roles] == ["control"]
    assert farm.simulated


def test_find_order(tmp_path, monkeypatch):
    monkeypatch.delenv(FARM_ENV, raising=False)
    assert find_farm_file(None, cwd=tmp_path) is None
    (tmp_path / "factory.yaml").write_text(GOOD)
    assert find_farm_file(None, cwd=tmp_path) == tmp_path / "factory.yaml"
    other = tmp_path / "other.yaml"
    other.write_text(GOOD)
    monkeypatch.setenv(FARM_ENV, str(other))
    assert find_farm_file(None, cwd=tmp_path) == other
    assert find_farm_file(tmp_path / "factory.yaml") == tmp_path / "factory.yaml"
    with pytest.raises(ConfigError, match="does not exist"):
        find_farm_file(tmp_path / "missing.yaml")


def test_load_good(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(GOOD)
    farm = load_farm(path)
    assert farm.worker("gpu1").url == "http://10.0.0.3:8188"
    assert not farm.simulated


@pytest.mark.parametrize(
    "text,match",
    [
        ("workers: []", "at least one worker"),
        ("workers:\n  - {id: a, url: 'http://x'}\n  - {id: a, url: 'http://y'}", "unique"),
        ("workers:\n  - {id: a, url: 'ftp://x'}", r"workers\.0\.url"),
        ("workers:\n  - {id: a, url: 'http://x', vram: 3}", "unknown field"),
        ("workers:\n  - {id: a}", "have no url"),
        ("workers: [", "not valid YAML"),
        ("- a\n- b", "must be a mapping"),
    ],
)
def test_load_bad(tmp_path, text, match):
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_farm(path)


def test_resolve_without_file_is_builtin(tmp_path, monkeypatch):
    monkeypatch.delenv(FARM_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_farm(None).simulated
