"""Ranking through the app: feedback and weights reorder the next timeline request, every
item explains its score, an outdated model retrains. SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import select

from app.config import Settings
from app.db import get_engine, session_scope
from app.demo import DemoServer, seed_demo, seed_demo_contacts
from app.jobs import learner
from app.jobs.refresh import RefreshOptions, refresh_due
from app.jobs.scoring import learn, learn_now, load_ranker, rank_all_pending, rescore
from app.main import create_app
from app.models import Feedback, Item, RankingModel
from app.storage.items import add_feedback, read_timeline
from ranking.persist import SCHEMA_VERSION
from tests.app.conftest import ApiUser
from tests.helpers import FeedServer, Reply

NOW = datetime.now(UTC)
AUTHORS = ("Ann Lee", "Bo Berg", "Cy Dahl", "Di Ek")


def blogs(
    client: TestClient, settings: Settings, feed_server: FeedServer, user: ApiUser, n: int = 4
) -> None:
    """A blog per author, ``n`` posts each, an hour apart and interleaved across authors."""

    def feed(k: int, author: str) -> bytes:
        site = f"https://{author.split()[0].lower()}.example"
        items = "".join(
            f"<item><guid>{site}/{i}</guid><link>{site}/{i}</link><title>{author} post {i}</title>"
            f"<description>Notes number {i}</description>"
            f"<author>x@{site.split('//')[1]} ({author})</author><pubDate>"
            f"{(NOW - timedelta(hours=1 + i * len(AUTHORS) + k)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
            f"</pubDate></item>"
            for i in range(n)
        )
        return f"<rss version='2.0'><channel><title>{author}</title><link>{site}/</link>{items}</channel></rss>".encode()

    for k, author in enumerate(AUTHORS):
        path = f"/{k}"
        feed_server.routes[path] = Reply(200, feed(k, author))
        resp = client.post(
            "/api/v1/sources", json={"url": feed_server.url(path)}, headers=user.auth
        )
        assert resp.status_code == 201, resp.text
    engine = get_engine(settings.database_url)
    refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()))
    rank_all_pending(engine, now=datetime.now(UTC))


def timeline(client: TestClient, user: ApiUser, **params: object) -> list[dict]:
    resp = client.get("/api/v1/timeline", params={"limit": 100, **params}, headers=user.auth)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def first_position(items: list[dict], name: str) -> int:
    return next(k for k, i in enumerate(items) if i["person"]["name"] == name)


def person_id(items: list[dict], name: str) -> int:
    return next(i["person"]["id"] for i in items if i["person"]["name"] == name)


def feedback(client: TestClient, user: ApiUser, item_id: int, action: str) -> None:
    resp = client.post(
        f"/api/v1/items/{item_id}/feedback", json={"action": action}, headers=user.auth
    )
    assert resp.status_code == 204, resp.text


def test_every_item_is_scored_and_explains_itself(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    items = timeline(client, alice)
    assert len(items) == 16
    for item in items:
        assert item["why"], item
        assert item["score"] == pytest.approx(sum(w["value"] for w in item["why"]), abs=1e-3)
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)  # best first
    # a flood is spread: an author's 2nd item carries the page-share factor
    assert any(w["reason"].startswith("2nd item from") for i in items for w in i["why"])
    # keyset paging over the ranked order: pages of 3 give the same sequence
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/timeline", params=params, headers=alice.auth).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [i["id"] for i in items]


def test_more_moves_a_person_up_and_the_reason_shows(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    before = timeline(client, alice)
    last = max(AUTHORS, key=lambda a: first_position(before, a))
    target = next(i for i in before if i["person"]["name"] == last)
    feedback(client, alice, target["id"], "more")
    after = timeline(client, alice)
    assert first_position(after, last) < first_position(before, last)
    top = next(i for i in after if i["person"]["name"] == last)
    assert any(
        w["reason"] == f"you asked for more from {last}" and w["value"] > 0 for w in top["why"]
    )


def test_pinned_lead_muted_never_appear_and_reset(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    before = timeline(client, alice)
    last = max(AUTHORS, key=lambda a: first_position(before, a))
    muted = next(a for a in AUTHORS if a != last)
    put = client.put(
        f"/api/v1/people/{person_id(before, last)}/weight",
        json={"pinned": True},
        headers=alice.auth,
    )
    assert put.status_code == 200 and put.json()["weight"]["pinned"] is True
    mute = client.put(
        f"/api/v1/people/{person_id(before, muted)}/weight",
        json={"muted": True},
        headers=alice.auth,
    )
    assert mute.json()["weight"]["effective"] is None
    after = timeline(client, alice)
    assert [i["person"]["name"] for i in after[:4]] == [last] * 4
    assert muted not in {i["person"]["name"] for i in after}
    assert len(after) == 12
    # back to autopilot: the muted person returns, the pinned one no longer leads all
    for name in (last, muted):
        reset = client.delete(
            f"/api/v1/people/{person_id(before, name)}/weight", headers=alice.auth
        )
        assert reset.status_code == 200
        assert reset.json()["weight"] | {"learned": 0, "effective": 0} == {
            "learned": 0, "manual": None, "recent": 0.0, "pinned": False, "muted": False,
            "effective": 0, "exposure": 0.0,
        }  # fmt: skip
    restored = timeline(client, alice)
    assert [i["id"] for i in restored] == [i["id"] for i in before]


def test_manual_weight_shows_exactly_in_why(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    before = timeline(client, alice)
    name = AUTHORS[2]
    pid = person_id(before, name)
    resp = client.put(f"/api/v1/people/{pid}/weight", json={"manual": 1.5}, headers=alice.auth)
    assert resp.status_code == 200
    weight = client.get(f"/api/v1/people/{pid}/weight", headers=alice.auth).json()
    assert weight["manual"] == 1.5
    assert weight["effective"] == pytest.approx(weight["learned"] + 1.5 + weight["recent"])
    after = timeline(client, alice)
    theirs = [i for i in after if i["person"]["name"] == name]
    assert len(theirs) == 4
    for item in theirs:
        assert {"reason": f"you set: listen more to {name}", "value": 1.5} in item["why"]
    before_score = {i["id"]: i["score"] for i in before}
    for item in theirs:  # the whole difference is the manual weight (up to the clock)
        assert item["score"] - before_score[item["id"]] == pytest.approx(1.5, abs=0.01)
    assert first_position(after, name) == 0
    assert (
        client.put(f"/api/v1/people/{pid}/weight", json={"manual": 2.5}, headers=alice.auth)
    ).status_code == 422


def test_less_pushes_down_and_recovers_with_time(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    before = timeline(client, alice)
    first = before[0]["person"]["name"]
    feedback(client, alice, before[0]["id"], "less")
    after = timeline(client, alice)
    assert first_position(after, first) > 0
    reason = f"you asked for less from {first} (fading)"
    assert any(w["reason"] == reason for i in after for w in i["why"])

    def gap(now: datetime) -> float:
        """Their best key minus the best key of everyone else, scored at ``now``."""
        engine = get_engine(settings.database_url)
        with session_scope(engine) as session:
            ranker, _ = load_ranker(session, user_id=alice.id, now=now)
            rescore(session, user_id=alice.id, ranker=ranker, now=now)
        with session_scope(engine) as session:
            ids = {i["id"] for i in before if i["person"]["name"] == first}
            keys = session.exec(select(Item.id, Item.rank_key)).all()
            return max(k for i, k in keys if i in ids) - max(k for i, k in keys if i not in ids)

    soon, later = gap(NOW + timedelta(hours=1)), gap(NOW + timedelta(days=30))
    assert later > soon + 1.0  # the fatigue faded
    with session_scope(get_engine(settings.database_url)) as session:
        whys = session.exec(select(Item.why)).all()
    fading = [w[2] for why in whys for w in why if w[1] == reason]
    assert fading and all(-0.15 < v < 0 for v in fading)  # from -1.5 to almost nothing


def test_an_outdated_or_broken_model_retrains_instead_of_crashing(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    items = timeline(client, alice)
    engine = get_engine(settings.database_url)
    feedback(client, alice, items[0]["id"], "like")
    assert learner.settle(engine, alice.id, timeout=30)  # learned after the 204
    for schema, payload in ((SCHEMA_VERSION - 1, b"an old model"), (SCHEMA_VERSION, b"\x80junk")):
        with session_scope(engine) as session:
            row = session.exec(select(RankingModel)).one()
            row.schema_version, row.payload = schema, payload
            session.add(row)
        feedback(client, alice, items[1]["id"], "open")
        assert timeline(client, alice)  # waits for this process's learner
        with session_scope(engine) as session:
            row = session.exec(select(RankingModel)).one()
            assert row.schema_version == SCHEMA_VERSION
            assert all(session.exec(select(Feedback.learned)).all())
            assert row.events == len(session.exec(select(Feedback.id)).all())
            ranker, _ = load_ranker(session, user_id=alice.id, now=NOW)
            assert ranker.n_events_ == row.events


def test_seen_is_batched_and_learned_on_the_next_run(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    items = timeline(client, alice)
    for rank, item in enumerate(items[:10], start=1):
        resp = client.post(
            f"/api/v1/items/{item['id']}/feedback",
            json={"action": "seen", "rank": rank},
            headers=alice.auth,
        )
        assert resp.status_code == 204
    engine = get_engine(settings.database_url)
    with session_scope(engine) as session:  # recorded, not learned from yet
        assert session.exec(select(RankingModel)).one().events == 0
    rank_all_pending(engine, now=datetime.now(UTC))
    with session_scope(engine) as session:
        row = session.exec(select(RankingModel)).one()
        assert row.events == 10
        ranker = learn(session, user_id=alice.id, now=datetime.now(UTC))
        assert sum(s.exposure for s in ranker.people_.values()) > 0


def test_feedback_on_the_demo_reorders_the_next_request(db_url: str) -> None:
    server = DemoServer().start()
    try:
        settings = Settings(database_url=db_url, allowed_hosts=[f"{server.host}:{server.port}"])
        engine = get_engine(db_url)
        seed = seed_demo(engine, base_url=server.base_url, guard=settings.fetch_policy().guard)
        refresh_due(engine, RefreshOptions(policy=settings.fetch_policy()))
        seed_demo_contacts(engine)
        rank_all_pending(engine, now=datetime.now(UTC))
        auth = {"Authorization": f"Bearer {seed.token}"}
        with TestClient(create_app(settings)) as client:
            before = client.get("/api/v1/timeline?limit=100", headers=auth).json()["items"]
            names = [i["person"]["name"] for i in before if i["person"]]
            last = max(set(names), key=names.index)  # whose best item ranks lowest
            for item in [i for i in before if i["person"] and i["person"]["name"] == last]:
                for action in ("open", "like", "reply"):
                    resp = client.post(
                        f"/api/v1/items/{item['id']}/feedback",
                        json={"action": action},
                        headers=auth,
                    )
                    assert resp.status_code == 204
            after = client.get("/api/v1/timeline?limit=100", headers=auth).json()["items"]
        rank = [i["person"]["name"] if i["person"] else None for i in after].index(last)
        assert rank < names.index(last)
        top = next(i for i in after if i["person"] and i["person"]["name"] == last)
        assert any(
            w["reason"].startswith(f"you often open, like and reply to {last}") for w in top["why"]
        )
    finally:
        server.stop()
        get_engine.cache_clear()


def test_concurrent_feedback_is_learned_exactly_once(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    blogs(client, settings, feed_server, alice)
    items = timeline(client, alice)
    engine = get_engine(settings.database_url)

    def give(item_id: int) -> None:
        # as the API does: the feedback (and the read state an open sets) committed in a
        # short transaction of its own, then learning in another (app.jobs.learner)
        with session_scope(engine) as session:
            add_feedback(
                session, user_id=alice.id, item_id=item_id, action="open", rank=None, now=NOW
            )
        learn_now(engine, user_id=alice.id)  # again on a conflict, as the learner does

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(give, [i["id"] for i in items[:12]]))
    with session_scope(engine) as session:
        row = session.exec(select(RankingModel)).one()
        ids = session.exec(select(Feedback.id)).all()
        assert row.events == len(ids) == 12
        assert all(session.exec(select(Feedback.learned)).all())
        ranker, _ = load_ranker(session, user_id=alice.id, now=NOW)
        assert sum(s.opens for s in ranker.people_.values()) == 12


def test_the_timeline_page_is_an_index_read(
    client: TestClient, settings: Settings, feed_server: FeedServer, alice: ApiUser
) -> None:
    """SQLite's plan: the item index in order (no sort), one lookup per item for hidden
    feedback (not a scan of the user's feedback, which made pages slow at 1M items)."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the plan check reads SQLite's EXPLAIN QUERY PLAN")
    blogs(client, settings, feed_server, alice)
    feedback(client, alice, timeline(client, alice)[0]["id"], "hide")
    engine = get_engine(settings.database_url)
    captured: list[tuple[str, object]] = []

    def capture(_c: object, _cur: object, statement: str, params: object, *_: object) -> None:
        captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(engine) as session:
            read_timeline(session, user_id=alice.id, limit=50)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, params = next(c for c in captured if "ORDER BY item.rank_key" in c[0])
    with engine.connect() as conn:
        plan = " | ".join(
            str(row[3]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
        )
    assert "ix_item_user_rank" in plan and "TEMP B-TREE" not in plan, plan
    assert "ix_feedback_user_action_item" in plan, plan
