"""SMTP out: the ``KITH_SMTP_URL`` parsed into a target, and one message sent through
the standard library's smtplib (STARTTLS or implicit TLS). The password lives in the
target only; neither ``repr`` nor an error message ever carries it."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from app.errors import InvalidInput

_ON = {"1", "true", "on", "yes", "required"}
_OFF = {"0", "false", "off", "no"}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    security: str  # "tls" (smtps), "starttls" or "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:  # for logs: never the credentials
        return f"{self.security}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://user:pass@host:587`` (STARTTLS on 587 unless ``?starttls=off``; on other
    ports only with ``?starttls=on``) or ``smtps://user:pass@host:465`` (TLS)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InvalidInput("KITH_SMTP_URL must look like smtp://user:pass@host:587 or smtps://...")
    try:
        port = parts.port or (465 if scheme == "smtps" else 587)
    except ValueError:
        raise InvalidInput("KITH_SMTP_URL has a bad port") from None
    if scheme == "smtps":
        security = "tls"
    else:
        flag = (parse_qs(parts.query).get("starttls") or [""])[0].lower()
        if flag in _ON:
            security = "starttls"
        elif flag in _OFF:
            security = "none"
        else:
            security = "starttls" if port == 587 else "none"
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class MailFailed(Exception):
    """An SMTP send that did not go through; ``permanent`` for a 5xx refusal."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def send_message(target: SmtpTarget, message: EmailMessage, *, timeout: float = 30.0) -> None:
    """Deliver one message or raise :class:`MailFailed` (never with the credentials)."""
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if target.security == "tls":
            smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if target.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        )
        raise MailFailed(f"{exc.smtp_code} {text}"[:500], permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailFailed(f"recipient refused: {list(exc.recipients)}"[:500]) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailFailed(f"{type(exc).__name__}: {exc}"[:500]) from None
