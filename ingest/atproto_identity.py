"""AT Protocol identity: handles, DIDs and DID documents, through the network guard.

A handle resolves to a DID by DNS (a ``TXT`` record ``_atproto.<handle>`` saying
``did=...``) or, failing that, by HTTPS (``https://<handle>/.well-known/atproto-did``);
the DID document (``did:plc`` from the PLC directory, ``did:web`` from
``https://<host>/.well-known/did.json``) names the account's PDS and the handles it
claims (``alsoKnownAs``). A handle is *verified* only when both directions agree: the
handle points at the DID and the DID document names the handle back. Only then does
a domain handle prove who owns the domain.

The DNS answer is data, never a destination: every HTTPS request goes through
:func:`ingest.fetch.fetch` (the guard checks each hop and the address connected to).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import aiohttp

from ingest.errors import IngestError, ParseError
from ingest.fetch import FetchPolicy, fetch
from ingest.types import FetchResult

HANDLE_RE = re.compile(
    r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
DID_RE = re.compile(r"^did:(?:plc:[a-z2-7]{24}|web:[a-z0-9.-]+(?:%3a[0-9]{1,5})?)$")
PROFILE_PREFIXES = ("https://bsky.app/profile/", "http://bsky.app/profile/", "bsky.app/profile/")
MAX_DOC_BYTES = 64 * 1024

TxtLookup = Callable[[str], Awaitable[list[str]]]


class HandleNotResolved(IngestError):
    code = "handle_not_resolved"


@dataclass(frozen=True, slots=True)
class IdentityOptions:
    """Where identity answers come from. ``handle_base`` and ``did_web_base`` are URL
    templates (tests point them at loopback); ``txt`` replaces the DNS lookup."""

    plc_url: str = "https://plc.directory"
    handle_base: str = "https://{host}"
    did_web_base: str = "https://{host}"
    txt: TxtLookup | None = None


@dataclass(frozen=True, slots=True)
class DidDocument:
    did: str
    handles: tuple[str, ...]  # alsoKnownAs at:// names, lowercased
    pds: str | None  # the #atproto_pds service endpoint


def normalize_handle(value: str) -> str | None:
    """A syntactically valid handle, lowercased, or None."""
    handle = value.strip().lower().lstrip("@").rstrip(".")
    if not HANDLE_RE.match(handle) or handle.rsplit(".", 1)[-1].isdigit():
        return None
    if handle.endswith((".local", ".localhost", ".arpa", ".internal", ".invalid", ".onion")):
        return None
    return handle


def is_did(value: str) -> bool:
    return bool(DID_RE.match(value.strip().lower()))


def parse_actor(text: str, *, bare: bool = True) -> str | None:
    """The handle or DID that ``text`` names: ``https://bsky.app/profile/<x>``,
    ``bsky:<x>``, ``at://<x>``, ``@<handle>`` or (with ``bare``) a bare handle."""
    value = text.strip()
    lowered = value.lower()
    for prefix in (*PROFILE_PREFIXES, "bsky:", "at://"):
        if lowered.startswith(prefix):
            value = value[len(prefix) :].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
            break
    else:
        if "://" in value or (not bare and not value.startswith("@")):
            return None
        if value.count("@") > 1:  # @user@instance is Mastodon
            return None
    value = unquote(value).strip().lower()
    if is_did(value):
        return value
    return normalize_handle(value)


def profile_url(actor: str) -> str:
    return f"https://bsky.app/profile/{actor}"


async def dns_txt(name: str) -> list[str]:
    """TXT strings of ``name`` from the system's DNS resolver (dnspython); [] when the
    name has none or DNS fails (the HTTPS method is tried next)."""
    try:
        import dns.asyncresolver
        import dns.exception
    except ImportError:  # pragma: no cover - dnspython is a dependency
        return []
    try:
        answer = await dns.asyncresolver.resolve(name, "TXT", lifetime=5.0)
    except (dns.exception.DNSException, OSError):
        return []
    out = []
    for record in answer:
        out.append(b"".join(getattr(record, "strings", ())).decode("utf-8", "replace"))
    return out


def _did_from_txt(records: list[str]) -> str | None:
    found = {r.strip()[4:].strip().lower() for r in records if r.strip().startswith("did=")}
    found = {d for d in found if is_did(d)}
    return found.pop() if len(found) == 1 else None  # more than one: ambiguous, no answer


async def resolve_handle(
    session: aiohttp.ClientSession, policy: FetchPolicy, handle: str, opts: IdentityOptions
) -> str:
    """The DID ``handle`` points at (DNS first, then HTTPS well-known through the guard)."""
    normal = normalize_handle(handle)
    if normal is None:
        raise HandleNotResolved(f"{handle!r} is not a valid handle", url=handle)
    lookup = opts.txt or dns_txt
    did = _did_from_txt(await lookup(f"_atproto.{normal}"))
    if did:
        return did
    url = opts.handle_base.format(host=normal) + "/.well-known/atproto-did"
    try:
        result = await fetch(session, url, policy)
    except IngestError as exc:
        if exc.code == "destination_not_allowed":
            raise
        raise HandleNotResolved(
            f"{normal} has no _atproto TXT record and {url} failed: {exc.message}", url=url
        ) from exc
    text = (
        result.content[:2048].decode("utf-8", "replace") if isinstance(result, FetchResult) else ""
    )
    lines = text.strip().splitlines()
    did = lines[0].strip().lower() if lines else ""
    if not is_did(did):
        raise HandleNotResolved(f"{url} does not answer with a DID", url=url)
    return did


def did_document_url(did: str, opts: IdentityOptions) -> str:
    if did.startswith("did:plc:"):
        return f"{opts.plc_url.rstrip('/')}/{quote(did, safe=':')}"
    if did.startswith("did:web:"):
        host = unquote(did[len("did:web:") :])
        return opts.did_web_base.format(host=host) + "/.well-known/did.json"
    raise HandleNotResolved(f"unsupported DID method: {did}", url=did)


def parse_did_document(data: object, did: str) -> DidDocument:
    if not isinstance(data, dict) or str(data.get("id", "")).lower() != did:
        raise ParseError("the DID document is not about this DID", url=did)
    handles = tuple(
        h
        for aka in data.get("alsoKnownAs") or ()
        if isinstance(aka, str) and aka.startswith("at://")
        for h in [normalize_handle(aka[5:])]
        if h
    )
    pds = None
    for service in data.get("service") or ():
        if not isinstance(service, dict):
            continue
        if str(service.get("id", "")).endswith("#atproto_pds") or service.get("type") == (
            "AtprotoPersonalDataServer"
        ):
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and urlsplit(endpoint).scheme in ("http", "https"):
                pds = endpoint.rstrip("/")
                break
    return DidDocument(did=did, handles=handles, pds=pds)


async def did_document(
    session: aiohttp.ClientSession, policy: FetchPolicy, did: str, opts: IdentityOptions
) -> DidDocument:
    url = did_document_url(did, opts)
    result = await fetch(session, url, policy)
    if not isinstance(result, FetchResult) or len(result.content) > MAX_DOC_BYTES:
        raise ParseError("the DID document is missing or too large", url=url)
    try:
        data = json.loads(result.content)
    except ValueError as exc:
        raise ParseError(f"the DID document is not JSON: {exc}", url=url) from exc
    return parse_did_document(data, did)


async def verified_handle(
    session: aiohttp.ClientSession,
    policy: FetchPolicy,
    did: str,
    handle: str,
    opts: IdentityOptions,
    *,
    document: DidDocument | None = None,
) -> bool:
    """True when ``handle`` points at ``did`` and ``did``'s document names ``handle``."""
    normal = normalize_handle(handle)
    if normal is None:
        return False
    doc = document or await did_document(session, policy, did, opts)
    if normal not in doc.handles:
        return False
    return await resolve_handle(session, policy, normal, opts) == did
