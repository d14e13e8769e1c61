"""Plays a native app's recorded Google Reader sequence (tests/data/greader/*.json)
against a server and checks each answer against Kith's own API (the same user's
bearer token). Works with any httpx client: FastAPI's TestClient or a live server."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DATA = Path(__file__).resolve().parent.parent / "data" / "greader"
CLIENTS = sorted(p.stem for p in DATA.glob("*.json"))
READING_LIST = "user/-/state/com.google/reading-list"
LONG = "tag:google.com,2005:reader/item/"


def long_id(item_id: int) -> str:
    return f"{LONG}{item_id:016x}"


def short_id(text: str) -> int:
    return int(text[len(LONG) :], 16) if text.startswith(LONG) else int(text)


@dataclass
class Kith:
    """Kith's own view through /api/v1 (the reference the answers are checked against)."""

    http: httpx.Client
    token: str
    api: str = "/api/v1"

    def get(self, path: str, **params: object) -> Any:
        answer = self.http.get(
            self.api + path, params=params, headers={"Authorization": f"Bearer {self.token}"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def timeline(self, state: str = "all") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 200, "state": state}
            if cursor:
                params["cursor"] = cursor
            page = self.get("/timeline", **params)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def people(self) -> list[dict[str, Any]]:
        return self.get("/people", limit=200)["items"]


@dataclass
class Run:
    http: httpx.Client
    base: str  # e.g. "/reader" or "http://127.0.0.1:8000/api/greader.php"
    user: str
    password: str
    kith: Kith
    auth: str | None = None
    saved: dict[str, list[str]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def fill(self, value: str) -> str:
        if "{first_feed}" in value:
            self.feed = self.first_feed()
            value = value.replace("{first_feed}", self.feed)
        return (
            value.replace("{user}", self.user)
            .replace("{password}", self.password)
            .replace("{token}", "ignored-action-token")
            .replace("{now_usec}", str(int(time.time() * 1_000_000) + 5_000_000))
        )

    def first_feed(self) -> str:
        items = self.kith.timeline("unread")
        with_person = [i for i in items if i.get("person")]
        return f"feed/{with_person[0]['person']['id']}" if with_person else "feed/0"

    def request(self, step: dict[str, Any], extra: list[tuple[str, str]]) -> httpx.Response:
        headers = {}
        if step.get("auth", True):
            assert self.auth, "log in first"
            headers["Authorization"] = f"GoogleLogin auth={self.auth}"
        query = {k: self.fill(v) for k, v in (step.get("query") or {}).items()}
        pairs = [(k, self.fill(v)) for k, v in (step.get("form") or {}).items()] + extra
        form: dict[str, list[str]] = {}
        for key, value in pairs:  # httpx sends repeated keys from lists
            form.setdefault(key, []).append(value)
        url = self.base + step["path"]
        if step["method"] == "GET":
            return self.http.get(url, params=query, headers=headers)
        return self.http.post(url, params=query, data=form or None, headers=headers)

    def play(self, steps: list[dict[str, Any]]) -> None:
        for n, step in enumerate(steps):
            where = f"step {n} {step['method']} {step['path']}"
            answers = []
            if "batch" in step:
                spec = step["batch"]
                ids = self.saved[spec["from"]]
                assert ids, f"{where}: nothing saved in {spec['from']}"
                for start in range(0, len(ids), spec["size"]):
                    chunk = ids[start : start + spec["size"]]
                    form = [(spec["form"], self.id_form(i, spec["id_form"])) for i in chunk]
                    answers.append(self.request(step, form))
            elif "pick" in step:
                spec = step["pick"]
                item = self.saved[spec["from"]][spec["index"]]
                self.picked = int(item)
                answers.append(
                    self.request(step, [(spec["form"], self.id_form(item, spec["id_form"]))])
                )
            else:
                answers.append(self.request(step, []))
                while step.get("follow_continuation") and "continuation" in answers[-1].json():
                    cont = answers[-1].json()["continuation"]
                    answers.append(
                        self.request({**step, "query": {**step["query"], "c": cont}}, [])
                    )
            for answer in answers:
                self.expect(where, step.get("expect") or {}, answer)
            if step.get("save") == "auth":
                self.auth = dict(
                    line.split("=", 1) for line in answers[0].text.splitlines() if "=" in line
                )["Auth"]
            elif step.get("save"):
                self.saved[step["save"]] = [r["id"] for a in answers for r in a.json()["itemRefs"]]
            check = (step.get("expect") or {}).get("check")
            if check:
                getattr(self, f"check_{check}")(where, answers)
            self.log.append(f"{where}: {[a.status_code for a in answers]}")

    @staticmethod
    def id_form(item: str, form: str) -> str:
        return long_id(int(item)) if form == "long" else str(int(item))

    @staticmethod
    def expect(where: str, spec: dict[str, Any], answer: httpx.Response) -> None:
        assert answer.status_code == spec.get("status", 200), f"{where}: {answer.text[:300]}"
        if "text_has" in spec:
            assert spec["text_has"] in answer.text, f"{where}: {answer.text[:300]}"

    # --- checks against Kith's own API --------------------------------------------
    def check_user_info(self, where: str, answers: list[httpx.Response]) -> None:
        assert answers[0].json()["userName"] == self.user, where

    def check_subscriptions(self, where: str, answers: list[httpx.Response]) -> None:
        subs = answers[0].json()["subscriptions"]
        expected = {
            f"feed/{i['person']['id']}": i["person"]["name"]
            for i in self.kith.timeline()
            if i.get("person")
        }
        assert {s["id"]: s["title"] for s in subs if s["id"] in expected} == expected, where
        for s in subs:
            assert s["id"].startswith("feed/") and isinstance(s["categories"], list), where

    def check_tags(self, where: str, answers: list[httpx.Response]) -> None:
        ids = {t["id"] for t in answers[0].json()["tags"]}
        assert "user/-/state/com.google/starred" in ids, where
        assert {"user/-/label/Kith: top", "user/-/label/Kith: important"} <= ids, where
        for person in self.kith.people():
            for rel in person.get("relationships") or []:
                assert any(i.lower().startswith(f"user/-/label/{rel.lower()}") for i in ids), (
                    where,
                    rel,
                )

    def check_unread_count(self, where: str, answers: list[httpx.Response]) -> None:
        counts = {c["id"]: c["count"] for c in answers[0].json()["unreadcounts"]}
        assert counts[READING_LIST] == len(self.kith.timeline("unread")), where

    def check_unread_ids(self, where: str, answers: list[httpx.Response]) -> None:
        got = [r["id"] for a in answers for r in a.json()["itemRefs"]]
        assert len(got) == len(set(got)), f"{where}: a page repeated an item"
        assert {int(i) for i in got} == {i["id"] for i in self.kith.timeline("unread")}, where
        assert got, f"{where}: the test needs unread items"

    def check_starred_ids(self, where: str, answers: list[httpx.Response]) -> None:
        got = {int(r["id"]) for r in answers[0].json()["itemRefs"]}
        assert got == {i["id"] for i in self.kith.timeline("saved")}, where

    def check_contents(self, where: str, answers: list[httpx.Response]) -> None:
        by_id = {i["id"]: i for i in self.kith.timeline()}
        seen = []
        for answer in answers:
            for item in answer.json()["items"]:
                kith = by_id[short_id(item["id"])]
                assert item["title"] == kith["title"], where
                assert item["summary"]["content"] == kith["content"], where
                if kith.get("url"):
                    assert item["alternate"][0]["href"] == kith["url"], where
                if kith.get("person"):
                    assert item["origin"]["streamId"] == f"feed/{kith['person']['id']}", where
                    assert item["origin"]["title"] == kith["person"]["name"], where
                seen.append(kith["id"])
        assert sorted(seen) == sorted(int(i) for i in self.saved["unread"]), where

    def _item(self) -> dict[str, Any]:
        return {i["id"]: i for i in self.kith.timeline()}[self.picked]

    def check_picked_read(self, where: str, answers: list[httpx.Response]) -> None:
        assert self._item()["read"] is True, where

    def check_picked_unread(self, where: str, answers: list[httpx.Response]) -> None:
        assert self._item()["read"] is False, where

    def check_picked_starred(self, where: str, answers: list[httpx.Response]) -> None:
        assert self._item()["saved"] is True, where
        assert self.picked in {i["id"] for i in self.kith.timeline("saved")}, where

    def check_feed_read(self, where: str, answers: list[httpx.Response]) -> None:
        person = int(self.feed.removeprefix("feed/"))
        unread = self.kith.timeline("unread")
        assert not [i for i in unread if (i.get("person") or {}).get("id") == person], where
        assert unread, f"{where}: other people's items stay unread"

    def check_all_read(self, where: str, answers: list[httpx.Response]) -> None:
        assert self.kith.timeline("unread") == [], where


def load(name: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = json.loads((DATA / f"{name}.json").read_text())["steps"]
    return steps
