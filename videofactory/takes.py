"""Takes of a shot (pure): each take's seed, and which take the film and the hero pass use.

A shot with ``takes: N`` renders N clips from its one keyframe, each with its own seed. The
film uses one of them: the take the user picked (``videofactory pick``), else the one the
automatic score prefers (``assembly/takes.py``). A hero pass upgrades that same take, and
runs only on a shot marked ``hero`` or picked with ``--hero``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["MAX_SEED", "choose_take", "hero_wanted", "take_seed"]

#: Seeds are what a shot's ``seed`` field accepts (ComfyUI's samplers take 64-bit seeds).
MAX_SEED = 2**63 - 1


def take_seed(seed: int, take: int) -> int:
    """The seed of a shot's ``take``: the shot's own for take 1 (a run without takes renders
    what it always did, and reuses what earlier runs cached), else one derived from the shot's
    seed and the take number. Derived, not drawn: the same take of the same shot has the same
    seed on every render, so its content key is the same and a re-render reuses it."""
    if take < 1:
        raise ValueError(f"take {take} is not a take (they count from 1)")
    if take == 1:
        return seed
    digest = hashlib.sha256(f"videofactory-take/{seed}/{take}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED + 1)


def choose_take(takes: int, pick: int | None, scores: Mapping[int, float | None]) -> int:
    """The take a shot uses: the picked one; else the best scored (the lowest take among
    equals, and take 1 when none is scored). ``scores``: take -> score (None: not scored,
    e.g. its clip could not be read)."""
    if pick is not None and 1 <= pick <= takes:
        return pick
    best, best_score = 1, None
    for take in range(1, takes + 1):
        score = scores.get(take)
        if score is not None and (best_score is None or score > best_score):
            best, best_score = take, score
    return best


def hero_wanted(marked: bool, picked_hero: bool) -> bool:
    """Whether a shot gets a hero pass: marked ``hero`` in the shot list, or picked as the
    best with ``pick --hero``."""
    return marked or picked_hero
