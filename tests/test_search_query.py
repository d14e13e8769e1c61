"""The search parser (pure): terms, phrases, exclusions, OR, qualifiers, hostile input,
and the FTS5 string it builds (every word quoted); snippets and HTML text."""

from __future__ import annotations

import pytest

from app.search.query import (
    MAX_QUERY_CHARS,
    InvalidQuery,
    QueryTooLong,
    SearchQuery,
    Term,
    parse_query,
    tokens,
)
from app.search.text import html_text, snippet


def words(q: SearchQuery) -> list[list[tuple[str, ...]]]:
    return [[t.words for t in g] for g in q.groups]


def test_words_phrases_exclusions_or_and_qualifiers() -> None:
    q = parse_query('Garden "new JOB" -wedding -"bad news" cake OR pie person:priya tag:Cooking')
    assert words(q) == [[("garden",)], [("new", "job")], [("cake",), ("pie",)]]
    assert [t.words for t in q.excluded] == [("wedding",), ("bad", "news")]
    assert q.person_names == (Term(("priya",)),)
    assert q.tags == ("cooking",)
    assert q.highlight == {"garden", "new", "job", "cake", "pie"}
    assert q.fts5() == (
        '(("garden") AND ("new job") AND ("cake" OR "pie") AND (person : "priya")) '
        'NOT ("wedding" OR "bad news")'
    )


def test_person_by_id_and_by_full_name() -> None:
    q = parse_query('hello person:7 person:"Priya Raman"')
    assert q.person_ids == (7,)
    assert q.person_names == (Term(("priya", "raman")),)
    assert parse_query("x person:99999999999999999999").person_ids == (-1,)  # nobody


def test_a_person_name_alone_is_a_search() -> None:
    q = parse_query("person:maya")
    assert q.groups == () and q.fts5() == '(person : "maya")'


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-",
        "- - -",
        "-wedding",
        "***",
        "()",
        '""',
        "person:7",
        "tag:cooking",
        "NOT",
        "OR AND NOT",
    ],
)
def test_nothing_to_look_for_is_invalid_query(text: str) -> None:
    with pytest.raises(InvalidQuery) as exc:
        parse_query(text)
    assert exc.value.code == "invalid_query"


def test_too_long_and_too_many_terms() -> None:
    with pytest.raises(QueryTooLong) as exc:
        parse_query("a" * (MAX_QUERY_CHARS + 1))
    assert exc.value.code == "query_too_long"
    with pytest.raises(QueryTooLong):
        parse_query("x " * 10_000)
    with pytest.raises(QueryTooLong):
        parse_query(" ".join(f"w{i}" for i in range(40)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NEAR(a b)", [[("near", "a")], [("b",)]]),  # one piece "NEAR(a": a phrase
        ("cake*", [[("cake",)]]),
        ("^start", [[("start",)]]),
        ('"unbalanced phrase', [[("unbalanced", "phrase")]]),
        ('one "two', [[("one",)], [("two",)]]),
        ("title:secret", [[("title", "secret")]]),
        ("http://example.org/x", [[("http", "example", "org", "x")]]),
        ("e-mail don't", [[("e", "mail")], [("don", "t")]]),
        ("'; DROP TABLE item; --", [[("drop",)], [("table",)], [("item",)]]),
        ("a AND b", [[("a",)], [("b",)]]),
        ("OR cake", [[("cake",)]]),
        ("cake OR", [[("cake",)]]),
        ("Café ÜBER 東京 ñandú", [[("café",)], [("über",)], [("東京",)], [("ñandú",)]]),
        ("x_y", [[("x", "y")]]),
        ("emoji 🎉 party", [[("emoji",)], [("party",)]]),
    ],
)
def test_operators_and_odd_text_are_just_words(text: str, expected: object) -> None:
    q = parse_query(text)
    assert words(q) == expected
    match = q.fts5()
    # every word is inside double quotes: nothing the user typed is FTS5 syntax
    outside = "".join(match.split('"')[0::2])
    assert set(outside) <= set("() ANDORTperson:")


def test_not_before_a_word_excludes_it() -> None:
    q = parse_query("cake NOT pie")
    assert words(q) == [[("cake",)]] and [t.words for t in q.excluded] == [("pie",)]


def test_tokens_fold_case_and_split_on_punctuation() -> None:
    assert tokens("Hello, WORLD! naïve_x 42") == ("hello", "world", "naïve", "x", "42")


def test_html_text_strips_tags_and_decodes_entities() -> None:
    assert html_text('<p>Fish &amp; chips</p><p><a href="https://x.example/">link</a></p>') == (
        "Fish & chips link"
    )
    assert html_text(None) == "" and html_text("plain") == "plain"
    assert html_text("a\x02b\x03c") == "a b c"  # control characters never pass


def test_snippet_marks_matches_in_escaped_text() -> None:
    cut = snippet("Tom & Jerry <b> like cake, CAKE!", frozenset({"cake"}))
    assert cut.text == "Tom & Jerry <b> like cake, CAKE!"
    assert [cut.text[s:e] for s, e in cut.marks] == ["cake", "CAKE"]
    assert cut.html() == "Tom &amp; Jerry &lt;b&gt; like <mark>cake</mark>, <mark>CAKE</mark>!"


def test_snippet_of_a_long_text_is_cut_around_the_match() -> None:
    text = " ".join(["filler"] * 200) + " the wedding was lovely " + " ".join(["more"] * 200)
    cut = snippet(text, frozenset({"wedding"}), width=120)
    assert cut.text.startswith("… ") and cut.text.endswith(" …")
    assert len(cut.text) <= 130
    assert [cut.text[s:e] for s, e in cut.marks] == ["wedding"]
    no_hit = snippet(text, frozenset({"absent"}), width=120)
    assert no_hit.text.startswith("filler") and no_hit.marks == ()
