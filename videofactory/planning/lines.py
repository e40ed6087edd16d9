"""The rules planner's sentences: picture prompts and narration lines, by shot type and beat.

Placeholders: ``{s}``/``{S}`` the subject as narration names it ("the warrior"), ``{char}`` the
full character descriptor ("a lone warrior in a weathered travelling cloak"), ``{place}`` /
``{Place}``, ``{time}``, ``{later}``, ``{air}``, ``{doing}`` (the concept's activity, in the
``activity`` pictures only), and the theme's lists ``{landmark}``, ``{sound}``, ``{texture}``,
``{particle}``, each of which multiplies a template into one line per item. ``[moves|move]``
is chosen by the subject's number. A place or a sound is never a verb's subject: its number
is not known ("the windswept plains", "the mystical forest"; "echoes", "the wind"). Lines
for characters (``CHARACTER``) and for things and places (``THING``) differ where a thing
cannot walk or look; ``SHARED`` lines fit both.
"""

from __future__ import annotations

__all__ = ["CHARACTER", "NARRATION", "SHORT", "THING", "VISUALS"]

#: Picture prompts (the style is appended by the planner), by family and shot type.
VISUALS: dict[str, dict[str, list[str]]] = {
    "character": {
        "establishing": [
            "Establishing extreme wide shot of {place} {time}, {char}, a small figure far "
            "below, vast scale",
            "Sweeping aerial view over {place} {time}, {char}, barely visible at the "
            "edge of the frame",
            "Establishing wide shot of {place} {time} seen past {landmark}, {char} on the path "
            "below",
        ],
        "wide": [
            "Wide shot, {char} crossing open ground in {place}, long shadows, {particle}",
            "Wide shot, {char} dwarfed by {landmark}, {place} {time}",
            "High wide shot looking down on {char} beside {landmark} in {place}",
            "Wide tracking shot, {char} moving through {place} past {landmark}",
        ],
        "medium": [
            "Medium shot, {char} walking deeper into {place}, looking around warily, {particle}",
            "Medium shot, {char} pausing beside {landmark} in {place}",
            "Medium shot from behind, {char} facing {landmark}, {place} {time}",
            "Over-the-shoulder medium shot, {char} looking out over {place} toward {landmark}",
            "Medium shot, {char} resting for a moment near {landmark}, {place}, {particle}",
        ],
        "close_up": [
            "Close-up of {char}, determined eyes, {air}, {place} soft and out of focus behind",
            "Close-up profile of {char}, {particle} drifting past, {place} {time}",
            "Tight close-up of {char}, a flicker of doubt and then resolve, {air}, {place}",
            "Close-up of {char} listening, {landmark} blurred in the background of {place}",
            "Close-up of {char}, {texture} in the foreground, {place} {time}",
            "Close-up of {char}, eyes following {particle}, {place}",
        ],
        "detail": [
            "Extreme close-up detail of {texture} in {place}, {char} passing at the edge of "
            "the frame",
            "Insert shot, a hand brushing {texture}, {char}, {place} {time}",
            "Detail shot of tracks left by {char} beside {landmark}, {place}",
            "Macro detail of {particle} in the light, {char} out of focus behind, {place}",
        ],
        "action": [
            "Dynamic action shot, {char} surging forward as {place} comes alive all around, "
            "motion blur, {particle}",
            "Climactic moment, {char} facing the heart of {place}, light bursting outward, "
            "dramatic low angle",
            "Action shot, {char} racing past {landmark}, {particle} whipped up, {place} {time}",
        ],
        "closing": [
            "Closing wide shot, {char} standing still as {place} settles {later}, calm and "
            "quiet, the camera pulling away",
            "Final wide shot, {char} walking away toward {landmark} {later}, {place} vast and "
            "quiet",
        ],
    },
    "activity": {  # the concept says what the subject does: "{char} {doing}" shows it
        "establishing": [
            "Establishing wide shot of {place} {time}, {char} {doing} in the distance, vast scale",
            "Sweeping aerial view over {place} {time}, far below {char} {doing}",
        ],
        "wide": [
            "Wide shot, {char} {doing} in {place}, {landmark} behind, long shadows",
            "High wide shot of {char} {doing} beside {landmark}, {place} {time}",
            "Wide tracking shot following {char} {doing} across {place}, {particle}",
        ],
        "medium": [
            "Medium shot, {char} {doing} in {place}, {particle}",
            "Medium shot, {char} {doing} near {landmark}, {place} {time}",
            "Medium tracking shot, {char} {doing}, {landmark} passing behind, {place}",
        ],
        "action": [
            "Dynamic action shot, {char} {doing} as {place} comes alive all around, motion "
            "blur, {particle}",
            "Climactic moment, {char} {doing} at the heart of {place}, light bursting outward, "
            "dramatic low angle",
            "Action shot, {char} {doing} past {landmark}, {particle} whipped up, {place} {time}",
        ],
    },
    "thing": {
        "establishing": [
            "Establishing extreme wide shot of {place} {time}, {char}, small in the distance, "
            "vast scale",
            "Sweeping aerial view over {place} {time}, {char} at the centre of the frame",
        ],
        "wide": [
            "Wide shot of {char} against {place}, {particle}, long shadows",
            "Wide shot, {char} framed by {landmark}, {place} {time}",
            "Wide slow pan across {place} to {char}, {landmark} in the foreground",
        ],
        "medium": [
            "Medium shot of {char}, {place} around it, {particle}",
            "Medium shot, {char} seen past {landmark}, {place} {time}",
            "Medium shot of {char} in {place}, {landmark} to one side, {particle}",
            "Slow medium shot circling {char}, {place}, {particle}",
        ],
        "close_up": [
            "Close-up of {char}, every surface in sharp detail, {air}, {place}",
            "Close-up, light moving slowly across {char}, {place} soft behind, {particle}",
            "Close-up of {char} with {landmark} blurred behind, {place} {time}",
            "Close-up of {char}, {texture}, {place} {time}",
            "Close-up, {particle} against {char}, {place}",
        ],
        "detail": [
            "Extreme close-up detail of {texture} on {char}, {place}",
            "Macro detail, {particle} settling on {char}, {place} {time}",
            "Detail shot of {texture} near {landmark}, {char} beyond, {place}",
        ],
        "action": [
            "Dramatic moment, {char} as {place} erupts into motion, {particle} whipped up, "
            "low angle",
            "Climactic shot, light breaking over {char}, {place} transformed {time}",
        ],
        "closing": [
            "Closing wide shot, {char} at rest as {place} settles {later}, the camera pulling away",
            "Final wide shot of {place} {later}, {char} small and quiet in the distance",
        ],
    },
}

SHARED: dict[str, list[str]] = {
    "establishing": [
        "Long before the legends, there was {place}.",
        "They say no one returns from {place}.",
        "Far from any road, {time}: {place}, as it has been for centuries.",
        "Every story about {place} begins the same way.",
        "{Place}, {time}. Quiet, for now.",
        "{Place}.",
    ],
    "wide": [
        "On and on, {place}, bigger than any map.",
        "From here, {landmark} looks almost close.",
        "So much of {place}, and so little of it known.",
        "The land opens, and the world grows quiet.",
        "Further still.",
        "Beyond {landmark}, more of {place}, on and on.",
        "Out here, only {sound}.",
        "{Place}, wide open, and {particle} on the wind.",
    ],
    "detail": [
        "{Texture}, untouched for a hundred years.",
        "Marks on {landmark}, older than memory.",
        "Nothing here but {particle} and old light.",
        "Every mark tells a story.",
        "Small things matter here.",
        "Look closer.",
    ],
    "tension": [
        "Then {sound}, and then nothing.",
        "Something is wrong. The air in {place} goes still.",
        "Too quiet now.",
        "Not yet. Almost.",
    ],
    "aftermath": [
        "When it is over: only {sound}.",
        "Nothing will be quite the same in {place}.",
        "It is done. Nearly.",
        "Quiet again.",
    ],
    "skirmish": [
        "A sudden rush of {particle}, then stillness.",
        "For a moment, everything shakes.",
        "Something moves near {landmark}, and is gone.",
        "A warning, perhaps. Or a welcome.",
    ],
    "resolve": [
        "When it is over: only {sound}.",
        "Nothing will be quite the same in {place}.",
        "Breath returns to {place}.",
        "Light returns to {landmark}.",
        "The air is full of {particle}, and then it clears.",
        "Slowly, {sound} again.",
        "{Texture}, as before, and not quite.",
        "Quiet again.",
    ],
    "closing": [
        "And the silence returns.",
        "The secrets of {place} will keep a little longer.",
        "The end, and a beginning.",
    ],
}

CHARACTER: dict[str, list[str]] = {
    "intro": [
        "Into it [walks|walk] {s}, carrying nothing but a promise.",
        "{S} [has|have] come a long way to be here.",
        "Only {s} [is|are] stubborn enough to come this far.",
        "{S} [arrives|arrive] {time}, just as the stories said.",
        "Nobody sent for {s}.",
        "{S}. Here at last.",
    ],
    "medium": [
        "{S} [moves|move] on, listening.",
        "Step by step, {s} [follows|follow] a trail nobody else can see.",
        "Past {landmark}, {s} [keeps|keep] going.",
        "{S} [stops|stop] at {landmark}, then [goes|go] on.",
        "Here the only sound is {sound}.",
        "With every step, the strangeness of {place} grows.",
        "{S} [follows|follow] {sound}, deeper in.",
        "The trail bends toward {landmark}.",
        "Onward.",
    ],
    "wide": ["The path opens, and {s} [walks|walk] on alone."],
    "close_up": [
        "No fear. Only purpose.",
        "There is no fear in those eyes, only purpose.",
        "{S} [remembers|remember] why this matters.",
        "A moment of doubt. Then it passes.",
        "Tired, but not turning back.",
        "{S} [listens|listen]. Something is listening back.",
        "{S} [hears|hear] {sound}, and [waits|wait].",
        "Eyes on {landmark}. Not yet.",
        "Closer now.",
    ],
    "detail": ["One small token, carried all this way.", "Signs that someone passed here before."],
    "action": [
        "Then everything wakes at once.",
        "And then, all at once, everything in {place} wakes.",
        "{S} [runs|run] toward the light.",
        "Now. There is no other moment.",
        "This is what {s} came for.",
        "Now!",
    ],
    "aftermath": ["{S} [stands|stand] where the light was."],
    "skirmish": [
        "Something moves. {S} [is|are] faster.",
        "{S} [breaks|break] into a run past {landmark}.",
        "Danger, close and quick, and then gone.",
    ],
    "resolve": [
        "{S} [stands|stand] where the light was.",
        "{S} [rests|rest] for a while by {landmark}.",
        "{S} [takes|take] the long way back, past {landmark}.",
        "For the first time, {s} [smiles|smile].",
        "No hurry now.",
    ],
    "closing": [
        "And when the silence returns, the journey is complete.",
        "And {s} finally [goes|go] home, {later}.",
    ],
}

THING: dict[str, list[str]] = {
    "intro": [
        "And in the middle of it all, {s}.",
        "{S} [has|have] stood here longer than anyone remembers.",
        "Nothing about {s} is hurried.",
    ],
    "medium": [
        "{S}, {time}, exactly as always.",
        "Look closer at {s}.",
        "Past {landmark}, there is only {s}.",
        "Here the only sound is {sound}.",
        "Every hour changes {s} a little.",
        "Beside {landmark}, {s} [waits|wait].",
        "{S}, and {particle}.",
        "Still here.",
    ],
    "close_up": [
        "Look closer. Every mark is a story.",
        "Up close, {s} [is|are] anything but still.",
        "Time has been busy here.",
        "In the quiet, {sound}.",
        "Up close: {texture}.",
        "{S}, with {landmark} beyond.",
        "Closer now.",
    ],
    "action": [
        "Then the weather turns, and everything moves.",
        "And then, all at once, everything in {place} wakes.",
        "Now everything changes.",
        "Now!",
    ],
    "closing": ["{S} [remains|remain] in {place} {later}."],
    "skirmish": ["A gust tears through {place}, and passes."],
    "resolve": ["{S} [is|are] still here.", "{S} [has|have] seen worse, and will again."],
}

#: Narration pools by family and beat: the family's own lines first, then the shared ones.
NARRATION: dict[str, dict[str, list[str]]] = {
    family: {
        beat: own.get(beat, []) + SHARED.get(beat, []) for beat in sorted(set(own) | set(SHARED))
    }
    for family, own in (("character", CHARACTER), ("thing", THING))
}

#: When nothing else fits a very short shot.
SHORT = ["Onward.", "Listen.", "Closer.", "Wait.", "Look.", "Still.", "Breathe.", "Again."]
