"""The digest by e-mail against a real SMTP server on loopback (aiosmtpd): settings
through the API, the mail with both parts and its headers, exactly once per period with
two senders at once, a retry after a refused attempt without a duplicate, and the
one-click unsubscribe link that works once. SQLite and PostgreSQL."""

from __future__ import annotations

import email
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.db import get_engine, session_scope
from app.jobs.digest_mail import backoff, due_period, send_due_digests
from app.jobs.mailer import parse_smtp_url
from app.jobs.refresh import RefreshOptions, refresh_due
from app.storage import digest_mail as store
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

NOW = datetime.now(UTC)
API = "/api/v1/me/digest-mail"
# the period began an hour or two ago: the next one is a day away, whatever the time now
HOUR = (NOW.hour - 1) % 24


class Inbox:
    """An aiosmtpd handler: keeps every accepted message; refuses the first
    ``refuse`` DATA commands with a 451 (try again later)."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[Message] = []
        self.refuse = refuse
        self.attempts = 0
        self.lock = threading.Lock()

    def authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"kith",
            b"s3cret-pw",
        )
        return AuthResult(success=ok)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        with self.lock:
            self.attempts += 1
            if self.attempts <= self.refuse:
                return "451 4.3.0 try again later"
            self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, Controller]]:
    box = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it answers on start)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,  # loopback, no certificate: the login is checked all the same
    )
    controller.start()
    try:
        yield box, controller
    finally:
        controller.stop()


def mail_settings(settings: Settings, controller: Controller) -> Settings:
    port = controller.port
    return settings.model_copy(
        update={
            "smtp_url": SecretStr(f"smtp://kith:s3cret-pw@127.0.0.1:{port}?starttls=off"),
            "smtp_from": "Kith <digest@kith.example>",
            "public_url": "https://kith.example",
        }
    )


def rss(posts: list[tuple[str, str]]) -> bytes:
    items = "".join(
        f"<item><guid>https://ann.example/{n}</guid><link>https://ann.example/{n}</link>"
        f"<title>{title}</title><author>ann@ann.example (Ann Lee)</author>"
        f"<pubDate>{(NOW - timedelta(hours=n + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>{body}</description></item>"
        for n, (title, body) in enumerate(posts)
    )
    return f"<rss version='2.0'><channel><title>Ann</title>{items}</channel></rss>".encode()


def subscribe(
    client: TestClient, settings: Settings, feed_server: FeedServer, user: ApiUser
) -> None:
    feed_server.routes["/ann"] = Reply(
        200,
        rss([("We got engaged!", "Big news: we got engaged."), ("Garden notes", "Tomatoes.")]),
    )
    resp = client.post("/api/v1/sources", json={"url": feed_server.url("/ann")}, headers=user.auth)
    assert resp.status_code == 201, resp.text
    refresh_due(get_engine(settings.database_url), RefreshOptions(policy=settings.fetch_policy()))
    resp = client.put(
        API,
        json={"frequency": "daily", "email": f"{user.name}@example.org", "hour_utc": HOUR},
        headers=user.auth,
    )
    assert resp.status_code == 200, resp.text


def parts(msg: Message) -> dict[str, str]:
    out = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return out


def test_periods_and_backoff_are_pure() -> None:
    wed = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    assert due_period("off", 7, wed) is None
    daily = due_period("daily", 7, wed)
    assert daily is not None and daily.key == "2026-12-01"  # today's 07:00 is not here yet
    assert daily.since == daily.start - timedelta(days=1)
    forced = due_period("daily", 7, wed, force=True)
    assert forced is not None and forced.key == "2026-12-02"
    weekly = due_period("weekly", 7, wed)
    assert weekly is not None and weekly.key == "2026-W49"
    assert weekly.start == datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (5, 10, 20)]
    assert backoff(50) == timedelta(hours=6)
    target = parse_smtp_url("smtp://me%40x.org:p%3Ass@mail.example:587")
    assert (target.security, target.username, target.password) == ("starttls", "me@x.org", "p:ss")
    assert "p:ss" not in repr(target) and "p:ss" not in str(target)
    assert parse_smtp_url("smtps://u:p@mail.example").port == 465
    assert parse_smtp_url("smtp://mail.example:25").security == "none"


def test_settings_through_the_api(client: TestClient, alice: ApiUser, bob: ApiUser) -> None:
    assert client.get(API, headers=alice.auth).json()["frequency"] == "off"  # off by default
    for body in (
        {"frequency": "daily"},  # no address
        {"frequency": "weekly", "email": "not an address"},
        {"frequency": "weekly", "email": "a@b.org\r\nBcc: x@y.org"},
    ):
        resp = client.put(API, json=body, headers=alice.auth)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_input", body
    bad: tuple[dict[str, object], ...] = (
        {"frequency": "hourly", "email": "a@b.org"},
        {"frequency": "daily", "hour_utc": 24},
    )
    for wrong in bad:
        assert client.put(API, json=wrong, headers=alice.auth).status_code == 422
    resp = client.put(
        API,
        json={"frequency": "weekly", "email": "alice@example.org", "hour_utc": 9},
        headers=alice.auth,
    )
    assert resp.status_code == 200
    got = client.get(API, headers=alice.auth).json()
    assert (got["frequency"], got["email"], got["hour_utc"]) == ("weekly", "alice@example.org", 9)
    assert got["mail_configured"] is False
    assert client.get(API, headers=bob.auth).json()["email"] is None  # Bob's own


def test_digest_arrives_once_with_both_parts_across_two_senders(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    inbox: tuple[Inbox, Controller],
) -> None:
    box, controller = inbox
    subscribe(client, settings, feed_server, alice)
    cfg = mail_settings(settings, controller)
    engine = get_engine(settings.database_url)
    now = datetime.now(UTC)
    start = threading.Barrier(2)
    reports = []

    def sender() -> None:
        start.wait()
        reports.append(send_due_digests(engine, cfg, now))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted((r.sent, r.skipped) for r in reports) == [(0, 1), (1, 0)], reports
    assert len(box.messages) == 1
    # later runs in the same period send nothing more
    assert send_due_digests(engine, cfg, now + timedelta(minutes=30)).sent == 0
    assert len(box.messages) == 1

    msg = box.messages[0]
    assert msg.get_content_type() == "multipart/alternative"
    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    for text in body.values():
        assert "We got engaged!" in text and "wedding" in text  # the life event
        assert "Garden notes" in text
    assert msg["To"] == "alice@example.org"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://kith\.example/unsubscribe/[\w-]+)>", msg["List-Unsubscribe"])
    assert link and link.group(1) in body["text/plain"] and link.group(1) in body["text/html"]
    assert msg["Message-ID"].startswith(f"<kith-digest.{alice.id}.")
    assert "s3cret-pw" not in msg.as_string()
    got = client.get(API, headers=alice.auth).json()
    assert got["last_status"] == "sent" and got["mail_configured"] is False  # app's own settings


def test_retried_after_a_refusal_without_a_duplicate(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    inbox: tuple[Inbox, Controller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    box, controller = inbox
    box.refuse = 1
    subscribe(client, settings, feed_server, alice)
    cfg = mail_settings(settings, controller)
    engine = get_engine(settings.database_url)
    now = datetime.now(UTC)
    first = send_due_digests(engine, cfg, now)
    assert (first.sent, first.failed, len(box.messages)) == (0, 1, 0)
    assert "s3cret-pw" not in caplog.text
    # within the backoff nothing is tried; after it, the retry goes through once
    assert send_due_digests(engine, cfg, now + timedelta(minutes=1)).sent == 0
    assert box.attempts == 1
    later = now + backoff(1) + timedelta(seconds=1)
    assert send_due_digests(engine, cfg, later).sent == 1
    assert send_due_digests(engine, cfg, later + timedelta(minutes=10)).sent == 0
    assert len(box.messages) == 1
    with session_scope(engine) as s:
        period = due_period("daily", HOUR, now)
        assert period is not None
        row = store.get_delivery(s, user_id=alice.id, period=period.key)
        assert row is not None and (row.status, row.attempts) == ("sent", 2)
        assert row.message_id == box.messages[0]["Message-ID"]


def test_failed_for_good_after_the_last_attempt(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    inbox: tuple[Inbox, Controller],
) -> None:
    box, controller = inbox
    box.refuse = 100
    subscribe(client, settings, feed_server, alice)
    cfg = mail_settings(settings, controller).model_copy(update={"digest_mail_attempts": 2})
    engine = get_engine(settings.database_url)
    now = datetime.now(UTC)
    for hours in (0, 1, 2, 3):
        send_due_digests(engine, cfg, now + timedelta(hours=hours))
    assert box.attempts == 2 and not box.messages
    assert client.get(API, headers=alice.auth).json()["last_status"] == "failed"


def test_unsubscribe_link_works_once(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    inbox: tuple[Inbox, Controller],
) -> None:
    box, controller = inbox
    subscribe(client, settings, feed_server, alice)
    send_due_digests(get_engine(settings.database_url), mail_settings(settings, controller), NOW)
    url = box.messages[0]["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://kith.example")

    anonymous = TestClient(client.app)  # no session, as a mail client's one-click POST
    confirm = anonymous.get(path)
    assert confirm.status_code == 200 and "Stop the digest mails?" in confirm.text
    assert "alice" not in confirm.text.lower() and "set-cookie" not in confirm.headers
    assert client.get(API, headers=alice.auth).json()["frequency"] == "daily"  # GET changes nothing

    done = anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert client.get(API, headers=alice.auth).json()["frequency"] == "off"

    used_get, used_post = anonymous.get(path), anonymous.post(path)
    wrong_get, wrong_post = (
        anonymous.get("/unsubscribe/" + "x" * 43),
        anonymous.post("/unsubscribe/nope"),
    )
    for resp in (used_get, used_post, wrong_get, wrong_post):
        assert resp.status_code == 200 and "Already unsubscribed" in resp.text
    assert used_get.text == wrong_get.text and used_post.text == wrong_post.text
    # turning it on again does not revive the old link
    client.put(API, json={"frequency": "daily", "email": "alice@example.org"}, headers=alice.auth)
    assert "Already unsubscribed" in anonymous.post(path).text
    assert client.get(API, headers=alice.auth).json()["frequency"] == "daily"


def test_the_digest_page_has_the_mail_form(client: TestClient, alice: ApiUser) -> None:
    client.put(
        API,
        json={"frequency": "weekly", "email": "alice@example.org", "hour_utc": 9},
        headers=alice.auth,
    )
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    client.post(
        "/login", data={"username": "alice", "password": "correct horse", "csrf": csrf.group(1)}
    )
    html = client.get("/digest").text
    assert 'id="digest-mail-form"' in html and "/static/digest_mail.js" in html
    assert 'value="alice@example.org"' in html
    assert re.search(r'<option value="weekly" selected>', html)
    assert re.search(r'<option value="9" selected>09:00</option>', html)


def test_unsubscribe_tokens_are_masked_in_the_access_log() -> None:
    from app.logs import redact

    line = redact('127.0.0.1 - "POST /unsubscribe/AbC_secret-42 HTTP/1.1" 200')
    assert "AbC_secret" not in line and "/unsubscribe/[redacted]" in line


def test_kith_digest_send(
    client: TestClient,
    settings: Settings,
    feed_server: FeedServer,
    alice: ApiUser,
    inbox: tuple[Inbox, Controller],
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    box, controller = inbox
    subscribe(client, settings, feed_server, alice)
    cfg = mail_settings(settings, controller)
    assert cfg.smtp_url is not None
    kith = str(Path(sys.executable).parent / "kith")
    env = os.environ | {
        "KITH_DATABASE_URL": settings.database_url,
        "KITH_SECRET_KEY": "test-secret",
        "KITH_SMTP_URL": cfg.smtp_url.get_secret_value(),
        "KITH_SMTP_FROM": "digest@kith.example",
    }
    runs = [
        subprocess.run(
            [kith, "digest", "send", "--user", "alice", "--now"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert runs[0].stdout.strip().endswith("sent=1 failed=0 skipped=0")
    assert runs[1].stdout.strip().endswith("sent=0 failed=0 skipped=1")
    assert len(box.messages) == 1
    assert all("s3cret-pw" not in r.stdout + r.stderr for r in runs)
    nobody = subprocess.run(
        [kith, "digest", "send", "--user", "nobody"], env=env, capture_output=True, text=True
    )
    assert nobody.returncode != 0 and "not_found" in nobody.stderr + nobody.stdout
