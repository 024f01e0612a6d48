"""POST /api/{user_id}/tasks/batch: up to 100 operations, in order, all or nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from app.extensions import db
from tests.support.problems import assert_problem


def batch(tasks, operations, **headers):
    return tasks.request("POST", "/batch", json={"operations": operations}, headers=headers)


def count_tasks() -> int:
    return db.session.execute(text("SELECT count(*) FROM tasks")).scalar_one()


class TestSuccess:
    def test_every_kind_of_operation_with_refs(self, tasks):
        kept = tasks.create(title="kept")
        gone = tasks.create(title="gone")
        etag = tasks.request("GET", f"/{kept['id']}").headers["ETag"]
        response = batch(
            tasks,
            [
                {"op": "create", "ref": "trip", "data": {"title": "Trip"}},
                {
                    "op": "create",
                    "ref": "train",
                    "data": {"title": "Book train", "parent_id": "$trip"},
                },
                {"op": "update", "id": kept["id"], "data": {"priority": "high"}, "if_match": etag},
                {
                    "op": "replace",
                    "id": "$train",
                    "data": {"title": "Book the train", "parent_id": "$trip"},
                },
                {"op": "complete", "id": "$train", "data": {"is_completed": True}},
                {"op": "move", "id": kept["id"], "data": {"after": None}},
                {"op": "delete", "id": gone["id"]},
            ],
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        trip, train = body["meta"]["refs"]["trip"], body["meta"]["refs"]["train"]
        assert set(body["meta"]["refs"]) == {"trip", "train"}
        results = body["data"]
        assert [r and r["title"] for r in results] == [
            "Trip",
            "Book train",
            "kept",
            "Book the train",
            "Book the train",
            "kept",
            None,
        ]
        assert results[1]["parent_id"] == trip and results[1]["id"] == train
        assert results[3]["is_completed"] is False and results[4]["is_completed"] is True
        assert results[2]["priority"] == "high"
        stored = tasks.request("GET", f"/{train}").get_json()["data"]
        assert stored == results[4]
        assert_problem(tasks.request("GET", f"/{gone['id']}"), 404, "not_found")

    def test_each_result_is_the_task_right_after_its_operation(self, tasks):
        task = tasks.create(title="one")
        response = batch(
            tasks,
            [
                {"op": "update", "id": task["id"], "data": {"title": "two"}},
                {"op": "update", "id": task["id"], "data": {"title": "three"}},
            ],
        )
        assert [r["title"] for r in response.get_json()["data"]] == ["two", "three"]

    def test_a_complete_without_data_toggles(self, tasks):
        task = tasks.create()
        response = batch(tasks, [{"op": "complete", "id": task["id"]}])
        assert response.get_json()["data"][0]["is_completed"] is True


class TestAllOrNothing:
    def test_a_failing_operation_applies_nothing_and_is_named(self, tasks):
        task = tasks.create(title="unchanged")
        response = batch(
            tasks,
            [
                {"op": "create", "data": {"title": "not kept"}},
                {"op": "update", "id": task["id"], "data": {"title": "not kept either"}},
                {"op": "delete", "id": str(uuid.uuid4())},
            ],
        )
        problem = assert_problem(response, 404, "not_found")
        assert problem["operation"] == 2
        assert count_tasks() == 1
        assert tasks.request("GET", f"/{task['id']}").get_json()["data"]["title"] == "unchanged"

    def test_a_422_has_its_errors_under_its_index(self, tasks):
        response = batch(
            tasks,
            [{"op": "create", "data": {"title": "fine"}}, {"op": "create", "data": {"title": ""}}],
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["operation"] == 1
        assert list(problem["errors"]["json"]["operations"]["1"]["data"]) == ["title"]
        assert count_tasks() == 0

    def test_a_stale_if_match_is_412_for_that_operation(self, tasks):
        task = tasks.create()
        response = batch(
            tasks, [{"op": "update", "id": task["id"], "data": {}, "if_match": '"stale"'}]
        )
        assert assert_problem(response, 412, "precondition_failed")["operation"] == 0

    def test_a_409_of_an_operation(self, client, user, tasks):
        db.session.execute(
            text("UPDATE user_counters SET tasks = 100000 - 1 WHERE user_id = :u"), {"u": user.id}
        )
        response = batch(tasks, [{"op": "create", "data": {"title": f"t{i}"}} for i in range(3)])
        problem = assert_problem(response, 409, "limit_reached")
        assert problem["operation"] == 1
        assert count_tasks() == 0

    def test_a_service_422_names_the_field_under_data(self, tasks):
        response = batch(
            tasks, [{"op": "create", "data": {"title": "t", "parent_id": str(uuid.uuid4())}}]
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"]["json"]["operations"]["0"] == {
            "data": {"parent_id": ["No such task."]}
        }


class TestShape:
    @pytest.mark.parametrize("operations", [[], [{"op": "create", "data": {"title": "t"}}] * 101])
    def test_an_empty_or_oversized_batch_is_422(self, tasks, operations):
        problem = assert_problem(batch(tasks, operations), 422, "validation_error")
        assert list(problem["errors"]["json"]) == ["operations"]

    @pytest.mark.parametrize(
        ("operation", "field"),
        [
            ({"op": "explode"}, "op"),
            ({"data": {"title": "t"}}, "op"),
            ({"op": "update", "data": {}}, "id"),
            ({"op": "create", "id": str(uuid.uuid4()), "data": {"title": "t"}}, "id"),
            ({"op": "delete", "id": "not-a-uuid"}, "id"),
            ({"op": "delete", "id": "$nobody"}, "id"),
            ({"op": "create", "ref": "bad ref!", "data": {"title": "t"}}, "ref"),
            ({"op": "create", "data": {"title": "t"}, "extra": 1}, "extra"),
        ],
    )
    def test_a_malformed_operation_is_422_naming_it(self, tasks, operation, field):
        response = batch(tasks, [{"op": "create", "data": {"title": "first"}}, operation])
        problem = assert_problem(response, 422, "validation_error")
        assert problem["operation"] == 1
        assert list(problem["errors"]["json"]["operations"]["1"]) == [field]

    def test_a_ref_used_twice_is_422(self, tasks):
        create = {"op": "create", "ref": "same", "data": {"title": "t"}}
        problem = assert_problem(batch(tasks, [create, create]), 422, "validation_error")
        assert (problem["operation"], list(problem["errors"]["json"]["operations"]["1"])) == (
            1,
            ["ref"],
        )

    def test_a_ref_to_a_later_create_is_422(self, tasks):
        response = batch(
            tasks,
            [
                {"op": "create", "data": {"title": "child", "parent_id": "$later"}},
                {"op": "create", "ref": "later", "data": {"title": "parent"}},
            ],
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"]["json"]["operations"]["0"] == {
            "data": {"parent_id": ["No earlier create in this batch is named 'later'."]}
        }


def test_another_users_task_is_the_404_of_a_missing_one(client, auth, tasks):
    other = auth.register()
    theirs = client.post(
        f"/api/{other.id}/tasks", json={"title": "theirs"}, headers=other.headers
    ).get_json()["data"]
    response = batch(tasks, [{"op": "delete", "id": theirs["id"]}])
    missing = batch(tasks, [{"op": "delete", "id": str(uuid.uuid4())}])
    assert assert_problem(response, 404, "not_found") == {
        **missing.get_json(),
        "request_id": response.get_json()["request_id"],
    }


def test_a_batch_counts_one_request_per_operation(tasks):
    def remaining(response) -> int:
        return int(response.headers["X-RateLimit-Remaining"])

    before = remaining(batch(tasks, [{"op": "create", "data": {"title": "one"}}]))
    after = remaining(
        batch(tasks, [{"op": "create", "data": {"title": f"t{i}"}} for i in range(5)])
    )
    assert before - after == 5


def test_a_batch_with_an_idempotency_key_is_replayed_whole(tasks):
    operations = [{"op": "create", "data": {"title": f"t{i}"}} for i in range(3)]
    first = batch(tasks, operations, **{"Idempotency-Key": "batch-1"})
    again = batch(tasks, operations, **{"Idempotency-Key": "batch-1"})
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_tasks() == 3


def test_a_hundred_creates_cost_a_bounded_number_of_statements(tasks):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        response = batch(tasks, [{"op": "create", "data": {"title": f"t{i}"}} for i in range(100)])
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert count_tasks() == 100
    assert len(statements) <= 12, statements
