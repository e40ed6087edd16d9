"""A film's style, whichever planner planned it (``--style``)."""

from __future__ import annotations

from videofactory.shotlist import ShotList, parse_shotlist

__all__ = ["apply_style"]


def apply_style(shotlist: ShotList, style: str) -> ShotList:
    """The shot list in ``style``: the film's and every shot's style, and in every prompt the
    planner's style replaced by it (added at the end where the prompt did not carry one).

    Raises:
        ShotListError: a prompt grew over its limit.
    """
    shots = []
    for shot in shotlist.shots:
        prompt = shot.prompt
        for old in {shotlist.style, shot.style} - {"", style}:
            prompt = prompt.replace(old, style)
        if style not in prompt:
            prompt = f"{prompt.rstrip(' ,.;')}, {style}"
        shots.append({**shot.model_dump(mode="json"), "prompt": prompt, "style": style})
    data = {**shotlist.model_dump(mode="json"), "style": style, "shots": shots}
    return parse_shotlist(data, source="the styled shot list")
