"""vCard parsing: real-world-shaped exports (iPhone, Google Contacts, Android 2.1,
Nextcloud 3.0/4.0) -> contacts; broken cards named, refused files refused whole."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from ingest.assemble import identity_for
from ingest.types import AuthorData
from ingest.vcard import (
    CardDate,
    VCardContact,
    VCardError,
    VCardTooLarge,
    acct_of,
    parse_vcards,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "vcard"


def cards(name: str) -> dict[str, VCardContact]:
    parsed = parse_vcards((DATA / name).read_bytes())
    return {c.name: c for c in parsed.contacts}


def email_hash(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def card(*lines: str, version: str = "3.0") -> bytes:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD", ""]).encode()


def test_iphone_export() -> None:
    found = cards("iphone.vcf")
    maja = found["Maja Lindqvist"]
    assert maja.index == 1 and maja.uid is None and maja.nicknames == ("Majsan",)
    # hashed exactly as the feed ingest hashes an author's e-mail (to match a feed
    # author), and in the clear (lowercased) for a mailto: from Reach out
    assert maja.email_hashes == (email_hash("Maja.Lindqvist@Mail.Example"),)
    assert (
        maja.email_hashes[0]
        == identity_for(
            AuthorData(email="maja.lindqvist@mail.example"), site="x", fallback_name="x"
        ).value
    )
    assert maja.emails == ("maja.lindqvist@mail.example",)
    assert maja.urls == ("https://maja.example/blog", "https://fika.social/@maja")
    assert maja.accts == ("maja@fika.social",)  # X-SOCIALPROFILE type=mastodon; xmpp is not
    assert maja.birthday == CardDate("birthday", 3, 14, None)  # X-APPLE-OMIT-YEAR=1604
    assert maja.anniversaries == (
        CardDate("anniversary", 8, 20, 2011),
        CardDate("custom", 6, 1, 2004, "Met at sailing camp"),
    )
    assert maja.notes == ()  # the inline photo and the folded note are simply not read
    chidi = found["Chidi Okafor"]
    # a bare host gets https://; another network's profile is a URL identity, no acct
    assert chidi.urls == ("https://chidi.example", "https://twitter.com/chidio")
    assert chidi.accts == () and chidi.birthday == CardDate("birthday", 11, 2, 1988)


def test_google_export_and_a_bad_card_among_good_ones() -> None:
    parsed = parse_vcards((DATA / "google.vcf").read_bytes())
    (priya,) = parsed.contacts
    assert priya.email_hashes == (
        email_hash("priya.raman@mail.example"),
        email_hash("p.raman@lab.example"),
    )
    assert priya.urls == ("http://priya.example",)  # Google escapes the colon: http\://
    assert priya.birthday == CardDate("birthday", 7, 1, None)  # --07-01
    assert priya.anniversaries == (CardDate("anniversary", 5, 9, 2015),)
    assert priya.categories == ("myContacts", "Friends", "Book club")
    assert priya.relationships == ("friend",)
    assert any("myContacts, Book club" in n for n in priya.notes)
    (error,) = parsed.errors
    assert error.index == 2 and error.name == "Tomás Herrera"
    assert error.message == "card 2 (Tomás Herrera): BDAY '1979-02-29' is not a date"


def test_android_21_quoted_printable_and_charsets() -> None:
    found = cards("android.vcf")
    # quoted-printable with a soft line break, UTF-8 and ISO-8859-1
    assert set(found) == {"Jürgen Müller – Großvater von Lena", "Sigrún Björk"}
    jurgen = found["Jürgen Müller – Großvater von Lena"]
    assert jurgen.email_hashes == (email_hash("juergen@mueller.example"),)
    assert jurgen.birthday == CardDate("birthday", 12, 24, 1941)


def test_nextcloud_30_and_40() -> None:
    found = cards("nextcloud.vcf")
    ana = found["Ana Souza"]
    assert ana.uid == "3f1a9c2e-5b7d-4e1f-9a0b-2c6d8e4f7a10"
    assert ana.accts == ("ana@tupi.social",)  # a handle, typed mastodon
    assert ana.urls == ("https://github.com/anasouza",)
    assert ana.birthday == CardDate("birthday", 2, 29, 1984) and ana.relationships == ("family",)
    kenji = found["Kenji Watanabe"]
    assert kenji.uid == "urn:uuid:9b2e4d6f-1a3c-4e5f-8a7b-6c5d4e3f2a1b"
    assert kenji.nicknames == ("Ken", "Kenny")  # a comma list, both kept
    assert kenji.accts == ("kenji@hachyderm.example",)  # IMPP said Mastodon; xmpp: ignored
    assert kenji.birthday == CardDate("birthday", 5, 21, None)  # --0521
    assert kenji.anniversaries == (CardDate("anniversary", 9, 15, 2012),)
    assert kenji.relationships == ("neighbour",)
    edith = found["Great-aunt Edith"]
    assert edith.birthday is None and edith.notes == (
        "BDAY is text ('circa 1930'), not a date: left out",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("BDAY:1990-03-14", CardDate("birthday", 3, 14, 1990)),
        ("BDAY:19900314", CardDate("birthday", 3, 14, 1990)),
        ("BDAY:1990-03-14T00:00:00Z", CardDate("birthday", 3, 14, 1990)),
        ("BDAY:--0314", CardDate("birthday", 3, 14, None)),
        ("BDAY:--03-14", CardDate("birthday", 3, 14, None)),
        ("BDAY:--0229", CardDate("birthday", 2, 29, None)),
        ("BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29", CardDate("birthday", 2, 29, None)),
        ("BDAY;VALUE=text:1990-03-14", CardDate("birthday", 3, 14, 1990)),
        ("BDAY:1990", None),  # no month and day: left out with a note
        ("BDAY:---14", None),
    ],
)
def test_birthday_forms(value: str, expected: CardDate | None) -> None:
    (contact,) = parse_vcards(card("FN:A Person", value, version="4.0")).contacts
    assert contact.birthday == expected
    assert bool(contact.notes) == (expected is None)


@pytest.mark.parametrize("value", ["BDAY:1990-13-45", "BDAY:2001-02-29", "BDAY:tomorrow"])
def test_a_bad_date_skips_its_card_only(value: str) -> None:
    content = card("FN:Good One") + card("FN:Jane Doe", value) + card("FN:Good Two")
    parsed = parse_vcards(content)
    assert [c.name for c in parsed.contacts] == ["Good One", "Good Two"]
    (error,) = parsed.errors
    raw = value.split(":", 1)[1]
    assert error.message == f"card 2 (Jane Doe): BDAY '{raw}' is not a date"


def test_unreadable_and_unclosed_cards_are_named() -> None:
    content = (
        card("FN:First")
        + card("FN:Broken Params", 'EMAIL;TYPE="home:x@y.example')
        + card("FN:No Name Line", "not a property line")
        + b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut Off\r\n"
    )
    parsed = parse_vcards(content)
    assert [c.name for c in parsed.contacts] == ["First"]
    messages = [e.message for e in parsed.errors]
    assert messages[0].startswith("card 2 (Broken Params): unreadable")
    assert messages[1].startswith("card 3 (No Name Line): line ")
    assert messages[2] == "card 4 (Cut Off): not closed (no END:VCARD after line 15)"


def test_a_card_without_any_name_is_an_error() -> None:
    parsed = parse_vcards(card("EMAIL:someone@example.org"))
    assert parsed.contacts == () and parsed.errors[0].message == "card 1: it has no name (FN or N)"


def test_name_from_n_or_nickname_and_escapes() -> None:
    parsed = parse_vcards(
        card("N:Doe;Jane;Q.;Dr.;") + card("NICKNAME:Bee") + card("FN:Doe\\, Jane \\; Co")
    )
    assert [c.name for c in parsed.contacts] == ["Dr. Jane Q. Doe", "Bee", "Doe, Jane ; Co"]


def test_mastodon_handles() -> None:
    assert acct_of("https://Social.Example/@Jane") == "jane@social.example"
    assert acct_of("https://social.example/users/jane/") == "jane@social.example"
    assert acct_of("acct:jane@social.example") == "jane@social.example"
    assert acct_of("@jane@social.example") is None  # a handle only where a card says so
    assert acct_of("@jane@social.example", handle_ok=True) == "jane@social.example"
    assert acct_of("https://social.example/about") is None
    assert acct_of("xmpp:jane@jabber.example", handle_ok=True) is None
    (c,) = parse_vcards(
        card(
            "FN:Jane",
            "X-SOCIALPROFILE;TYPE=mastodon;X-USER=jane@social.example:x-apple:jane",
            "IMPP;X-SERVICE-TYPE=Mastodon:x-apple:%40kim%40other.example",
            "IMPP:xmpp:jane@jabber.example",
            "IMPP;X-SERVICE-TYPE=Skype:skype:jane.doe",
        )
    ).contacts
    assert c.accts == ("jane@social.example", "kim@other.example")


def test_a_folded_inline_photo_is_skipped_however_big() -> None:
    photo = base64.b64encode(b"\xff\xd8" + bytes(3_000_000)).decode()
    folded = "\r\n ".join(photo[i : i + 74] for i in range(0, len(photo), 74))
    (c,) = parse_vcards(card("FN:Pictured", "PHOTO;ENCODING=b;TYPE=JPEG:" + folded)).contacts
    assert c.name == "Pictured" and c.notes == ()


def test_refused_files() -> None:
    with pytest.raises(VCardError, match="not a vCard file"):
        parse_vcards(b"<html><body>contacts</body></html>")
    with pytest.raises(VCardError, match="no BEGIN:VCARD"):
        parse_vcards(b"")
    with pytest.raises(VCardError, match="not UTF-8") as bad:
        parse_vcards(card("FN:Caf\xe9").replace(b"\xc3\xa9", b"\xe9"))
    assert bad.value.code == "invalid_vcard"
    with pytest.raises(VCardTooLarge) as big:
        parse_vcards(card("FN:A") * 10, max_bytes=100)
    assert big.value.code == "payload_too_large"
    with pytest.raises(VCardTooLarge, match="more than 3 cards"):
        parse_vcards(card("FN:A") * 4, max_cards=3)


def test_utf16_and_bom() -> None:
    text = card("FN:Zoë").decode()
    for content in ("\ufeff" + text).encode("utf-16"), ("\ufeff" + text).encode("utf-8"):
        assert [c.name for c in parse_vcards(content).contacts] == ["Zoë"]
