"""Idempotency-Key on every POST and PATCH under /api/{user_id}/: a retry answers the first
answer again, byte for byte, and the work is done once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.core import idempotency
from app.extensions import db
from tests.support.problems import assert_problem

KEY = {"Idempotency-Key": "key-1"}


def post(tasks, body, **headers):
    return tasks.request("POST", json=body, headers={**KEY, **headers})


def stored_tasks() -> int:
    return db.session.execute(text("SELECT count(*) FROM tasks")).scalar_one()


class TestReplay:
    def test_a_retry_answers_the_first_answer_and_creates_nothing(self, tasks):
        first = post(tasks, {"title": "once"})
        again = post(tasks, {"title": "once"})
        assert first.status_code == again.status_code == 201
        assert again.get_data() == first.get_data()
        for header in ("Location", "ETag", "Content-Type"):
            assert again.headers[header] == first.headers[header]
        assert "Idempotent-Replayed" not in first.headers
        assert again.headers["Idempotent-Replayed"] == "true"
        assert stored_tasks() == 1

    def test_the_body_is_compared_as_parsed_json(self, tasks):
        first = tasks.request(
            "POST",
            data='{"title": "a", "priority": "high"}',
            headers=KEY,
            content_type="application/json",
        )
        again = tasks.request(
            "POST",
            data='{"priority":"high","title":"a"}',
            headers=KEY,
            content_type="application/json",
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_data() == first.get_data()

    def test_a_patch_is_replayed_even_after_the_task_changed(self, tasks):
        task = tasks.create(title="t")
        first = tasks.request("PATCH", f"/{task['id']}", json={"title": "one"}, headers=KEY)
        tasks.request("PATCH", f"/{task['id']}", json={"title": "two"})
        again = tasks.request("PATCH", f"/{task['id']}", json={"title": "one"}, headers=KEY)
        assert again.get_data() == first.get_data()
        assert tasks.request("GET", f"/{task['id']}").get_json()["data"]["title"] == "two"

    def test_a_toggle_with_a_key_toggles_once(self, tasks):
        task = tasks.create()
        for _ in range(3):
            tasks.request("PATCH", f"/{task['id']}/complete", headers=KEY)
        assert tasks.request("GET", f"/{task['id']}").get_json()["data"]["is_completed"] is True

    def test_keys_are_per_user(self, client, auth, tasks):
        post(tasks, {"title": "mine"})
        other = auth.register()
        response = client.post(
            f"/api/{other.id}/tasks", json={"title": "theirs"}, headers={**other.headers, **KEY}
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers

    def test_a_work_decided_409_is_replayed_too(self, client, user):
        url = f"/api/{user.id}/lists"
        client.post(url, json={"name": "Home"}, headers=user.headers)
        first = client.post(url, json={"name": "home"}, headers={**user.headers, **KEY})
        assert_problem(first, 409, "list_exists")
        again = client.post(url, json={"name": "home"}, headers={**user.headers, **KEY})
        assert again.status_code == 409
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_data() == first.get_data()


class TestRefusals:
    @pytest.mark.parametrize(
        "change", [{"body": {"title": "other"}}, {"path": "/lists"}, {"method": "PATCH"}]
    )
    def test_the_key_for_another_request_is_422(self, client, user, tasks, change):
        task = tasks.create()
        post(tasks, {"title": "first"})
        method = change.get("method", "POST")
        path = change.get("path", "/tasks" if method == "POST" else f"/tasks/{task['id']}")
        body = change.get("body", {"name": "n"} if path == "/lists" else {"title": "first"})
        response = client.open(
            f"/api/{user.id}{path}", method=method, json=body, headers={**user.headers, **KEY}
        )
        assert_problem(response, 422, "idempotency_key_reused")

    @pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
    def test_a_malformed_key_is_422_naming_the_header(self, tasks, key):
        response = tasks.request("POST", json={"title": "t"}, headers={"Idempotency-Key": key})
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"] == {
            "headers": {"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters."]}
        }
        assert stored_tasks() == 0

    def test_the_longest_key_and_every_printable_character_are_accepted(self, tasks):
        key = "".join(chr(c) for c in range(0x20, 0x7F)) * 2 + "x" * 65
        assert len(key) == 255
        response = tasks.request("POST", json={"title": "t"}, headers={"Idempotency-Key": key})
        assert response.status_code == 201


class TestNotRecorded:
    def test_a_validation_422_is_not_recorded(self, tasks):
        assert post(tasks, {"title": ""}).status_code == 422
        assert post(tasks, {"title": "fixed"}).status_code == 201

    def test_a_401_is_not_recorded(self, client, user):
        url = f"/api/{user.id}/tasks"
        assert client.post(url, json={"title": "t"}, headers=KEY).status_code == 401
        response = client.post(url, json={"title": "t"}, headers={**user.headers, **KEY})
        assert response.status_code == 201

    def test_a_rolled_back_write_leaves_no_record(self, tasks, user):
        db.session.execute(
            text("UPDATE user_counters SET tasks = 100000 WHERE user_id = :u"), {"u": user.id}
        )
        assert_problem(post(tasks, {"title": "t"}), 409, "limit_reached")
        stored = db.session.execute(text("SELECT status FROM idempotency_records")).scalars()
        assert list(stored) == [409]  # the refusal is kept, alone
        assert stored_tasks() == 0


class TestExpiry:
    def test_an_expired_record_is_a_new_request(self, tasks):
        post(tasks, {"title": "old"})
        db.session.execute(
            text("UPDATE idempotency_records SET created_at = now() - interval '25 hours'")
        )
        again = post(tasks, {"title": "new"})
        assert again.status_code == 201
        assert "Idempotent-Replayed" not in again.headers
        assert stored_tasks() == 2

    def test_purge_deletes_only_the_expired(self, tasks):
        post(tasks, {"title": "kept"})
        post(tasks, {"title": "gone"}, **{"Idempotency-Key": "key-2"})
        db.session.execute(
            text(
                "UPDATE idempotency_records SET created_at = now() - interval '2 days'"
                " WHERE key = 'key-2'"
            )
        )
        assert idempotency.purge(older_than=timedelta(hours=24)) == 1
        keys = db.session.execute(text("SELECT key FROM idempotency_records")).scalars()
        assert list(keys) == ["key-1"]


def test_a_key_in_use_is_409_with_retry_after(app, tasks, user):
    """The first request's transaction holds the key's advisory lock until it ends."""
    from sqlalchemy import create_engine

    from tests.support.database import test_database_url

    engine = create_engine(test_database_url())
    try:
        with engine.connect() as other:
            other.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"{uuid.UUID(user.id)}:key-1"},
            )
            response = post(tasks, {"title": "t"})
            problem = assert_problem(response, 409, "idempotency_key_in_use")
            assert response.headers["Retry-After"] == "1"
            assert problem["detail"].startswith("A request with this Idempotency-Key")
            other.rollback()
        assert post(tasks, {"title": "t"}).status_code == 201
    finally:
        engine.dispose()
