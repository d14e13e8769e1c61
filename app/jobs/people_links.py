"""Reading people's own pages: rel="me" both ways merges a blog and an account into one
person (strong evidence); XFN on the user's own blog says how they know people.

Every page is fetched through the guarded client. Run on demand
(``POST /api/v1/people/links``); results change identities and relationship types only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from app.models import Identity, Person
from app.storage import people as people_store
from ingest.assemble import normalize_url
from ingest.discover import mastodon_account
from ingest.errors import IngestError
from ingest.fetch import FetchPolicy, fetch, make_client
from ingest.links import page_links, rel_me, xfn
from ingest.types import FetchResult

MAX_PAGES = 200  # per run: a politeness bound


@dataclass(slots=True)
class LinkReport:
    pages: int = 0
    merged: list[tuple[int, int]] = field(default_factory=list)
    relationships: dict[int, list[str]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


async def _page(client: object, url: str, policy: FetchPolicy, report: LinkReport) -> list | None:  # type: ignore[type-arg]
    if report.pages >= MAX_PAGES:
        return None
    report.pages += 1
    try:
        result = await fetch(client, url, policy)  # type: ignore[arg-type]
    except IngestError as exc:
        report.errors.append((url, exc.code))
        return None
    return (
        page_links(result.content, base_url=result.url) if isinstance(result, FetchResult) else None
    )


async def read_links(session: Session, *, user_id: int, policy: FetchPolicy) -> LinkReport:
    report = LinkReport()
    identities = session.exec(select(Identity).where(Identity.user_id == user_id)).all()
    by_key = {(i.kind, i.value): i for i in identities}
    me = people_store.self_keys(session, user_id=user_id)
    async with make_client(policy) as client:
        # rel=me: a person's site says "me" to a profile that says "me" back
        for identity in [i for i in identities if i.kind == "url" and i.person_id != me.person_id]:
            links = await _page(client, identity.value, policy, report)
            if not links:
                continue
            for target in rel_me(links):
                account = mastodon_account(target)
                other = by_key.get(("acct", account.acct.lower())) if account else None
                other = other or by_key.get(("url", target))
                if other is None or other.person_id == identity.person_id:
                    continue
                back = await _page(client, target, policy, report)
                if back and normalize_url(identity.value) in rel_me(back):
                    kept = people_store.merge_people(
                        session,
                        user_id=user_id,
                        keep_id=identity.person_id,
                        other_id=other.person_id,
                    )
                    report.merged.append((identity.person_id, other.person_id))
                    for i in identities:
                        if i.person_id == other.person_id:
                            i.person_id = kept.id  # type: ignore[assignment]
        # XFN on the user's own pages: how they know the people they link to
        own_pages = [i.value for i in identities if i.kind == "url" and i.person_id == me.person_id]
        for page in own_pages:
            links = await _page(client, page, policy, report)
            for target, kinds in xfn(links or []).items():
                person = _person_at(session, user_id=user_id, url=target)
                if person is None or person.id is None:
                    continue
                person.relationships = sorted(set(person.relationships or []) | kinds)
                session.add(person)
                report.relationships[person.id] = person.relationships
    session.flush()
    return report


def _person_at(session: Session, *, user_id: int, url: str) -> Person | None:
    """The person whose URL identity is ``url``, else the one whose URL is on its host."""
    exact = session.exec(
        select(Person)
        .join(Identity, col(Identity.person_id) == Person.id)
        .where(Identity.user_id == user_id, Identity.kind == "url", Identity.value == url)
    ).first()
    if exact is not None:
        return exact
    host = urlsplit(url).netloc
    candidates = session.exec(
        select(Person, Identity.value)
        .join(Identity, col(Identity.person_id) == Person.id)
        .where(Identity.user_id == user_id, Identity.kind == "url", col(Person.is_self).is_(False))
    ).all()
    same_host = {p.id: p for p, value in candidates if urlsplit(value).netloc == host}
    return next(iter(same_host.values())) if len(same_host) == 1 else None
