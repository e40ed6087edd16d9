"""Shot lists: the plan of a video, as a model and as editable YAML.

A shot list is what the planner writes, what a person may edit, and what the factory renders.
Durations sum exactly to the video's duration; validation errors name the shot and the field.
"""

from __future__ import annotations

import math
import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from videofactory.constants import DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError, ShotListError
from videofactory.limits import (
    MAX_CONCEPT_CHARS,
    MAX_DURATION_SECONDS,
    MAX_FPS,
    MAX_SHOT_LENGTH_S,
    MAX_SHOTS,
    MAX_SIDES,
    MAX_TAKES,
    MIN_FPS,
    MIN_SHOT_SECONDS,
    MIN_SIDE,
)
from videofactory.timing import seconds_of
from videofactory.userfiles import check_picture, parse_yaml, read_text

# libyaml's parser and dumper when PyYAML was built with it (the wheels are): a long shot list
# is counted and written in milliseconds instead of seconds (userfiles loads it).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

__all__ = [
    "CameraMove",
    "PlannerLLM",
    "Shot",
    "ShotList",
    "ShotType",
    "aspect_of",
    "dump_shotlist",
    "fps_problem",
    "frame_for",
    "load_shotlist",
    "parse_shotlist",
    "reshaped",
    "size_problem",
    "with_transition",
]

#: Durations may differ from the total by this much (float rounding of frame-snapped lengths).
DURATION_TOLERANCE_S = 1e-3
#: An aspect and a resolution may disagree by this share (odd sizes rounded to even pixels).
ASPECT_TOLERANCE = 0.03
#: Aspects with a name people know; a resolution near one of them gets that name.
COMMON_ASPECTS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "2:1", "4:5", "3:2", "2:3")
#: Reference images the keyframe workflows can load.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def size_problem(name: str, value: int) -> str | None:
    """What is wrong with a frame width or height (``name``), or None when it is fine."""
    top = MAX_SIDES[name]
    if not MIN_SIDE <= value <= top:
        return (
            f"{name} {value} is out of range; use an even number of pixels from {MIN_SIDE} to "
            f"{top} (e.g. 1280x720)"
        )
    if value % 2:
        return (
            f"{name} {value} is odd; H.264 video (yuv420p) needs even sizes: use {value - 1} "
            f"or {value + 1}"
        )
    return None


def fps_problem(value: int) -> str | None:
    """What is wrong with a frame rate, or None when it is fine."""
    if not MIN_FPS <= value <= MAX_FPS:
        return (
            f"fps {value} is out of range; use {MIN_FPS} to {MAX_FPS} frames per second "
            "(24 for film, 30 or 60 for screens)"
        )
    return None


def _ratio(aspect: str) -> float:
    w, h = aspect.split(":")
    return int(w) / int(h)


def aspect_of(width: int, height: int) -> str:
    """The aspect of a resolution: "16:9" for 1280x720 (and for 854x480, nearly 16:9)."""
    ratio = width / height
    near = min(COMMON_ASPECTS, key=lambda a: abs(_ratio(a) - ratio))
    if abs(_ratio(near) - ratio) / ratio <= ASPECT_TOLERANCE:
        return near
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


_ASPECT_TEXT = re.compile(r"^\s*([1-9][0-9]{0,3})\s*[:x/]\s*([1-9][0-9]{0,3})\s*$")


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _aspect_parts(aspect: str) -> tuple[int, int]:
    """Width and height parts of an aspect ("9:16"), or a ConfigError saying how to write one."""
    match = _ASPECT_TEXT.match(aspect)
    if not match:
        raise ConfigError(
            f"aspect {aspect!r} is not a ratio; write width:height, e.g. 16:9, 9:16 (vertical, "
            "for phones) or 1:1"
        )
    return int(match.group(1)), int(match.group(2))


def frame_for(
    aspect: str | None, width: int | None = None, height: int | None = None
) -> tuple[int, int]:
    """The frame size of ``--aspect``, ``--width`` and ``--height`` as a user gives them.

    Without an aspect: the width and height (1280x720 for what is not given). With one: the
    side given sets the other; none given keeps the default short side (720: 9:16 is
    720x1280, 1:1 is 720x720); both given must agree with it.

    Raises:
        ConfigError: a side out of range (0 is not "not given"), an aspect that is no ratio,
            or one the width and height contradict.
    """
    for name, side in (("width", width), ("height", height)):
        problem = None if side is None else size_problem(name, side)
        if problem:
            raise ConfigError(problem)
    if aspect is None:
        return (
            width if width is not None else DEFAULT_WIDTH,
            height if height is not None else DEFAULT_HEIGHT,
        )
    a, b = _aspect_parts(aspect)
    if width is None and height is None:
        short = min(DEFAULT_WIDTH, DEFAULT_HEIGHT)
        return (_even(short * a / b), short) if a >= b else (short, _even(short * b / a))
    if width is None:
        assert height is not None
        return _even(height * a / b), height
    if height is None:
        return width, _even(width * b / a)
    if abs(width / height - a / b) > ASPECT_TOLERANCE * a / b:
        raise ConfigError(
            f"--aspect {a}:{b} does not match --width {width} --height {height} "
            f"({aspect_of(width, height)}); give the aspect with one side only, or neither"
        )
    return width, height


def reshaped(shotlist: ShotList, aspect: str) -> ShotList:
    """The shot list rendered in another aspect: the same short side (a 1280x720 plan at 9:16
    is 720x1280), so keyframes and clips are made in that shape, not cropped or padded later.

    Raises:
        ConfigError: an aspect that is no ratio.
    """
    a, b = _aspect_parts(aspect)
    if shotlist.aspect == f"{a}:{b}":
        return shotlist
    short = min(shotlist.width, shotlist.height)
    width, height = (_even(short * a / b), short) if a >= b else (short, _even(short * b / a))
    data = shotlist.model_dump(mode="json")
    data.update(aspect=f"{a}:{b}", width=width, height=height)
    return parse_shotlist(data, source=f"the shot list at {a}:{b}")


def with_transition(shotlist: ShotList, transition: str) -> ShotList:
    """The shot list with one transition into every shot but the first (``--transition``).

    Raises:
        ShotListError: not a transition the assembly knows (the names that are are listed).
    """
    data = shotlist.model_dump(mode="json")
    for i, shot in enumerate(data["shots"]):
        shot["transition"] = "cut" if i == 0 else transition
    return parse_shotlist(data, source=f"the shot list with --transition {transition}")


class ShotType(str, Enum):
    """The shot grammar a storyboard follows."""

    establishing = "establishing"
    wide = "wide"
    medium = "medium"
    close_up = "close_up"
    action = "action"
    detail = "detail"
    closing = "closing"


class CameraMove(str, Enum):
    """Camera moves the scene workflows know (the simulator renders each of them)."""

    static = "static"
    pan_left = "pan_left"
    pan_right = "pan_right"
    pan_up = "pan_up"
    pan_down = "pan_down"
    zoom_in = "zoom_in"
    zoom_out = "zoom_out"


class Shot(BaseModel):
    """One shot: a keyframe, a clip made from it, maybe a hero pass, and its narration."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    duration: float
    prompt: str = Field(min_length=1, max_length=4000)
    negative: str = Field(default="", max_length=4000)
    shot_type: ShotType = ShotType.medium
    camera: CameraMove = CameraMove.static
    style: str = Field(default="", max_length=1000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    narration: str = Field(default="", max_length=4000)
    hero: bool = False
    #: A picture the keyframe starts from (a path; relative paths are relative to the YAML).
    reference_image: str | None = Field(default=None, min_length=1, max_length=4000)
    #: ``continue`` starts from the previous shot's last frame (waits for its clip); ``flow``
    #: ends the clip on the next shot's keyframe (a first-last-frame clip, e.g. ``wan22_flf``;
    #: waits for that keyframe), so the cut to the next shot lands on the picture it opens on.
    continuity: Literal["cut", "continue", "flow"] = "cut"
    #: How the shot comes in: ``cut``, ``crossfade`` (a dissolve), ``fadeblack`` (through
    #: black) or any transition of ffmpeg's xfade filter (``wipeleft``, ``circleopen``...);
    #: its length is the assembly's ``--transition-seconds``. The first shot's is not used.
    transition: str = Field(default="cut", min_length=1, max_length=40)
    #: How many clips of this shot to render, each with its own seed, to pick one from
    #: (``videofactory pick``); None: the shot list's ``takes``.
    takes: int | None = Field(default=None, ge=1, le=MAX_TAKES)

    @field_validator("duration")
    @classmethod
    def _length(cls, value: float) -> float:
        if not (math.isfinite(value) and 0 < value <= MAX_SHOT_LENGTH_S):
            raise ValueError(
                f"{value:g} s is not a shot length; a shot lasts more than 0 s and at most "
                f"{MAX_SHOT_LENGTH_S:g} s"
            )
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the prompt is blank; describe what the shot shows")
        return value

    @field_validator("transition")
    @classmethod
    def _known_transition(cls, value: str) -> str:
        from videofactory.errors import ConfigError
        from videofactory.presets import canonical_transition

        try:
            canonical_transition(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value.strip().lower()

    @field_validator("reference_image")
    @classmethod
    def _image_suffix(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().endswith(IMAGE_SUFFIXES):
            raise ValueError(f"{value!r} is not a picture file ({', '.join(IMAGE_SUFFIXES)})")
        return value


class PlannerLLM(BaseModel):
    """The LLM a plan was asked of: its model and host, and why the rules planner planned
    instead when it did (``planner: rules`` with a ``fallback``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="", max_length=200)
    host: str = Field(default="", max_length=300)
    fallback: str = Field(default="", max_length=2000)


class ShotList(BaseModel):
    """A whole video plan: run-level descriptors and the shots in order."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    concept: str = Field(min_length=1, max_length=MAX_CONCEPT_CHARS)
    duration: float
    style: str = ""
    character: str = ""
    setting: str = ""
    #: Width:height, e.g. "16:9"; must agree with ``width`` and ``height``.
    aspect: str = Field(default="16:9", pattern=r"^[1-9][0-9]{0,3}:[1-9][0-9]{0,3}$")
    width: int = 1280
    height: int = 720
    fps: int = 24
    #: The kind of film the planner made (story, explainer, teaser, travel, montage; "" when
    #: none said): the music bed's mood follows it (``assembly/mood.py``).
    kind: Literal["", "story", "explainer", "teaser", "travel", "montage"] = ""
    planner: str = "rules"
    #: The LLM asked to plan (None when none was): see ``PlannerLLM``.
    llm: PlannerLLM | None = None
    #: Clips rendered per shot (``--takes``) where a shot does not say its own ``takes``.
    takes: int = Field(default=1, ge=1, le=MAX_TAKES)
    #: The film's references (``videofactory.look``): None makes them all (a character sheet
    #: per character, a setting plate) before the keyframes; a mapping gives your own picture
    #: for some of them by name (``character``, ``character-2``, ``character-3``, ``setting``;
    #: paths relative to the YAML); ``off``: no look stage, keyframes from their prompts only.
    look: dict[str, str] | Literal["off"] | None = None
    shots: list[Shot] = Field(min_length=1)

    @field_validator("look", mode="before")
    @classmethod
    def _look_switch(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare ``look: off`` as false (and ``on`` as true).
        if value is False:
            return "off"
        return None if value is True else value

    @field_validator("look")
    @classmethod
    def _look(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        names = ("character", "character-2", "character-3", "setting")  # videofactory.look
        for name, picture in value.items():
            if name not in names:
                raise ValueError(f"{name!r} is no look picture; name one of {', '.join(names)}")
            if not picture.lower().endswith(IMAGE_SUFFIXES):
                raise ValueError(
                    f"{name}: {picture!r} is not a picture file ({', '.join(IMAGE_SUFFIXES)})"
                )
        return value

    def takes_of(self, shot: Shot) -> int:
        """How many takes of ``shot`` the run renders (its own ``takes``, else the list's)."""
        return shot.takes if shot.takes is not None else self.takes

    @field_validator("width", "height")
    @classmethod
    def _size(cls, value: int, info: ValidationInfo) -> int:
        problem = size_problem(str(info.field_name), value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("fps")
    @classmethod
    def _fps(cls, value: int) -> int:
        problem = fps_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("shots", mode="before")
    @classmethod
    def _not_too_many(cls, value: Any) -> Any:
        # Before each shot is validated: a list of 100 000 is refused at once.
        if isinstance(value, list) and len(value) > MAX_SHOTS:
            raise ValueError(_too_many(len(value)))
        return value

    @field_validator("duration")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not (math.isfinite(value) and 0 < value <= MAX_DURATION_SECONDS):
            raise ValueError(
                f"{value:g} s is not a video length; give a number of seconds over 0 and at "
                f"most {MAX_DURATION_SECONDS:g} ({MAX_DURATION_SECONDS / 3600:g} hours)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ShotList:
        seen: set[str] = set()
        for shot in self.shots:
            if shot.id in seen:
                raise ValueError(f"shot id {shot.id!r} is used twice; shot ids must be unique")
            seen.add(shot.id)
        for shot in self.shots:
            if shot.duration < seconds_of(1, self.fps):
                raise ValueError(
                    f"shot {shot.id!r} lasts {shot.duration:g} s, less than one frame at "
                    f"{self.fps} fps ({seconds_of(1, self.fps):.3f} s); make it longer"
                )
        if self.shots[0].continuity == "continue":
            raise ValueError(
                f"shot {self.shots[0].id!r}: the first shot cannot 'continue' (nothing before it)"
            )
        if self.shots[-1].continuity == "flow":
            raise ValueError(
                f"shot {self.shots[-1].id!r}: the last shot cannot 'flow' (no next shot to end "
                "on); set its continuity to 'cut'"
            )
        if abs(_ratio(self.aspect) - self.width / self.height) > ASPECT_TOLERANCE * _ratio(
            self.aspect
        ):
            raise ValueError(
                f"aspect {self.aspect} does not match {self.width}x{self.height} "
                f"({aspect_of(self.width, self.height)}); change one of them"
            )
        total = sum(s.duration for s in self.shots)
        if abs(total - self.duration) > DURATION_TOLERANCE_S:
            raise ValueError(
                f"shot durations sum to {total:.3f} s but the video is {self.duration:.3f} s; "
                "make them add up (or change 'duration')"
            )
        return self

    def shot(self, shot_id: str) -> Shot:
        """The shot with this id."""
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)


def parse_shotlist(data: Any, *, source: str = "shot list") -> ShotList:
    """Validate plain data as a ShotList; errors name the shot (by id) and the field."""
    if not isinstance(data, dict):
        raise ShotListError(f"{source}: expected a mapping with 'concept', 'duration' and 'shots'")
    try:
        return ShotList.model_validate(data)
    except ValidationError as exc:
        raise ShotListError(f"{source}: {_describe(exc, data)}") from exc


def load_shotlist(path: Path) -> ShotList:
    """Read a shot list YAML (or JSON) file."""
    text = read_text(path, "shot list", ShotListError)
    count = _count_shots(text)
    if count > MAX_SHOTS:
        raise ShotListError(f"{path}: shots: {_too_many(None)}")
    data = parse_yaml(text, f"shot list {path}", ShotListError)
    shotlist = parse_shotlist(data, source=str(path))
    return _resolve_look(_resolve_images(shotlist, path), path)


def _count_shots(text: str) -> int:
    """How many entries the top-level ``shots`` list has, counted from the YAML parser's
    events, up to one past MAX_SHOTS (0 when there is no such list, or the YAML is broken:
    loading it says why). Events cost a tenth of building the data, so a list of 100 000
    shots is refused in a moment instead of after seconds of loading."""
    depth, count, in_shots, key, shots_depth = 0, 0, False, None, -1
    try:
        for event in yaml.parse(text, Loader=_Loader):
            starts = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
            if (
                in_shots
                and depth == shots_depth + 1
                and (starts or isinstance(event, yaml.ScalarEvent | yaml.AliasEvent))
            ):
                count += 1
                if count > MAX_SHOTS:
                    return count
            if isinstance(event, yaml.ScalarEvent) and depth == 1 and key is None:
                key = event.value  # a key of the top-level mapping ...
            elif depth == 1 and key is not None:
                # ... and its value: the shots list starts here, or the value is skipped.
                if key == "shots" and isinstance(event, yaml.SequenceStartEvent):
                    in_shots, shots_depth = True, depth
                key = None
            if starts:
                depth += 1
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
                if in_shots and depth == shots_depth:
                    return count
    except yaml.YAMLError:
        return 0
    return count


def _too_many(count: int | None) -> str:
    """The shot limit's message (``count`` None: more than the limit, counted no further)."""
    number = f"{count:,} shots" if count is not None else f"more than {MAX_SHOTS:,} shots"
    return (
        f"{number}, over the limit of {MAX_SHOTS:,} in one shot list "
        f"({MAX_DURATION_SECONDS / 3600:g} hours of {MIN_SHOT_SECONDS:g}-second shots); make "
        "the shots longer or split the film into several shot lists"
    )


def _resolve_images(shotlist: ShotList, path: Path) -> ShotList:
    """Reference images as absolute paths (relative ones are relative to the YAML file)."""
    shots = []
    for shot in shotlist.shots:
        if shot.reference_image is None:
            shots.append(shot)
            continue
        image = Path(shot.reference_image).expanduser()
        if not image.is_absolute():
            image = path.parent / image
        if not image.is_file():
            raise ShotListError(
                f"{path}: shot {shot.id!r}, field 'reference_image': {image} does not exist"
            )
        shots.append(shot.model_copy(update={"reference_image": str(image.resolve())}))
    return shotlist.model_copy(update={"shots": shots})


def _resolve_look(shotlist: ShotList, path: Path) -> ShotList:
    """The user's look pictures as absolute paths (relative ones are relative to the YAML),
    each checked to be a picture that can be read."""
    if not isinstance(shotlist.look, dict) or not shotlist.look:
        return shotlist
    look = {}
    for name, picture in shotlist.look.items():
        image = Path(picture).expanduser()
        if not image.is_absolute():
            image = path.parent / image
        check_picture(image, f"{path}: look picture {name!r}", ShotListError)
        look[name] = str(image.resolve())
    return shotlist.model_copy(update={"look": look})


def dump_shotlist(shotlist: ShotList) -> str:
    """The shot list as YAML a person can edit (keys in model order, unicode kept; no ``llm``
    key when no LLM was asked)."""
    # No ``llm`` key when no LLM was asked, no ``look`` key when the look is made.
    skip = {k for k in ("llm", "look") if getattr(shotlist, k) is None}
    data = shotlist.model_dump(mode="json", exclude=skip or None)
    for shot in data["shots"]:  # a shot that says nothing of its takes has the list's
        if shot.get("takes") is None:
            shot.pop("takes", None)
    return str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100))


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    raw_shots = data.get("shots")
    shots: list[Any] = raw_shots if isinstance(raw_shots, list) else []
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "shots" and isinstance(loc[1], int):
            idx = loc[1]
            raw = shots[idx] if idx < len(shots) else None
            sid = raw.get("id") if isinstance(raw, dict) else None
            name = f"shot {sid!r}" if sid else f"shot #{idx + 1}"
            field = ".".join(str(p) for p in loc[2:]) or "(the shot)"
            where = f"{name}, field {field!r}"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        # Checks of the whole list name what they are about in their own message.
        parts.append(f"{where}: {msg}" if loc else msg)
    return "; ".join(parts)
