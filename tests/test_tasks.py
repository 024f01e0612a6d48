"""Creating, reading, replacing, updating, completing and deleting tasks."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from tests.support.problems import assert_problem

TASK_FIELDS = {
    "list_id",
    "parent_id",
    "position",
    "recurrence",
    "time_zone",
    "next_occurrence_id",
    "remind_at",
    "reminded_at",
    "id",
    "user_id",
    "title",
    "description",
    "is_completed",
    "completed_at",
    "priority",
    "due_at",
    "tags",
    "created_at",
    "updated_at",
}


def bad_fields(response) -> set[str]:
    return set(assert_problem(response, 422, "validation_error")["errors"]["json"])


class TestCreate:
    def test_answers_201_with_location_etag_and_defaults(self, tasks, user):
        response = tasks.request("POST", json={"title": "  Buy milk  "})
        assert response.status_code == 201
        task = response.get_json()["data"]
        assert set(task) == TASK_FIELDS
        assert response.headers["Location"] == f"/api/{user.id}/tasks/{task['id']}"
        assert response.headers["ETag"].startswith('"')
        assert task["title"] == "Buy milk"
        assert task["user_id"] == user.id
        assert (task["description"], task["is_completed"], task["completed_at"]) == (
            None,
            False,
            None,
        )
        assert (task["priority"], task["due_at"], task["tags"]) == ("none", None, [])
        assert task["created_at"].endswith("Z")

    def test_location_leads_to_the_task(self, tasks, client, user):
        response = tasks.request("POST", json={"title": "Find me"})
        fetched = client.get(response.headers["Location"], headers=user.headers)
        assert fetched.get_json()["data"]["title"] == "Find me"

    def test_every_writable_field(self, tasks):
        task = tasks.create(
            title="Ship it",
            description="  all of it ",
            is_completed=True,
            priority="high",
            due_at="2026-11-30T19:00:00+02:00",
            tags=["work", "Urgent"],
        )
        assert task["description"] == "all of it"
        assert task["is_completed"] is True
        assert task["completed_at"] is not None
        assert task["priority"] == "high"
        assert task["due_at"] == "2026-11-30T17:00:00Z"
        assert task["tags"] == ["Urgent", "work"]

    @pytest.mark.parametrize("title", ["x" * 200, "Été 🎉 日本語 ✓", "🧪" * 200])
    def test_titles_up_to_200_characters_and_any_unicode(self, tasks, title):
        assert tasks.create(title=title)["title"] == title

    @pytest.mark.parametrize("title", ["x" * 201, "", "   ", None, 5, ["a"]])
    def test_bad_titles(self, tasks, title):
        assert bad_fields(tasks.request("POST", json={"title": title})) == {"title"}

    def test_title_is_required(self, tasks):
        assert bad_fields(tasks.request("POST", json={"priority": "low"})) == {"title"}

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("is_completed", "true"),
            ("is_completed", 1),
            ("is_completed", None),
            ("priority", "urgent"),
            ("priority", None),
            ("due_at", "2026-11-30T17:00:00"),
            ("due_at", "tomorrow"),
            ("due_at", 1700000000),
            ("description", "d" * 5001),
            ("description", "nul\x00byte"),
            ("tags", "work"),
            ("tags", ["t"] * 21),
            ("tags", ["x" * 51]),
            ("tags", [""]),
            ("tags", [None]),
        ],
    )
    def test_bad_values_are_named(self, tasks, field, value):
        assert bad_fields(tasks.request("POST", json={"title": "t", field: value})) == {field}

    @pytest.mark.parametrize(
        "field", ["id", "user_id", "completed_at", "created_at", "updated_at", "colour"]
    )
    def test_read_only_and_unknown_fields_are_refused(self, tasks, field):
        response = tasks.request("POST", json={"title": "t", field: "2026-01-01T00:00:00Z"})
        assert bad_fields(response) == {field}

    def test_tags_are_deduplicated_case_insensitively_and_sorted(self, tasks):
        task = tasks.create(tags=["beta", "Alpha", "BETA", "alpha", "gamma"])
        assert task["tags"] == ["Alpha", "beta", "gamma"]

    def test_tags_keep_the_spelling_they_were_created_with(self, tasks):
        tasks.create(tags=["Errands"])
        assert tasks.create(tags=["ERRANDS"])["tags"] == ["Errands"]

    def test_twenty_tags_are_allowed(self, tasks):
        assert len(tasks.create(tags=[f"t{i}" for i in range(20)])["tags"]) == 20


class TestGet:
    def test_answers_the_task_with_its_etag(self, tasks):
        created = tasks.create(title="Read")
        response = tasks.request("GET", f"/{created['id']}")
        assert response.status_code == 200
        assert response.get_json()["data"] == created
        assert response.headers["ETag"]

    def test_if_none_match_gives_304(self, tasks):
        created = tasks.create()
        etag = tasks.request("GET", f"/{created['id']}").headers["ETag"]
        response = tasks.request("GET", f"/{created['id']}", headers={"If-None-Match": etag})
        assert response.status_code == 304
        assert response.data == b""
        assert response.headers["ETag"] == etag

    def test_a_stale_if_none_match_gives_the_task(self, tasks):
        created = tasks.create()
        response = tasks.request("GET", f"/{created['id']}", headers={"If-None-Match": '"old"'})
        assert response.status_code == 200

    @pytest.mark.parametrize("task_id", ["not-a-uuid", "123", str(uuid.uuid4())])
    def test_malformed_or_unknown_id_is_404(self, tasks, task_id):
        assert_problem(tasks.request("GET", f"/{task_id}"), 404, "not_found")

    def test_a_deleted_task_is_404(self, tasks):
        created = tasks.create()
        tasks.request("DELETE", f"/{created['id']}")
        assert_problem(tasks.request("GET", f"/{created['id']}"), 404, "not_found")


class TestReplace:
    def test_omitted_optional_fields_return_to_their_defaults(self, tasks):
        created = tasks.create(
            description="d", priority="high", due_at="2026-12-01T00:00:00Z", tags=["x"]
        )
        response = tasks.request("PUT", f"/{created['id']}", json={"title": "Only a title"})
        assert response.status_code == 200
        task = response.get_json()["data"]
        assert task["title"] == "Only a title"
        assert (task["description"], task["priority"], task["due_at"], task["tags"]) == (
            None,
            "none",
            None,
            [],
        )
        assert task["updated_at"] > created["updated_at"]
        assert task["created_at"] == created["created_at"]

    def test_needs_a_title(self, tasks):
        created = tasks.create()
        assert bad_fields(tasks.request("PUT", f"/{created['id']}", json={})) == {"title"}

    def test_pending_clears_completed_at(self, tasks):
        created = tasks.create(is_completed=True)
        task = tasks.request("PUT", f"/{created['id']}", json={"title": "t"}).get_json()["data"]
        assert (task["is_completed"], task["completed_at"]) == (False, None)


class TestPatch:
    def test_changes_only_the_fields_given(self, tasks):
        created = tasks.create(description="keep", tags=["keep"], priority="low")
        response = tasks.request("PATCH", f"/{created['id']}", json={"title": "New"})
        task = response.get_json()["data"]
        assert (task["title"], task["description"], task["tags"], task["priority"]) == (
            "New",
            "keep",
            ["keep"],
            "low",
        )
        assert task["updated_at"] > created["updated_at"]

    def test_clears_nullable_fields_with_null(self, tasks):
        created = tasks.create(description="d", due_at="2026-12-01T00:00:00Z")
        task = tasks.request(
            "PATCH", f"/{created['id']}", json={"description": None, "due_at": None}
        ).get_json()["data"]
        assert (task["description"], task["due_at"]) == (None, None)

    def test_an_empty_patch_changes_nothing(self, tasks):
        created = tasks.create()
        task = tasks.request("PATCH", f"/{created['id']}", json={}).get_json()["data"]
        assert task == created

    def test_title_cannot_be_null(self, tasks):
        created = tasks.create()
        assert bad_fields(tasks.request("PATCH", f"/{created['id']}", json={"title": None})) == {
            "title"
        }

    def test_completing_through_patch_sets_completed_at(self, tasks):
        created = tasks.create()
        task = tasks.request("PATCH", f"/{created['id']}", json={"is_completed": True}).get_json()
        assert task["data"]["completed_at"] is not None

    def test_replaces_the_tag_list(self, tasks):
        created = tasks.create(tags=["a", "b"])
        task = tasks.request("PATCH", f"/{created['id']}", json={"tags": ["c"]}).get_json()
        assert task["data"]["tags"] == ["c"]


class TestComplete:
    def complete(self, tasks, task_id, **kwargs):
        return tasks.request("PATCH", f"/{task_id}/complete", **kwargs)

    def test_an_empty_body_toggles(self, tasks):
        created = tasks.create()
        first = self.complete(tasks, created["id"]).get_json()["data"]
        assert first["is_completed"] is True
        assert first["completed_at"] is not None
        second = self.complete(tasks, created["id"]).get_json()["data"]
        assert (second["is_completed"], second["completed_at"]) == (False, None)

    def test_a_body_sets(self, tasks):
        created = tasks.create()
        for _ in range(2):
            task = self.complete(tasks, created["id"], json={"is_completed": True}).get_json()
            assert task["data"]["is_completed"] is True
        pending = self.complete(tasks, created["id"], json={"is_completed": False}).get_json()
        assert (pending["data"]["is_completed"], pending["data"]["completed_at"]) == (False, None)

    def test_setting_the_same_value_keeps_completed_at(self, tasks):
        created = tasks.create(is_completed=True)
        task = self.complete(tasks, created["id"], json={"is_completed": True}).get_json()["data"]
        assert task["completed_at"] == created["completed_at"]
        assert task["updated_at"] == created["updated_at"]

    @pytest.mark.parametrize("body", [{"is_completed": "yes"}, {"is_completed": None}, {"x": 1}])
    def test_bad_bodies(self, tasks, body):
        created = tasks.create()
        assert_problem(self.complete(tasks, created["id"], json=body), 422, "validation_error")

    def test_unknown_task_is_404(self, tasks):
        assert_problem(self.complete(tasks, uuid.uuid4()), 404, "not_found")


class TestDelete:
    def test_answers_204_and_the_task_is_gone(self, tasks):
        created = tasks.create()
        response = tasks.request("DELETE", f"/{created['id']}")
        assert response.status_code == 204
        assert response.data == b""
        assert tasks.list()["meta"]["count"] == 0

    def test_deleting_twice_is_404(self, tasks):
        created = tasks.create()
        tasks.request("DELETE", f"/{created['id']}")
        assert_problem(tasks.request("DELETE", f"/{created['id']}"), 404, "not_found")


class TestIfMatch:
    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("PUT", "", {"title": "t"}),
            ("PATCH", "", {"title": "t"}),
            ("PATCH", "/complete", None),
            ("DELETE", "", None),
        ],
    )
    def test_a_stale_etag_is_412_and_changes_nothing(self, tasks, method, suffix, body):
        created = tasks.create(title="Original")
        stale = tasks.request("GET", f"/{created['id']}").headers["ETag"]
        tasks.request("PATCH", f"/{created['id']}", json={"description": "moved on"})
        response = tasks.request(
            method, f"/{created['id']}{suffix}", json=body, headers={"If-Match": stale}
        )
        assert_problem(response, 412, "precondition_failed")
        current = tasks.request("GET", f"/{created['id']}").get_json()["data"]
        assert (current["title"], current["is_completed"]) == ("Original", False)

    @pytest.mark.parametrize("etag", ['"tampered"', "garbage", 'W/"x"', '"' + "a" * 500 + '"'])
    def test_a_tampered_etag_is_412(self, tasks, etag):
        created = tasks.create()
        response = tasks.request(
            "PATCH", f"/{created['id']}", json={"title": "x"}, headers={"If-Match": etag}
        )
        assert_problem(response, 412, "precondition_failed")

    def test_the_current_etag_applies_and_answers_the_next(self, tasks):
        created = tasks.create()
        etag = tasks.request("GET", f"/{created['id']}").headers["ETag"]
        response = tasks.request(
            "PATCH", f"/{created['id']}", json={"title": "x"}, headers={"If-Match": etag}
        )
        assert response.status_code == 200
        assert response.headers["ETag"] != etag
        assert response.headers["ETag"] == tasks.request("GET", f"/{created['id']}").headers["ETag"]

    def test_star_matches_any_version(self, tasks):
        created = tasks.create()
        response = tasks.request(
            "PATCH", f"/{created['id']}", json={"title": "x"}, headers={"If-Match": "*"}
        )
        assert response.status_code == 200


class TestDatabaseRules:
    def test_completed_at_must_match_is_completed(self, tasks):
        created = tasks.create()
        with pytest.raises(IntegrityError, match="completed_at_matches_is_completed"):
            with db.session.begin_nested():
                db.session.execute(
                    text("UPDATE tasks SET is_completed = true WHERE id = :id"),
                    {"id": created["id"]},
                )

    def test_deleting_a_user_deletes_their_tasks_and_tags(self, tasks, user):
        tasks.create(tags=["a"])
        db.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.id})
        counts = db.session.execute(
            text(
                "SELECT (SELECT count(*) FROM tasks WHERE user_id = :id),"
                " (SELECT count(*) FROM tags WHERE user_id = :id)"
            ),
            {"id": user.id},
        ).one()
        assert tuple(counts) == (0, 0)


class TestSerialisation:
    @pytest.mark.parametrize(
        "fields",
        [
            {},
            {"description": "d", "priority": "high", "tags": ["b", "A", "c"]},
            {"is_completed": True, "due_at": "2026-11-30T19:00:00.123456+02:00"},
        ],
    )
    def test_the_fast_dump_writes_what_marshmallow_would(self, app, tasks, user, fields):
        from app.tasks.schemas import TaskSchema
        from app.tasks.service import get_user_task

        created = tasks.create(**fields)
        task = get_user_task(user_id=uuid.UUID(user.id), task_id=uuid.UUID(created["id"]))
        written = json.loads(app.json.dumps(TaskSchema().dump(task)))
        assert written == TaskSchema().marshmallow_dump(task) == created

    def test_times_are_utc_whatever_the_database_session_zone(self, app, tasks, user):
        from app.tasks.schemas import TaskSchema
        from app.tasks.service import get_user_task

        created = tasks.create(due_at="2026-11-30T19:00:00.123456+02:00")
        db.session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))  # +05:30, undone by rollback
        task = get_user_task(user_id=uuid.UUID(user.id), task_id=uuid.UUID(created["id"]))
        assert task.due_at.utcoffset().total_seconds() == 5.5 * 3600
        written = json.loads(app.json.dumps(TaskSchema().dump(task)))
        assert written["due_at"] == "2026-11-30T17:00:00.123456Z"
        assert written == created
