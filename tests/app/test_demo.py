"""The bundled demo goes through the real fetch -> parse -> store path."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import get_engine
from app.demo import DemoServer, seed_demo, seed_demo_contacts
from app.jobs.refresh import RefreshOptions, refresh_due
from app.main import create_app


def test_demo_ingests_posts_and_the_comment_thread(db_url: str) -> None:
    server = DemoServer().start()
    try:
        settings = Settings(database_url=db_url, allowed_hosts=[f"{server.host}:{server.port}"])
        engine = get_engine(db_url)
        seed = seed_demo(engine, base_url=server.base_url, guard=settings.fetch_policy().guard)
        stats = refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()))
        assert (stats.sources, stats.errors) == (4, 0) and stats.new_items >= 10
        # a second start (new port, same database) keeps the items and adds no duplicates
        again = seed_demo(engine, base_url=server.base_url, guard=settings.fetch_policy().guard)
        assert refresh_due(engine, RefreshOptions(policy=settings.fetch_policy())).new_items == 0
        assert seed_demo_contacts(engine) == 21  # 20 seen, 1 logged (a meeting with Maya)
        assert seed_demo_contacts(engine) == 0  # idempotent
        with TestClient(create_app(settings)) as client:
            auth = {"Authorization": f"Bearer {again.token}"}
            drifting = client.get("/api/v1/people/drifting", headers=auth).json()["items"]
            people = client.get("/api/v1/people", headers=auth).json()["items"]
            assert (
                client.get(
                    "/api/v1/timeline", headers={"Authorization": f"Bearer {seed.token}"}
                ).status_code
                == 401
            )
            items = client.get(
                "/api/v1/timeline?limit=100", headers={"Authorization": f"Bearer {again.token}"}
            ).json()["items"]
        post = next(i for i in items if i["title"] == "We're getting married!")
        comments = [i for i in items if i["source"]["kind"] == "comments"]
        assert {c["person"]["name"] for c in comments} == {
            "Sam Okafor",
            "Priya Raman",
            "Jonas Berg",
        }
        assert all(c["in_reply_to"] == post["url"] for c in comments)
        assert "<script" not in post["content"] and "onerror" not in post["content"]
        # Sam has gone quiet on you while still posting: the demo's reach-out suggestion
        assert [d["person"]["name"] for d in drifting] == ["Sam Okafor"]
        assert drifting[0]["openers"] and "every" in drifting[0]["why"]
        names = {p["name"]: p for p in people}
        assert {"Maya Lindqvist", "Sam Okafor", "Priya Raman", "Jonas Berg"} <= set(names)
        assert names["Maya Lindqvist"]["relationships"] == ["family", "friend"]
    finally:
        server.stop()
        get_engine.cache_clear()
