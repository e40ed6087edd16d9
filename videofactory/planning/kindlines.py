"""Pictures and narration of the films that are not stories: explainers, teasers, travel
films, montages, and stories that run through a day, a night or a year (``beats.py``).

Placeholders, besides those of ``lines.py`` (``{s}``, ``{char}``, ``{place}``, ``{time}``,
``{landmark}``...): ``{a_s}`` the subject with "a"/"an" ("a red running shoe"); an
explainer's ``{q}`` (its question: "How does the CPU execute an instruction?"), ``{how}`` /
``{How}`` (the same as a clause: "how the CPU executes an instruction"), ``{done}`` (the
action done: "the instruction is executed"), ``{todo}`` (what a "how to" film teaches: "brew
pour-over coffee"), ``{n}`` and ``{count}`` (the step's number and how many steps there are, in
words); a travel film's ``{where}`` / ``{Where}`` (the place by name)
and ``{cast}`` (", a lone backpacker ..." when someone travels, else nothing); ``{phase}`` /
``{Phase}`` the time of day or year of an arc, and ``{light}`` its light in a picture; an
explainer step's ``{stage}`` ("the first stage", "a late stage"); a montage's ``{focus}`` and
``{in_place}`` (the subject and " in <place>", or the place alone when it is the subject). Nothing
is known about a concept beyond its words, so a line says nothing that would not be true of
every subject of its kind: an explainer's steps are the steps of *a* process, named by the
subject and the action, not the steps of the CPU's.

Every picture names the subject (``{char}``, or ``{place}`` in a travel film about the place)
and the setting (``{place}``); most narration lines name them too, which keeps two films from
different concepts from sharing lines.
"""

from __future__ import annotations

__all__ = ["KIND_NARRATION", "KIND_VISUALS"]

_EXPLAINER_VISUALS = {
    "hook": [
        "Establishing shot of {char} in {place}, clean explanatory framing, the whole "
        "subject clearly visible, {light}",
        "Slow push-in on {char} in {place}, a question in the air, crisp and clear, {light}",
    ],
    "overview": [
        "Wide overview of {char} in {place}, every part visible, orderly composition",
        "Wide cutaway view of {char} in {place}, its parts laid out clearly side by side",
    ],
    # a step's picture by its shot type; {stage}: "the first stage", "a middle stage"...
    "step_close_up": [
        "Close-up of {char} in {place}, {stage} of the process, the working part sharp, {texture}",
        "Close-up of {char} {doing} in {place}, {stage} of the process, one part highlighted "
        "in a pool of light, {particle}",
    ],
    "step_detail": [
        "Detail of {char} {doing}, {place}, {stage} of the process, {particle}, crisp focus",
        "Detail of {char} in {place}, {stage} of the process, the part that acts now lit, "
        "the rest in soft shadow, {texture}",
    ],
    "step_medium": [
        "Medium shot of {char} in {place}, {stage} of the process, {texture} in the foreground",
        "Medium shot of {char} {doing}, {place}, {stage} of the process, light showing the "
        "flow from part to part, {landmark} behind",
    ],
    "step_wide": [
        "Wide shot of {char} {doing} in {place}, {stage} of the process, {particle}",
        "Wide shot of {char} in {place}, {stage} of the process, {landmark} beside it, the "
        "moment of change frozen in clear light",
    ],
    "recap": [
        "Wide shot of {char} in {place}, all the parts working together, calm clear light",
    ],
    "answer": [
        "Closing shot of {char} in {place}, {doing}, complete and at rest, the camera pulling back",
        "Final wide shot of {char} in {place}, the whole process shown at once, soft light",
    ],
}

_EXPLAINER_NARRATION = {
    "hook": [
        "{q}",
        "{q} Let's take it step by step.",
        "Ever wondered {how}?",
        "This is {how}, one step at a time.",
        "{How}, in {count} steps.",
    ],
    "overview": [
        "First, the big picture: {s}, and everything around [it|them].",
        "Here [is|are] {s}. Everything happens here.",
        "Before the details, look at {s} as a whole.",
        "To see {how}, start with the whole of {s}.",
    ],
    "step_first": [
        "Step one: everything starts with {s}.",
        "Step one. {S} [gets|get] what [it needs|they need] to begin.",
        "First, {s} [takes|take] in what [it needs|they need].",
        "Step one: before anything happens, {s} [gets|get] ready.",
    ],
    "step": [
        "Step {n}: {s} [works|work] on it, one part at a time.",
        "Step {n}. Then {s} [passes|pass] the result on to the next stage.",
        "Step {n}: look closely, this is where the real change happens.",
        "Then, step {n}: each part of {s} [does|do] its one job.",
        "Step {n}. Nothing is wasted: {s} [uses|use] every piece.",
        "Next, step {n}: the pieces come together in {s}.",
        "Step {n}: {s} [checks|check] the work before going on.",
        "Step {n}. Each stage hands over to the next, in order.",
    ],
    "step_last": [
        "And the last step: {done}.",
        "Finally, step {n}: {done}.",
        "Step {n}, the last: {done}, start to finish.",
    ],
    # "how to ...": the viewer does it ({todo}: "brew pour-over coffee")
    "overview_you": [
        "Here's everything you need to {todo}.",
        "Before you start, look at what it takes to {todo}.",
    ],
    "step_first_you": [
        "Step one: set out everything you need.",
        "First, get ready to {todo}: nothing rushed.",
        "Step one. Start with {s}, and take your time.",
    ],
    "step_you": [
        "Step {n}: take your time with this part.",
        "Step {n}. Watch closely, then do the same.",
        "Step {n}: small adjustments make the difference.",
        "Then, step {n}: keep going, one thing at a time.",
        "Step {n}. If it looks right, it probably is.",
    ],
    "recap": [
        "So: {how}, step by step.",
        "Put together, each of the {count} steps leads to the next.",
        "From the first step to the last, {s} [does|do] it all in order.",
    ],
    "answer": [
        "And that is {how}.",
        "That's {how}. Simple, once you see it.",
        "Now you know {how}.",
        "Next time, you'll know {how}.",
    ],
}

_TEASER_VISUALS = {
    "tease": [
        "Extreme close-up of {char} emerging from darkness, a sliver of rim light, {place}, "
        "only an edge visible",
        "Macro shot, a glint of light on {char} in the dark of {place}, shape barely revealed",
    ],
    "reveal": [
        "Hero reveal of {char} in {place}, dramatic key light, slow turn, crisp focus",
        "{char} rising into the light in {place}, dramatic reveal, sharp and pristine",
    ],
    "feature_form": [
        "{char} in silhouette, a single rim light tracing its form, {place}, {landmark} behind"
    ],
    "feature_material": [
        "Macro detail of the surface of {char}, {texture} in raking light, {place}"
    ],
    "feature_detail": [
        "Extreme close-up of the finest detail of {char}, {place}, {particle}, crisp focus"
    ],
    "feature_colour": [
        "{char} turning slowly on a plinth, its colour glowing under soft key light, {place}, "
        "{landmark}"
    ],
    "feature_light": [
        "Light sweeping across {char}, reflections gliding over it, {place}, {particle}"
    ],
    "feature_motion": ["{char} in motion, motion blur, dynamic low angle, {place}, {particle}"],
    "feature_scale": ["A hand reaching for {char}, {place}, {landmark}, shallow depth of field"],
    "feature_sound": ["{char} perfectly still in {place}, close up, {texture}, hushed and calm"],
    "in_use": [
        "{char} taken out of {place} into the real world, in use, natural light, energetic "
        "movement",
        "{char} in everyday use far from {place}, handheld camera, real life, sunlight",
    ],
    "pack_shot": [
        "Pack shot: {char} centred in {place}, hero lighting, clean composition, generous "
        "empty space above for a title",
    ],
}

_TEASER_NARRATION = {
    "tease": [
        "Something new is coming.",
        "You've never seen {a_s} like this.",
        "It starts with a shape in the dark.",
        "Wait for it.",
    ],
    "reveal": ["Meet {s}.", "Introducing {s}.", "This is {s}.", "Here it is: {s}."],
    "feature_form": [
        "The shape of {s} against {landmark}.",
        "Every line of {s}, drawn with purpose.",
        "A shape you'll know anywhere: {s}.",
    ],
    "feature_material": [
        "{Texture}: that's {s}.",
        "Made from materials chosen to last.",
        "Feel the difference in every surface of {s}.",
    ],
    "feature_detail": [
        "Every detail of {s}, down to {texture}.",
        "The details others skip, {s} [gets|get] right.",
        "Every detail of {s}, considered.",
    ],
    "feature_colour": [
        "{S}, glowing against {landmark}.",
        "{S}, in a colour all [its|their] own.",
        "Colour that stands out.",
    ],
    "feature_light": [
        "{S}, and {particle}.",
        "Watch the light move across {s}.",
        "Light loves {s}.",
    ],
    "feature_motion": ["{S}, moving past {landmark}.", "{S}, in motion.", "Built to move."],
    "feature_scale": [
        "{S}, made to be picked up.",
        "{S}, right in your hand.",
        "Right in your hand.",
    ],
    "feature_sound": [
        "{S}, and {sound}.",
        "Listen. {S}, quiet and sure.",
        "Nothing extra. Just {s}.",
    ],
    "in_use": [
        "Made for the real world, not the shelf.",
        "Out there, {s} [comes|come] alive.",
        "Take {s} anywhere.",
    ],
    "pack_shot": [
        "{S}. Coming soon.",
        "{S}. Made to be used.",
        "{S}. Yours soon.",
        "{S}. See it for yourself.",
        "{S}. Nothing else comes close.",
    ],
}

_TRAVEL_VISUALS = {
    "arrival": [
        "Sweeping aerial establishing shot over {place} {time}{cast}, {landmark} below",
        "Establishing wide shot of {place} {time} from the road in{cast}, {landmark} ahead, "
        "{particle}",
    ],
    "streets": [
        "Wide tracking shot through the streets of {place}{cast}, people passing, {particle}, "
        "{light}",
        "Wide shot of a lively street in {place}{cast}, {landmark} at the end, {light}",
    ],
    "people": [
        "Medium shot, locals going about their day near {landmark} in {place}{cast}, {light}",
        "Medium shot of a café terrace in {place}{cast}, {texture}, conversation, {light}",
    ],
    "detail": [
        "Detail shot of {texture} in {place}{cast}, {light}",
        "Close detail of {texture} on a doorway in {place}{cast}, {light}",
    ],
    "landmark": [
        "Wide shot of {landmark} in {place}{cast}, {light}",
        "Low-angle wide shot, {landmark}, the heart of {place}{cast}, {light}",
    ],
    "taste": [
        "Close-up of local food on a market stall in {place}{cast}, {texture}, {light}",
        "Close-up of hands serving a local dish in {place}{cast}, {particle}, {light}",
    ],
    "corner": [
        "Medium shot of a quiet corner of {place} near {landmark}{cast}, away from the crowds, "
        "{light}",
        "Medium shot down a narrow lane in {place}{cast}, {texture}, {particle}, {light}",
    ],
    "view": [
        "High wide shot from a viewpoint above {place}{cast}, {landmark} below, rooftops to "
        "the horizon, {light}",
        "High wide shot over the rooftops of {place}{cast}, {particle}, {light}",
    ],
    "craft": [
        "Detail of a craftsman's hands at work in a workshop in {place}{cast}, {particle}, {light}",
        "Detail of {texture} in a small shop in {place}{cast}, {light}",
    ],
    "evening": [
        "Wide shot of {place} in the evening{cast}, {landmark}, golden light, lamps coming on",
    ],
    "farewell": [
        "Closing wide shot of {place} {light}{cast}, {landmark}, lights reflected, the camera "
        "drifting away",
    ],
}

_TRAVEL_NARRATION = {
    "arrival": [
        "Welcome to {where}.",
        "This is {where}, {time}.",
        "Arriving in {where} feels like stepping into a story.",
        "{Where}. Let's take it slowly.",
    ],
    "streets": [
        "Down every street in {where}: {sound}.",
        "{Landmark} at the end of the street, and {where} all around.",
        "Every street in {where} has its own rhythm.",
        "Step out, and {where} opens up around you.",
        "The best way to see {where} is on foot.",
    ],
    "people": [
        "Around {landmark}, {where} gathers.",
        "In {where}, {sound} means people are near.",
        "The people of {where} set the pace.",
        "In {where}, everyone seems to know someone.",
        "Life in {where} happens out here, in the open.",
    ],
    "detail": [
        "{Texture}: {where}, up close.",
        "Look down, and {where} shows its age: {texture}.",
        "Small things tell the story of {where}.",
    ],
    "landmark": [
        "Everyone in {where} knows {landmark}.",
        "{Landmark}, and the whole of {where} around it.",
        "Every visitor to {where} ends up here.",
    ],
    "taste": [
        "A table near {landmark}, and {where} at its best.",
        "In {where}, food comes with {sound}.",
        "In {where}, the best things are the simple ones.",
        "A table, a cup, a view: {where} at its best.",
    ],
    "corner": [
        "Past {landmark}, a quieter {where}.",
        "{Where}, away from the crowds: {sound}.",
        "Away from the crowds, a quieter {where}.",
        "Every corner of {where} has a story.",
    ],
    "view": [
        "From above {landmark}, {where} makes sense.",
        "Above it all, {where}, and {particle}.",
        "From up here, {where} makes sense.",
        "Above it all, {where} stretches to the horizon.",
    ],
    "craft": [
        "{Texture}, made by hand in {where}.",
        "Near {landmark}, {where} still makes things by hand.",
        "Some things in {where} are still made by hand.",
        "Skills passed down for generations in {where}.",
    ],
    "evening": [
        "Evening at {landmark}, and {where} slows down.",
        "As the light turns gold, {where} slows down.",
        "Evening in {where}: {sound}.",
    ],
    "farewell": [
        "{Where} at night: {sound}, and one more reason to come back.",
        "{Where} at night, and one more reason to come back.",
        "Goodbye, {where}. Until next time.",
        "{Where} keeps its best secrets for the next visit.",
    ],
}

_MONTAGE_VISUALS = {
    # {focus}: the subject ({char}), or the place when the film is about a place; {in_place}:
    # " in <place>" when that is not the same
    "vista": [
        "Wide vista of {focus}{in_place} {light}, {landmark} on the horizon, vast and calm",
        "Wide vista of {focus}{in_place} {light}, {particle}, vast and calm",
    ],
    "macro": [
        "Macro detail of {focus}, {texture}{in_place}, {light}",
        "Macro shot of {focus}, {particle} in focus{in_place}, {light}",
    ],
    "silhouette": [
        "{focus} in silhouette against the sky{in_place}, {landmark} beside it, {light}",
        "{focus} in silhouette{in_place}, {particle} backlit, {light}",
    ],
    "reflection": [
        "Reflection of {focus} in still water{in_place}, {landmark} mirrored too, {light}",
        "Reflection of {focus} in a puddle{in_place}, {particle}, {light}",
    ],
    "motion": [
        "{focus} in motion, long exposure blur{in_place}, {particle}, {light}",
        "{focus} in motion past {landmark}{in_place}, motion blur, {light}",
    ],
    "stillness": [
        "Perfectly still wide frame of {focus}{in_place}, {particle}, {light}",
        "Perfectly still frame of {focus} beside {landmark}{in_place}, {light}",
    ],
    "texture": [
        "Close texture study of {focus}, {texture}{in_place}, {light}",
        "Texture of {focus} in raking light, {texture}{in_place}, {particle}",
    ],
    "light": [
        "{focus} caught in a shaft of light{in_place}, {particle}, {light}",
        "{focus} lit from behind, {landmark} in shadow{in_place}, {light}",
    ],
    "aerial": [
        "Aerial view straight down over {focus}{in_place}, {landmark}, {light}",
        "Aerial drone shot gliding over {focus}{in_place}, {particle}, {light}",
    ],
    "coda": [
        "Final wide shot of {focus}{in_place} {light}, {landmark} far off, the light fading",
    ],
}

_MONTAGE_NARRATION = {
    "vista": [
        "{S}, wide open.",
        "{Place}, and {s}.",
        "First, {s}.",
        "{S}, and {landmark} beyond.",
    ],
    "macro": ["Closer: {texture}.", "{S}, up close.", "{S}, and {particle}."],
    "silhouette": [
        "{S}, in outline.",
        "Only the shape of {s}.",
        "{S} against the sky, and {sound}.",
        "Only an outline: {s} by {landmark}.",
    ],
    "reflection": [
        "{S}, mirrored.",
        "{S}, twice.",
        "{S}, mirrored with {landmark}.",
        "{S} in still water, and {sound}.",
    ],
    "motion": [
        "{S}, never still for long.",
        "Everything moves around {s}.",
        "{Particle}, and {s} moving through it.",
        "Everything moves: {s}, and {sound}.",
    ],
    "stillness": [
        "And then, stillness in {place}.",
        "{S}, at rest.",
        "{S} at rest by {landmark}.",
        "Stillness around {s}, and {sound}.",
    ],
    "texture": ["{Texture}, and {s}.", "The grain of {s}.", "The grain of {s}, like {texture}."],
    "light": [
        "Light finds {s}.",
        "{S}, caught in the light.",
        "Light finds {s} by {landmark}.",
        "{S}, caught in the light, and {particle}.",
    ],
    "aerial": [
        "From above, {s} [is|are] a pattern.",
        "{Place} from the air.",
        "From above, {s} and {landmark}.",
        "{Place} from the air, and {particle}.",
    ],
    "coda": ["{S}. Again tomorrow.", "And {s} [remains|remain].", "And {s}, as the light goes."],
}

_ARC_VISUALS = {
    "arc_open": [
        "Establishing extreme wide shot of {place} {light}, {char}, small in the frame",
        "Establishing wide shot of {place} {light}, {char} stepping out to begin",
    ],
    "arc_phase": [
        "Wide shot of {char} at work in {place} {light}, {landmark} behind",
        "Wide shot, {char} crossing {place} {light}, long shadows",
    ],
    "arc_moment": [
        "Medium shot of {char} busy with a task in {place}, {light}",
        "Close-up of {char}'s hands at work, {place}, {light}",
        "Close-up of {char} pausing to look out over {place}, {light}",
        "Detail of the tools and traces of {char}'s work, {place}, {light}",
        "Medium shot of {char} beside {landmark} in {place}, {light}",
    ],
    "arc_close": [
        "Closing wide shot of {place} {light}, {char} at rest, the camera pulling away",
    ],
}

_ARC_NARRATION = {
    # the open, and each phase as it begins
    "dawn": [
        "Dawn. {S} [is|are] already awake.",
        "Before the sun, {s} [is|are] up.",
        "{Place}, before dawn. The day begins for {s}.",
    ],
    "morning": ["Morning. The work begins.", "By morning, {s} [is|are] hard at work."],
    "midday": ["Midday. A moment's rest for {s}.", "At noon, {place} is quiet."],
    "afternoon": [
        "The long afternoon, and the same careful work.",
        "Afternoon: {s} [keeps|keep] going.",
    ],
    "dusk": ["Dusk. {S} [lights|light] the lamps.", "As the light goes, {s} [works|work] on."],
    "night": ["Night falls on {place}.", "Night. {S} [rests|rest] at last."],
    "evening": ["Evening. {S} [comes|come] out.", "The evening belongs to {s}."],
    "midnight": ["Midnight, and {s} [is|are] still awake.", "Midnight in {place}."],
    "the small hours": ["The small hours. Only {s} [is|are] up.", "The quietest hour."],
    "first light": ["First light, and the night is over.", "At first light, {s} [rests|rest]."],
    "spring": ["Spring comes to {place}.", "In spring, {s} [wakes|wake] again."],
    "summer": ["Summer, and {place} is full of life.", "High summer for {s}."],
    "autumn": ["Autumn turns {place} gold.", "In autumn, {s} [slows|slow] down."],
    "winter": ["Winter. {Place} lies quiet.", "In winter, {s} [waits|wait]."],
    # moments inside a phase, and the close
    "arc_moment": [
        "{S} [checks|check] everything twice.",
        "Every task in {place} has its time.",
        "The same routine, done with care by {s}.",
        "{S} [pauses|pause] and [looks|look] out over {place}.",
        "There is always something for {s} to mend.",
        "Small tasks, done right.",
        "{S} [knows|know] every sound of {place}.",
        "{Phase}, and {s} [keeps|keep] at it.",
        "Nobody sees this part of the work of {s}.",
        "For {s}, {phase} has its own jobs.",
        "Here the only sound is {sound}.",
        "{S} [passes|pass] {landmark} on the way.",
        "{S} [stops|stop] to listen to {sound}.",
        "{Texture} under the hands of {s}.",
        "{Particle}, and {s} [works|work] on.",
        "{S} [keeps|keep] an eye on {landmark}.",
        "In the {phase}, {place} sounds like {sound}.",
    ],
    "arc_close": [
        "Another day done for {s}.",
        "Tomorrow, {s} will do it all again.",
        "And {place} sleeps, and so [does|do] {s}.",
    ],
}

#: Picture prompts by film kind and beat (``arc`` for stories through a span of time).
KIND_VISUALS: dict[str, dict[str, list[str]]] = {
    "explainer": _EXPLAINER_VISUALS,
    "teaser": _TEASER_VISUALS,
    "travel": _TRAVEL_VISUALS,
    "montage": _MONTAGE_VISUALS,
    "arc": _ARC_VISUALS,
}
#: Narration by film kind and beat.
KIND_NARRATION: dict[str, dict[str, list[str]]] = {
    "explainer": _EXPLAINER_NARRATION,
    "teaser": _TEASER_NARRATION,
    "travel": _TRAVEL_NARRATION,
    "montage": _MONTAGE_NARRATION,
    "arc": _ARC_NARRATION,
}
