from __future__ import annotations

from ranking.identity import PersonSketch, normalize_name, suggest_merges


def test_normalize_name() -> None:
    assert normalize_name("  Zoë  O'Neil ") == "zoe oneil"


def test_same_name_across_sources_is_suggested_with_reasons() -> None:
    people = [
        PersonSketch(1, "Sam Okafor", frozenset({"samokafor.example"})),
        PersonSketch(2, "sam okafor", frozenset({"maya.example"})),
        PersonSketch(3, "Sam J. Okafor", frozenset({"maya.example"})),
        PersonSketch(4, "Priya Raman"),
    ]
    got = suggest_merges(people)
    assert [(s.a, s.b, s.confidence) for s in got] == [(1, 2, 0.7), (2, 3, 0.7), (1, 3, 0.5)]
    assert got[0].reasons == ("the same name: 'Sam Okafor'",)
    assert "both seen on maya.example" in got[1].reasons


def test_rejected_pairs_never_come_back_and_single_words_need_a_site() -> None:
    people = [
        PersonSketch(1, "Kim"),
        PersonSketch(2, "kim"),
        PersonSketch(3, "Ann Lee"),
        PersonSketch(4, "Ann Lee"),
    ]
    assert [(s.a, s.b) for s in suggest_merges(people)] == [(3, 4)]
    assert suggest_merges(people, rejected={frozenset({3, 4})}) == []
    with_site = [
        PersonSketch(1, "Kim", frozenset({"a.example"})),
        PersonSketch(2, "kim", frozenset({"a.example"})),
    ]
    assert [(s.a, s.b, s.confidence) for s in suggest_merges(with_site)] == [(1, 2, 0.9)]
