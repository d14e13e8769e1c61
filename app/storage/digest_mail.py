"""The e-mail digest's rows: a user's subscription (frequency, address, hour, the hashed
one-click unsubscribe token) and one delivery row per user and period, whose unique
(user_id, period) is the claim that makes many processes send a period's mail once."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models import DigestDelivery, DigestSubscription, User

FREQUENCIES = ("off", "daily", "weekly")


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def get_subscription(session: Session, *, user_id: int) -> DigestSubscription | None:
    return session.exec(
        select(DigestSubscription).where(DigestSubscription.user_id == user_id)
    ).first()


def put_subscription(
    session: Session, *, user_id: int, frequency: str, email: str | None, hour_utc: int
) -> DigestSubscription:
    """Create or replace the user's settings (validated by the caller)."""
    sub = get_subscription(session, user_id=user_id) or DigestSubscription(user_id=user_id)
    sub.frequency, sub.email, sub.hour_utc = frequency, email, hour_utc
    if frequency == "off":
        sub.unsubscribe_hash = None  # a link of an older mail opens nothing any more
    session.add(sub)
    session.flush()
    return sub


def active_subscriptions(
    session: Session, *, user_id: int | None = None
) -> list[DigestSubscription]:
    """Subscriptions that want mail (of one user, or of every enabled account)."""
    query = (
        select(DigestSubscription)
        .join(User, col(User.id) == col(DigestSubscription.user_id))
        .where(col(DigestSubscription.frequency) != "off")
        .where(col(DigestSubscription.email).is_not(None))
        .where(col(User.disabled_at).is_(None))
        .order_by(col(DigestSubscription.user_id))
    )
    if user_id is not None:
        query = query.where(DigestSubscription.user_id == user_id)
    return list(session.exec(query).all())


def set_unsubscribe_token(session: Session, *, user_id: int, raw: str) -> None:
    """The token of the newest mail: the one link that unsubscribes (the older mails'
    links then answer like a used one)."""
    session.execute(
        sa.update(DigestSubscription)
        .where(col(DigestSubscription.user_id) == user_id)
        .values(unsubscribe_hash=token_hash(raw))
    )


def unsubscribe(session: Session, *, raw: str) -> bool:
    """Turn the digest off for the token's subscription; False for a used or unknown
    token (one statement: two clicks at once cannot both succeed)."""
    result = session.execute(
        sa.update(DigestSubscription)
        .where(col(DigestSubscription.unsubscribe_hash) == token_hash(raw))
        .where(col(DigestSubscription.frequency) != "off")
        .values(frequency="off", unsubscribe_hash=None)
    )
    return bool(getattr(result, "rowcount", 0))


def is_pending_token(session: Session, *, raw: str) -> bool:
    return (
        session.exec(
            select(DigestSubscription.id)
            .where(DigestSubscription.unsubscribe_hash == token_hash(raw))
            .where(col(DigestSubscription.frequency) != "off")
        ).first()
        is not None
    )


# --- deliveries ---------------------------------------------------------------------


def insert_delivery(
    session: Session, *, user_id: int, period: str, owner: str, lease_until: datetime
) -> bool:
    """The claim: a new (user, period) row held by ``owner``; False when it exists (the
    unique constraint decides between processes). Call in a transaction of its own."""
    try:
        with session.begin_nested():
            session.add(
                DigestDelivery(user_id=user_id, period=period, owner=owner, lease_until=lease_until)
            )
    except sa.exc.IntegrityError:
        return False
    return True


def take_over(
    session: Session, *, user_id: int, period: str, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Claim an existing pending row whose lease ran out (a crashed sender, or a failed
    attempt whose backoff is over)."""
    result = session.execute(
        sa.update(DigestDelivery)
        .where(col(DigestDelivery.user_id) == user_id)
        .where(col(DigestDelivery.period) == period)
        .where(col(DigestDelivery.status) == "pending")
        .where(
            sa.or_(col(DigestDelivery.lease_until).is_(None), col(DigestDelivery.lease_until) < now)
        )
        .values(owner=owner, lease_until=now + ttl)
    )
    return bool(getattr(result, "rowcount", 0))


def get_delivery(session: Session, *, user_id: int, period: str) -> DigestDelivery | None:
    return session.exec(
        select(DigestDelivery)
        .where(DigestDelivery.user_id == user_id)
        .where(DigestDelivery.period == period)
    ).first()


def finish_delivery(
    session: Session,
    *,
    user_id: int,
    period: str,
    owner: str,
    status: str,
    attempts: int,
    message_id: str,
    error: str | None,
    now: datetime,
    retry_at: datetime | None,
) -> None:
    """Record an attempt's outcome: sent, failed for good, or pending until ``retry_at``."""
    session.execute(
        sa.update(DigestDelivery)
        .where(col(DigestDelivery.user_id) == user_id)
        .where(col(DigestDelivery.period) == period)
        .where(col(DigestDelivery.owner) == owner)
        .values(
            status=status,
            attempts=attempts,
            message_id=message_id,
            error=error,
            owner=None,
            lease_until=retry_at,
            sent_at=now if status == "sent" else None,
        )
    )


def last_delivery(session: Session, *, user_id: int) -> DigestDelivery | None:
    return session.exec(
        select(DigestDelivery)
        .where(DigestDelivery.user_id == user_id)
        .order_by(col(DigestDelivery.id).desc())
    ).first()
