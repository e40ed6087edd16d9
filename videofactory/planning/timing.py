"""How many shots, how long each, and in what order of shot types (pure arithmetic).

Shared by the rules planner and the LLM planner: durations are frame-aligned and always sum
exactly to the target (the last shot absorbs the rounding).
"""

from __future__ import annotations

import math

from videofactory.constants import DEFAULT_CLIP_SECONDS, DEFAULT_FPS
from videofactory.limits import MAX_SHOT_SECONDS, MIN_SHOT_SECONDS
from videofactory.shotlist import ShotType
from videofactory.timing import FRAME_SLACK, frames_covering, frames_in, seconds_of

__all__ = [
    "climax_index",
    "fit_durations",
    "normalise_durations",
    "shot_count",
    "shot_durations",
    "shot_grammar",
    "shot_limits",
]

#: A clip model makes its best clips near its own length: a shot runs from half of it to 1.6
#: times it (within ``MIN_SHOT_SECONDS``..``MAX_SHOT_SECONDS``).
SHORTEST_SHARE, LONGEST_SHARE = 0.5, 1.6


def shot_count(duration_s: float, clip_s: float = DEFAULT_CLIP_SECONDS) -> int:
    """How many shots a video of this length gets: about one clip of ``clip_s`` each."""
    clip_s = min(max(clip_s, MIN_SHOT_SECONDS), MAX_SHOT_SECONDS)
    n = max(1, round(duration_s / clip_s))
    while n > 1 and duration_s / n < MIN_SHOT_SECONDS:
        n -= 1
    while duration_s / n > MAX_SHOT_SECONDS:
        n += 1
    return n


def shot_durations(duration_s: float, n: int, fps: int = DEFAULT_FPS) -> list[float]:
    """Split a duration into n frame-aligned shots that sum exactly to it."""
    return normalise_durations([1.0] * n, duration_s, fps)


def normalise_durations(
    weights: list[float], duration_s: float, fps: int = DEFAULT_FPS
) -> list[float]:
    """Scale ``weights`` to frame-aligned durations that sum exactly to ``duration_s``.

    Frames are shared out by largest remainder, so the proportions stay as close as frames
    allow; every shot gets at least one frame.

    Raises:
        ValueError: no weights, or a weight that is not a positive finite number.
    """
    if not weights or any(not (math.isfinite(w) and w > 0) for w in weights):
        raise ValueError("durations must be positive numbers")
    n = len(weights)
    total_frames = max(n, frames_in(duration_s, fps))
    scale = (total_frames - n) / sum(weights)
    exact = [w * scale for w in weights]
    frames = [1 + math.floor(x) for x in exact]
    short = total_frames - sum(frames)
    # Earlier shots win ties so that an even split puts the extra frames first.
    order = sorted(range(n), key=lambda i: (-(exact[i] - math.floor(exact[i])), i))
    for i in order[:short]:
        frames[i] += 1
    # Milliseconds are what a person edits; the last shot absorbs the rounding so the sum holds.
    durations = [round(seconds_of(f, fps), 3) for f in frames[:-1]]
    durations.append(round(duration_s - sum(durations), 3))
    return durations


def climax_index(n: int) -> int:
    """Where the climax falls: about two thirds in, never the first or last shot."""
    if n <= 2:
        return n - 1
    return min(n - 2, max(1, round((n - 1) * 2 / 3)))


def shot_grammar(n: int) -> list[ShotType]:
    """Shot types of n shots: open wide, build (medium, close-up, detail, wide), climax, close.

    Long films (10+ shots) get a burst of action every sixth shot of the second act too, so
    that the middle does not sag; the climax stays the one big action shot.
    """
    if n == 1:
        return [ShotType.establishing]
    cycle = [ShotType.medium, ShotType.close_up, ShotType.detail, ShotType.wide]
    climax = climax_index(n)
    act_two = max(2, round(n * 0.3))
    types = [ShotType.establishing]
    k = 0
    for i in range(1, n - 1):
        if i == climax:
            types.append(ShotType.action)
            continue
        if n >= 10 and act_two <= i < climax - 1 and (i - act_two) % 6 == 5:
            types.append(ShotType.action)
            continue
        types.append(cycle[k % len(cycle)])
        k += 1
    types.append(ShotType.closing)
    return types


def shot_limits(
    duration_s: float, n: int, clip_s: float = DEFAULT_CLIP_SECONDS
) -> tuple[float, float]:
    """Shortest and longest shot of a plan of ``n`` shots: from half the clip length to 1.6
    times it, within the planner's limits, and never excluding the even split."""
    even = duration_s / n
    shortest = max(MIN_SHOT_SECONDS, SHORTEST_SHARE * clip_s)
    longest = min(MAX_SHOT_SECONDS, LONGEST_SHARE * clip_s)
    return min(shortest, even), max(longest, even)


def fit_durations(
    weights: list[float],
    needs: list[float],
    duration_s: float,
    fps: int = DEFAULT_FPS,
    *,
    shortest: float = MIN_SHOT_SECONDS,
    longest: float = MAX_SHOT_SECONDS,
) -> list[float] | None:
    """Frame-aligned shot lengths that follow their narration and their beats: each shot
    gets the time its narration takes (``needs``) and a share of the rest in proportion to its
    ``weights``; each lasts at least ``shortest`` and at most ``longest`` (unless its need is
    longer); they sum exactly to ``duration_s``. None when the needs do not fit in it.

    Shares are found by filling: a shot held at a bound keeps it, the others share what is
    left; frames are then shared out by largest remainder.
    """
    n = len(weights)
    if n == 0 or len(needs) != n or any(not (math.isfinite(w) and w > 0) for w in weights):
        raise ValueError("durations need one positive weight and one need per shot")
    total = max(n, frames_in(duration_s, fps))
    low = [max(1, frames_covering(max(shortest, need), fps)) for need in needs]
    if seconds_of(total, fps) > duration_s + FRAME_SLACK / fps and needs[-1] > 0:
        low[-1] += 1  # the last shot gives up the part frame the total was rounded up by
    if sum(low) > total:
        return None
    high = [max(lo, math.floor(longest * fps + FRAME_SLACK), -(-total // n)) for lo in low]
    base = [need * fps for need in needs]
    share: dict[int, float] = {}
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(n) if i not in fixed]
        if not free:
            break
        left = total - sum(fixed.values())
        weight = sum(weights[i] for i in free)
        slack = left - sum(base[i] for i in free)
        share = {i: base[i] + weights[i] * slack / weight for i in free}
        under = [i for i in free if share[i] < low[i]]
        over = [i for i in free if share[i] > high[i]]
        if not under and not over:
            break
        # Hold the shots that fall short first: holding them can only take from the rest.
        for i in under or over:
            fixed[i] = low[i] if under else high[i]
    exact = {**{i: float(v) for i, v in fixed.items()}, **share}
    frames = [max(low[i], min(high[i], math.floor(exact[i]))) for i in range(n)]
    spare = total - sum(frames)
    order = sorted(range(n), key=lambda i: (-(exact[i] - math.floor(exact[i])), i))
    while spare > 0:
        grew = False
        for i in order:
            if spare and frames[i] < high[i]:
                frames[i] += 1
                spare -= 1
                grew = True
        if not grew:  # every shot at its longest: the longest take the rest
            frames[order[0]] += spare
            spare = 0
    while spare < 0:
        shrank = False
        for i in reversed(order):
            if spare and frames[i] > low[i]:
                frames[i] -= 1
                spare += 1
                shrank = True
        if not shrank:
            return None
    durations = [round(seconds_of(f, fps), 3) for f in frames[:-1]]
    durations.append(round(duration_s - sum(durations), 3))
    return durations
