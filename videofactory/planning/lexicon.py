"""Words the rules planner knows: kinds of subjects, themes of places, looks, times of day.

Plain data, no logic. A theme gives a place its own landmarks, sounds, textures and light, so
that a forest film and a harbour film do not share the same sentences with the noun swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ANIMALS",
    "CREATURES",
    "LATER",
    "LOOKS",
    "MACHINES",
    "KIND_LOOKS",
    "NEGATIVE",
    "PHASE_LIGHT",
    "PEOPLE",
    "PERSON_SUFFIXES",
    "SINGULAR_S",
    "THEMES",
    "TIMES",
    "TRAITS",
    "FIGHTERS",
    "VERBS",
    "Theme",
]

NEGATIVE = (
    "blurry, low quality, deformed hands, extra limbs, text, watermark, logo, jpeg artifacts, "
    "oversaturated, duplicate figures"
)

#: People whose look may be armour (see TRAITS["fighter"]).
FIGHTERS = frozenset(
    """warrior knight soldier hero heroine samurai ninja pirate gladiator viking spartan
    paladin mercenary guard archer assassin general ranger hunter""".split()
)
PEOPLE = frozenset(
    """warrior knight soldier hero heroine girl boy child woman man person lady king queen
    prince princess wizard witch sorcerer mage monk priest nun samurai ninja pirate sailor
    captain astronaut pilot explorer detective scientist doctor nurse farmer fisherman hunter
    ranger archer thief assassin traveler traveller wanderer pilgrim nomad shepherd dancer
    musician singer painter artist poet writer student teacher chef baker blacksmith smith
    miner climber diver surfer skater runner cyclist rider cowboy cowgirl sheriff outlaw
    gladiator viking spartan elf dwarf orc giant shaman druid paladin ranger mercenary guard
    prisoner refugee orphan grandmother grandfather mother father daughter son sister brother
    family couple lover stranger survivor scavenger courier messenger hermit monarch emperor
    empress general spy agent hacker engineer mechanic inventor alchemist healer oracle
    keeper lighthousekeeper gardener beekeeper backpacker tourist hiker visitor
    photographer student baker barista potter carpenter weaver fisherwoman postman nomad""".split()
)
ANIMALS = frozenset(
    """cat kitten dog puppy wolf fox bear deer stag doe owl eagle hawk falcon raven crow
    sparrow robin horse pony stallion mare lion tiger leopard panther jaguar cheetah elephant
    whale dolphin shark turtle octopus fish salmon koi rabbit hare squirrel mouse rat hedgehog
    badger otter beaver seal penguin frog toad snake lizard butterfly moth bee ant spider
    beetle firefly dragonfly monkey gorilla ape panda koala kangaroo giraffe zebra camel
    buffalo bison moose elk goat sheep lamb cow bull pig chicken duck goose swan heron crane
    flamingo parrot hummingbird bat lynx coyote hound""".split()
)
CREATURES = frozenset(
    """dragon unicorn phoenix griffin gryphon kraken golem troll goblin fairy faerie sprite
    spirit ghost phantom wraith demon angel mermaid siren vampire werewolf yeti titan
    leviathan serpent hydra basilisk chimera monster beast creature alien kaiju""".split()
)
MACHINES = frozenset(
    """robot android cyborg drone mech automaton machine spaceship starship rocket probe
    rover submarine train locomotive car truck motorcycle airship ship boat sailboat yacht
    plane airplane jet helicopter tank satellite""".split()
)
#: Endings of nouns that name people ("violinist", "librarian", "fisherwoman").
PERSON_SUFFIXES = (
    "ist", "ian", "man", "men", "woman", "women", "eer", "smith", "keeper", "maker", "rider",
    "walker", "hunter", "seeker", "fighter", "dancer", "player", "singer", "driver", "explorer",
    "wanderer", "farmer", "builder", "worker", "trader", "master", "mistress", "ess",
)  # fmt: skip
#: Singular nouns that end in s (not plurals).
SINGULAR_S = frozenset(
    "bus gas lens news atlas canvas chaos cosmos iris oasis octopus walrus platypus "
    "hippopotamus cactus fungus virus bonus circus status".split()
)
#: Verbs a concept may use after its subject ("knight fights dragon"), -s form -> base form.
VERBS = {
    form: base
    for base in """fight explore discover find search run walk fly dance meet return cross escape
    hunt protect build lose chase climb sail ride guard wander defend save face awaken wake
    battle race swim dive sing play travel journey guide carry seek follow enter leave watch
    roam drift float glide soar leap jump hide rescue open""".split()
    for form in (base, base + "s", base + "es", base[:-1] + "ies" if base.endswith("y") else "")
    if form
}

#: The look of a film; one is chosen per plan and put into every prompt.
LOOKS = [
    "cinematic still, volumetric light, 35mm film grain, shallow depth of field",
    "painterly concept art, soft god rays, atmospheric haze, rich detail",
    "moody cinematic frame, low-key lighting, anamorphic lens, subtle film grain",
    "epic illustrated matte painting, dramatic rim light, deep shadows",
    "naturalistic documentary photography, soft natural light, muted tones",
]
#: The light of each phase of a day, a night or a year, for the pictures of a story that runs
#: through it (``beats.ARC_PHASES``).
PHASE_LIGHT = {
    "dawn": "at dawn, first pale light",
    "morning": "in bright morning light",
    "midday": "at midday, hard overhead sun",
    "afternoon": "in warm late-afternoon light",
    "dusk": "at dusk, the sky glowing orange",
    "night": "at night, lamplight and deep blue shadows",
    "evening": "in the evening, the last blue light",
    "midnight": "at midnight, cold moonlight",
    "the small hours": "in the small hours, near darkness",
    "first light": "at first light, a thin grey glow",
    "spring": "in spring, fresh green leaves and blossom",
    "summer": "in high summer, lush and bright",
    "autumn": "in autumn, gold and red leaves",
    "winter": "in winter, frost and bare branches",
}
#: Looks of the films that are not stories, by kind (stories and montages use ``LOOKS``).
KIND_LOOKS = {
    "explainer": [
        "clean explanatory visual, soft even lighting, high clarity, minimal clutter",
        "crisp 3D-render look, soft shadows, clear readable forms",
        "bright editorial photography, clean background, precise focus",
    ],
    "teaser": [
        "premium product photography, controlled studio lighting, crisp reflections",
        "sleek commercial look, high contrast, glossy highlights, shallow depth of field",
        "minimalist advertising still, soft gradients, immaculate detail",
    ],
    "travel": [
        "travel documentary photography, natural light, vivid but true colours",
        "cinematic travel film still, warm light, 35mm film grain",
        "editorial travel photography, candid moments, soft natural contrast",
    ],
}
TIMES = ["at first light", "at dusk", "under a pale moon", "in the blue hour before dawn"]
LATER = {
    "at first light": "in the full light of morning",
    "at dawn": "in the full light of morning",
    "at sunrise": "in the full light of morning",
    "at dusk": "as night falls",
    "at sunset": "as night falls",
    "under a pale moon": "as the moon sinks low",
    "at night": "as the night deepens",
    "at midnight": "in the last hour of the night",
    "in the blue hour before dawn": "as the sun finally rises",
    "in the rain": "as the rain eases",
    "in the snow": "as the snow settles",
}
#: One look for the subject, carried through every prompt: (singular, plural) per kind.
TRAITS = {
    "person": [
        ("in a weathered travelling cloak", "in weathered travelling cloaks"),
        ("in a long coat the colour of ash", "in long coats the colour of ash"),
        ("with a lined face and a steady gaze", "with lined faces and steady eyes"),
        ("in a heavy knitted sweater and worn boots", "in heavy sweaters and worn boots"),
    ],
    # People who fight: armour suits a warrior, not a lighthouse keeper.
    "fighter": [
        ("in worn leather armour with a dark hood", "in worn leather armour and dark hoods"),
        ("in dented steel armour under a torn cloak", "in dented armour under torn cloaks"),
        ("with a scarred face and a steady gaze", "with scarred faces and steady eyes"),
    ],
    "animal": [
        ("with a sleek dark coat", "with sleek dark coats"),
        ("with bright amber eyes", "with bright amber eyes"),
        ("with a coat the colour of ash", "with coats the colour of ash"),
    ],
    "creature": [
        ("with scales like old bronze", "with scales like old bronze"),
        ("with eyes that glow like embers", "with eyes that glow like embers"),
    ],
    "machine": [
        ("with a dented, sun-bleached shell", "with dented, sun-bleached shells"),
        ("with one flickering blue lamp", "with flickering blue lamps"),
    ],
    "thing": [("", "")],
}


@dataclass(frozen=True)
class Theme:
    """What a kind of place looks, sounds and feels like."""

    keywords: frozenset[str]
    palette: str
    landmarks: tuple[str, ...]
    sounds: tuple[str, ...]
    textures: tuple[str, ...]
    particles: tuple[str, ...]
    #: What the air does in a close-up.
    air: str
    #: Settings for a concept that names none.
    settings: tuple[str, ...]


def _t(keywords: str, palette: str, air: str, **lists: str) -> Theme:
    parts = {k: tuple(v.strip() for v in text.split(";")) for k, text in lists.items()}
    return Theme(frozenset(keywords.split()), palette, air=air, **parts)


THEMES: dict[str, Theme] = {
    "forest": _t(
        "forest woods woodland jungle grove glade trees tree enchanted mystical rainforest",
        "rich greens and golds",
        "breath misting in the cool air",
        landmarks="an ancient oak; a moss-covered shrine; a ring of standing stones; a stream "
        "of black water; a fallen giant of a tree; a hollow full of fireflies; an arch of "
        "twisted roots",
        sounds="the creak of old branches; birdsong; running water; wind in the leaves",
        textures="moss and bark; dew on fern leaves; lichen on old stone; roots in dark soil",
        particles="drifting leaves; floating pollen; fireflies",
        settings="the old forest; the deep green wood",
    ),
    "sea": _t(
        "sea ocean beach coast shore harbor harbour island waves lighthouse bay cliffs port "
        "pier ship sailing tide",
        "deep blues and silver",
        "salt spray catching the light",
        landmarks="a lighthouse on the point; a wrecked hull in the shallows; a stone pier; "
        "a line of tide pools; a black rock arch; a rock white with gulls",
        sounds="the surf; gulls crying; rigging clinking in the wind; the tide pulling back",
        textures="wet sand and shells; barnacles on old timber; rope worn smooth; sea glass",
        particles="sea spray; drifting foam; rain squalls",
        settings="the wild coast; the open sea",
    ),
    "city": _t(
        "city street streets town alley rooftop rooftops metropolis market neon downtown "
        "tokyo paris london york venice subway station cyberpunk",
        "neon magenta and cyan against wet asphalt",
        "rain on skin, neon reflected in the eyes",
        landmarks="a flickering neon sign; a crowded crossing; an empty subway platform; a "
        "rooftop water tower; a night market; a rain-slick alley",
        sounds="distant traffic; a train passing overhead; rain on tin roofs; a siren far away",
        textures="wet asphalt; peeling posters; steam from a grate; rust on a fire escape",
        particles="rain streaks; steam; drifting litter",
        settings="the sprawling city; the rain-soaked city",
    ),
    "space": _t(
        "space moon mars planet stars galaxy orbit asteroid spaceship station nebula cosmos "
        "lunar alien starship",
        "inky blacks, starlight and cold blue",
        "a visor misting, stars reflected in it",
        landmarks="a crater rim; the curve of a planet; a derelict station; a field of "
        "tumbling rocks; a beacon blinking in the dark; a pale sun on the horizon",
        sounds="the hum of the suit; slow breathing; radio static; a heartbeat",
        textures="grey dust in boot prints; scratched metal plating; frost on glass; pitted rock",
        particles="drifting dust; ice crystals; distant meteors",
        settings="the surface of the moon; the silence of deep space",
    ),
    "desert": _t(
        "desert dunes dune sand canyon wasteland sahara mesa badlands oasis",
        "ochre and burnt orange",
        "heat shimmer and blowing sand",
        landmarks="a half-buried statue; a dry riverbed; a lone acacia; a wind-carved arch; "
        "a caravan's bleached skeleton; a distant oasis",
        sounds="wind over the dunes; the hiss of sand; silence; a far-off bell",
        textures="rippled sand; cracked clay; sun-bleached bone; weathered sandstone",
        particles="blowing sand; heat haze; dust devils",
        settings="the endless desert; the red canyon",
    ),
    "snow": _t(
        "snow ice arctic frozen tundra winter glacier blizzard polar frost snowy",
        "cold blues and white",
        "breath freezing in the air",
        landmarks="a frozen waterfall; a cabin buried in drifts; a crevasse; an ice cave; a "
        "line of old fence posts; a lone pine bent by the wind",
        sounds="the creak of ice; wind across the snowfield; the crunch of footsteps; silence",
        textures="frost on wool; cracked blue ice; powder snow; icicles",
        particles="falling snow; ice crystals; spindrift",
        settings="the frozen wilderness; the snowbound valley",
    ),
    "mountain": _t(
        "mountain mountains peak peaks cliff summit valley highlands ridge pass alps",
        "slate greys and alpine greens",
        "thin air and drifting cloud",
        landmarks="a narrow ridge; a prayer-flag cairn; a waterfall in the rocks; a high "
        "pass; an eagle's ledge; a hut above the clouds",
        sounds="wind on the ridge; falling scree; a distant eagle; meltwater",
        textures="granite and lichen; frayed rope; snowmelt on rock; alpine flowers",
        particles="drifting cloud; blowing snow; mist",
        settings="the high mountains; the remote valley",
    ),
    "ruins": _t(
        "castle ruins ruin temple cathedral palace dungeon tomb catacomb fortress citadel "
        "abbey monastery shrine tower",
        "stone greys and candle gold",
        "dust turning in a shaft of light",
        landmarks="a collapsed archway; a throne under ivy; a great stair; a cracked mosaic; "
        "a bell tower; a sealed door carved with runes",
        sounds="dripping water; echoes; the wind through broken windows; a bell, once",
        textures="carved stone; ivy on the walls; rusted iron; faded frescoes",
        particles="dust motes; falling ash; cobwebs stirring",
        settings="the ruins of a great hall; the abandoned fortress",
    ),
    "meadow": _t(
        "meadow field fields garden farm park countryside hills prairie orchard vineyard village",
        "warm greens and soft gold",
        "warm air and drifting seeds",
        landmarks="a lone tree on a hill; an old stone wall; a wooden gate; a windmill; a "
        "field of sunflowers; a winding lane",
        sounds="skylarks; wind in the grass; a distant church bell; bees",
        textures="wild flowers; dry grass; weathered wood; dew on clover",
        particles="drifting seeds; butterflies; pollen",
        settings="the rolling countryside; the wildflower meadow",
    ),
    # A product on a set, or a thing being explained: a clean studio, not a landscape.
    "studio": _t(
        "studio",
        "clean neutrals with one bold accent colour",
        "a soft haze catching the key light",
        landmarks="a seamless backdrop; a slowly turning plinth; the glow of a softbox; a "
        "clean workbench; a sheet of glass; a single spotlight",
        sounds="a low hum; a soft click; a deep bass pulse; near silence",
        textures="brushed metal; matte surfaces; fine grain; polished glass",
        particles="dust floating in the light; a soft haze; a gentle lens flare",
        settings="a minimal studio set; a clean, softly lit studio",
    ),
    # A place visited: streets, squares and views rather than wilderness.
    "travel": _t(
        "travel",
        "warm natural colours, sunlit stone and deep shade",
        "warm air and the smell of coffee",
        landmarks="an old square; a busy market street; a viewpoint above the rooftops; a "
        "grand old building; a narrow lane; a waterfront promenade",
        sounds="footsteps on old stone; church bells; a street musician; the murmur of a café",
        textures="worn cobblestones; painted tiles; weathered shutters; hand-lettered signs",
        particles="warm dust in the light; pigeons taking off; steam from a food stall",
        settings="the old town; the harbour quarter",
    ),
    "generic": _t(
        "",
        "a restrained palette of warm and cool tones",
        "the air still and expectant",
        landmarks="a lone tree; an old stone marker; a winding path; a distant light; a "
        "ridge against the sky; an empty road",
        sounds="the wind; distant thunder; a single bird; silence",
        textures="weathered stone; dry grass; worn fabric; old wood",
        particles="drifting dust; light rain; falling leaves",
        settings="the windswept plains; the quiet valley",
    ),
}
