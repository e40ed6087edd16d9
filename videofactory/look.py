"""The look of a film (pure): the references made before its keyframes, so that the same
character and the same place look the same in every shot.

A plan's ``character`` and ``setting`` become a *look*: a character sheet per character (a plan
names several by separating them with ";") and a setting plate. Each is one picture, made by a
``look`` task on the control GPU, or given by the user in the shot list (``look:``), which makes
no task for it. Every keyframe is then made as an edit of these pictures where the worker's
keyframe workflow takes references (``qwen_edit``, ``flux_kontext``, the simulator's
``SimImageEdit``), and from its prompt alone where it does not.

    items = look_items(shotlist)        # [LookItem("character", ...), LookItem("setting", ...)]
    shot = look_shot(shotlist, "setting")  # the picture asked for, as a shot to bind

``look: off`` in the shot list turns the stage off: every keyframe is made from its prompt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from videofactory.shotlist import Shot, ShotList

__all__ = [
    "LOOK_NAMES",
    "MAX_REFERENCES",
    "SHEET_WORDS",
    "LookItem",
    "characters",
    "look_item",
    "look_items",
    "look_shot",
]

#: Pictures one keyframe edit takes (TextEncodeQwenImageEditPlus has image1..image3).
MAX_REFERENCES = 3
#: What a look picture may be called, in the order a keyframe takes them.
LOOK_NAMES = ("character", "character-2", "character-3", "setting")
#: Words that open a character sheet's prompt (the simulator paints such a prompt as a sheet).
SHEET_WORDS = "character sheet of"


@dataclass(frozen=True)
class LookItem:
    """One reference picture of the film."""

    #: ``character``, ``character-2``, ``character-3`` or ``setting`` (its task's "shot" id).
    name: str
    role: Literal["character", "setting"]
    #: The plan's words for it.
    description: str
    #: What a text-to-image workflow is asked for.
    prompt: str
    seed: int
    #: The user's own picture (an absolute path) instead of a look task; None: made.
    picture: str | None = None


def characters(shotlist: ShotList) -> list[str]:
    """The characters the plan names (its ``character``, split at ";")."""
    return [c.strip() for c in shotlist.character.split(";") if c.strip()]


def look_items(shotlist: ShotList) -> list[LookItem]:
    """The film's references, characters first; none with ``look: off``.

    At most ``MAX_REFERENCES``: a third character takes the setting plate's place (a character
    drifting between shots shows more than a place does).
    """
    if shotlist.look == "off":
        return []
    given = shotlist.look or {}
    people = characters(shotlist)
    items = []
    for i, name in enumerate(LOOK_NAMES[:MAX_REFERENCES]):
        # A picture of the user's counts even where the plan describes no one.
        if i < len(people) or name in given:
            words = people[i] if i < len(people) else name.replace("-", " ")
            items.append(_item(name, "character", words, shotlist, given))
    if (shotlist.setting.strip() or "setting" in given) and len(items) < MAX_REFERENCES:
        words = shotlist.setting.strip() or "the setting"
        items.append(_item("setting", "setting", words, shotlist, given))
    return items


def look_item(shotlist: ShotList, name: str) -> LookItem:
    """The look picture called ``name``; KeyError when the plan has none of that name."""
    for item in look_items(shotlist):
        if item.name == name:
            return item
    raise KeyError(name)


def look_shot(shotlist: ShotList, name: str) -> Shot:
    """A look picture's task as a shot: its prompt, seed and the plan's style, so that it binds
    into a text-to-image workflow as a keyframe does (it lasts nothing and says nothing)."""
    item = look_item(shotlist, name)
    return Shot(
        id=item.name,
        duration=1.0,
        prompt=item.prompt,
        negative="blurry, low quality, text, watermark, cropped, several people"
        if item.role == "character"
        else "blurry, low quality, text, watermark, people",
        seed=item.seed,
    )


def _item(
    name: str, role: Literal["character", "setting"], words: str, plan: ShotList, given: dict
) -> LookItem:
    style = f", {plan.style.strip()}" if plan.style.strip() else ""
    if role == "character":
        prompt = (
            f"{SHEET_WORDS} {words}, full figure seen from the front, plain neutral grey "
            f"background, even studio light{style}"
        )
    else:
        prompt = f"{words}, wide establishing plate, no people{style}"
    # Seeded by its own words: a new shot seed or prompt elsewhere does not change the look.
    seed = int.from_bytes(hashlib.sha256(words.encode("utf-8")).digest()[:6], "big")
    return LookItem(name, role, words, prompt, seed, given.get(name))
