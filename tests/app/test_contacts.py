"""The contact log and dates through the API: contact Kith cannot see counts wherever
contact counts (drifting, the contact history, the ranking prior); dates come up as
reminders. Bad input is a clear error and changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.config import Settings
from app.db import get_engine, session_scope
from app.models import Interaction, PersonDate
from tests.app.conftest import ApiUser
from tests.app.test_people import NOW, people, two_blogs
from tests.helpers import FeedServer

API = "/api/v1"


def seen_contact(settings: Settings, user: ApiUser, person_id: int, days: list[int]) -> None:
    """Contact Kith saw (comments), ``days`` ago."""
    with session_scope(get_engine(settings.database_url)) as s:
        for d in days:
            s.add(
                Interaction(
                    user_id=user.id,
                    person_id=person_id,
                    direction="out",
                    kind="comment",
                    at=NOW - timedelta(days=d),
                )
            )


def interaction_count(settings: Settings) -> int:
    with session_scope(get_engine(settings.database_url)) as s:
        return s.exec(select(func.count()).select_from(Interaction)).one()


def test_a_logged_call_ends_the_silence_and_shows_in_the_history(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    ann = people(client, alice)["Ann Lee"]
    seen_contact(settings, alice, ann["id"], [100, 90, 80, 70, 60])  # every ten days, then quiet
    drifting = client.get(f"{API}/people/drifting", headers=alice.auth).json()["items"]
    assert [d["person"]["name"] for d in drifting] == ["Ann Lee"]
    before = client.get(f"{API}/people/{ann['id']}/weight", headers=alice.auth).json()

    yesterday = (NOW - timedelta(days=1)).isoformat()
    resp = client.post(
        f"{API}/people/{ann['id']}/contacts",
        json={"kind": "call", "direction": "in", "at": yesterday, "note": "  She called!  "},
        headers=alice.auth,
    )
    assert resp.status_code == 201, resp.text
    logged = resp.json()
    assert logged["kind"] == "call" and logged["direction"] == "in" and logged["logged"] is True
    assert logged["note"] == "She called!"
    # drifting counts it: Ann is no longer listed
    assert client.get(f"{API}/people/drifting", headers=alice.auth).json()["items"] == []
    # the contact history counts it, by direction and kind
    contact = client.get(f"{API}/people/{ann['id']}", headers=alice.auth).json()["contact"]
    assert contact["count"] == 6
    assert contact["last_year"]["in"] == {"call": 1}
    # the ranking prior counts it: her learned weight went up
    after = client.get(f"{API}/people/{ann['id']}/weight", headers=alice.auth).json()
    assert after["learned"] > before["learned"]
    # the list shows logged and seen contact, newest first, paged
    page = client.get(
        f"{API}/people/{ann['id']}/contacts", params={"limit": 4}, headers=alice.auth
    ).json()
    assert [c["kind"] for c in page["items"]] == ["call", "comment", "comment", "comment"]
    assert [c["logged"] for c in page["items"]] == [True, False, False, False]
    rest = client.get(
        f"{API}/people/{ann['id']}/contacts",
        params={"limit": 4, "cursor": page["next_cursor"]},
        headers=alice.auth,
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None


def test_default_date_is_now_and_both_directions_count(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    bo = people(client, alice)["Bo Berg"]
    resp = client.post(
        f"{API}/people/{bo['id']}/contacts",
        json={"kind": "meeting", "direction": "both"},
        headers=alice.auth,
    )
    assert resp.status_code == 201
    at = datetime.fromisoformat(resp.json()["at"])
    assert abs((at - datetime.now(UTC)).total_seconds()) < 600
    contact = client.get(f"{API}/people/{bo['id']}", headers=alice.auth).json()["contact"]
    assert contact["count"] == 1
    assert contact["last_year"] == {"out": {"meeting": 1}, "in": {"meeting": 1}}


def test_edit_and_delete_a_logged_contact_but_not_one_kith_saw(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    ann = people(client, alice)["Ann Lee"]
    seen_contact(settings, alice, ann["id"], [3])
    base = f"{API}/people/{ann['id']}/contacts"
    logged = client.post(base, json={"kind": "letter"}, headers=alice.auth).json()
    resp = client.patch(
        f"{base}/{logged['id']}",
        json={"kind": "email", "note": "about the trip", "at": "2026-01-05T10:00:00Z"},
        headers=alice.auth,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["kind"] == "email" and resp.json()["note"] == "about the trip"
    assert resp.json()["at"].startswith("2026-01-05T10:00:00")
    seen = [c for c in client.get(base, headers=alice.auth).json()["items"] if not c["logged"]]
    for method in ("patch", "delete"):
        kwargs = {"json": {"note": "x"}} if method == "patch" else {}
        bad = getattr(client, method)(f"{base}/{seen[0]['id']}", headers=alice.auth, **kwargs)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    assert client.delete(f"{base}/{logged['id']}", headers=alice.auth).status_code == 204
    assert client.delete(f"{base}/{logged['id']}", headers=alice.auth).status_code == 404
    assert interaction_count(settings) == 1  # the comment Kith saw is still there


def test_bad_contacts_are_refused_and_store_nothing(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    ann = people(client, alice)["Ann Lee"]
    base = f"{API}/people/{ann['id']}/contacts"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for body in (
        {"kind": "carrier pigeon"},
        {"kind": "call", "direction": "sideways"},
        {"kind": "call", "at": tomorrow},
        {"kind": "call", "at": "not a date"},
        {"kind": "call", "note": "x" * 501},
        {},
        {"kind": "call", "note": 5},
    ):
        resp = client.post(base, json=body, headers=alice.auth)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["error"]["code"] in {"invalid_input", "validation_error"}, resp.text
        assert resp.json()["error"]["message"]
    resp = client.post(base, content=b"{not json", headers=alice.auth)
    assert resp.status_code == 422
    # another user's person is not there; a missing one neither
    assert client.post(base, json={"kind": "call"}, headers=bob.auth).status_code == 404
    assert (
        client.post(
            f"{API}/people/999999/contacts", json={"kind": "call"}, headers=alice.auth
        ).status_code
        == 404
    )
    assert interaction_count(settings) == 0


def test_dates_upcoming_and_the_leap_day(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser, bob: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    found = people(client, alice)
    ann, bo = found["Ann Lee"], found["Bo Berg"]
    today = datetime.now(UTC).date()
    soon = today + timedelta(days=3)
    later = today + timedelta(days=40)
    resp = client.post(
        f"{API}/people/{ann['id']}/dates",
        json={"kind": "birthday", "month": soon.month, "day": soon.day, "year": soon.year - 40},
        headers=alice.auth,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["days_until"] == 3 and resp.json()["next"] == soon.isoformat()
    # posting the birthday again replaces it (one birthday per person)
    again = client.post(
        f"{API}/people/{ann['id']}/dates",
        json={"kind": "birthday", "month": soon.month, "day": soon.day, "year": soon.year - 30},
        headers=alice.auth,
    )
    assert again.json()["id"] == resp.json()["id"] and again.json()["year"] == soon.year - 30
    client.post(
        f"{API}/people/{bo['id']}/dates",
        json={"kind": "custom", "label": "Started at the lab", "month": later.month,
              "day": later.day, "remind_days": 7},
        headers=alice.auth,
    )  # fmt: skip
    upcoming = client.get(f"{API}/people/upcoming", headers=alice.auth).json()["items"]
    assert [(u["person"]["name"], u["days_until"]) for u in upcoming] == [("Ann Lee", 3)]
    assert upcoming[0]["years"] == 30 and upcoming[0]["text"] == "Birthday (turns 30) in 3 days"
    wider = client.get(f"{API}/people/upcoming", params={"days": 60}, headers=alice.auth).json()
    assert [u["person"]["name"] for u in wider["items"]] == ["Ann Lee", "Bo Berg"]
    # Bob sees none of it
    assert client.get(f"{API}/people/upcoming", headers=bob.auth).json()["items"] == []
    assert client.get(f"{API}/people/{ann['id']}/dates", headers=bob.auth).status_code == 404
    # 29 February: without a year, or in a leap year; never in another year
    leap = client.post(
        f"{API}/people/{bo['id']}/dates",
        json={"kind": "anniversary", "month": 2, "day": 29},
        headers=alice.auth,
    )
    assert leap.status_code == 201
    next_on = date.fromisoformat(leap.json()["next"])
    assert next_on.month == 2 and next_on.day in (28, 29)
    for body in (
        {"kind": "anniversary", "month": 2, "day": 29, "year": 2023},
        {"kind": "birthday", "month": 4, "day": 31},
        {"kind": "birthday", "month": 13, "day": 1},
        {"kind": "custom", "month": 1, "day": 1},  # no label
        {"kind": "wedding", "month": 1, "day": 1},
        {"kind": "birthday", "month": 1, "day": 1, "remind_days": 400},
    ):
        bad = client.post(f"{API}/people/{bo['id']}/dates", json=body, headers=alice.auth)
        assert bad.status_code == 422, (body, bad.text)
    dates = client.get(f"{API}/people/{bo['id']}/dates", headers=alice.auth).json()
    assert sorted(d["kind"] for d in dates) == ["anniversary", "custom"]
    custom = next(d for d in dates if d["kind"] == "custom")
    patched = client.patch(
        f"{API}/people/{bo['id']}/dates/{custom['id']}",
        json={"label": "First day at the lab", "remind_days": 0},
        headers=alice.auth,
    )
    assert patched.status_code == 200 and patched.json()["label"] == "First day at the lab"
    bad = client.patch(
        f"{API}/people/{bo['id']}/dates/{custom['id']}",
        json={"day": 31, "month": 2},
        headers=alice.auth,
    )
    assert bad.status_code == 422
    assert (
        client.delete(
            f"{API}/people/{bo['id']}/dates/{custom['id']}", headers=alice.auth
        ).status_code
        == 204
    )
    with session_scope(get_engine(settings.database_url)) as s:
        assert s.exec(select(func.count()).select_from(PersonDate)).one() == 2


def test_contacts_and_dates_move_with_a_merge(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    found = people(client, alice)
    ann, bo = found["Ann Lee"], found["Bo Berg"]
    client.post(f"{API}/people/{bo['id']}/contacts", json={"kind": "call"}, headers=alice.auth)
    client.post(
        f"{API}/people/{bo['id']}/dates",
        json={"kind": "birthday", "month": 5, "day": 5},
        headers=alice.auth,
    )
    merged = client.post(
        f"{API}/people/{ann['id']}/merge", json={"other_id": bo["id"]}, headers=alice.auth
    )
    assert merged.status_code == 200
    contacts = client.get(f"{API}/people/{ann['id']}/contacts", headers=alice.auth).json()
    assert [c["kind"] for c in contacts["items"]] == ["call"]
    dates = client.get(f"{API}/people/{ann['id']}/dates", headers=alice.auth).json()
    assert [d["kind"] for d in dates] == ["birthday"]


def test_the_digest_reminds_of_dates_coming_up(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    two_blogs(client, settings, feed_server, alice)
    ann = people(client, alice)["Ann Lee"]
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    client.post(
        f"{API}/people/{ann['id']}/dates",
        json={"kind": "anniversary", "month": tomorrow.month, "day": tomorrow.day},
        headers=alice.auth,
    )
    digest = client.get(f"{API}/digest", headers=alice.auth).json()
    assert [(u["person"]["name"], u["text"]) for u in digest["upcoming"]] == [
        ("Ann Lee", "Anniversary tomorrow")
    ]
    html = client.get(f"{API}/digest", params={"format": "html"}, headers=alice.auth).text
    assert "Coming up" in html and "Anniversary tomorrow" in html
