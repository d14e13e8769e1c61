from __future__ import annotations

import pytest

from ranking.stories import is_congratulation, life_event


@pytest.mark.parametrize(
    ("title", "text", "event"),
    [
        ("We're getting married!", "", "wedding"),
        ("New job: I'm joining the Lighthouse Restoration Trust", "", "new job"),
        ("Moving to Bergen", "", "moving"),
        ("Big news", "we're expecting a baby in May!", "baby"),
        ("Retired!", "After forty years at the yard I am retired.", "retirement"),
        ("Dad", "My father passed away last week.", "loss"),
    ],
)
def test_life_events(title: str, text: str, event: str) -> None:
    story = life_event(title, text)
    assert story is not None and story.event == event


@pytest.mark.parametrize(
    ("title", "text"),
    [("Sourdough, attempt twelve", "the crumb is open"), ("Weekend ride", "142 km")],
)
def test_ordinary_posts_are_not_stories(title: str, text: str) -> None:
    assert life_event(title, text) is None


def test_congratulations() -> None:
    assert is_congratulation("Congratulations, both of you!")
    assert not is_congratulation("For the record, it was only drizzling.")
