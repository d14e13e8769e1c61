"""The digest by e-mail: once per period (a day or an ISO week) per subscribed user, over
SMTP, HTML and plain text, with a one-click unsubscribe.

:func:`send_due_digests` is the job (the scheduler calls it every few minutes, ``kith
digest send`` once). Per subscription: decide the period that is due (pure,
:func:`due_period`) -> claim it (the unique (user, period) delivery row; a pending row
whose lease ran out is taken over) -> build the mail (the digest of the period, whom to
reach out to with openers, dates coming up) -> send -> record the outcome. A failed
attempt stays pending with its lease set to the backoff, so the next run after it
retries; after ``digest_mail_attempts`` it is failed. The Message-ID is fixed per (user,
period): a retry after an uncertain failure (the server took the mail, the reply was
lost) is the same message to the recipient's client, never a second distinct one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine

from app.config import Settings
from app.db import session_scope
from app.jobs.digest import build_digest
from app.jobs.mailer import MailFailed, SmtpTarget, parse_smtp_url, send_message
from app.models import DigestSubscription, User
from app.people.reach import reach_out
from app.storage import digest_mail as store

log = logging.getLogger("kith.digest_mail")

LEASE = timedelta(minutes=10)  # longer than one SMTP conversation's deadlines
BACKOFF = timedelta(minutes=5)  # doubled per failed attempt
MAX_BACKOFF = timedelta(hours=6)
EVERY = timedelta(minutes=3)  # how often the scheduler looks for due mails
REACH_OUT = 5  # people in "Reach out" (each with up to 3 openers)

# headers unfolded up to RFC 5322's 998: a long List-Unsubscribe URL must stay a URL, not
# turn into RFC 2047 encoded words that no mail client reads as a link
MAIL_POLICY = policy.default.clone(max_line_length=998)

_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent.parent / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # 2026-12-02 (daily) or 2026-W49 (weekly)
    start: datetime  # when its mail is due
    since: datetime  # what the mail covers: since the previous period's start


@dataclass(frozen=True, slots=True)
class Report:
    sent: int = 0
    failed: int = 0  # attempts that failed (retried later unless out of attempts)
    skipped: int = 0  # already sent or claimed by another process
    configured: bool = True


def due_period(
    frequency: str, hour_utc: int, now: datetime, *, force: bool = False
) -> Period | None:
    """The latest period whose start (``hour_utc`` of the day, or of the week's Monday) is
    not after ``now``; with ``force``, the period ``now`` is in even before its hour."""
    if frequency not in ("daily", "weekly"):
        return None
    now = now.astimezone(UTC)
    hour = min(max(hour_utc, 0), 23)
    step = timedelta(days=1 if frequency == "daily" else 7)
    day = now.date() if frequency == "daily" else now.date() - timedelta(days=now.weekday())
    start = datetime.combine(day, time(hour), tzinfo=UTC)
    if start > now and not force:
        start -= step
    if frequency == "daily":
        key = start.date().isoformat()
    else:
        year, week, _ = start.isocalendar()
        key = f"{year}-W{week:02d}"
    return Period(key=key, start=start, since=start - step)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 5, 10, 20 ... minutes, at most 6 hours."""
    wait: timedelta = BACKOFF * 2 ** min(max(attempts - 1, 0), 16)
    return min(wait, MAX_BACKOFF)


def message_id(user_id: int, period: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip("<> ") or "kith.invalid"
    return f"<kith-digest.{user_id}.{period}@{domain}>"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def compose(
    engine: Engine,
    *,
    sub: DigestSubscription,
    period: Period,
    now: datetime,
    sender: str,
    public_url: str,
    token: str,
) -> EmailMessage:
    """The period's mail for ``sub``: multipart/alternative, plain text and HTML."""
    assert sub.email is not None
    with session_scope(engine) as session:
        user = session.get(User, sub.user_id)
        digest = build_digest(session, user_id=sub.user_id, since=period.since, now=now)
        drifts = reach_out(session, user_id=sub.user_id, now=now, limit=REACH_OUT)
    base = public_url.rstrip("/")
    unsubscribe_url = f"{base}/unsubscribe/{token}"
    context = {
        "user": user,
        "digest": digest,
        "drifts": drifts,
        "upcoming": digest.upcoming,
        "period": period,
        "frequency": sub.frequency,
        "base_url": base,
        "unsubscribe_url": unsubscribe_url,
    }
    new, events = len(digest.rows), len(digest.stories)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = (
        f"Kith {'daily' if sub.frequency == 'daily' else 'weekly'} digest: "
        f"{new} new, {events} life event{'' if events == 1 else 's'}, "
        f"{len(drifts)} to reach out to"
    )
    msg["From"] = sender
    msg["To"] = sub.email
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = message_id(sub.user_id, period.key, sender)
    msg["List-Id"] = f"Kith digest <digest.{sender.rsplit('@', 1)[-1].strip('<> ')}>"
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_ENV.get_template("digest_mail.txt").render(context))
    msg.add_alternative(_ENV.get_template("digest_mail.html").render(context), subtype="html")
    return msg


def _claim(engine: Engine, *, user_id: int, period: str, owner: str, now: datetime) -> int | None:
    """Claim the (user, period) delivery; its attempts so far, or None if not ours."""
    with session_scope(engine, write=True) as session:
        won = store.insert_delivery(
            session, user_id=user_id, period=period, owner=owner, lease_until=now + LEASE
        )
    if not won:
        with session_scope(engine, write=True) as session:
            won = store.take_over(
                session, user_id=user_id, period=period, owner=owner, now=now, ttl=LEASE
            )
    if not won:
        return None
    with session_scope(engine) as session:
        row = store.get_delivery(session, user_id=user_id, period=period)
        return row.attempts if row is not None else None


def send_one(
    engine: Engine,
    settings: Settings,
    target: SmtpTarget,
    sub: DigestSubscription,
    *,
    now: datetime,
    force: bool = False,
) -> str:
    """One subscription: "sent", "failed" (an attempt that failed) or "skipped"."""
    period = due_period(sub.frequency, sub.hour_utc, now, force=force)
    if period is None or sub.email is None:
        return "skipped"
    owner = _owner()
    attempts = _claim(engine, user_id=sub.user_id, period=period.key, owner=owner, now=now)
    if attempts is None:
        return "skipped"
    mid = message_id(sub.user_id, period.key, settings.smtp_from)
    token = secrets.token_urlsafe(32)
    error: str | None = None
    try:
        msg = compose(
            engine,
            sub=sub,
            period=period,
            now=now,
            sender=settings.smtp_from,
            public_url=settings.public_url,
            token=token,
        )
        with session_scope(engine, write=True) as session:  # the link works when it arrives
            store.set_unsubscribe_token(session, user_id=sub.user_id, raw=token)
        send_message(target, msg, timeout=settings.smtp_timeout_seconds)
    except MailFailed as exc:
        error = str(exc)
    except Exception as exc:  # a bug building one mail must not stop the others
        log.exception("digest mail for user %s failed to build", sub.user_id)
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts += 1
    if error is None:
        status, retry_at = "sent", None
    elif attempts >= settings.digest_mail_attempts:
        status, retry_at = "failed", None
    else:
        status, retry_at = "pending", now + backoff(attempts)
    with session_scope(engine, write=True) as session:
        store.finish_delivery(
            session,
            user_id=sub.user_id,
            period=period.key,
            owner=owner,
            status=status,
            attempts=attempts,
            message_id=mid,
            error=error,
            now=now,
            retry_at=retry_at,
        )
    if error is not None:
        log.warning(
            "digest mail user=%s period=%s attempt=%d via %s: %s",
            sub.user_id,
            period.key,
            attempts,
            target,
            error,
        )
        return "failed"
    return "sent"


def send_due_digests(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    user_id: int | None = None,
    force: bool = False,
) -> Report:
    """Send every digest mail that is due at ``now`` (of one user with ``user_id``);
    ``force`` sends the current period's even before its hour."""
    if settings.smtp_url is None:
        return Report(configured=False)
    target = parse_smtp_url(settings.smtp_url.get_secret_value())
    with session_scope(engine) as session:
        subs = store.active_subscriptions(session, user_id=user_id)
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    for sub in subs:
        counts[send_one(engine, settings, target, sub, now=now, force=force)] += 1
    return Report(sent=counts["sent"], failed=counts["failed"], skipped=counts["skipped"])


class DigestMailKick:
    """The scheduler's handle: :meth:`kick` on every tick runs :func:`send_due_digests`
    in a worker thread at most every ``every`` (the delivery rows decide which process
    sends what); :meth:`close` waits for a run in flight."""

    def __init__(self, engine: Engine, settings: Settings, *, every: timedelta = EVERY) -> None:
        self.engine, self.settings, self.every = engine, settings, every
        self.last: datetime | None = None
        self.task: asyncio.Task[Report | None] | None = None

    def kick(self, now: datetime) -> None:
        if self.settings.smtp_url is None or (self.task and not self.task.done()):
            return
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        self.task = asyncio.create_task(asyncio.to_thread(self._run, now))

    def _run(self, now: datetime) -> Report | None:
        try:
            return send_due_digests(self.engine, self.settings, now)
        except Exception:  # the scheduler outlives a failed run; the next kick tries again
            log.exception("sending digest mails failed")
            return None

    async def close(self) -> None:
        if self.task is not None:
            await self.task
