"""Importing an address book through the API and the CLI: people created, re-imports
update without duplicates, cards merge with the feed authors they are, dates and
relationships stored, bad cards skipped and named, refused files change nothing, and
another user's people are never touched. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.refresh import RefreshOptions, refresh_due
from app.models import Identity, Item, Person, PersonDate
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

DATA = Path(__file__).resolve().parent.parent / "data" / "vcard"
URL = "/api/v1/people/vcard"
NOW = datetime.now(UTC)
KITH = shutil.which("kith") or str(Path(sys.executable).parent / "kith")


def vcf(name: str) -> bytes:
    return (DATA / name).read_bytes()


def card(*lines: str) -> bytes:
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", *lines, "END:VCARD", ""]).encode()


def upload(client: TestClient, user: ApiUser, content: bytes, **kwargs: object) -> dict:
    resp = client.post(
        URL, content=content, headers={**user.auth, "Content-Type": "text/vcard"}, **kwargs
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def rows(settings: Settings, user: ApiUser) -> dict[str, object]:
    """Everything of one user an import can touch, to compare before and after."""
    with session_scope(get_engine(settings.database_url)) as s:
        return {
            "people": sorted(
                (p.id, p.name, tuple(p.relationships))
                for p in s.exec(select(Person).where(Person.user_id == user.id)).all()
            ),
            "identities": sorted(
                (i.person_id, i.kind, i.value, i.display_name)
                for i in s.exec(select(Identity).where(Identity.user_id == user.id)).all()
            ),
            "dates": sorted(
                (d.person_id, d.kind, d.label, d.month, d.day, d.year, d.remind_days)
                for d in s.exec(select(PersonDate).where(PersonDate.user_id == user.id)).all()
            ),
        }


def person_named(settings: Settings, user: ApiUser, name: str) -> tuple[Person, list, list]:
    with session_scope(get_engine(settings.database_url)) as s:
        person = s.exec(select(Person).where(Person.user_id == user.id, Person.name == name)).one()
        identities = s.exec(select(Identity).where(Identity.person_id == person.id)).all()
        dates = s.exec(select(PersonDate).where(PersonDate.person_id == person.id)).all()
        return (
            person,
            sorted((i.kind, i.value) for i in identities),
            sorted((d.kind, d.label, d.month, d.day, d.year) for d in dates),
        )


def test_import_creates_people_with_identities_dates_and_relationships(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    answer = upload(client, alice, vcf("nextcloud.vcf"))
    assert answer["counts"] == {"created": 3, "updated": 0, "skipped": 0}
    kenji = next(c for c in answer["created"] if c["person"]["name"] == "Kenji Watanabe")
    assert kenji["card"] == 2 and kenji["relationships"] == ["neighbour"]
    assert {(d["kind"], d["month"], d["day"], d["year"]) for d in kenji["dates"]} == {
        ("birthday", 5, 21, None),
        ("anniversary", 9, 15, 2012),
    }
    assert "categories that are not relationship types, ignored: Climbing" in kenji["notes"]
    person, identities, dates = person_named(settings, alice, "Kenji Watanabe")
    assert person.relationships == ["neighbour"]
    assert identities == sorted(
        [
            ("vcard_uid", "urn:uuid:9b2e4d6f-1a3c-4e5f-8a7b-6c5d4e3f2a1b"),
            ("email_sha256", hashlib.sha256(b"kenji@watanabe.example").hexdigest()),
            ("email", "kenji@watanabe.example"),
            ("url", "https://kenji.example"),
            ("acct", "kenji@hachyderm.example"),
        ]
    )
    assert dates == [("anniversary", "", 9, 15, 2012), ("birthday", "", 5, 21, None)]
    # the address in the clear is the user's own (their address book), kept for mailto:
    # as kind "email" only; feed authors' e-mails stay hashed
    listed = client.get("/api/v1/people", headers=alice.auth).json()["items"]
    assert {p["name"] for p in listed} == {"Ana Souza", "Kenji Watanabe", "Great-aunt Edith"}


def test_reimport_updates_without_duplicates_and_keeps_what_you_set(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    upload(client, alice, vcf("nextcloud.vcf") + vcf("iphone.vcf"))
    before = rows(settings, alice)
    again = upload(client, alice, vcf("nextcloud.vcf") + vcf("iphone.vcf"))
    assert again["counts"] == {"created": 0, "updated": 5, "skipped": 0}
    assert rows(settings, alice) == before  # nothing duplicated, nothing changed

    kenji, _, _ = person_named(settings, alice, "Kenji Watanabe")
    maja, _, _ = person_named(settings, alice, "Maja Lindqvist")
    # by hand: a name of your own, a relationship, a year for the birthday, a reminder
    assert (
        client.patch(
            f"/api/v1/people/{kenji.id}",
            json={"name": "Ken W.", "relationships": ["neighbour", "friend"]},
            headers=alice.auth,
        ).status_code
        == 200
    )
    with session_scope(get_engine(settings.database_url)) as s:
        birthday = s.exec(
            select(PersonDate).where(
                PersonDate.person_id == kenji.id, PersonDate.kind == "birthday"
            )
        ).one()
        birthday.year, birthday.remind_days = 1985, 14
        s.add(birthday)
    # the phone changed: a new birthday day, an e-mail more; no UID on iPhone cards
    changed = (
        vcf("nextcloud.vcf")
        .replace(b"BDAY:--0521", b"BDAY:--0522")
        .replace(b"EMAIL;TYPE=work:kenji", b"EMAIL:ken@home.example\r\nEMAIL;TYPE=work:kenji")
    )
    answer = upload(client, alice, changed + vcf("iphone.vcf"))
    assert answer["counts"] == {"created": 0, "updated": 5, "skipped": 0}
    ken = next(c for c in answer["updated"] if c["person"]["id"] == kenji.id)
    assert ken["person"]["name"] == "Ken W."  # your name stays, and the answer says so
    assert any("kept the name you gave them" in n for n in ken["notes"])
    person, identities, dates = person_named(settings, alice, "Ken W.")
    assert sorted(person.relationships) == ["friend", "neighbour"]
    assert ("email_sha256", hashlib.sha256(b"ken@home.example").hexdigest()) in identities
    assert ("birthday", "", 5, 22, 1985) in dates  # the card's day, your year
    with session_scope(get_engine(settings.database_url)) as s:
        assert s.get(PersonDate, birthday.id).remind_days == 14
        assert len(s.exec(select(Person).where(Person.user_id == alice.id)).all()) == 5
    assert person_named(settings, alice, "Maja Lindqvist")[0].id == maja.id


def atom_feed(author: str, uri: str | None = None, email: str | None = None) -> bytes:
    who = f"<name>{author}</name>" + (f"<uri>{uri}</uri>" if uri else "")
    who += f"<email>{email}</email>" if email else ""
    entries = "".join(
        f"<entry><id>urn:post:{i}</id><title>Post {i}</title>"
        f"<link href='https://maja.example/blog/{i}'/>"
        f"<updated>{(NOW - timedelta(days=i)).isoformat()}</updated><content>hi</content></entry>"
        for i in range(2)
    )
    return (
        "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Blog</title>"
        f"<id>urn:feed</id><updated>{NOW.isoformat()}</updated><author>{who}</author>"
        f"{entries}</feed>"
    ).encode()


def follow(
    client: TestClient, settings: Settings, feed_server: FeedServer, user: ApiUser, body: bytes
) -> None:
    path = f"/feed-{len(feed_server.routes)}"
    feed_server.routes[path] = Reply(200, body, {"Content-Type": "application/atom+xml"})
    resp = client.post("/api/v1/sources", json={"url": feed_server.url(path)}, headers=user.auth)
    assert resp.status_code == 201, resp.text
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))


def test_a_card_merges_with_the_feed_author_it_is(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    follow(
        client, settings, feed_server, alice, atom_feed("maja", uri="https://Maja.example/blog/")
    )
    follow(
        client, settings, feed_server, alice, atom_feed("P. R.", email="Priya.Raman@mail.example")
    )
    authors = {
        p["name"]: p for p in client.get("/api/v1/people", headers=alice.auth).json()["items"]
    }
    assert set(authors) == {"maja", "P. R."}
    answer = upload(client, alice, vcf("iphone.vcf") + vcf("google.vcf"))
    assert answer["counts"] == {"created": 1, "updated": 2, "skipped": 1}
    updated = {c["person"]["id"]: c for c in answer["updated"]}
    # the blog's URL (normalised as the feed's) and the e-mail hash found them
    assert updated[authors["maja"]["id"]]["person"]["name"] == "Maja Lindqvist"
    assert updated[authors["P. R."]["id"]]["person"]["name"] == "Priya Raman"
    assert "renamed from maja" in updated[authors["maja"]["id"]]["notes"]
    person, identities, dates = person_named(settings, alice, "Maja Lindqvist")
    assert ("url", "https://maja.example/blog") in identities
    assert ("acct", "maja@fika.social") in identities
    assert dates == [
        ("anniversary", "", 8, 20, 2011),
        ("birthday", "", 3, 14, None),
        ("custom", "Met at sailing camp", 6, 1, 2004),
    ]
    with session_scope(get_engine(settings.database_url)) as s:  # her posts are still hers
        items = s.exec(
            select(Item)
            .join(Identity, Identity.id == Item.identity_id)
            .where(Identity.person_id == person.id)
        ).all()
        assert len(items) == 2
    assert answer["created"][0]["person"]["name"] == "Chidi Okafor"


def test_a_card_matching_two_people_does_not_merge_them(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    follow(client, settings, feed_server, alice, atom_feed("maja", uri="https://maja.example/blog"))
    follow(
        client, settings, feed_server, alice, atom_feed("M.", email="maja.lindqvist@mail.example")
    )
    answer = upload(client, alice, vcf("iphone.vcf"))
    (maja,) = [c for c in answer["updated"] if c["person"]["name"] == "Maja Lindqvist"]
    assert any("not merged" in n for n in maja["notes"])
    assert len(client.get("/api/v1/people", headers=alice.auth).json()["items"]) == 3


def test_bad_cards_are_skipped_and_named_the_others_stored(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    content = vcf("google.vcf") + card("FN:Jane Doe", "BDAY:1990-13-45") + card("FN:Ok Person")
    answer = upload(client, alice, content)
    assert answer["counts"] == {"created": 2, "updated": 0, "skipped": 2}
    assert answer["skipped"] == [
        {
            "card": 2,
            "name": "Tomás Herrera",
            "code": "invalid_card",
            "message": "card 2 (Tomás Herrera): BDAY '1979-02-29' is not a date",
        },
        {
            "card": 3,
            "name": "Jane Doe",
            "code": "invalid_card",
            "message": "card 3 (Jane Doe): BDAY '1990-13-45' is not a date",
        },
    ]
    names = {p[1] for p in rows(settings, alice)["people"]}
    assert names == {"Priya Raman", "Ok Person"}


def test_refused_files_change_nothing(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    upload(client, alice, vcf("nextcloud.vcf"))
    before = rows(settings, alice)
    huge = card("FN:Big", "NOTE:" + "x" * 1000) * 6000  # ~6 MB
    resp = client.post(URL, content=huge, headers=alice.auth)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    many = card("FN:Many") * 5001
    resp = client.post(URL, content=many, headers=alice.auth)
    assert resp.status_code == 413 and "more than 5000 cards" in resp.json()["error"]["message"]
    for junk in (
        b'{"people": []}',
        b"",
        "FN:Zoë\r\n".encode("utf-16-le") + b"\xff",
        b"\xff\xfe\x00",
    ):
        resp = client.post(URL, content=junk, headers=alice.auth)
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == "invalid_vcard"
    resp = client.post(URL, files={"other": ("a.vcf", vcf("google.vcf"))}, headers=alice.auth)
    assert resp.status_code == 422 and "form field 'file'" in resp.json()["error"]["message"]
    assert rows(settings, alice) == before


def test_multipart_upload_and_your_own_card(
    client: TestClient, settings: Settings, alice: ApiUser
) -> None:
    resp = client.put(
        "/api/v1/me/identities",
        json={"identities": [{"kind": "email", "value": "priya.raman@mail.example"}]},
        headers=alice.auth,
    )
    assert resp.status_code == 200, resp.text
    resp = client.post(
        URL, files={"file": ("contacts.vcf", vcf("google.vcf"), "text/vcard")}, headers=alice.auth
    )
    assert resp.status_code == 200, resp.text
    skipped = {s["card"]: s for s in resp.json()["skipped"]}
    assert skipped[1]["code"] == "own_card" and "is you" in skipped[1]["message"]
    assert resp.json()["counts"]["created"] == 0


def test_another_users_people_are_never_touched(
    client: TestClient, settings: Settings, alice: ApiUser, bob: ApiUser
) -> None:
    upload(client, alice, vcf("nextcloud.vcf") + vcf("iphone.vcf"))
    alice_before = rows(settings, alice)
    answer = upload(client, bob, vcf("nextcloud.vcf") + vcf("iphone.vcf"))
    # the same UIDs, e-mails and URLs: Bob gets people of his own
    assert answer["counts"] == {"created": 5, "updated": 0, "skipped": 0}
    assert rows(settings, alice) == alice_before
    bobs = {p["id"] for p in client.get("/api/v1/people", headers=bob.auth).json()["items"]}
    assert bobs.isdisjoint({p[0] for p in alice_before["people"]})
    assert client.post(URL, content=vcf("google.vcf")).status_code == 401


def test_cli_import_vcard(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "KITH_DATABASE_URL": db_url}

    def kith(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KITH, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert kith("user", "add", "carol").returncode == 0
    book = tmp_path / "book.vcf"
    book.write_bytes(vcf("google.vcf") + vcf("nextcloud.vcf"))
    first = kith("import-vcard", str(book), "--user", "carol")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "created=4 updated=0 skipped=1"
    assert "card 2 (Tomás Herrera): BDAY '1979-02-29' is not a date" in first.stderr
    again = kith("import-vcard", str(book), "--user", "carol")
    assert again.stdout.strip() == "created=0 updated=4 skipped=1"
    junk = tmp_path / "junk.vcf"
    junk.write_text("name,email\nJane,jane@example.org\n")
    refused = kith("import-vcard", str(junk), "--user", "carol")
    assert refused.returncode != 0 and "invalid_vcard" in refused.stderr
    assert kith("import-vcard", str(book), "--user", "nobody").returncode != 0
