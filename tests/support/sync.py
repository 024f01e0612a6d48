"""A sync client as an offline-first app would write one: a local copy kept by the change feed."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.accounts import Account

Key = tuple[str, str]  # (type, id)
COUNTS = ("task_count", "open_count")


class SyncClient:
    """Keeps a copy of one account's lists, tags and tasks from /api/{user_id}/changes.

    `since` is the latest `next_since`, always continued from. A tombstone removes the object;
    `deleted_seen` remembers every tombstone, so a deleted object coming back is caught.
    """

    def __init__(self, client: FlaskClient, account: Account, *, limit: int | None = None):
        self.client = client
        self.account = account
        self.limit = limit
        self.since: str | None = None
        self.copy: dict[Key, dict] = {}
        self.deleted_seen: set[Key] = set()
        self.pages = 0

    def page(self, since: str | None = None, limit: int | None = None) -> dict:
        """One answer of the feed (status 200 asserted)."""
        query = {}
        if since is not None:
            query["since"] = since
        if (limit or self.limit) is not None:
            query["limit"] = limit or self.limit
        response = self.client.get(
            f"/api/{self.account.id}/changes", query_string=query, headers=self.account.headers
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def step(self) -> bool:
        """Fetch and apply one page from `since`; True when more follows at once."""
        answer = self.page(self.since)
        self.pages += 1
        keys = [(change["type"], change["id"]) for change in answer["data"]]
        assert len(keys) == len(set(keys)), "an object appears once in an answer"
        for change in answer["data"]:
            self.apply(change)
        self.since = answer["meta"]["next_since"]
        return answer["meta"]["has_more"]

    def catch_up(self, max_pages: int = 10_000) -> None:
        """Pages until `has_more` is false (a bounded number of them)."""
        for _ in range(max_pages):
            if not self.step():
                return
        raise AssertionError(f"still has_more after {max_pages} pages")

    def apply(self, change: dict) -> None:
        key = (change["type"], change["id"])
        if change["deleted"]:
            assert change["data"] is None
            self.copy.pop(key, None)
            self.deleted_seen.add(key)
            return
        assert key not in self.deleted_seen, f"{key} came back after its deletion"
        assert change["data"]["id"] == change["id"]
        self.copy[key] = change["data"]


def fresh_snapshot(client: FlaskClient, account: Account, limit: int = 1000) -> dict[Key, dict]:
    """Every live object, by a new full snapshot."""
    reader = SyncClient(client, account, limit=limit)
    reader.catch_up()
    return reader.copy


def truth(client: FlaskClient, account: Account) -> dict[Key, dict]:
    """Every live object as the ordinary GET routes answer it (lists and tags without their
    counts): what a snapshot and a synced copy must equal."""
    headers = account.headers
    base = f"/api/{account.id}"
    objects: dict[Key, dict] = {}
    for kind, path in (("list", "/lists"), ("tag", "/tags")):
        answer = client.get(base + path, headers=headers)
        assert answer.status_code == 200
        for item in answer.get_json()["data"]:
            objects[(kind, item["id"])] = {k: v for k, v in item.items() if k not in COUNTS}
    cursor = None
    for _ in range(10_000):
        query: dict[str, Any] = {"limit": 100, "sort": "created_at"}
        if cursor:
            query["cursor"] = cursor
        answer = client.get(base + "/tasks", query_string=query, headers=headers)
        assert answer.status_code == 200
        body = answer.get_json()
        for task in body["data"]:
            objects[("task", task["id"])] = task
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return objects
    raise AssertionError("the task list never ended")
