"""The change feed under concurrent writers, really committing: a reader misses nothing.

THE PROOF: writers in threads (each with its own test client, so its own connection and
transactions) create, update, complete (recurring tasks and parents), move, reorder and delete
tasks, and create, rename and delete lists and tags, while a reader syncs continuously from
`next_since`, starting with a paged full snapshot. At the end, the reader's copy equals a fresh
full snapshot, object for object, which equals what the ordinary GET routes answer. Several
rounds, each with its own seed (the writers' choices are seeded; their interleaving is the
machine's).
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import pytest

from app.extensions import limiter
from tests.support.accounts import Account
from tests.support.clients import Auth, Tasks
from tests.support.database import libpq_url
from tests.support.sync import SyncClient, fresh_snapshot, truth
from tests.test_concurrency import wait_for_lock_waiters

pytestmark = pytest.mark.commits

SEEDS = (1, 2, 3)
WRITERS = 6
OPERATIONS = 25  # per writer and round
ROUND_SECONDS = 8  # writers stop early past this (they never take so long here)
READER_LIMIT = 7  # small pages, so that paging happens under the writes too
TAG_NAMES = ("home", "work", "Errands", "urgent", "someday", "later")
# Answers a write may get when others changed what it names meanwhile; never a 5xx.
EXPECTED = {200, 201, 204, 404, 409, 412, 422}


@dataclass
class Pool:
    """The ids the writers know of (some deleted meanwhile by others: a 404 then)."""

    tasks: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, rng: random.Random, kind: str) -> str | None:
        with self.lock:
            ids = getattr(self, kind)
            return rng.choice(ids) if ids else None

    def add(self, kind: str, object_id: str) -> None:
        with self.lock:
            getattr(self, kind).append(object_id)

    def discard(self, kind: str, object_id: str) -> None:
        with self.lock:
            ids = getattr(self, kind)
            if object_id in ids:
                ids.remove(object_id)


class Writer:
    """One thread's writes: each operation picks its targets among the known ids."""

    def __init__(self, app, account: Account, pool: Pool, seed: int) -> None:
        self.client = app.test_client()
        self.account = account
        self.pool = pool
        self.rng = random.Random(seed)
        self.outcomes: list[tuple[str, int]] = []

    def call(self, operation: str, method: str, path: str, body: dict | None = None):
        response = self.client.open(
            f"/api/{self.account.id}{path}", method=method, json=body, headers=self.account.headers
        )
        self.outcomes.append((operation, response.status_code))
        return response

    def run(self, count: int, deadline: float) -> None:
        operations = [
            (self.create_task, 6),
            (self.update_task, 4),
            (self.complete_task, 4),
            (self.move_task, 3),
            (self.reparent_task, 2),
            (self.delete_task, 3),
            (self.create_list, 1),
            (self.rename_list, 1),
            (self.delete_list, 1),
            (self.create_tag, 1),
            (self.rename_tag, 1),
            (self.delete_tag, 1),
        ]
        functions, weights = zip(*operations, strict=True)
        for _ in range(count):
            if time.monotonic() > deadline:
                return
            self.rng.choices(functions, weights)[0]()

    def _tags(self) -> list[str]:
        return self.rng.sample(TAG_NAMES, self.rng.randint(0, 2))

    def create_task(self) -> None:
        body: dict = {"title": f"t{self.rng.randint(0, 999)}", "tags": self._tags()}
        roll = self.rng.random()
        if roll < 0.3:
            body["parent_id"] = self.pool.pick(self.rng, "tasks")
        elif roll < 0.6:
            body["list_id"] = self.pool.pick(self.rng, "lists")
        if self.rng.random() < 0.3:
            body.update(due_at="2027-01-04T08:00:00Z", recurrence="FREQ=DAILY;COUNT=5")
        response = self.call("create_task", "POST", "/tasks", body)
        if response.status_code == 201:
            self.pool.add("tasks", response.get_json()["data"]["id"])

    def update_task(self) -> None:
        task = self.pool.pick(self.rng, "tasks")
        body = self.rng.choice(
            [
                {"title": f"u{self.rng.randint(0, 999)}"},
                {"priority": self.rng.choice(["none", "low", "high"])},
                {"tags": self._tags()},
                {"description": f"d{self.rng.randint(0, 9)}"},
            ]
        )
        self.call("update_task", "PATCH", f"/tasks/{task}", body)

    def complete_task(self) -> None:
        task = self.pool.pick(self.rng, "tasks")
        response = self.call("complete_task", "PATCH", f"/tasks/{task}/complete")
        if response.status_code == 200:
            successor = response.get_json()["data"]["next_occurrence_id"]
            if successor:
                self.pool.add("tasks", successor)

    def move_task(self) -> None:
        task = self.pool.pick(self.rng, "tasks")
        self.call("move_task", "POST", f"/tasks/{task}/move", {"after": None})

    def reparent_task(self) -> None:
        task = self.pool.pick(self.rng, "tasks")
        if self.rng.random() < 0.5:
            body = {"parent_id": self.pool.pick(self.rng, "tasks")}
        else:
            body = {"parent_id": None, "list_id": self.pool.pick(self.rng, "lists")}
        self.call("reparent_task", "PATCH", f"/tasks/{task}", body)

    def delete_task(self) -> None:
        task = self.pool.pick(self.rng, "tasks")
        if self.call("delete_task", "DELETE", f"/tasks/{task}").status_code == 204:
            self.pool.discard("tasks", str(task))

    def create_list(self) -> None:
        response = self.call("create_list", "POST", "/lists", {"name": f"l{self.rng.random()}"})
        if response.status_code == 201:
            self.pool.add("lists", response.get_json()["data"]["id"])

    def rename_list(self) -> None:
        target = self.pool.pick(self.rng, "lists")
        self.call("rename_list", "PATCH", f"/lists/{target}", {"name": f"r{self.rng.random()}"})

    def delete_list(self) -> None:
        target = self.pool.pick(self.rng, "lists")
        if self.call("delete_list", "DELETE", f"/lists/{target}").status_code == 204:
            self.pool.discard("lists", str(target))

    def create_tag(self) -> None:
        response = self.call("create_tag", "POST", "/tags", {"name": f"g{self.rng.random()}"})
        if response.status_code == 201:
            self.pool.add("tags", response.get_json()["data"]["id"])

    def rename_tag(self) -> None:
        target = self.pool.pick(self.rng, "tags")
        self.call("rename_tag", "PATCH", f"/tags/{target}", {"name": f"n{self.rng.random()}"})

    def delete_tag(self) -> None:
        target = self.pool.pick(self.rng, "tags")
        if self.call("delete_tag", "DELETE", f"/tags/{target}").status_code == 204:
            self.pool.discard("tags", str(target))


def _seed_data(app, account: Account, pool: Pool, rng: random.Random) -> None:
    """Lists, tags, tasks with subtasks and recurring ones, before the writers start."""
    client = app.test_client()
    tasks = Tasks(client, account)
    for name in ("Home", "Work", "Trip"):
        response = client.post(
            f"/api/{account.id}/lists", json={"name": name}, headers=account.headers
        )
        pool.add("lists", response.get_json()["data"]["id"])
    for name in TAG_NAMES[:3]:
        response = client.post(
            f"/api/{account.id}/tags", json={"name": name}, headers=account.headers
        )
        pool.add("tags", response.get_json()["data"]["id"])
    for i in range(15):
        fields: dict = {"title": f"seed{i}", "tags": rng.sample(TAG_NAMES, rng.randint(0, 2))}
        if i % 3 == 1:
            fields["parent_id"] = pool.tasks[-1]
        elif i % 3 == 2:
            fields["list_id"] = rng.choice(pool.lists)
        if i % 4 == 0:
            fields.update(due_at="2027-01-04T08:00:00Z", recurrence="FREQ=DAILY")
        pool.add("tasks", tasks.create(**fields)["id"])


def _differences(left: dict, right: dict) -> list:
    """What tells two copies apart, for the assertion message."""
    keys = set(left) | set(right)
    return sorted(
        (key, left.get(key), right.get(key)) for key in keys if left.get(key) != right.get(key)
    )[:5]


@pytest.fixture
def no_rate_limit():
    """The reader polls as fast as it can: this test is about the database, not the limits."""
    limiter.enabled = False
    yield
    limiter.enabled = True


@pytest.mark.parametrize("seed", SEEDS)
def test_a_reader_syncing_under_concurrent_writers_misses_nothing(app, no_rate_limit, seed):
    account = Auth(app.test_client()).register()
    pool = Pool()
    _seed_data(app, account, pool, random.Random(seed))
    writers = [Writer(app, account, pool, seed * 1000 + n) for n in range(WRITERS)]
    reader = SyncClient(app.test_client(), account, limit=READER_LIMIT)
    done = threading.Event()
    start = threading.Barrier(WRITERS + 1)
    deadline = time.monotonic() + ROUND_SECONDS

    def read() -> int:
        start.wait(timeout=10)
        pages_under_writes = 0
        while not done.is_set() and time.monotonic() < deadline + 5:
            more = reader.step()
            pages_under_writes += 1
            if not more:
                time.sleep(0.002)
        return pages_under_writes

    def write(writer: Writer) -> None:
        start.wait(timeout=10)
        writer.run(OPERATIONS, deadline)

    with ThreadPoolExecutor(max_workers=WRITERS + 1) as threads:
        reading = threads.submit(read)
        writing = [threads.submit(write, writer) for writer in writers]
        for future in writing:
            future.result(timeout=ROUND_SECONDS + 30)
        done.set()
        pages_under_writes = reading.result(timeout=30)
    reader.catch_up()

    outcomes = [outcome for writer in writers for outcome in writer.outcomes]
    assert {status for _, status in outcomes} <= EXPECTED, outcomes
    succeeded = {operation for operation, status in outcomes if status < 300}
    assert len(outcomes) == WRITERS * OPERATIONS
    assert len(succeeded) >= 10, succeeded  # nearly every kind of write really happened
    assert pages_under_writes >= 5  # the reader synced while the writes went on
    assert reader.deleted_seen  # and saw deletions
    snapshot = fresh_snapshot(app.test_client(), account)
    assert reader.copy == snapshot, _differences(reader.copy, snapshot)
    real = truth(app.test_client(), account)
    assert snapshot == real, _differences(snapshot, real)


def test_a_write_in_flight_cannot_be_passed(app, database_url):
    """A write that has taken its number but not committed holds the user's lock: a reader
    syncing meanwhile stays before it, and a later write is numbered after it, so both arrive,
    in that order, once the first commits."""
    account = Auth(app.test_client()).register()
    tasks = Tasks(app.test_client(), account)
    held_task = tasks.create(title="held")
    reader = SyncClient(app.test_client(), account)
    reader.catch_up()

    def held_write() -> int:
        # Takes its number (and the user's lock) first, then waits for the task's row.
        return (
            Tasks(app.test_client(), account)
            .request("PATCH", f"/{held_task['id']}", json={"title": "written while held"})
            .status_code
        )

    def later_write():
        return Tasks(app.test_client(), account).request("POST", json={"title": "later"})

    with (
        psycopg.connect(libpq_url(database_url)) as blocker,
        psycopg.connect(libpq_url(database_url), autocommit=True) as observer,
        ThreadPoolExecutor(max_workers=2) as threads,
    ):
        blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (held_task["id"],))
        held = threads.submit(held_write)
        wait_for_lock_waiters(observer, expected=1)
        assert reader.step() is False
        assert reader.page(reader.since)["data"] == []
        later = threads.submit(later_write)
        wait_for_lock_waiters(observer, expected=2)  # behind the held write's user lock
        assert reader.page(reader.since)["data"] == []
        blocker.rollback()
        assert held.result(timeout=30) == 200
        created = later.result(timeout=30)
    assert created.status_code == 201
    answer = reader.page(reader.since)
    assert [(c["id"], c["data"]["title"]) for c in answer["data"]] == [
        (held_task["id"], "written while held"),
        (created.get_json()["data"]["id"], "later"),
    ]
