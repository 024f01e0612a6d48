"""Webhooks end to end: writes through the API (the in-process test client, really committing),
delivered by real worker processes (`flask --app wsgi worker run`) to real receivers on
127.0.0.1. Every event type with its Standard Webhooks signature (verified by the reference
library), the outbox while no worker runs, retries with their delays and Retry-After, 410 and
50-in-a-row disabling and re-enabling, two workers racing on one queue, reminders on time,
late and re-armed."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook

from app.webhooks.outbox import DELIVER_EVENT
from tests.support.accounts import Account
from tests.support.clients import Auth
from tests.support.database import libpq_url
from tests.support.receiver import Answer, Received, Receiver, running_receiver, wait_for
from tests.support.workers import running_worker

# A worker LISTENs (a direct connection); the tests commit, and the tables are emptied after.
pytestmark = [pytest.mark.slow, pytest.mark.commits, pytest.mark.direct]

# How long a delivery may take once its job is due: the worker is told by NOTIFY, or polls
# every second.
DELIVERY_TIMEOUT = 10.0
# How long a test waits after the last expected request to see that nothing more comes.
QUIET_SECONDS = 1.5


class Script(list):
    """A receiver's `received` that also stamps each request's arrival (time.monotonic()) and,
    with `answers`, answers the n-th request of one webhook-id with answers[n] (the last one
    for every later request). One event in flight per receiver keeps the answer its own."""

    def __init__(self, receiver: Receiver, answers: list[Answer] | None = None) -> None:
        super().__init__()
        self.receiver = receiver
        self.answers = answers
        self.times: list[float] = []
        self._lock = threading.Lock()

    def append(self, request: Received) -> None:  # type: ignore[override]
        with self._lock:
            self.times.append(time.monotonic())
            if self.answers:
                event_id = request.headers.get("webhook-id")
                seen = sum(1 for r in self if r.headers.get("webhook-id") == event_id)
                self.receiver.answer = self.answers[min(seen, len(self.answers) - 1)]
            super().append(request)


@pytest.fixture
def scripted() -> Iterator[Callable[..., tuple[Receiver, Script]]]:
    """Start receivers (each with an optional script of answers) that stop when the test ends."""
    with ExitStack() as stack:

        def start(*answers: Answer) -> tuple[Receiver, Script]:
            receiver = stack.enter_context(running_receiver(answers[0] if answers else None))
            script = Script(receiver, list(answers) or None)
            receiver.received = script
            return receiver, script

        yield start


class Api:
    """One user's calls through the in-process test client, answers checked."""

    def __init__(self, client: FlaskClient, account: Account) -> None:
        self.client = client
        self.account = account
        self.base = f"/api/{account.id}"

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {**self.account.headers, **kwargs.pop("headers", {})}
        response = self.client.open(self.base + path, method=method, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        return response.get_json() if response.data else None

    def get(self, path: str) -> dict:
        return self.call("GET", path, 200)["data"]

    def webhook(self, receiver: Receiver, events: list[str] | None = None) -> dict:
        """A webhook to the receiver; its answer (with the secret)."""
        return self.call(
            "POST",
            "/webhooks",
            201,
            json={"url": f"{receiver.base_url}/hook", "events": events or ["*"]},
        )["data"]

    def task(self, **fields: Any) -> dict:
        return self.call("POST", "/tasks", 201, json={"title": "A task", **fields})["data"]

    def deliveries(self, webhook_id: str) -> list[dict]:
        return self.get(f"/webhooks/{webhook_id}/deliveries")


@pytest.fixture
def api(app: Flask, client: FlaskClient, auth: Auth, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    return Api(client, auth.register())


@pytest.fixture
def worker_log(tmp_path: Path) -> Callable[[str], Path]:
    return lambda name="worker": tmp_path / f"{name}.log"


def query(database_url: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def verified(request: Received, secret: str) -> dict:
    """The body, after the reference library verified its signature (raises otherwise)."""
    return Webhook(secret).verify(request.body, request.headers)


def arrived(script: Script, count: int, timeout: float = DELIVERY_TIMEOUT) -> list[Received]:
    """Wait until `count` requests came, then a little more to see that no other comes."""
    assert wait_for(lambda: len(script) >= count, timeout), [
        r.headers.get("webhook-id") for r in script
    ]
    time.sleep(QUIET_SECONDS)
    return list(script)


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


# 1. Every event type, signed, with the object as GET answered it.


def test_every_event_type_arrives_signed_with_the_object_as_get_answered(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    receiver, script = scripted()
    hook = api.webhook(receiver)
    expected: list[tuple[str, dict]] = []
    with running_worker(database_url, worker_log()):
        lst = api.call("POST", "/lists", 201, json={"name": "Trip"})["data"]
        expected.append(("list.created", api.get(f"/lists/{lst['id']}")))
        task = api.task(title="Pack", list_id=lst["id"])
        expected.append(("task.created", api.get(f"/tasks/{task['id']}")))
        api.call("PATCH", f"/tasks/{task['id']}", 200, json={"title": "Pack bags"})
        expected.append(("task.updated", api.get(f"/tasks/{task['id']}")))
        api.call("PATCH", f"/tasks/{task['id']}/complete", 200, json={"is_completed": True})
        expected.append(("task.completed", api.get(f"/tasks/{task['id']}")))
        api.call("PATCH", f"/tasks/{task['id']}/complete", 200, json={"is_completed": False})
        expected.append(("task.reopened", api.get(f"/tasks/{task['id']}")))
        lone = api.task(title="Alone")
        expected.append(("task.created", api.get(f"/tasks/{lone['id']}")))
        api.call("DELETE", f"/tasks/{lone['id']}", 204)
        expected.append(("task.deleted", {"id": lone["id"]}))
        api.call("PATCH", f"/lists/{lst['id']}", 200, json={"name": "Holiday"})
        expected.append(("list.updated", api.get(f"/lists/{lst['id']}")))
        # The list's delete cascades to its task: one list.deleted and one task.deleted.
        api.call("DELETE", f"/lists/{lst['id']}", 204)
        expected.append(("list.deleted", {"id": lst["id"]}))
        expected.append(("task.deleted", {"id": task["id"]}))
        ping = api.call("POST", f"/webhooks/{hook['id']}/ping", 202)["data"]
        expected.append(("webhook.ping", {"id": hook["id"], "url": hook["url"]}))
        received = arrived(script, len(expected))

    bodies = [verified(request, hook["secret"]) for request in received]
    by_key = {(body["type"], body["data"]["id"]): body["data"] for body in bodies}
    assert (len(bodies), by_key) == (
        len(expected),
        {(kind, data["id"]): data for kind, data in expected},
    )
    ids = [request.headers["webhook-id"] for request in received]
    deliveries = api.deliveries(hook["id"])
    assert sorted(
        (d["event_id"], d["event_type"], d["attempt"], d["status_code"]) for d in deliveries
    ) == sorted(
        (request.headers["webhook-id"], body["type"], 1, 204)
        for request, body in zip(received, bodies, strict=True)
    )
    assert len(set(ids)) == len(ids) and ping["event_id"] in ids
    ping_request = received[ids.index(ping["event_id"])]
    assert verified(ping_request, hook["secret"])["type"] == "webhook.ping"


# 2. The outbox: committed writes wait for a worker; rolled-back ones yield nothing.


def test_events_committed_while_no_worker_runs_go_out_when_one_starts(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    receiver, script = scripted()
    hook = api.webhook(receiver)
    task = api.task(title="Written while no worker runs")
    api.call("PATCH", f"/tasks/{task['id']}", 200, json={"title": "Still no worker"})
    api.call("POST", "/lists", 201, json={"name": "Offline"})
    # Rolled back: a batch whose second operation fails undoes the create before it...
    failed = api.call(
        "POST",
        "/tasks/batch",
        404,
        json={
            "operations": [
                {"op": "create", "ref": "doomed", "data": {"title": "Never committed"}},
                {"op": "update", "id": str(uuid.uuid4()), "data": {"title": "No such task"}},
            ]
        },
    )
    # ...and refused writes (a 422, a 412 for a stale If-Match) write nothing either.
    api.call("POST", "/tasks", 422, json={"title": ""})
    api.call(
        "PATCH",
        f"/tasks/{task['id']}",
        412,
        json={"title": "Stale"},
        headers={"If-Match": '"0"'},
    )
    waiting = query(
        database_url,
        "SELECT type, state FROM webhook_events WHERE webhook_id = %s ORDER BY created_at",
        hook["id"],
    )
    jobs = query(
        database_url,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'webhooks:deliver_event'"
        " AND status = 'todo' AND args->>'event_id' IN"
        " (SELECT id::text FROM webhook_events WHERE webhook_id = %s)",
        hook["id"],
    )
    assert (failed.get("operation"), sorted(waiting), jobs, script) == (
        1,
        [("list.created", "pending"), ("task.created", "pending"), ("task.updated", "pending")],
        [(3,)],
        [],
    )

    with running_worker(database_url, worker_log()):
        received = arrived(script, 3)
    bodies = [verified(request, hook["secret"]) for request in received]
    assert sorted(body["type"] for body in bodies) == [
        "list.created",
        "task.created",
        "task.updated",
    ]
    assert {body["data"]["title"] for body in bodies if body["type"].startswith("task.")} == {
        "Written while no worker runs",
        "Still no worker",
    }
    states = query(
        database_url, "SELECT state FROM webhook_events WHERE webhook_id = %s", hook["id"]
    )
    assert states == [("delivered",)] * 3


# 3. Retries in order, with their delays; Retry-After.


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def test_retries_follow_the_schedule_and_honour_retry_after(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    """WEBHOOK_RETRY_SCHEDULE=1,2,3. One receiver answers 500, 500, then 204; one asks
    Retry-After: 3 (more than the first delay) and then takes it; one asks Retry-After: 60
    (capped at the schedule's longest, 3 s); one always fails and is retried until the
    schedule is spent. Each receiver gets one event, so the four run side by side."""
    flaky, flaky_times = scripted(Answer(500), Answer(500), Answer(204))
    patient, patient_times = scripted(Answer(503, headers={"Retry-After": "3"}), Answer(204))
    greedy, greedy_times = scripted(Answer(429, headers={"Retry-After": "60"}), Answer(204))
    broken, broken_times = scripted(Answer(500))
    hooks = {
        name: api.webhook(receiver, ["task.created"])
        for name, receiver in (
            ("flaky", flaky),
            ("patient", patient),
            ("greedy", greedy),
            ("broken", broken),
        )
    }
    with running_worker(database_url, worker_log(), retry_schedule="1,2,3"):
        api.task(title="Retried")
        assert wait_for(
            lambda: (
                (len(flaky_times), len(patient_times), len(greedy_times), len(broken_times))
                == (3, 2, 2, 4)
            ),
            20,
        ), (len(flaky_times), len(patient_times), len(greedy_times), len(broken_times))
        time.sleep(QUIET_SECONDS)

    for name, script in (
        ("flaky", flaky_times),
        ("patient", patient_times),
        ("greedy", greedy_times),
        ("broken", broken_times),
    ):
        ids = {request.headers["webhook-id"] for request in script}
        assert len(ids) == 1, name  # the same webhook-id on every attempt
        for request in script:
            verified(request, hooks[name]["secret"])
    flaky_gaps, patient_gaps = gaps(flaky_times.times), gaps(patient_times.times)
    greedy_gaps, broken_gaps = gaps(greedy_times.times), gaps(broken_times.times)

    # Never early; late by at most the worker's poll (1 s) and some slack.
    def on_time(measured: list[float], delays: list[float]) -> bool:
        return len(measured) == len(delays) and all(
            delay <= gap < delay + 3 for gap, delay in zip(measured, delays, strict=True)
        )

    assert on_time(flaky_gaps, [1, 2]), flaky_gaps
    assert on_time(patient_gaps, [3]), patient_gaps  # Retry-After 3 beats the schedule's 1
    assert on_time(greedy_gaps, [3]), greedy_gaps  # Retry-After 60, capped at 3
    assert on_time(broken_gaps, [1, 2, 3]), broken_gaps

    def log(name: str) -> list[tuple]:
        rows = api.deliveries(hooks[name]["id"])  # newest first
        return [(d["attempt"], d["status_code"], d["error"]) for d in reversed(rows)]

    assert log("flaky") == [(1, 500, None), (2, 500, None), (3, 204, None)]
    assert log("patient") == [(1, 503, None), (2, 204, None)]
    assert log("greedy") == [(1, 429, None), (2, 204, None)]
    assert log("broken") == [(1, 500, None), (2, 500, None), (3, 500, None), (4, 500, None)]
    states = dict(
        query(
            database_url,
            "SELECT w.url, e.state FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id"
            " WHERE w.user_id = %s",
            api.account.id,
        )
    )
    assert states == {
        hooks["flaky"]["url"]: "delivered",
        hooks["patient"]["url"]: "delivered",
        hooks["greedy"]["url"]: "delivered",
        hooks["broken"]["url"]: "failed",
    }


# 4. Disabling: 410 at once; 50 exhausted events in a row; re-enabling.


def test_a_410_disables_the_webhook_at_once(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    """Even with retries in the schedule, a 410 is not retried: the webhook is disabled and
    nothing more is sent."""
    receiver, script = scripted(Answer(410))
    hook = api.webhook(receiver)
    with running_worker(database_url, worker_log(), retry_schedule="1"):
        api.task(title="Gone")
        arrived(script, 1)
        disabled = api.get(f"/webhooks/{hook['id']}")
        api.task(title="After the 410")
        api.call("POST", f"/webhooks/{hook['id']}/ping", 202)
        time.sleep(2.5)  # past the first retry's delay: nothing is retried either
    assert (disabled["active"], bool(disabled["disabled_reason"]), len(script)) == (
        False,
        True,
        1,
    )
    assert "410" in disabled["disabled_reason"]
    assert [(d["attempt"], d["status_code"]) for d in api.deliveries(hook["id"])] == [(1, 410)]


def test_50_exhausted_events_in_a_row_disable_and_active_true_re_enables(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    """No retries (WEBHOOK_RETRY_SCHEDULE=""): each failed attempt exhausts its event. 49
    failures, a success (the count starts again), 49 failures: still active; the 50th in a
    row disables it."""
    receiver, script = scripted()  # no script: the test sets receiver.answer itself
    receiver.answer = Answer(500)
    hook = api.webhook(receiver, ["task.created"])

    def batch(count: int, prefix: str) -> None:
        operations = [{"op": "create", "data": {"title": f"{prefix} {n}"}} for n in range(count)]
        api.call("POST", "/tasks/batch", 200, json={"operations": operations})

    def settled(count: int) -> bool:
        rows = query(
            database_url,
            "SELECT count(*) FROM webhook_events WHERE webhook_id = %s AND state <> 'pending'",
            hook["id"],
        )
        return rows[0][0] >= count

    with running_worker(database_url, worker_log(), retry_schedule=""):
        batch(49, "Failing")
        assert wait_for(lambda: settled(49), 20)
        after_49 = api.get(f"/webhooks/{hook['id']}")["active"]
        receiver.answer = Answer(204)
        api.task(title="Delivered")
        assert wait_for(lambda: settled(50), DELIVERY_TIMEOUT)
        receiver.answer = Answer(500)
        batch(49, "Failing again")
        assert wait_for(lambda: settled(99), 20)
        after_49_more = api.get(f"/webhooks/{hook['id']}")["active"]
        api.task(title="The 50th in a row")
        assert wait_for(lambda: settled(100), DELIVERY_TIMEOUT)
        disabled = api.get(f"/webhooks/{hook['id']}")
        sent = len(script)
        api.task(title="While disabled")
        time.sleep(QUIET_SECONDS)
        sent_while_disabled = len(script) - sent

        receiver.answer = Answer(204)
        enabled = api.call("PATCH", f"/webhooks/{hook['id']}", 200, json={"active": True})["data"]
        task = api.task(title="After re-enabling")
        assert wait_for(
            lambda: any(
                r.headers.get("webhook-id") and task["id"].encode() in r.body for r in script
            ),
            DELIVERY_TIMEOUT,
        )

    assert (after_49, after_49_more, disabled["active"], sent, sent_while_disabled) == (
        True,
        True,
        False,
        100,
        0,
    )
    assert "50" in disabled["disabled_reason"]
    assert (enabled["active"], enabled["disabled_reason"]) == (True, None)
    last = verified(script[-1], hook["secret"])
    assert (last["type"], last["data"]["id"]) == ("task.created", task["id"])
    assert api.get(f"/webhooks/{hook['id']}")["active"] is True


# 5. Two workers on one queue: each event once.


def test_two_workers_racing_deliver_each_event_once(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    # A receiver that takes its time, so that both workers' jobs overlap.
    receiver, script = scripted(Answer(204, delay=0.05))
    hook = api.webhook(receiver, ["task.created"])
    with (
        running_worker(database_url, worker_log("w1"), retry_schedule="1") as w1,
        running_worker(database_url, worker_log("w2"), retry_schedule="1") as w2,
    ):
        operations = [{"op": "create", "data": {"title": f"Race {n}"}} for n in range(40)]
        api.call("POST", "/tasks/batch", 200, json={"operations": operations})
        received = arrived(script, 40, 20)
    ids = [request.headers["webhook-id"] for request in received]
    deliveries = api.deliveries(hook["id"])
    assert (len(ids), len(set(ids))) == (40, 40)
    assert sorted((d["event_id"], d["attempt"], d["status_code"]) for d in deliveries) == sorted(
        (event_id, 1, 204) for event_id in ids
    )
    # Both took part, and between them ran each of these jobs once (each logs the jobs it
    # starts; jobs other tests left behind are not counted).
    ran = [started_deliveries(w.log_path) & set(ids) for w in (w1, w2)]
    assert (len(ran[0]) + len(ran[1]), ran[0] | ran[1] == set(ids)) == (40, True)
    assert ran[0] and ran[1], [len(r) for r in ran]


def started_deliveries(log_path: Path) -> set[str]:
    """The event ids of the delivery jobs a worker's JSON log says it started."""
    started = set()
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        job = record.get("job") or {}
        if record.get("action") == "start_job" and job.get("task_name") == DELIVER_EVENT:
            started.add(job["task_kwargs"]["event_id"])
    return started


# 6. Reminders.


def test_reminders_fire_once_on_time_late_when_missed_and_again_when_re_armed(
    api: Api, scripted: Callable, database_url: str, worker_log: Callable
) -> None:
    receiver, script = scripted()
    hook = api.webhook(receiver, ["task.reminder"])
    # Due while no worker ran, 2 minutes ago: fires late when the worker starts.
    missed = api.task(title="Missed", remind_at=in_seconds(-120))
    soon = api.task(title="Soon", remind_at=in_seconds(3))
    done = api.task(title="Done", remind_at=in_seconds(2))
    api.call("PATCH", f"/tasks/{done['id']}/complete", 200, json={"is_completed": True})
    gone = api.task(title="Gone", remind_at=in_seconds(2))
    api.call("DELETE", f"/tasks/{gone['id']}", 204)

    def reminders() -> list[dict]:
        return [verified(request, hook["secret"]) for request in list(script)]

    def fired(task_id: str) -> list[dict]:
        return [body for body in reminders() if body["data"]["id"] == task_id]

    with running_worker(database_url, worker_log()):
        # The periodic job runs every 10 s: "soon" is due 3 s from now.
        assert wait_for(lambda: fired(soon["id"]) and fired(missed["id"]), 16), reminders()
        first_soon = api.get(f"/tasks/{soon['id']}")
        first_missed = api.get(f"/tasks/{missed['id']}")
        # Re-armed with a remind_at just past: it fires again at once, not at the next
        # periodic run (the write queued the user's reminders; 10 s would be the tick).
        re_armed = api.call(
            "PATCH", f"/tasks/{missed['id']}", 200, json={"remind_at": in_seconds(-1)}
        )["data"]
        re_armed_at = time.monotonic()
        assert wait_for(lambda: len(fired(missed["id"])) == 2, 13), reminders()
        assert time.monotonic() - re_armed_at < 5, "fired at a periodic tick, not at once"
        time.sleep(QUIET_SECONDS)

    soon_events, missed_events = fired(soon["id"]), fired(missed["id"])
    assert [(body["type"], body["late"]) for body in soon_events] == [("task.reminder", False)]
    assert [(body["type"], body["late"]) for body in missed_events] == [
        ("task.reminder", True),
        ("task.reminder", False),
    ]
    assert (fired(done["id"]), fired(gone["id"]), len(script)) == ([], [], 3)
    assert first_soon["reminded_at"] is not None and soon_events[0]["data"] == first_soon
    assert first_missed["reminded_at"] is not None and re_armed["reminded_at"] is None
    assert api.get(f"/tasks/{missed['id']}")["reminded_at"] is not None
    assert api.get(f"/tasks/{done['id']}")["reminded_at"] is None
