"""Where captions may go: the part of the frame no player or app covers. Pure data.

A vertical video is watched in phone apps that draw their interface over it: TikTok, Instagram
Reels and YouTube Shorts put the caption, the account name and the music line over the bottom
of the frame, and a column of buttons (like, comment, share) down its right edge. What they
cover of a 1080x1920 frame, roughly, as their creator guides and the usual templates give it
(the apps move things between versions, hence the generous choice below):

=================  ==========  ==========  ==========  ==========
app                top         bottom      left        right
=================  ==========  ==========  ==========  ==========
TikTok             ~130 px     ~370 px     ~60 px      ~140 px
Instagram Reels    ~220 px     ~420 px     ~60 px      ~120 px
YouTube Shorts     ~190 px     ~350 px     ~50 px      ~190 px
=================  ==========  ==========  ==========  ==========

``PHONE`` takes the widest of them, as shares of the frame so that any size works: the bottom
22 % (420/1920) and the right 15 % are covered, the top 11 %, a 6 % edge on the left. Burned
captions sit on the line just above the bottom band (``caption_margins``: ASS ``MarginV`` of
24 % of the height, 2 % clear of it), within the left and right margins, and wrap upwards
from there. A frame that is not taller than wide keeps the broadcast convention of a 5 %
margin (of its height) on every side.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAPTION_CLEARANCE", "PHONE", "SCREEN_MARGIN", "SafeArea", "caption_margins"]


@dataclass(frozen=True)
class SafeArea:
    """Shares of the frame that may be covered, from each edge."""

    top: float
    bottom: float
    left: float
    right: float

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The safe rectangle in pixels: (left, top, right, bottom)."""
        return (
            round(width * self.left),
            round(height * self.top),
            round(width * (1 - self.right)),
            round(height * (1 - self.bottom)),
        )


#: Vertical video in phone apps (TikTok, Reels, Shorts): see the table above.
PHONE = SafeArea(top=0.11, bottom=0.22, left=0.06, right=0.15)
#: How far above the covered bottom band a caption's last line sits, as a share of the height.
CAPTION_CLEARANCE = 0.02
#: Landscape and square video on a screen: captions 5 % of the height from the edges.
SCREEN_MARGIN = 0.05


def caption_margins(width: int, height: int) -> tuple[int, int, int]:
    """ASS ``MarginL``, ``MarginR`` and ``MarginV`` in pixels of a script whose ``PlayResX``
    and ``PlayResY`` are the frame's size, for bottom-centred captions (alignment 2)."""
    if height > width:
        return (
            round(width * PHONE.left),
            round(width * PHONE.right),
            round(height * (PHONE.bottom + CAPTION_CLEARANCE)),
        )
    margin = round(height * SCREEN_MARGIN)
    return margin, margin, margin
