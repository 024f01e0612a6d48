"""The webhook routes, and the events a write leaves in its own transaction (the outbox):
which, with what body, for whom, and none for a write that did not happen."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app import jobs
from app.extensions import db
from app.models import Webhook
from app.webhooks.outbox import DELIVER_EVENT, FIRE_USER_REMINDERS
from app.webhooks.secrets import SecretBox
from tests.support.clients import Tasks

HOOK_URL = "http://127.0.0.1:9/hooks"


@pytest.fixture(autouse=True)
def _the_test_host_is_allowed(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])


def _create(client, user, **fields):
    body = {"url": HOOK_URL, "events": ["*"], **fields}
    return client.post(f"/api/{user.id}/webhooks", json=body, headers=user.headers)


def _hook(client, user, **fields) -> dict:
    response = _create(client, user, **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def _events(webhook_id=None) -> list[tuple[str, dict]]:
    """(type, body) of the events written, oldest first."""
    query = "SELECT type, body FROM webhook_events"
    if webhook_id:
        query += " WHERE webhook_id = :w"
    rows = db.session.execute(text(query + " ORDER BY created_at, type"), {"w": webhook_id}).all()
    return [(row.type, json.loads(row.body)) for row in rows]


def _types() -> list[str]:
    return [event_type for event_type, _ in _events()]


def _assert_queued_as_declared(task_name: str, args: dict) -> None:
    """The job with these args, written in SQL, is the one procrastinate's defer of the
    declared task would write."""
    row = db.session.execute(
        text(
            "SELECT queue_name, task_name, priority, lock, queueing_lock, args, status::text"
            " FROM procrastinate_jobs WHERE args = CAST(:args AS jsonb)"
        ),
        {"args": json.dumps(args)},
    ).one()
    declared = jobs.queue.configure_task(task_name).job
    assert tuple(row) == (
        declared.queue,
        declared.task_name,
        declared.priority,
        declared.lock,
        declared.queueing_lock,
        args,
        "todo",
    )


class TestRoutes:
    def test_create_answers_201_with_location_and_the_secret_once(self, client, user):
        response = _create(client, user, events=["task.completed"], description="Calendar")
        assert response.status_code == 201
        hook = response.get_json()["data"]
        assert response.headers["Location"] == f"/api/{user.id}/webhooks/{hook['id']}"
        assert hook["secret"].startswith("whsec_")
        assert set(hook) == {
            "id", "url", "events", "description", "active", "disabled_reason",
            "created_at", "updated_at", "secret",
        }  # fmt: skip
        assert (hook["url"], hook["events"], hook["description"]) == (
            HOOK_URL,
            ["task.completed"],
            "Calendar",
        )
        assert (hook["active"], hook["disabled_reason"]) == (True, None)
        fetched = client.get(f"/api/{user.id}/webhooks/{hook['id']}", headers=user.headers)
        assert fetched.status_code == 200
        assert "secret" not in fetched.get_json()["data"]
        listed = client.get(f"/api/{user.id}/webhooks", headers=user.headers).get_json()
        assert listed["meta"] == {"count": 1}
        assert "secret" not in listed["data"][0]

    def test_the_secret_is_sealed_at_rest(self, app, client, user):
        hook = _hook(client, user)
        stored = db.session.get(Webhook, hook["id"]).secret
        assert hook["secret"] not in stored
        box = SecretBox.from_setting(app.config["WEBHOOK_SECRET_KEY"])
        assert box.open(stored) == hook["secret"]

    def test_an_allowed_host_may_use_https_too(self, client, user):
        assert _create(client, user, url="https://127.0.0.1/x").status_code == 201

    def test_http_is_only_for_allowed_hosts(self, app, client, user, monkeypatch):
        monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", [])
        response = _create(client, user, url="http://127.0.0.1:9/x")
        assert response.status_code == 422

    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.1/x",
            "https://10.0.0.1/x",
            "https://[::1]/x",
            "https://0.0.0.0/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://167772161/x",
            "https://012.0.0.1/x",
            "https://localhost./x",
            "https://169.254.169.254/latest",
            "ftp://example.com/x",
            "not a url",
            "https://" + "a" * 2000 + ".com/",
        ],
    )
    def test_unsafe_or_malformed_urls_are_422_naming_url(self, client, user, url):
        response = _create(client, user, url=url)
        assert response.status_code == 422, response.get_json()
        assert set(response.get_json()["errors"]["json"]) == {"url"}

    @pytest.mark.parametrize(
        "events",
        [[], ["task.exploded"], "task.created", [1], ["webhook.ping"]],
    )
    def test_bad_events_are_422_naming_events(self, client, user, events):
        response = _create(client, user, events=events)
        assert response.status_code == 422
        assert set(response.get_json()["errors"]["json"]) == {"events"}

    def test_every_event_beside_others_is_every_event(self, client, user):
        assert _hook(client, user, events=["task.created", "*"])["events"] == ["*"]

    def test_repeated_events_are_kept_once(self, client, user):
        hook = _hook(client, user, events=["task.created", "task.deleted", "task.created"])
        assert hook["events"] == ["task.created", "task.deleted"]

    def test_read_only_and_unknown_fields_are_422(self, client, user):
        for field, value in (("secret", "whsec_x"), ("active", True), ("colour", "red")):
            response = _create(client, user, **{field: value})
            assert response.status_code == 422
            assert field in response.get_json()["errors"]["json"]

    def test_the_eleventh_webhook_is_409_limit_reached(self, client, user):
        for _ in range(10):
            _hook(client, user)
        response = _create(client, user)
        assert response.status_code == 409
        assert response.get_json()["code"] == "limit_reached"

    def test_patch_changes_what_is_given(self, client, user):
        hook = _hook(client, user)
        path = f"/api/{user.id}/webhooks/{hook['id']}"
        response = client.patch(
            path, json={"events": ["list.deleted"], "description": "x"}, headers=user.headers
        )
        assert response.status_code == 200
        changed = response.get_json()["data"]
        assert (changed["events"], changed["description"], changed["url"]) == (
            ["list.deleted"],
            "x",
            HOOK_URL,
        )
        assert (
            client.patch(path, json={"url": "https://10.1.2.3/"}, headers=user.headers).status_code
            == 422
        )
        assert client.patch(path, json={"active": False}, headers=user.headers).status_code == 422
        assert client.patch(path, json={"active": "yes"}, headers=user.headers).status_code == 422

    def test_active_true_re_enables_a_disabled_webhook(self, client, user):
        hook = _hook(client, user)
        stored = db.session.get(Webhook, hook["id"])
        stored.active, stored.disabled_reason, stored.exhausted_in_a_row = False, "410", 7
        db.session.flush()
        path = f"/api/{user.id}/webhooks/{hook['id']}"
        disabled = client.get(path, headers=user.headers).get_json()["data"]
        assert (disabled["active"], disabled["disabled_reason"]) == (False, "410")
        enabled = client.patch(path, json={"active": True}, headers=user.headers).get_json()
        assert (enabled["data"]["active"], enabled["data"]["disabled_reason"]) == (True, None)
        db.session.expire_all()
        assert db.session.get(Webhook, hook["id"]).exhausted_in_a_row == 0

    def test_delete_answers_204_and_then_404(self, client, user):
        hook = _hook(client, user)
        path = f"/api/{user.id}/webhooks/{hook['id']}"
        assert client.delete(path, headers=user.headers).status_code == 204
        assert client.get(path, headers=user.headers).status_code == 404
        assert client.delete(path, headers=user.headers).status_code == 404

    def test_another_users_webhook_is_404_and_their_path_403(self, client, user, auth):
        other = auth.register()
        hook = _hook(client, other)
        mine = f"/api/{user.id}/webhooks/{hook['id']}"
        for method in ("GET", "PATCH", "DELETE"):
            kwargs = {"json": {"description": "x"}} if method == "PATCH" else {}
            assert (
                client.open(mine, method=method, headers=user.headers, **kwargs).status_code == 404
            )
        assert client.post(mine + "/ping", headers=user.headers).status_code == 404
        assert client.get(mine + "/deliveries", headers=user.headers).status_code == 404
        theirs = f"/api/{other.id}/webhooks"
        assert client.get(theirs, headers=user.headers).status_code == 403

    def test_ping_answers_202_with_the_event_id(self, client, user):
        hook = _hook(client, user, events=["task.created"])
        response = client.post(f"/api/{user.id}/webhooks/{hook['id']}/ping", headers=user.headers)
        assert response.status_code == 202
        event_id = response.get_json()["data"]["event_id"]
        ((event_type, body),) = _events()
        assert event_type == "webhook.ping"
        assert body["data"] == {"id": hook["id"], "url": HOOK_URL}
        state = db.session.execute(
            text("SELECT state FROM webhook_events WHERE id = :id"), {"id": event_id}
        ).scalar()
        assert state == "pending"

    def test_a_disabled_webhooks_ping_is_skipped(self, client, user):
        hook = _hook(client, user)
        db.session.get(Webhook, hook["id"]).active = False
        db.session.flush()
        response = client.post(f"/api/{user.id}/webhooks/{hook['id']}/ping", headers=user.headers)
        assert response.status_code == 202
        jobs = db.session.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'event_id' = :id"),
            {"id": response.get_json()["data"]["event_id"]},
        ).scalar()
        assert jobs == 0

    def test_deliveries_are_empty_before_any_attempt(self, client, user):
        hook = _hook(client, user)
        response = client.get(
            f"/api/{user.id}/webhooks/{hook['id']}/deliveries", headers=user.headers
        )
        assert response.get_json() == {"data": [], "meta": {"count": 0}}


class TestOutbox:
    def test_task_writes_give_their_events_with_the_task_as_get_answers_it(self, client, user):
        _hook(client, user)
        tasks = Tasks(client, user)
        task = tasks.create(title="Buy milk")
        tasks.request("PATCH", f"/{task['id']}", json={"title": "Buy oat milk"})
        tasks.request("PATCH", f"/{task['id']}/complete", json={"is_completed": True})
        done = tasks.request("GET", f"/{task['id']}").get_json()["data"]
        tasks.request("PATCH", f"/{task['id']}/complete", json={"is_completed": False})
        tasks.request("DELETE", f"/{task['id']}")
        events = _events()
        assert [event_type for event_type, _ in events] == [
            "task.created", "task.updated", "task.completed", "task.reopened", "task.deleted",
        ]  # fmt: skip
        assert events[0][1]["data"]["title"] == "Buy milk"
        assert events[0][1]["data"]["id"] == task["id"]
        assert events[2][1]["data"] == done
        assert events[4][1]["data"] == {"id": task["id"]}
        for event_type, body in events:
            assert body["type"] == event_type
            assert body["timestamp"].endswith("Z")

    def test_every_event_gets_its_own_job_and_id(self, client, user):
        _hook(client, user)
        _hook(client, user)
        Tasks(client, user).create()
        rows = db.session.execute(text("SELECT id::text FROM webhook_events")).scalars().all()
        assert len(rows) == 2
        jobs = (
            db.session.execute(
                text(
                    "SELECT args->>'event_id' FROM procrastinate_jobs"
                    " WHERE task_name = 'webhooks:deliver_event'"
                    " AND args->>'event_id' = ANY(:ids)"
                ),
                {"ids": rows},
            )
            .scalars()
            .all()
        )
        assert sorted(jobs) == sorted(rows)

    def test_the_tables_trigger_defers_the_job_procrastinates_defer_would(self, client, user):
        # migration a4c7e9d2b6f1 builds the job in SQL: it must be the one the task declares
        _hook(client, user)
        Tasks(client, user).create()
        (event_id,) = db.session.execute(text("SELECT id::text FROM webhook_events")).scalars()
        _assert_queued_as_declared(DELIVER_EVENT, {"event_id": event_id})

    def test_list_writes_and_the_cascade_of_a_list_delete(self, client, user):
        _hook(client, user)
        created = client.post(f"/api/{user.id}/lists", json={"name": "Home"}, headers=user.headers)
        list_id = created.get_json()["data"]["id"]
        client.patch(
            f"/api/{user.id}/lists/{list_id}", json={"name": "House"}, headers=user.headers
        )
        tasks = Tasks(client, user)
        parent = tasks.create(list_id=list_id)
        child = tasks.create(parent_id=parent["id"])
        db.session.execute(text("DELETE FROM webhook_events"))
        assert (
            client.delete(f"/api/{user.id}/lists/{list_id}", headers=user.headers).status_code
            == 204
        )
        deleted = sorted((t, b["data"]["id"]) for t, b in _events())
        assert deleted == sorted(
            [
                ("list.deleted", list_id),
                ("task.deleted", parent["id"]),
                ("task.deleted", child["id"]),
            ]
        )

    def test_list_events_carry_the_list_as_get_answers_it(self, client, user):
        _hook(client, user)
        created = client.post(f"/api/{user.id}/lists", json={"name": "Home"}, headers=user.headers)
        renamed = client.patch(
            f"/api/{user.id}/lists/{created.get_json()['data']['id']}",
            json={"name": "House"},
            headers=user.headers,
        )
        events = _events()
        assert [t for t, _ in events] == ["list.created", "list.updated"]
        assert events[0][1]["data"] == created.get_json()["data"]
        assert events[1][1]["data"] == renamed.get_json()["data"]

    def test_a_parents_delete_sends_its_subtasks_deletes(self, client, user):
        tasks = Tasks(client, user)
        parent = tasks.create()
        child = tasks.create(parent_id=parent["id"])
        _hook(client, user)
        tasks.request("DELETE", f"/{parent['id']}")
        assert sorted(b["data"]["id"] for _, b in _events()) == sorted([parent["id"], child["id"]])

    def test_completing_a_recurring_task_sends_the_next_occurrences_creation(self, client, user):
        tasks = Tasks(client, user)
        task = tasks.create(due_at="2026-12-01T09:00:00Z", recurrence="FREQ=DAILY")
        _hook(client, user)
        tasks.request("PATCH", f"/{task['id']}/complete", json={"is_completed": True})
        assert sorted(_types()) == ["task.completed", "task.created"]

    def test_only_subscribed_events_are_written(self, client, user):
        hook = _hook(client, user, events=["task.completed"])
        tasks = Tasks(client, user)
        task = tasks.create()
        tasks.request("PATCH", f"/{task['id']}", json={"title": "x"})
        tasks.request("PATCH", f"/{task['id']}/complete", json={"is_completed": True})
        assert [t for t, _ in _events(hook["id"])] == ["task.completed"]

    def test_a_create_and_its_changes_in_one_batch_is_one_created_event(self, client, user):
        _hook(client, user)
        response = client.post(
            f"/api/{user.id}/tasks/batch",
            json={
                "operations": [
                    {"op": "create", "ref": "a", "data": {"title": "a"}},
                    {"op": "update", "id": "$a", "data": {"title": "b"}},
                ]
            },
            headers=user.headers,
        )
        assert response.status_code == 200, response.get_json()
        ((event_type, body),) = _events()
        assert (event_type, body["data"]["title"]) == ("task.created", "b")

    def test_a_refused_write_leaves_no_event_and_no_job(self, client, user):
        _hook(client, user)
        db.session.execute(text("DELETE FROM webhook_events"))
        tasks = Tasks(client, user)
        refused = tasks.request(
            "POST", "", json={"title": "x", "list_id": "00000000-0000-4000-8000-000000000000"}
        )
        assert refused.status_code == 422
        batch = client.post(
            f"/api/{user.id}/tasks/batch",
            json={
                "operations": [
                    {"op": "create", "data": {"title": "a"}},
                    {"op": "delete", "id": "00000000-0000-4000-8000-000000000000"},
                ]
            },
            headers=user.headers,
        )
        assert batch.status_code == 404
        assert _events() == []
        assert db.session.execute(text("SELECT count(*) FROM event_staging")).scalar() == 0

    def test_no_webhook_no_event_and_nothing_staged(self, client, user):
        Tasks(client, user).create()
        assert _events() == []
        assert db.session.execute(text("SELECT count(*) FROM event_staging")).scalar() == 0

    def test_a_disabled_webhook_gets_no_events(self, client, user):
        hook = _hook(client, user)
        db.session.get(Webhook, hook["id"]).active = False
        db.session.flush()
        Tasks(client, user).create()
        assert _events() == []

    def test_another_users_writes_are_not_my_events(self, client, user, auth):
        _hook(client, user)
        other = auth.register()
        Tasks(client, other).create()
        assert _events() == []


class TestReminders:
    def test_remind_at_is_a_writable_field_and_reminded_at_read_only(self, client, user):
        tasks = Tasks(client, user)
        task = tasks.create(remind_at="2026-12-24T08:00:00+01:00")
        assert (task["remind_at"], task["reminded_at"]) == ("2026-12-24T07:00:00Z", None)
        refused = tasks.request(
            "POST", "", json={"title": "x", "reminded_at": "2026-12-24T08:00:00Z"}
        )
        assert refused.status_code == 422
        assert "reminded_at" in refused.get_json()["errors"]["json"]
        naive = tasks.request("POST", "", json={"title": "x", "remind_at": "2026-12-24T08:00:00"})
        assert naive.status_code == 422

    def _fire(self):
        from app.webhooks.reminders import fire_due

        return fire_due()

    def test_a_due_reminder_fires_once_for_a_pending_task(self, client, user):
        hook = _hook(client, user, events=["task.reminder"])
        tasks = Tasks(client, user)
        past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        due = tasks.create(title="due", remind_at=past)
        tasks.create(title="later", remind_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
        done = tasks.create(title="done", remind_at=past)
        tasks.request("PATCH", f"/{done['id']}/complete", json={"is_completed": True})
        etag = tasks.request("GET", f"/{due['id']}").headers["ETag"]
        assert self._fire() == 1
        assert self._fire() == 0
        fired = tasks.request("GET", f"/{due['id']}")
        assert fired.get_json()["data"]["reminded_at"] is not None
        assert fired.headers["ETag"] != etag
        ((event_type, body),) = _events(hook["id"])
        assert event_type == "task.reminder"
        assert body["data"] == fired.get_json()["data"]
        assert body["late"] is False

    def test_a_reminder_that_came_due_long_ago_fires_late(self, client, user):
        _hook(client, user)
        Tasks(client, user).create(remind_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())
        db.session.execute(text("DELETE FROM webhook_events"))
        self._fire()
        ((event_type, body),) = _events()
        assert (event_type, body["late"]) == ("task.reminder", True)

    def test_firing_is_no_task_updated_event(self, client, user):
        _hook(client, user)
        Tasks(client, user).create(remind_at=datetime.now(UTC).isoformat())
        db.session.execute(text("DELETE FROM webhook_events"))
        self._fire()
        assert _types() == ["task.reminder"]

    def test_a_new_remind_at_arms_it_again_the_same_does_not(self, client, user):
        tasks = Tasks(client, user)
        task = tasks.create(remind_at=datetime.now(UTC).isoformat())
        assert self._fire() == 1
        same = tasks.request("GET", f"/{task['id']}").get_json()["data"]["remind_at"]
        kept = tasks.request("PATCH", f"/{task['id']}", json={"remind_at": same})
        assert kept.get_json()["data"]["reminded_at"] is not None
        rearmed = tasks.request(
            "PATCH",
            f"/{task['id']}",
            json={"remind_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()},
        )
        assert rearmed.get_json()["data"]["reminded_at"] is None
        assert self._fire() == 1

    def test_a_deleted_tasks_reminder_never_fires(self, client, user):
        tasks = Tasks(client, user)
        task = tasks.create(remind_at=datetime.now(UTC).isoformat())
        tasks.request("DELETE", f"/{task['id']}")
        assert self._fire() == 0

    def test_the_next_occurrence_gets_remind_at_shifted_like_due_at(self, client, user):
        tasks = Tasks(client, user)
        task = tasks.create(
            due_at="2026-12-01T09:00:00Z",
            remind_at="2026-12-01T08:30:00Z",
            recurrence="FREQ=WEEKLY",
        )
        completed = tasks.request("PATCH", f"/{task['id']}/complete", json={"is_completed": True})
        following = tasks.request("GET", f"/{completed.get_json()['data']['next_occurrence_id']}")
        data = following.get_json()["data"]
        shift = datetime.fromisoformat(data["due_at"]) - datetime.fromisoformat(
            "2026-12-01T09:00:00+00:00"
        )
        assert (
            datetime.fromisoformat(data["remind_at"])
            == datetime.fromisoformat("2026-12-01T08:30:00+00:00") + shift
        )
        assert data["reminded_at"] is None


class TestImmediateReminders:
    def _jobs(self, user) -> int:
        return db.session.execute(
            text(
                "SELECT count(*) FROM procrastinate_jobs"
                " WHERE task_name = 'webhooks:fire_user_reminders' AND args->>'user_id' = :u"
            ),
            {"u": user.id},
        ).scalar()

    def test_a_remind_at_already_past_queues_the_users_reminders_at_once(self, client, user):
        _hook(client, user, events=["task.reminder"])
        tasks = Tasks(client, user)
        tasks.create(remind_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
        assert self._jobs(user) == 0  # the periodic job will see to it
        task = tasks.create(remind_at=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
        assert self._jobs(user) == 1
        tasks.request("PATCH", f"/{task['id']}/complete", json={"is_completed": True})
        assert self._jobs(user) == 1  # a completed task's reminder is not due

    def test_the_job_written_in_sql_is_the_one_procrastinates_defer_would(self, client, user):
        # outbox.DEFER_REMINDERS builds the job in SQL: it must be the one the task declares
        _hook(client, user, events=["task.reminder"])
        Tasks(client, user).create(remind_at=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
        _assert_queued_as_declared(FIRE_USER_REMINDERS, {"user_id": str(user.id)})


class TestCost:
    """What the outbox adds to a write, in statements: taking the staged rows and the events'
    INSERT (the webhooks come with the user's lock, the task with the answer; the events'
    trigger defers their jobs in that INSERT)."""

    def _create_costs(self, client, user, statements) -> list[str]:
        statements.clear()
        Tasks(client, user).create(title="counted")
        return list(statements)

    def test_a_watched_users_create_costs_two_statements_more(self, client, user, auth, statements):
        plain = self._create_costs(client, user, statements)
        watcher = auth.register()
        _hook(client, watcher)
        watched = self._create_costs(client, watcher, statements)
        assert len(watched) - len(plain) == 2, watched
        assert not any("FROM tasks" in sql for sql in watched[len(plain) - 1 :]), watched
