"""The People pages without a browser: signed out, escaping, isolation, order, the
person page's items and contact sparkline. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine, session_scope
from app.models import Identity, Interaction, Person
from app.web.people import WEEKS, sparkline
from tests.app.conftest import ApiUser
from tests.app.test_people import two_blogs
from tests.app.test_web import login
from tests.helpers import FeedServer

HOSTILE = "<script>alert(1)</script> Eve"  # two words: a merge suggestion
NOW = datetime.now(UTC)


def add_person(
    settings: Settings,
    user: ApiUser,
    name: str,
    *,
    identities: tuple[tuple[str, str], ...] = (),
    manual_weight: float | None = None,
    pinned: bool = False,
    muted: bool = False,
) -> int:
    with session_scope(get_engine(settings.database_url)) as s:
        person = Person(
            user_id=user.id, name=name, manual_weight=manual_weight, pinned=pinned, muted=muted
        )
        s.add(person)
        s.flush()
        assert person.id is not None
        for kind, value in identities:
            s.add(Identity(user_id=user.id, person_id=person.id, kind=kind, value=value))
        return person.id


def card_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-person-card="(\d+)"', html)]


def assert_only_our_scripts(html: str) -> None:
    scripts = re.findall(r"<script[^>]*>", html, flags=re.IGNORECASE)
    assert scripts and all(
        re.fullmatch(r'<script src="/static/[a-z]+\.js" defer>', t) for t in scripts
    ), scripts
    assert 'src="/static/people.js"' in html


def test_people_pages_need_a_login(client: TestClient) -> None:
    for path in ("/people", "/people/1"):
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == 303
        where = urlsplit(resp.headers["location"])
        assert where.path == "/login" and parse_qs(where.query) == {"next": [path]}


def test_hostile_names_and_identities_are_escaped(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    # two people of the same hostile name: a merge suggestion shows them too
    first = add_person(
        settings,
        alice,
        HOSTILE,
        identities=(
            ("url", "javascript:alert(1)"),
            ("feed_author", 'h.example|<img src=x onerror="alert(1)">'),
        ),
    )
    second = add_person(
        settings, alice, HOSTILE, identities=(("url", 'https://ok.example/"><script>x</script>'),)
    )
    login(client, "alice", "correct horse")
    for path in ("/people", f"/people/{first}", f"/people/{second}"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        html = resp.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>" not in html and "<img" not in html
        assert_only_our_scripts(html)
        # a javascript: identity is shown as text, never as a link
        assert 'href="javascript' not in html.lower()
        assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", html, flags=re.IGNORECASE)
        # no inline style anywhere (the CSP forbids it)
        assert "style=" not in html and "<style" not in html
    people = client.get("/people").text
    assert "data-suggestion" in people and f'data-a="{first}"' in people
    # an https identity is a link, its quotes and brackets escaped
    assert (
        '<a href="https://ok.example/&#34;&gt;&lt;script&gt;x&lt;/script&gt;" '
        'rel="noopener noreferrer"' in client.get(f"/people/{second}").text
    )


def test_another_users_person_is_a_404_like_a_missing_one(
    client: TestClient, settings: Settings, alice: ApiUser, bob: ApiUser
) -> None:
    bobs = add_person(settings, bob, "Bob's Friend", identities=(("url", "https://bf.example"),))
    mine = add_person(settings, alice, "Alice's Friend")
    login(client, "alice", "correct horse")
    theirs = client.get(f"/people/{bobs}")
    missing = client.get(f"/people/{bobs + 1000}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text == missing.text  # nothing tells the two apart
    assert "Bob's Friend" not in theirs.text and "bf.example" not in theirs.text
    for odd in ("abc", "0", "-1", "99999999999999999999"):
        assert client.get(f"/people/{odd}").status_code == 404, odd
    assert client.get(f"/people/{mine}").status_code == 200
    listing = client.get("/people").text
    assert card_ids(listing) == [mine] and "Bob" not in listing


def test_people_are_listed_by_weight_pinned_first_muted_last(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    low = add_person(settings, alice, "Low Weight", manual_weight=-1.0)
    high = add_person(settings, alice, "High Weight", manual_weight=2.0)
    muted = add_person(settings, alice, "Muted Person", manual_weight=2.0, muted=True)
    pinned = add_person(settings, alice, "Pinned Person", manual_weight=-2.0, pinned=True)
    plain = add_person(settings, alice, "Plain Person")
    login(client, "alice", "correct horse")
    html = client.get("/people").text
    assert card_ids(html) == [pinned, high, plain, low, muted]
    # the controls carry the state the script sends back whole
    box = re.search(rf'data-weight data-person="{high}"[^>]*>', html, flags=re.S)
    assert box and 'data-manual="2.0"' in box.group(0) and 'data-pinned="false"' in box.group(0)
    assert re.search(
        rf'<input type="range" id="manual-{high}" min="-2" max="2" step="0.5"\s+value="2.0"', html
    )
    assert re.search(rf'<label for="manual-{high}">Your weight', html)
    assert re.search(rf'<output for="manual-{high}" data-output>\+2</output>', html)
    assert re.search(rf'<output for="manual-{plain}" data-output>auto</output>', html)
    muted_box = re.search(rf'data-weight data-person="{muted}"[^>]*>', html, flags=re.S)
    assert muted_box and 'data-muted="true"' in muted_box.group(0)
    assert 'data-toggle="muted" aria-pressed="true"' in html.split(f'data-person="{muted}"')[1]


def test_person_page_shows_items_and_a_contact_sparkline(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    people = {
        p["name"]: p for p in client.get("/api/v1/people", headers=alice.auth).json()["items"]
    }
    ann = people["Ann Lee"]["id"]
    with session_scope(get_engine(settings.database_url)) as s:
        for n, days in enumerate((3, 4, 20, 400)):  # the last is more than a year ago
            s.add(
                Interaction(
                    user_id=alice.id,
                    person_id=ann,
                    direction="out" if n else "in",
                    kind="comment",
                    at=NOW - timedelta(days=days),
                    external_id=f"s:{n}",
                )
            )
    login(client, "alice", "correct horse")
    html = client.get(f"/people/{ann}").text
    assert '<h1 id="person-name">Ann Lee</h1>' in html
    # her items, newest first, linking out; none of Bo's
    titles = re.findall(
        r'<a class="title" href="https://ann\.example/\d" rel="noopener noreferrer"[^>]*>([^<]+)</a>',
        html,
    )
    assert titles == ["Ann Lee 0", "Ann Lee 1", "Ann Lee 2"]
    assert "Bo Berg 0" not in html
    svg = re.search(r'<svg class="sparkline".*?</svg>', html, flags=re.S)
    assert svg, "no sparkline"
    assert 'data-total="3"' in svg.group(0)
    assert (
        '<title id="spark-title">3 contacts in the last year, the last one 3 days ago</title>'
        in svg.group(0)
    )
    points = re.search(r'<polyline points="([^"]+)"', svg.group(0))
    assert points
    pairs = [tuple(float(v) for v in p.split(",")) for p in points.group(1).split()]
    assert len(pairs) == WEEKS
    ys = [y for _, y in pairs]
    # this week (two contacts) is the peak; the week of day 20 is half as high; others flat
    assert ys[-1] == min(ys) and ys.count(max(ys)) == WEEKS - 2
    assert max(ys) - ys[-3] == (max(ys) - ys[-1]) / 2
    assert re.search(r"<dt>You started</dt>\s*<dd>2 comments</dd>", html)
    assert re.search(r"<dt>They started</dt>\s*<dd>1 comment</dd>", html)


def test_sparkline_buckets_by_week() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    contacts = [(now - timedelta(days=d), "out", "reply") for d in (0.5, 6.9, 7.1, 363, 365, 1000)]
    line = sparkline(contacts, now=now)
    assert len(line.counts) == WEEKS and line.total == 4
    assert line.counts[-1] == 2 and line.counts[-2] == 1 and line.counts[0] == 1
    assert line.label == "4 contacts in the last year, the last one today"
    empty = sparkline([], now=now)
    assert empty.total == 0 and empty.label == "0 contacts in the last year, none recorded before"
    assert {y for _, y in (p.split(",") for p in empty.points.split())} == {str(26)}
