"""vCard files (2.1, 3.0, 4.0: phones, Google Contacts, CardDAV servers) -> plain data.

Pure: bytes in, frozen dataclasses out. Lines are unfolded here (linearly: vobject's
own unfolding copies its whole buffer for every physical line, which is quadratic on a
folded inline photo) and only the properties Kith uses are handed to vobject's line
parser (parameters, groups, quoted-printable and charsets). Each card is parsed on its
own: a broken card is an error naming it, and the other cards are unaffected. A file
that is not vCard at all, cannot be decoded or is over the caps is refused whole.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from vobject.base import VObjectError, textLineToContentLine
from vobject.icalendar import stringToTextValues

from ingest.assemble import identity_for
from ingest.errors import IngestError
from ingest.links import XFN
from ingest.types import AuthorData

MAX_BYTES = 5 * 1024 * 1024
MAX_CARDS = 5000
MAX_LINE = 8192  # a property Kith reads that is longer than this is left out
NAME_CHARS = 200

# the properties read; anything else (PHOTO, NOTE, ADR, TEL ...) is never parsed
WANTED = frozenset(
    {"VERSION", "UID", "FN", "N", "NICKNAME", "EMAIL", "URL", "X-SOCIALPROFILE", "IMPP",
     "BDAY", "ANNIVERSARY", "X-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY",
     "X-KADDRESSBOOK-X-ANNIVERSARY", "X-ABDATE", "X-ABLABEL", "CATEGORIES"}
)  # fmt: skip
ANNIVERSARY_PROPS = ("ANNIVERSARY", "X-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY",
                     "X-KADDRESSBOOK-X-ANNIVERSARY")  # fmt: skip

# address-book groups -> Kith's relationship types (XFN's words, plurals, and the
# groups phones and Google Contacts offer); anything else is reported as ignored
CATEGORIES = {
    **XFN,
    "family": "family", "friends": "friend", "work": "colleague", "coworkers": "colleague",
    "co-workers": "colleague", "coworker": "colleague", "colleagues": "colleague",
    "business": "colleague", "neighbours": "neighbour", "neighbors": "neighbour",
    "neighbour": "neighbour", "acquaintances": "acquaintance", "partner": "partner",
    "siblings": "sibling", "parents": "parent", "children": "child", "kids": "child",
    "contact": None,
}  # fmt: skip

_BEGIN = re.compile(r"BEGIN\s*:\s*VCARD\s*", re.IGNORECASE)
_END = re.compile(r"END\s*:\s*VCARD\s*", re.IGNORECASE)
_NAME = re.compile(r"(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)\s*[;:]")
_FN_RAW = re.compile(r"^FN[^:\r\n]*:([^\r\n]{0,200})", re.IGNORECASE | re.MULTILINE)
_LINES = re.compile(r"\r\n|\n|\r")
_APPLE_LABEL = re.compile(r"_\$!<(.*)>!\$_")
_DATE_FULL = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_DATE_NO_YEAR = re.compile(r"--(\d{2})-?(\d{2})")
_DATE_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?|---(\d{2})|--(\d{2})")
_HANDLE = re.compile(r"@?([\w.-]+)@([\w-]+(?:\.[\w-]+)+)")


class VCardError(IngestError):
    """The file is not a vCard file (or cannot be read as text): nothing is imported."""

    code = "invalid_vcard"


class VCardTooLarge(VCardError):
    code = "payload_too_large"


@dataclass(frozen=True, slots=True)
class CardDate:
    """A date to remember: ``kind`` birthday | anniversary | custom (``label`` says what)."""

    kind: str
    month: int
    day: int
    year: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class VCardContact:
    """One card. E-mail addresses as their hashes (matching a feed author's hashed
    e-mail) and, since the user gave them, in the clear for ``mailto:`` links; URLs
    normalised as feed authors'."""

    index: int  # 1-based position in the file
    uid: str | None
    name: str
    nicknames: tuple[str, ...] = ()
    email_hashes: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()  # the addresses themselves, lowercased
    urls: tuple[str, ...] = ()
    accts: tuple[str, ...] = ()  # user@host, lowercase, as the Mastodon ingest keys them
    birthday: CardDate | None = None
    anniversaries: tuple[CardDate, ...] = ()
    categories: tuple[str, ...] = ()  # as the card says them
    relationships: tuple[str, ...] = ()  # Kith's types the categories map to
    notes: tuple[str, ...] = ()  # what was left out and why (not errors)


@dataclass(frozen=True, slots=True)
class CardError:
    index: int
    name: str
    reason: str

    @property
    def message(self) -> str:
        who = f" ({self.name})" if self.name else ""
        return f"card {self.index}{who}: {self.reason}"


@dataclass(frozen=True, slots=True)
class VCardFile:
    contacts: tuple[VCardContact, ...] = ()
    errors: tuple[CardError, ...] = ()


class _BadCard(Exception):
    """A value in a card that Kith reads is broken: the card is skipped."""


@dataclass(slots=True)
class _Line:
    name: str
    group: str | None
    params: dict[str, list[str]]
    singletons: list[str]
    value: str
    line: int


@dataclass(slots=True)
class _Block:
    index: int
    start: int  # physical line number of BEGIN
    lines: list[tuple[int, str]] = field(default_factory=list)
    closed: bool = False


# --- the file --------------------------------------------------------------------------


def parse_vcards(
    content: bytes, *, max_bytes: int = MAX_BYTES, max_cards: int = MAX_CARDS
) -> VCardFile:
    """Every card of a vCard file, and an error for each card that could not be read."""
    if len(content) > max_bytes:
        raise VCardTooLarge(f"the file is {len(content)} bytes; at most {max_bytes} are read")
    text = _decode(content)
    blocks = _blocks(text, max_cards=max_cards)
    contacts: list[VCardContact] = []
    errors: list[CardError] = []
    for block in blocks:
        try:
            contacts.append(_card(block))
        except _BadCard as exc:
            errors.append(CardError(block.index, _raw_name(block), str(exc)))
        except (VObjectError, LookupError, ValueError) as exc:  # a line vobject cannot read
            detail = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
            errors.append(CardError(block.index, _raw_name(block), f"unreadable: {detail}"))
    return VCardFile(contacts=tuple(contacts), errors=tuple(errors))


def _decode(content: bytes) -> str:
    # vCard 4.0 is UTF-8; 2.1/3.0 exports are UTF-8 or ASCII (Outlook's are UTF-16)
    utf16 = content.startswith((b"\xff\xfe", b"\xfe\xff"))
    encoding = "utf-16" if utf16 else "utf-8-sig"
    try:
        return content.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise VCardError(
            f"the file is not {encoding.removesuffix('-sig').upper()} text (byte "
            f"{exc.object[exc.start]:#04x} at offset {exc.start}); export it as UTF-8"
        ) from None


def _blocks(text: str, *, max_cards: int) -> list[_Block]:
    """BEGIN:VCARD ... END:VCARD blocks of physical lines (nested cards, vCard 2.1's
    AGENT, stay inside their parent)."""
    blocks: list[_Block] = []
    current: _Block | None = None
    depth = 0
    seen_content = False
    for number, line in enumerate(_LINES.split(text), start=1):
        if current is None:
            if _BEGIN.fullmatch(line.strip()):
                if len(blocks) >= max_cards:
                    raise VCardTooLarge(f"the file has more than {max_cards} cards")
                current = _Block(index=len(blocks) + 1, start=number)
                blocks.append(current)
                depth = 1
                seen_content = True
            elif line.strip() and not seen_content:
                raise VCardError(
                    f"not a vCard file: line {number} is not BEGIN:VCARD ({line[:40]!r})"
                )
            continue
        stripped = line.strip()
        if _BEGIN.fullmatch(stripped):
            depth += 1
        elif _END.fullmatch(stripped):
            depth -= 1
            if depth == 0:
                current.closed = True
                current = None
                continue
        current.lines.append((number, line))
    if not blocks:
        raise VCardError("not a vCard file: it has no BEGIN:VCARD")
    return blocks


def _logical_lines(block: _Block) -> Iterator[tuple[int, str]]:
    """Unfolded lines: a leading space or tab continues the line before; a
    quoted-printable value ending in ``=`` continues on the next line (vCard 2.1)."""
    parts: list[str] = []
    start = 0
    qp = False
    for number, line in block.lines:
        if parts and (line[:1] in (" ", "\t") or qp):
            if qp:
                parts.append("\n" + line)  # vobject's quoted-printable decoder joins it
            else:
                parts.append(line[1:])
        else:
            if parts:
                yield start, "".join(parts)
            parts, start = ([line], number) if line.strip() else ([], number)
        if parts:
            last = parts[-1]
            qp = last.endswith("=") and "QUOTED-PRINTABLE" in parts[0].split(":", 1)[0].upper()
    if parts:
        yield start, "".join(parts)


def _raw_name(block: _Block) -> str:
    """The card's FN as written, for naming a card that could not be parsed."""
    head = "\n".join(line for _, line in block.lines[:200])
    match = _FN_RAW.search(head)
    return _unescape(match.group(1)).strip()[:80] if match else ""


# --- one card --------------------------------------------------------------------------


def _card(block: _Block) -> VCardContact:
    if not block.closed:
        raise _BadCard(f"not closed (no END:VCARD after line {block.start})")
    notes: list[str] = []
    lines: list[_Line] = []
    for number, text in _logical_lines(block):
        match = _NAME.match(text)
        if match is None:
            raise _BadCard(f"line {number} is not a vCard property ({text[:40]!r})")
        prop = match.group(1).upper()
        if prop not in WANTED:
            continue
        if len(text) > MAX_LINE:
            notes.append(f"{prop} is over {MAX_LINE} characters: left out")
            continue
        parsed = textLineToContentLine(text, number)
        lines.append(
            _Line(
                name=parsed.name,
                group=parsed.group.upper() if parsed.group else None,
                params={k.upper(): [str(v) for v in vs] for k, vs in parsed.params.items()},
                singletons=[str(s).upper() for s in parsed.singletonparams],
                value=str(parsed.value),
                line=number,
            )
        )
    version = next((ln.value.strip() for ln in lines if ln.name == "VERSION"), "3.0")
    name = _name(lines)
    nicknames = _unique(
        n.strip()[:NAME_CHARS] for ln in _props(lines, "NICKNAME") for n in _list(ln.value)
    )
    if not name:
        name = nicknames[0] if nicknames else ""
    if not name:
        raise _BadCard("it has no name (FN or N)")
    uid = next((ln.value.strip() for ln in _props(lines, "UID") if ln.value.strip()), None)
    emails, urls, accts, clear = _identities(lines, name=name, notes=notes)
    birthday = None
    for ln in _props(lines, "BDAY")[:1]:
        birthday = _date(ln, kind="birthday", label="", version=version, notes=notes)
    anniversaries = _anniversaries(lines, version=version, notes=notes)
    categories = _unique(c.strip() for ln in _props(lines, "CATEGORIES") for c in _list(ln.value))
    relationships = []
    ignored = []
    for category in categories:
        kind = CATEGORIES.get(category.casefold())
        if kind:
            relationships.append(kind)
        else:
            ignored.append(category)
    if ignored:
        notes.append("categories that are not relationship types, ignored: " + ", ".join(ignored))
    return VCardContact(
        index=block.index,
        uid=uid[:900] if uid else None,
        name=name[:NAME_CHARS],
        nicknames=nicknames,
        email_hashes=emails,
        emails=clear,
        urls=urls,
        accts=accts,
        birthday=birthday,
        anniversaries=anniversaries,
        categories=categories,
        relationships=_unique(relationships),
        notes=tuple(notes),
    )


def _props(lines: Sequence[_Line], name: str) -> list[_Line]:
    return [ln for ln in lines if ln.name == name]


def _unique(values: Iterator[str] | Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _unescape(value: str) -> str:
    """One text value (FN, a label): backslash escapes undone, commas kept."""
    return re.sub(
        r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value, flags=re.DOTALL
    )


def _list(value: str) -> list[str]:
    """A comma-separated text list (NICKNAME, CATEGORIES), escapes undone."""
    return [str(v) for v in stringToTextValues(value)]


def _types(line: _Line) -> set[str]:
    """TYPE values, however the card spells them (type=a,b; TYPE=a;TYPE=b; 2.1 singletons)."""
    found = {s.upper() for s in line.singletons}
    for value in line.params.get("TYPE", []) + line.params.get("X-SERVICE-TYPE", []):
        found.update(v.strip().upper() for v in value.split(","))
    return found


def _name(lines: Sequence[_Line]) -> str:
    for ln in _props(lines, "FN"):
        text = " ".join(_unescape(ln.value).split())
        if text:
            return text
    for ln in _props(lines, "N"):
        parts = [" ".join(_unescape(p).split()) for p in re.split(r"(?<!\\);", ln.value)]
        family, given, additional, prefix, suffix = (parts + [""] * 5)[:5]
        text = " ".join(p for p in (prefix, given, additional, family, suffix) if p)
        if text:
            return text
    return ""


# --- identities ------------------------------------------------------------------------


def _identities(
    lines: Sequence[_Line], *, name: str, notes: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    emails: list[str] = []
    clear: list[str] = []
    urls: list[str] = []
    accts: list[str] = []
    for ln in _props(lines, "EMAIL"):
        address = _unescape(ln.value).strip()
        address = address[7:] if address.lower().startswith("mailto:") else address
        if "@" not in address or any(c.isspace() for c in address):
            notes.append(f"EMAIL {address[:60]!r} is not an address: left out")
            continue
        # the very function the feed ingest keys authors' e-mails with (a hash only)
        emails.append(identity_for(AuthorData(email=address), site="", fallback_name=name).value)
        clear.append(address.lower()[:320])
    for ln in _props(lines, "URL"):
        url = _web_url(_unescape(ln.value).strip())
        if url is None:
            notes.append(f"URL {ln.value[:60]!r} is not a web address: left out")
            continue
        urls.append(url)
        acct = acct_of(url)
        if acct:
            accts.append(acct)
    for ln in _props(lines, "X-SOCIALPROFILE"):
        value = _unescape(ln.value).strip()
        types = _types(ln)
        mastodon = bool(types & {"MASTODON", "FEDIVERSE"})
        acct = acct_of(value, handle_ok=mastodon)
        if acct is None and mastodon:
            user = (ln.params.get("X-USER") or [""])[0].strip()
            acct = acct_of(user, handle_ok=True)
        if acct:
            accts.append(acct)
        url = _web_url(value) if "://" in value else None
        if url:
            urls.append(url)
    for ln in _props(lines, "IMPP"):
        # only what says it is Mastodon: xmpp:, sip:, skype: ... are other services
        if "MASTODON" in _types(ln) or ln.value.lower().startswith("mastodon:"):
            value = unquote(_unescape(ln.value).strip())
            value = value.split(":", 1)[1] if re.match(r"[a-z-]+:(?!//)", value) else value
            acct = acct_of(value, handle_ok=True)
            if acct:
                accts.append(acct)
    return _unique(emails), _unique(urls), _unique(accts), _unique(clear)


def _web_url(value: str) -> str | None:
    """An http(s) URL normalised as feed authors' are; a bare host gets https://."""
    if not value or any(c.isspace() for c in value) or len(value) > 1000:
        return None
    if "://" not in value and re.match(r"[\w-]+(\.[\w-]+)+(/|$)", value):
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return identity_for(AuthorData(uri=value), site="", fallback_name="").value


def acct_of(value: str, *, handle_ok: bool = False) -> str | None:
    """``user@host`` from a Mastodon profile URL (``https://host/@user``,
    ``https://host/users/user``), an ``acct:`` URI or, when the card says the value is a
    Mastodon account, a handle (``@user@host``)."""
    value = value.strip()
    if value.lower().startswith("acct:"):
        value, handle_ok = value[5:], True
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        match = re.fullmatch(r"/(?:@|users/)([\w.-]+)/?", parts.path)
        if match is None:
            return None
        return f"{match.group(1)}@{parts.hostname}".lower()
    if handle_ok:
        match = _HANDLE.fullmatch(value)
        if match:
            return f"{match.group(1)}@{match.group(2)}".lower()
    return None


# --- dates -----------------------------------------------------------------------------


def _anniversaries(
    lines: Sequence[_Line], *, version: str, notes: list[str]
) -> tuple[CardDate, ...]:
    found: list[CardDate] = []
    for prop in ANNIVERSARY_PROPS:
        for ln in _props(lines, prop):
            day = _date(ln, kind="anniversary", label="", version=version, notes=notes)
            if day:
                found.append(day)
    labels = {ln.group: ln.value for ln in _props(lines, "X-ABLABEL") if ln.group}
    for ln in _props(lines, "X-ABDATE"):
        raw = _unescape(labels.get(ln.group or "", "")).strip()
        apple = _APPLE_LABEL.fullmatch(raw)
        label = (apple.group(1) if apple else raw).strip() or "Date"
        kind = "anniversary" if label.casefold() == "anniversary" else "custom"
        day = _date(ln, kind=kind, label="" if kind == "anniversary" else label[:100],
                    version=version, notes=notes)  # fmt: skip
        if day:
            found.append(day)
    # one anniversary per person (the first); custom dates one per label
    out: dict[tuple[str, str], CardDate] = {}
    for day in found:
        if (day.kind, day.label.casefold()) in out:
            notes.append(f"a second {day.label or day.kind} date: left out")
            continue
        out[(day.kind, day.label.casefold())] = day
    return tuple(out.values())


def _date(line: _Line, *, kind: str, label: str, version: str, notes: list[str]) -> CardDate | None:
    """A date of the card. A value that should be a date and is not (``1990-13-45``)
    skips the card; free text (``VALUE=text``) that is no date, or a date without a
    month or day (``1990``, ``---14``), is left out with a note."""
    raw = _unescape(line.value).strip()
    text_value = any(v.lower() == "text" for v in line.params.get("VALUE", []))
    value = raw.split("T", 1)[0] if not text_value else raw
    year: int | None
    match = _DATE_FULL.fullmatch(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
        omit = line.params.get("X-APPLE-OMIT-YEAR", [])
        # Apple writes a date without a year as 1604 (and says so in X-APPLE-OMIT-YEAR)
        if any(o.strip() == match.group(1) for o in omit) or year in (0, 1604):
            year = None
    elif (match := _DATE_NO_YEAR.fullmatch(value)) is not None:
        year, month, day = None, int(match.group(1)), int(match.group(2))
    elif _DATE_PARTIAL.fullmatch(value):
        notes.append(f"{line.name} {raw!r} has no month and day: left out")
        return None
    elif text_value:
        notes.append(f"{line.name} is text ({raw[:60]!r}), not a date: left out")
        return None
    else:
        raise _BadCard(f"{line.name} {raw[:60]!r} is not a date")
    if not _valid(year, month, day):
        raise _BadCard(f"{line.name} {raw[:60]!r} is not a date")
    return CardDate(kind=kind, month=month, day=day, year=year, label=label)


def _valid(year: int | None, month: int, day: int) -> bool:
    if not 1 <= month <= 12:
        return False
    leap = year is None or calendar.isleap(year)  # 29 February without a year is fine
    days = calendar.monthrange(2000 if leap else 2001, month)[1]
    return 1 <= day <= days
