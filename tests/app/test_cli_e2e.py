"""End to end through the installed `kith` command: loopback feed -> ingest -> API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import FeedServer, Reply, rss

KITH = shutil.which("kith") or str(Path(sys.executable).parent / "kith")


def kith(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KITH, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(db_url: str, feed_server: FeedServer) -> dict[str, str]:
    return {
        **os.environ,
        "KITH_DATABASE_URL": db_url,
        "KITH_ALLOWED_HOSTS": f'["{feed_server.hostport}"]',
    }


def test_user_source_ingest_twice_then_timeline(
    env: dict[str, str], feed_server: FeedServer, db_url: str
) -> None:
    feed_server.routes["/feed"] = Reply(
        200, rss(("1", "One", "<p>1</p>"), ("2", "Two", "<p>2</p>"))
    )
    added = kith("user", "add", "alice", env=env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("kith_")
    assert kith("user", "add", "bob", env=env).returncode == 0

    refused = kith("source", "add", "http://127.1/feed", "--user", "alice", env=env)
    assert refused.returncode != 0 and "destination_not_allowed" in refused.stderr
    ok = kith("source", "add", feed_server.url("/feed"), "--user", "alice", env=env)
    assert ok.returncode == 0, ok.stderr

    first = kith("ingest", "--once", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().startswith("sources=1 new_items=2 updated=0 errors=0 seconds=")
    second = kith("ingest", "--once", "--all", env=env)
    assert second.stdout.strip().startswith("sources=1 new_items=0 updated=0 errors=0"), (
        second.stdout
    )
    trained = kith("train", env=env)  # both users' models, from their (no) feedback
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.strip().splitlines()
    assert lines[-1].startswith("models=2 seconds=")
    # the feed's posts are from July: older than the 60-day ranking window, not rescored
    assert sorted(line.split()[1] for line in lines[:-1]) == ["events=0", "events=0"], lines
    assert kith("train", "--user", "nobody", env=env).returncode != 0

    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.db import get_engine
    from app.main import create_app

    with TestClient(create_app(Settings(database_url=db_url))) as client:
        page = client.get("/api/v1/timeline", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200
        assert sorted(i["title"] for i in page.json()["items"]) == ["One", "Two"]
        assert all(i["why"] and i["score"] is not None for i in page.json()["items"])
        assert client.get("/api/v1/timeline").status_code == 401
    get_engine.cache_clear()


def test_opml_import_export_and_errors(env: dict[str, str], tmp_path: Path) -> None:
    assert kith("user", "add", "alice", env=env).returncode == 0
    good = tmp_path / "subs.opml"
    good.write_text(
        '<opml version="2.0"><body><outline text="Pals"><outline text="A" xmlUrl="https://a.example/feed"/></outline></body></opml>'
    )
    result = kith("import-opml", str(good), "--user", "alice", env=env)
    assert result.returncode == 0 and "imported=1 skipped=0" in result.stdout
    exported = kith("export-opml", "--user", "alice", env=env)
    assert 'xmlUrl="https://a.example/feed"' in exported.stdout and 'text="Pals"' in exported.stdout
    broken = tmp_path / "broken.opml"
    broken.write_text("<opml>\n<body>\n<outline>\n</opml>")
    failed = kith("import-opml", str(broken), "--user", "alice", env=env)
    assert failed.returncode != 0 and "invalid_opml" in failed.stderr and "line" in failed.stderr
    assert kith("source", "add", "https://x.example/", "--user", "nobody", env=env).returncode != 0


def test_password_from_stdin(env: dict[str, str], db_url: str) -> None:
    result = kith("user", "add", "carol", "--password-stdin", env=env, stdin="s3cret\n")
    assert result.returncode == 0, result.stderr
    from app.db import get_engine, session_scope
    from app.storage.users import authenticate

    with session_scope(get_engine(db_url)) as s:
        assert authenticate(s, name="carol", password="s3cret") is not None
    get_engine.cache_clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_demo_answers_within_a_minute(tmp_path: Path) -> None:
    """What `make run` does, on a fresh embedded database, with no network beyond loopback."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    proc = subprocess.Popen(
        [KITH, "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        token = None
        assert proc.stdout is not None
        while time.monotonic() < deadline and token is None:
            line = proc.stdout.readline()
            if line.startswith("demo API token:"):
                token = line.split()[-1]
            assert proc.poll() is None, "kith serve --demo exited early"
        assert token, "no demo token printed within a minute"
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        page = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/timeline",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        titles = [i["title"] for i in page["items"]]
        assert "We're getting married!" in titles and "By: Priya Raman" in titles
        assert (tmp_path / "kith.db").exists()  # the embedded default, migrated by serve
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert home.status_code == 303 and home.headers["location"].startswith("/login")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
