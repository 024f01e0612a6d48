"""Subtasks: parents, lists, depth, cycles, moving subtrees, completing and deleting them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from app.extensions import db
from tests.support.problems import assert_problem


@pytest.fixture
def new_list(client, user):
    def make(name: str) -> str:
        response = client.post(f"/api/{user.id}/lists", json={"name": name}, headers=user.headers)
        assert response.status_code == 201
        return response.get_json()["data"]["id"]

    return make


def chain(tasks, depth: int, **fields) -> list[dict]:
    """A task with a subtask, with a subtask, ... `depth` levels in all."""
    made = [tasks.create(title="level 1", **fields)]
    for level in range(2, depth + 1):
        made.append(tasks.create(title=f"level {level}", parent_id=made[-1]["id"]))
    return made


def fetch(tasks, task: dict) -> dict:
    response = tasks.request("GET", f"/{task['id']}")
    assert response.status_code == 200
    return response.get_json()["data"]


def field_error(response) -> dict:
    return assert_problem(response, 422, "validation_error")["errors"]["json"]


class TestParent:
    def test_a_subtask_names_its_parent_and_is_in_its_list(self, tasks, new_list):
        home = new_list("Home")
        parent = tasks.create(title="parent", list_id=home)
        child = tasks.create(title="child", parent_id=parent["id"])
        assert (child["parent_id"], child["list_id"]) == (parent["id"], home)

    def test_the_parents_list_given_again_is_accepted(self, tasks, new_list):
        home = new_list("Home")
        parent = tasks.create(list_id=home)
        child = tasks.create(parent_id=parent["id"], list_id=home)
        assert child["list_id"] == home

    def test_another_list_than_the_parents_is_422_naming_list_id(self, tasks, new_list):
        parent = tasks.create(list_id=new_list("Home"))
        response = tasks.request(
            "POST", "", json={"title": "t", "parent_id": parent["id"], "list_id": new_list("Work")}
        )
        assert list(field_error(response)) == ["list_id"]

    def test_no_list_with_a_parent_in_a_list_is_422_naming_list_id(self, tasks, new_list):
        parent = tasks.create(list_id=new_list("Home"))
        response = tasks.request(
            "POST", "", json={"title": "t", "parent_id": parent["id"], "list_id": None}
        )
        assert list(field_error(response)) == ["list_id"]

    def test_an_unknown_parent_is_422_naming_parent_id(self, tasks):
        response = tasks.request("POST", "", json={"title": "t", "parent_id": str(uuid.uuid4())})
        assert field_error(response) == {"parent_id": ["No such task."]}

    def test_five_levels_are_allowed_and_a_sixth_is_422(self, tasks):
        levels = chain(tasks, 5)
        response = tasks.request("POST", "", json={"title": "6", "parent_id": levels[-1]["id"]})
        assert list(field_error(response)) == ["parent_id"]

    def test_a_task_cannot_become_its_own_parent(self, tasks):
        task = tasks.create()
        response = tasks.request("PATCH", f"/{task['id']}", json={"parent_id": task["id"]})
        assert field_error(response) == {"parent_id": ["A task cannot be its own ancestor."]}

    def test_a_task_cannot_move_under_its_own_descendant(self, tasks):
        top, middle, bottom = chain(tasks, 3)
        response = tasks.request("PATCH", f"/{top['id']}", json={"parent_id": bottom["id"]})
        assert field_error(response) == {"parent_id": ["A task cannot be its own ancestor."]}
        assert fetch(tasks, top)["parent_id"] is None

    def test_moving_a_subtree_counts_its_own_levels(self, tasks):
        deep = chain(tasks, 3)  # a subtree of 3 levels
        host = chain(tasks, 3)
        response = tasks.request(
            "PATCH", f"/{deep[0]['id']}", json={"parent_id": host[-1]["id"]}
        )  # 3 + 3 = 6 levels
        assert list(field_error(response)) == ["parent_id"]
        ok = tasks.request("PATCH", f"/{deep[0]['id']}", json={"parent_id": host[1]["id"]})
        assert ok.status_code == 200

    def test_the_database_refuses_a_subtask_outside_its_parents_list(self, tasks, new_list, user):
        parent = tasks.create(list_id=new_list("Home"))
        child = tasks.create(parent_id=parent["id"])
        with pytest.raises(Exception, match="fk_tasks_parent_id_tasks"):
            with db.session.begin_nested():
                db.session.execute(
                    text("UPDATE tasks SET list_id = NULL WHERE id = :id"), {"id": child["id"]}
                )


class TestMoveSubtree:
    def test_a_new_list_moves_the_whole_subtree_in_one_statement(self, tasks, new_list):
        home, work = new_list("Home"), new_list("Work")
        top, middle, bottom = chain(tasks, 3, list_id=home)
        statements: list[str] = []

        def record(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith(("WITH", "UPDATE")):
                statements.append(statement)

        event.listen(Engine, "before_cursor_execute", record)
        try:
            response = tasks.request("PATCH", f"/{top['id']}", json={"list_id": work})
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        assert response.status_code == 200
        moving = [s for s in statements if " UPDATE tasks SET " in s and "list_id=" in s]
        assert len(moving) == 1, statements
        assert {fetch(tasks, t)["list_id"] for t in (top, middle, bottom)} == {work}

    def test_a_subtasks_own_list_cannot_change_alone(self, tasks, new_list):
        top, child = chain(tasks, 2, list_id=new_list("Home"))
        response = tasks.request("PATCH", f"/{child['id']}", json={"list_id": new_list("Work")})
        assert list(field_error(response)) == ["list_id"]

    def test_a_new_parent_moves_the_task_into_its_list_with_its_subtasks(self, tasks, new_list):
        work = new_list("Work")
        host = tasks.create(title="host", list_id=work)
        top, child = chain(tasks, 2)
        response = tasks.request("PATCH", f"/{top['id']}", json={"parent_id": host["id"]})
        assert response.get_json()["data"]["list_id"] == work
        assert fetch(tasks, child)["list_id"] == work

    def test_a_move_puts_the_task_last_among_its_new_siblings(self, tasks):
        host = tasks.create(title="host")
        first = tasks.create(title="first", parent_id=host["id"])
        moved = tasks.create(title="moved")
        response = tasks.request("PATCH", f"/{moved['id']}", json={"parent_id": host["id"]})
        assert response.get_json()["data"]["position"] > first["position"]

    def test_null_parent_makes_a_top_level_task_in_the_same_list(self, tasks, new_list):
        home = new_list("Home")
        top, child = chain(tasks, 2, list_id=home)
        response = tasks.request("PATCH", f"/{child['id']}", json={"parent_id": None})
        data = response.get_json()["data"]
        assert (data["parent_id"], data["list_id"]) == (None, home)

    def test_a_move_changes_the_moved_tasks_etags(self, tasks, new_list):
        top, child = chain(tasks, 2)
        etag = tasks.request("GET", f"/{child['id']}").headers["ETag"]
        tasks.request("PATCH", f"/{top['id']}", json={"list_id": new_list("Home")})
        assert tasks.request("GET", f"/{child['id']}").headers["ETag"] != etag


class TestCompleteAndDelete:
    def test_completing_a_parent_completes_its_pending_subtasks_with_one_time(self, tasks):
        top, middle, bottom = chain(tasks, 3)
        done_before = tasks.create(title="done before", parent_id=top["id"], is_completed=True)
        response = tasks.request("PATCH", f"/{top['id']}/complete", json={"is_completed": True})
        completed_at = response.get_json()["data"]["completed_at"]
        assert fetch(tasks, middle)["completed_at"] == completed_at
        assert fetch(tasks, bottom)["completed_at"] == completed_at
        assert fetch(tasks, done_before)["completed_at"] == done_before["completed_at"]

    def test_the_subtasks_are_completed_in_one_statement(self, tasks):
        top = chain(tasks, 4)[0]
        statements: list[str] = []

        def record(conn, cursor, statement, *args):
            if " SET is_completed=" in statement or statement.startswith("UPDATE tasks SET"):
                statements.append(statement)

        event.listen(Engine, "before_cursor_execute", record)
        try:
            tasks.request("PATCH", f"/{top['id']}/complete")
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        below = [s for s in statements if "WITH RECURSIVE" in s]
        assert len(below) == 1, statements
        # The task itself: one UPDATE with its completion, updated_at and version together.
        own = [s for s in statements if "WITH RECURSIVE" not in s]
        assert len(own) == 1 and "version=" in own[0], statements
        assert tasks.list("status=pending")["meta"]["count"] == 0

    def test_reopening_a_parent_reopens_it_alone(self, tasks):
        top, child = chain(tasks, 2)
        tasks.request("PATCH", f"/{top['id']}/complete")
        tasks.request("PATCH", f"/{top['id']}/complete")
        assert fetch(tasks, top)["is_completed"] is False
        assert fetch(tasks, child)["is_completed"] is True

    def test_completing_through_patch_completes_the_subtasks_too(self, tasks):
        top, child = chain(tasks, 2)
        tasks.request("PATCH", f"/{top['id']}", json={"is_completed": True})
        assert fetch(tasks, child)["is_completed"] is True

    def test_deleting_a_task_deletes_every_level_below_it(self, tasks):
        top, middle, bottom = chain(tasks, 3)
        sibling = tasks.create(title="sibling")
        assert tasks.request("DELETE", f"/{middle['id']}").status_code == 204
        assert [t["id"] for t in tasks.list("sort=created_at")["data"]] == [
            top["id"],
            sibling["id"],
        ]


class TestListing:
    def test_parent_filters_the_direct_subtasks(self, tasks):
        top, middle, bottom = chain(tasks, 3)
        page = tasks.list(f"parent={top['id']}")
        assert [t["id"] for t in page["data"]] == [middle["id"]]

    def test_parent_none_is_the_top_level(self, tasks):
        top, middle = chain(tasks, 2)
        other = tasks.create(title="other")
        page = tasks.list("parent=none&sort=created_at")
        assert [t["id"] for t in page["data"]] == [top["id"], other["id"]]

    def test_list_filters_every_level_and_none_is_no_list(self, tasks, new_list):
        home = new_list("Home")
        top, child = chain(tasks, 2, list_id=home)
        loose = tasks.create(title="loose")
        assert {t["id"] for t in tasks.list(f"list={home}")["data"]} == {top["id"], child["id"]}
        assert [t["id"] for t in tasks.list("list=none")["data"]] == [loose["id"]]

    @pytest.mark.parametrize("name", ["list", "parent"])
    @pytest.mark.parametrize("value", ["nope", "123", "", "none " * 9])
    def test_a_bad_link_filter_is_422_naming_it(self, tasks, name, value):
        response = tasks.request("GET", f"?{name}={value}")
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["query"]) == [name]

    def test_sort_by_position_is_the_order_arranged(self, tasks):
        host = tasks.create(title="host")
        made = [tasks.create(title=f"c{i}", parent_id=host["id"]) for i in range(3)]
        tasks.request("POST", f"/{made[2]['id']}/move", json={"after": None})
        page = tasks.list(f"parent={host['id']}&sort=position")
        assert [t["title"] for t in page["data"]] == ["c2", "c0", "c1"]
