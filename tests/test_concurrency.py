"""Concurrent writes over real, separate database connections (committed, not rolled back)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.support.clients import Auth, Tasks
from tests.support.database import libpq_url

pytestmark = pytest.mark.commits


def wait_for_lock_waiters(conn: psycopg.Connection, expected: int, timeout: float = 10) -> None:
    """Block until `expected` other backends are waiting on a lock (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if waiting and waiting[0] >= expected:
            return
        time.sleep(0.02)
    raise TimeoutError(f"{expected} requests never queued on the row lock")


def test_two_updates_with_the_same_if_match_never_both_succeed(app, database_url):
    owner = Auth(app.test_client()).register()
    task = Tasks(app.test_client(), owner).create(title="contended")
    etag = Tasks(app.test_client(), owner).request("GET", f"/{task['id']}").headers["ETag"]

    def update(title: str) -> int:
        response = Tasks(app.test_client(), owner).request(
            "PATCH", f"/{task['id']}", json={"title": title}, headers={"If-Match": etag}
        )
        return response.status_code

    # A third connection holds the row, so both requests are in flight at once, past
    # authentication and parsing, when it lets go.
    with psycopg.connect(libpq_url(database_url)) as blocker:
        blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task["id"],))
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(update, title) for title in ("first", "second")]
            with psycopg.connect(libpq_url(database_url), autocommit=True) as observer:
                wait_for_lock_waiters(observer, expected=2)
            blocker.rollback()
            statuses = sorted(future.result(timeout=30) for future in futures)
    assert statuses == [200, 412]
    final = Tasks(app.test_client(), owner).request("GET", f"/{task['id']}").get_json()["data"]
    assert final["title"] in {"first", "second"}


def test_simultaneous_first_uses_of_a_tag_name_make_one_tag(app):
    owner = Auth(app.test_client()).register()

    def create(i: int) -> int:
        return (
            app.test_client()
            .post(
                f"/api/{owner.id}/tasks",
                json={"title": f"t{i}", "tags": ["Shared"]},
                headers=owner.headers,
            )
            .status_code
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(create, range(8))) == [201] * 8
    tags = app.test_client().get(f"/api/{owner.id}/tags", headers=owner.headers).get_json()
    assert [(t["name"], t["task_count"]) for t in tags["data"]] == [("Shared", 8)]


def test_simultaneous_creates_of_one_tag_give_one_201_and_409s(app):
    owner = Auth(app.test_client()).register()

    def create(name: str) -> int:
        return (
            app.test_client()
            .post(f"/api/{owner.id}/tags", json={"name": name}, headers=owner.headers)
            .status_code
        )

    names = ["Inbox", "inbox", "INBOX", "Inbox", "inbox", "iNBOX"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(create, names))
    assert statuses == [201] + [409] * 5


def test_twenty_simultaneous_registrations_of_one_email_make_one_account(app):
    from app.extensions import limiter

    def register(i: int) -> int:
        return (
            app.test_client()
            .post(
                "/api/auth/register",
                json={
                    "email": "Race@Example.com" if i % 2 else "race@example.com",
                    "password": "x" * 12,
                },
            )
            .status_code
        )

    # Twenty tries from one address exceed the auth limit; this test is about the database.
    limiter.enabled = False
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = sorted(pool.map(register, range(20)))
    finally:
        limiter.enabled = True
    assert statuses == [201] + [409] * 19


def test_fifty_simultaneous_toggles_leave_completion_consistent(app, database_url):
    owner = Auth(app.test_client()).register()
    task = Tasks(app.test_client(), owner).create(title="flip")

    def toggle(_: int) -> int:
        return (
            Tasks(app.test_client(), owner).request("PATCH", f"/{task['id']}/complete").status_code
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(toggle, range(50)))
    assert statuses == [200] * 50
    with psycopg.connect(libpq_url(database_url)) as conn:
        is_completed, completed_at, version = conn.execute(
            "SELECT is_completed, completed_at, version FROM tasks WHERE id = %s", (task["id"],)
        ).fetchone()
    # Fifty serialised toggles of a pending task end pending, each one counted.
    assert (is_completed, completed_at, version) == (False, None, 51)


def _held_user(database_url: str, user_id: str) -> psycopg.Connection:
    """A connection holding the user's lock (the user's counters row, app/common/locks.py), so
    that requests queue behind it (every write of a user takes that lock first) and are all in
    flight when it lets go."""
    blocker = psycopg.connect(libpq_url(database_url))
    blocker.execute("SELECT 1 FROM user_counters WHERE user_id = %s FOR UPDATE", (user_id,))
    return blocker


def _race(database_url: str, user_id: str, calls: list) -> list[int]:
    """Run the calls at once, released together; their statuses in call order."""
    blocker = _held_user(database_url, user_id)
    try:
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(call) for call in calls]
            with psycopg.connect(libpq_url(database_url), autocommit=True) as observer:
                wait_for_lock_waiters(observer, expected=len(calls))
            blocker.rollback()
            return [future.result(timeout=30) for future in futures]
    finally:
        blocker.close()


def test_two_tasks_made_each_others_parent_at_once_cannot_both_succeed(app, database_url):
    owner = Auth(app.test_client()).register()
    a, b = (Tasks(app.test_client(), owner).create(title=title) for title in ("a", "b"))

    def adopt(child: dict, parent: dict):
        def call() -> int:
            return (
                Tasks(app.test_client(), owner)
                .request("PATCH", f"/{child['id']}", json={"parent_id": parent["id"]})
                .status_code
            )

        return call

    statuses = _race(database_url, owner.id, [adopt(a, b), adopt(b, a)])
    assert sorted(statuses) == [200, 422]
    with psycopg.connect(libpq_url(database_url)) as conn:
        parents = dict(
            conn.execute(
                "SELECT id::text, parent_id::text FROM tasks WHERE id IN (%s, %s)",
                (a["id"], b["id"]),
            ).fetchall()
        )
    # One of them became the other's subtask; the other stayed at the top level.
    assert (parents[a["id"]], parents[b["id"]]) in {(b["id"], None), (None, a["id"])}


def test_parallel_creates_at_the_limit_pass_once(app, database_url):
    owner = Auth(app.test_client()).register()
    Tasks(app.test_client(), owner).create(title="first")
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("UPDATE user_counters SET tasks = 99999 WHERE user_id = %s", (owner.id,))

    def create(i: int):
        return lambda: (
            Tasks(app.test_client(), owner).request("POST", "", json={"title": f"t{i}"}).status_code
        )

    statuses = _race(database_url, owner.id, [create(i) for i in range(4)])
    assert sorted(statuses) == [201, 409, 409, 409]
    with psycopg.connect(libpq_url(database_url)) as conn:
        stored = conn.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (owner.id,))
        assert stored.fetchone() == (2,)


def test_simultaneous_creates_of_one_list_name_give_one_201(app, database_url):
    owner = Auth(app.test_client()).register()

    def create(name: str):
        return lambda: (
            app.test_client()
            .post(f"/api/{owner.id}/lists", json={"name": name}, headers=owner.headers)
            .status_code
        )

    statuses = _race(database_url, owner.id, [create(n) for n in ("Home", "home", "HOME")])
    assert sorted(statuses) == [201, 409, 409]


def test_simultaneous_moves_keep_every_position_distinct_and_ordered(app, database_url):
    owner = Auth(app.test_client()).register()
    made = [Tasks(app.test_client(), owner).create(title=str(i)) for i in range(6)]

    def to_front(task: dict):
        return lambda: (
            Tasks(app.test_client(), owner)
            .request("POST", f"/{task['id']}/move", json={"after": None})
            .status_code
        )

    assert _race(database_url, owner.id, [to_front(task) for task in made]) == [200] * 6
    with psycopg.connect(libpq_url(database_url)) as conn:
        keys = [
            row[0]
            for row in conn.execute(
                'SELECT position FROM tasks WHERE user_id = %s ORDER BY position COLLATE "C"',
                (owner.id,),
            )
        ]
    assert len(set(keys)) == 6


def test_twenty_parallel_posts_with_one_key_create_one_task(app, database_url):
    """Every answer is the one creation, its replay, or 409 idempotency_key_in_use."""
    owner = Auth(app.test_client()).register()
    headers = {"Idempotency-Key": "one-key"}
    start = threading.Barrier(20)

    def create(_: int) -> tuple[int, str | None, bytes]:
        client = Tasks(app.test_client(), owner)
        start.wait(timeout=10)
        response = client.request("POST", json={"title": "exactly once"}, headers=headers)
        return (
            response.status_code,
            response.headers.get("Idempotent-Replayed"),
            response.get_data(),
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(create, range(20)))
    created = [a for a in answers if a[0] == 201 and a[1] is None]
    replayed = [a for a in answers if a[0] == 201 and a[1] == "true"]
    in_use = [a for a in answers if a[0] == 409]
    assert len(created) == 1
    assert len(created) + len(replayed) + len(in_use) == 20
    assert {a[2] for a in replayed} <= {created[0][2]}
    with psycopg.connect(libpq_url(database_url)) as conn:
        stored = conn.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (owner.id,))
        assert stored.fetchone() == (1,)


def test_parallel_webhook_creates_at_the_limit_pass_once(app, database_url, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    owner = Auth(app.test_client()).register()
    hooks = f"/api/{owner.id}/webhooks"
    body = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    for _ in range(9):
        created = app.test_client().post(hooks, json=body, headers=owner.headers)
        assert created.status_code == 201

    def create():
        return lambda: app.test_client().post(hooks, json=body, headers=owner.headers).status_code

    statuses = _race(database_url, owner.id, [create() for _ in range(3)])
    assert sorted(statuses) == [201, 409, 409]
    with psycopg.connect(libpq_url(database_url)) as conn:
        stored = conn.execute("SELECT count(*) FROM webhooks WHERE user_id = %s", (owner.id,))
        assert stored.fetchone() == (10,)
