"""Important stories: life events that should reach the user even from someone they
rarely read (a wedding, a new job, a move, a baby, a death). Pure text rules: the
ranking issue turns the result into a prior boost; the digest lists them."""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENTS: dict[str, tuple[str, ...]] = {
    "wedding": (r"\bgetting married\b", r"\bgot married\b", r"\bwe(?:'|’)re married\b",
                r"\bour wedding\b", r"\bengaged\b", r"\bsaid yes\b"),
    "new job": (r"\bnew job\b", r"\bstarting (?:a new job|at|my new role)\b",
                r"\bjoining (?:the )?[A-Z]", r"\bi(?:'|’)m joining\b", r"\bnew role\b",
                r"\bhired\b", r"\bpromoted\b"),
    "moving": (r"\bmoving to\b", r"\bmoved to\b", r"\bnew (?:home|flat|house|apartment)\b",
               r"\brelocat(?:e|ing|ed)\b"),
    "baby": (r"\bbaby\b", r"\bexpecting\b", r"\bwelcomed? (?:our|a) (?:son|daughter|baby)\b",
             r"\bborn\b"),
    "graduation": (r"\bgraduat(?:ed|ion|ing)\b", r"\bdefended my (?:thesis|phd)\b"),
    "retirement": (r"\bretir(?:ed|ing|ement)\b",),
    "loss": (r"\bpassed away\b", r"\bfuneral\b", r"\bin memoriam\b", r"\brest in peace\b",
             r"\bcondolences\b"),
    "health": (r"\bin (?:the )?hospital\b", r"\bdiagnos(?:ed|is)\b", r"\bsurgery\b"),
}  # fmt: skip
_COMPILED = {
    event: [re.compile(p, re.IGNORECASE if "[A-Z]" not in p else 0) for p in patterns]
    for event, patterns in EVENTS.items()
}
# one pass that says whether any rule can match: most posts announce nothing, and one
# alternation is far cheaper than every rule in turn (the ordered rules then decide)
_ANY = [
    re.compile(
        "|".join(f"(?:{p})" for ps in EVENTS.values() for p in ps if "[A-Z]" not in p), re.I
    ),
    re.compile("|".join(f"(?:{p})" for ps in EVENTS.values() for p in ps if "[A-Z]" in p)),
]
CONGRATS = re.compile(
    r"\b(congratulations|congrats|so happy for you|condolences|sorry for your loss)\b", re.I
)


@dataclass(frozen=True, slots=True)
class Story:
    event: str
    evidence: str  # the words that matched


def life_event(title: str, text: str) -> Story | None:
    """The life event a post announces, if any (title weighs first, then the text)."""
    for part in (title, text[:2000]):
        if not any(pattern.search(part) for pattern in _ANY):
            continue
        for event, patterns in _COMPILED.items():
            for pattern in patterns:
                match = pattern.search(part)
                if match:
                    return Story(event=event, evidence=match.group(0))
    return None


def is_congratulation(text: str) -> bool:
    """A reply that congratulates or consoles: the thread it is in is likely a story."""
    return bool(CONGRATS.search(text[:1000]))
