"""Your digest by e-mail: off by default; daily or weekly, to one address, at an hour."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.jobs.digest_mail import due_period
from app.storage import digest_mail as store

router = APIRouter(prefix="/me", tags=["me"])

# one address, no display name, no line breaks (it goes into a To: header)
EMAIL = re.compile(
    r"^[^@\s<>,;:\"()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}$"
)


class DigestMailIn(BaseModel):
    frequency: Literal["off", "daily", "weekly"]
    email: str | None = Field(None, max_length=320, description="Where it goes; needed unless off")
    hour_utc: int = Field(7, ge=0, le=23, description="The hour (UTC) it goes out; weekly: Mondays")


class DigestMailOut(BaseModel):
    frequency: Literal["off", "daily", "weekly"]
    email: str | None
    hour_utc: int
    mail_configured: bool = Field(description="Whether this server has KITH_SMTP_URL set")
    next_period: str | None = Field(None, description="The period the next mail covers")
    last_period: str | None = None
    last_status: Literal["pending", "sent", "failed"] | None = None
    last_sent_at: datetime | None = None


def _out(session: SessionDep, settings: SettingsDep, user_id: int) -> DigestMailOut:
    sub = store.get_subscription(session, user_id=user_id)
    last = store.last_delivery(session, user_id=user_id)
    period = due_period(sub.frequency, sub.hour_utc, datetime.now(UTC)) if sub else None
    return DigestMailOut(
        frequency=sub.frequency if sub else "off",  # type: ignore[arg-type]
        email=sub.email if sub else None,
        hour_utc=sub.hour_utc if sub else 7,
        mail_configured=settings.smtp_url is not None,
        next_period=period.key if period else None,
        last_period=last.period if last else None,
        last_status=last.status if last else None,  # type: ignore[arg-type]
        last_sent_at=last.sent_at if last else None,
    )


@router.get("/digest-mail", response_model=DigestMailOut)
def read_digest_mail(
    session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> DigestMailOut:
    """Your e-mail digest settings and how the last one went."""
    assert user.id is not None
    return _out(session, settings, user.id)


@router.put("/digest-mail", response_model=DigestMailOut)
def update_digest_mail(
    body: DigestMailIn, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> DigestMailOut:
    """Turn the e-mail digest on (daily or weekly, to an address, at an hour UTC) or off."""
    assert user.id is not None
    email = body.email.strip() if body.email else None
    if email and not EMAIL.match(email):
        raise InvalidInput(f"“{email[:80]}” is not an e-mail address (like you@example.org)")
    if body.frequency != "off" and not email:
        raise InvalidInput("a daily or weekly digest needs an e-mail address")
    store.put_subscription(
        session, user_id=user.id, frequency=body.frequency, email=email, hour_utc=body.hour_utc
    )
    return _out(session, settings, user.id)
