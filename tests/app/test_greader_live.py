"""The recorded native-app sequences (tests/data/greader/*.json) played over real HTTP
against a live ``kith serve --demo`` (uvicorn, its own SQLite file, the scheduler on),
each checked against Kith's own API on the same server, as tests/app/test_greader.py
does in process. One fresh server per client: each sequence ends by marking all read."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.app.greader_client import CLIENTS, Kith, Run, load
from tests.web.conftest import DEMO_USER, start_live_server

PREFIX = {"netnewswire": "/api/greader.php", "reeder": "/reader", "readyou": "/reader"}


@pytest.mark.parametrize("name", CLIENTS)
def test_recorded_sequence_against_kith_serve(name: str, tmp_path: Path) -> None:
    with (
        start_live_server(tmp_path) as server,
        httpx.Client(base_url=server.base, timeout=30) as http,
    ):
        created = server.api("POST", "/app-passwords", json.dumps({"name": name}).encode())
        assert isinstance(created, dict) and created["user_name"] == DEMO_USER
        kith = Kith(http, server.token)
        assert kith.timeline("unread"), "the demo needs unread items"
        run = Run(http, PREFIX[name], DEMO_USER, created["password"], kith)
        run.play(load(name))
        assert len(run.log) == len(load(name))
        # the app password stays valid after the sequence; its last use is recorded
        listed = server.api("GET", "/app-passwords")
        assert isinstance(listed, dict)
        assert [p["last_used_at"] is not None for p in listed["items"]] == [True]
