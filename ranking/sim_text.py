"""The simulated world's words: per-topic vocabularies, life-event titles, and the
items assembled from them (drawn in bulk with numpy, so a world builds quickly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from ranking.types import ItemInfo

START = datetime(2026, 1, 1, tzinfo=UTC)

TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tech": (("python", "rust", "compiler", "kernel", "database", "server", "linux",
              "terminal", "editor", "git", "release", "api", "container", "debugging",
              "latency", "cache", "benchmark", "refactor", "parser", "framework", "deploy",
              "script", "laptop", "keyboard"),
             ("tech", "programming", "opensource", "software")),
    "cooking": (("recipe", "sourdough", "bread", "soup", "curry", "pasta", "oven", "spices",
                 "garlic", "baking", "dinner", "kitchen", "fermentation", "noodles", "salad",
                 "roast", "dumplings", "cheese", "pastry", "stew", "lentils", "chili",
                 "brunch", "pickles"),
                ("food", "cooking", "recipes", "baking")),
    "music": (("album", "guitar", "synth", "concert", "vinyl", "playlist", "drums", "chords",
               "melody", "jazz", "band", "festival", "record", "mixing", "bass", "piano",
               "lyrics", "remix", "tour", "gig", "choir", "violin", "headphones", "setlist"),
              ("music", "nowplaying", "vinyl", "livemusic")),
    "politics": (("election", "parliament", "policy", "vote", "campaign", "budget", "council",
                  "housing", "union", "protest", "minister", "referendum", "tax", "reform",
                  "candidate", "debate", "coalition", "transit", "zoning", "senate", "ballot",
                  "mayor", "strike", "manifesto"),
                 ("politics", "policy", "elections", "local")),
    "sports": (("marathon", "football", "cycling", "climbing", "race", "training", "match",
                "league", "goal", "running", "swim", "tennis", "coach", "season", "trail",
                "bouldering", "stadium", "playoffs", "rowing", "pace", "sprint", "ride",
                "team", "derby"),
               ("sports", "running", "cycling", "football")),
    "travel": (("train", "flight", "hostel", "itinerary", "passport", "island", "mountains",
                "coast", "airport", "roadtrip", "camping", "ferry", "hiking", "border",
                "museum", "village", "backpack", "luggage", "tram", "journey", "cabin",
                "beach", "sunrise", "map"),
               ("travel", "trains", "hiking", "outdoors")),
    "photography": (("lens", "camera", "film", "exposure", "aperture", "portrait",
                     "landscape", "darkroom", "prints", "shutter", "tripod", "zoom",
                     "polaroid", "negatives", "bokeh", "lightroom", "streets", "monochrome",
                     "flash", "sensor", "grain", "frames", "composition", "slides"),
                    ("photography", "filmphotography", "35mm", "photo")),
    "science": (("physics", "telescope", "galaxy", "experiment", "paper", "dataset", "genome",
                 "neurons", "quantum", "fossils", "microscope", "chemistry", "evolution",
                 "orbit", "hypothesis", "statistics", "lab", "particles", "asteroid",
                 "proteins", "bacteria", "volcano", "equation", "preprint"),
                ("science", "astronomy", "biology", "research")),
    "books": (("novel", "poetry", "reading", "bookshop", "chapter", "fiction", "essay",
               "memoir", "publisher", "translation", "paperback", "review", "manuscript",
               "bookclub", "fantasy", "poems", "anthology", "writing", "draft", "characters",
               "prose", "zine", "shelf", "sequel"),
              ("books", "reading", "amreading", "writing")),
    "gardening": (("allotment", "seedlings", "compost", "pruning", "roses", "greenhouse",
                   "beans", "soil", "mulch", "weeds", "harvest", "orchard", "bulbs",
                   "hedgehog", "pollinators", "perennials", "herbs", "watering", "shed",
                   "potatoes", "lawn", "blossom", "squash", "courgettes"),
                  ("gardening", "garden", "allotment", "plants")),
}  # fmt: skip
FILLERS = ("notes", "thoughts", "week", "update", "quick", "today", "weekend", "part",
           "some", "about", "my", "on", "the", "a", "finally", "again", "first", "look",
           "trying", "small", "little", "why", "how", "more")  # fmt: skip
LIFE_TITLES = ("We got married!", "Our wedding, at last", "She said yes!", "We're engaged",
               "Starting a new job at {company}", "Some news: I'm joining {company}",
               "Got promoted today", "Moving to {city}", "We moved to {city}",
               "Our new home", "Our baby was born", "We welcomed our son on Sunday",
               "We're expecting!", "I graduated!", "Defended my PhD today",
               "Dad passed away", "In memoriam: my grandmother",
               "Retiring after {years} years", "Back home after surgery")  # fmt: skip
LIFE_WORDS = ("family", "friends", "grateful", "news", "thank", "everyone", "love", "kind",
              "words", "heart", "together", "years", "life", "home", "big", "day")  # fmt: skip
COMPANIES = ("Acme", "Lighthouse Labs", "Northwind", "Globex", "the city library")
CITIES = ("Berlin", "Lisbon", "Bergen", "Montreal", "Osaka", "Leeds")
SOURCE_KINDS = ("feed", "mastodon", "comments")
SOURCE_KIND_P = (0.5, 0.4, 0.1)
LINK_P = {"feed": 0.9, "mastodon": 0.3, "comments": 0.2}
CONTACT_KINDS = ("reply", "mention", "favourite", "boost")


def _items(
    rng: np.random.Generator,
    day: NDArray[np.float64],
    person: NDArray[np.int64],
    topic: NDArray[np.int64],
    is_life: NDArray[np.bool_],
    mentions: NDArray[np.bool_],
    kinds: NDArray[np.int64],
) -> tuple[ItemInfo, ...]:
    """Item text and tags from per-topic vocabularies (drawn in bulk, assembled here)."""
    n = day.size
    vocab = list(TOPICS.values())
    title_len = rng.integers(3, 7, n)
    text_len = rng.integers(12, 25, n)
    title_w = rng.integers(0, 24, (n, 6))
    title_f = rng.random((n, 6)) < 0.25
    fill_w = rng.integers(0, len(FILLERS), (n, 24))
    text_w = rng.integers(0, 24, (n, 24))
    text_t = np.where(
        rng.random((n, 24)) < 0.1, rng.integers(0, len(vocab), (n, 24)), topic[:, None]
    )
    text_f = rng.random((n, 24)) < 0.4
    tag_w = rng.integers(0, 4, (n, 2))
    tag_n = rng.choice(3, size=n, p=(0.2, 0.5, 0.3))
    life_t = rng.integers(0, len(LIFE_TITLES), n)
    life_x = rng.integers(0, len(LIFE_WORDS), (n, 24))
    life_c = rng.integers(0, 30, (n, 3))
    has_link = rng.random(n)
    has_media = rng.random(n) < 0.2
    congrats = np.where(
        is_life,
        (rng.random(n) < 0.7) * (1 + rng.poisson(3.0, n)),
        rng.random(n) < 0.002,
    )
    items = []
    for i in range(n):
        kind = SOURCE_KINDS[kinds[person[i]]]
        if is_life[i]:
            title = LIFE_TITLES[life_t[i]].format(
                company=COMPANIES[life_c[i, 0] % len(COMPANIES)],
                city=CITIES[life_c[i, 1] % len(CITIES)],
                years=10 + life_c[i, 2],
            )
            text = " ".join(LIFE_WORDS[w] for w in life_x[i, : text_len[i]]) + "."
            tags: tuple[str, ...] = ("personal",) if tag_n[i] else ()
        else:
            words, topic_tags = vocab[topic[i]]
            chosen = [
                FILLERS[fill_w[i, k]] if title_f[i, k] else words[title_w[i, k]]
                for k in range(title_len[i])
            ]
            title = " ".join(chosen).capitalize()
            text = (
                " ".join(
                    FILLERS[fill_w[i, k]] if text_f[i, k] else vocab[text_t[i, k]][0][text_w[i, k]]
                    for k in range(text_len[i])
                ).capitalize()
                + "."
            )
            tags = tuple(dict.fromkeys(topic_tags[t] for t in tag_w[i, : tag_n[i]]))
        items.append(
            ItemInfo(
                item_id=i + 1,
                person_id=int(person[i]) + 1,
                published=_at(float(day[i])),
                source_kind=kind,
                title=title,
                text=text,
                tags=tags,
                has_link=bool(has_link[i] < LINK_P[kind]),
                has_media=bool(has_media[i]),
                mentions_you=bool(mentions[i]),
                congratulations=int(congrats[i]),
            )
        )
    return tuple(items)


def _at(day: float) -> datetime:
    return START + timedelta(days=float(day))
