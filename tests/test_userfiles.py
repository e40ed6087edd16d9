"""The limits every user file, URL and shot list is held to (pure: data in, data out)."""

from __future__ import annotations

import pytest

from videofactory.config import check_url
from videofactory.errors import ConfigError, ShotListError
from videofactory.limits import MAX_NESTING, MAX_SHOTS
from videofactory.shotlist import _count_shots, parse_shotlist
from videofactory.userfiles import (
    nesting_depth,
    parse_json,
    parse_yaml,
    read_text,
)

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


@pytest.mark.parametrize("parse", [parse_json, parse_yaml])
@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000 + "]" * 200_000,  # past every parser's own limit
        '{"a":' * 200_000 + "1" + "}" * 200_000,
        "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1),  # parses, then refused
    ],
)
def test_deep_nesting_is_refused_with_the_depth_named(parse, text):
    with pytest.raises(ConfigError, match=f"f.json is nested more than {MAX_NESTING} levels"):
        parse(text, "f.json", ConfigError)


def test_nesting_up_to_the_limit_is_fine():
    text = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert nesting_depth(parse_json(text, "f.json", ConfigError)) == MAX_NESTING
    assert nesting_depth({"a": [1, {"b": []}], "c": 2}) == 4 and nesting_depth(7) == 0


def test_yaml_aliases_cost_their_containers_not_their_expansion():
    # "billion laughs": 10 levels of 9 references each would be 9**10 items to walk
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(9)
    )
    assert nesting_depth(parse_yaml(text, "lol.yaml", ConfigError)) == 11
    with pytest.raises(ConfigError, match="nested more than"):  # a list holding itself
        parse_yaml("a: &a [*a]\n", "cycle.yaml", ConfigError)


@pytest.mark.parametrize(
    "text,message",
    [
        ("a: [\n", "f.yaml is not valid YAML: while parsing a flow node; did not find "
         "expected node content at line 2, column 1"),
        ("a: b\n c: d\n", "mapping values are not allowed in this context at line 2, column 3"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
    ],
)  # fmt: skip
def test_yaml_errors_are_one_line(text, message):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "f.yaml", ConfigError)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_read_text_refuses_what_is_not_a_text_file(tmp_path):
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    cases = {
        tmp_path: "is a folder; pass the file itself",
        tmp_path / "missing.yaml": "cannot read shot list",
        tmp_path / "bin": "is not a text file (not UTF-8 at byte 0)",
    }
    cases[tmp_path.__class__("/dev/zero")] = "is not a regular file"
    for path, message in cases.items():
        with pytest.raises(ShotListError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_text(path, "shot list", ShotListError)


@pytest.mark.parametrize(
    "url,message",
    [
        ("http://127.0.0.1:99999", "has port 99999; a TCP port is 1 to 65535"),
        ("http://127.0.0.1:0", "has port 0"),
        ("http://h:abc", "has port abc"),
        ("http://127.0.0.1:8188\r\nX: y", "contains a carriage return (CR)"),
        ("http://127.0.0.1:8188\nX", "contains a line feed (LF)"),
        ("http://gpu box:8188", "contains a space"),
        ("http://h\x00", "contains the control character U+0000"),
        ("http://h\u200b", "contains the control character U+200B"),
        ("ftp://h", "must start with http:// or https://"),
        ("http://", "names no host"),
        ("http://:8188", "names no host"),
        ("http://[::1", "is not a URL (Invalid IPv6 URL)"),
        ("http://h:8188/comfy?x=1", "has a ?query or #fragment"),
        ("http://h:8188#top", "has a ?query or #fragment"),
    ],
)
def test_urls_are_checked_in_one_place(url, message):
    with pytest.raises(ConfigError) as info:
        check_url(url, "--url")
    assert message in str(info.value) and str(info.value).startswith("--url")


def test_good_urls_pass_unchanged_but_the_trailing_slash():
    assert check_url("http://127.0.0.1:8188/") == "http://127.0.0.1:8188"
    assert check_url("https://[::1]:443") == "https://[::1]:443"
    assert check_url("http://gpu-box") == "http://gpu-box"
    assert check_url("https://proxy/comfy/") == "https://proxy/comfy"  # a path prefix is fine


def _shotlist_text(n: int) -> str:
    shots = "".join(f"  - {{id: s{i}, duration: 2, prompt: p}}\n" for i in range(n))
    return f"concept: x\nduration: {2 * n}\nshots:\n{shots}"


def test_shots_are_counted_from_parser_events():
    assert _count_shots(_shotlist_text(3)) == 3
    assert _count_shots(_shotlist_text(MAX_SHOTS + 50)) == MAX_SHOTS + 1  # stops counting
    # only the top-level list counts; flow style and nested lists too
    assert _count_shots("x: {shots: [1, 2, 3]}\nshots: [1, [2, 3], {a: [4]}]\n") == 3
    assert _count_shots("concept: x\n") == 0 and _count_shots("shots: [\n") == 0


def test_the_shot_limit_holds_for_data_too():
    data = {
        "concept": "x",
        "duration": 1.0 * (MAX_SHOTS + 1),
        "shots": [{"id": f"s{i}", "duration": 1.0, "prompt": "p"} for i in range(MAX_SHOTS + 1)],
    }
    with pytest.raises(ShotListError, match=f"{MAX_SHOTS + 1:,} shots, over the limit of "):
        parse_shotlist(data)
    data["shots"] = data["shots"][:MAX_SHOTS]
    data["duration"] = 1.0 * MAX_SHOTS
    assert len(parse_shotlist(data).shots) == MAX_SHOTS
