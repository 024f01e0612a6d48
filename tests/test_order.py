"""Manual order: positions made by the server, and POST .../move placing a task exactly."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.support.problems import assert_problem


@pytest.fixture
def siblings(tasks):
    """Three top-level tasks, a, b and c, in that order."""
    return {title: tasks.create(title=title) for title in ("a", "b", "c")}


def order(tasks, query: str = "parent=none&list=none") -> list[str]:
    """The titles in position order, every page (following the cursors)."""
    found: list[dict] = []
    cursor = ""
    while True:
        page = tasks.list(f"{query}&sort=position&limit=100{cursor}")
        found += page["data"]
        if page["meta"]["next_cursor"] is None:
            break
        cursor = f"&cursor={page['meta']['next_cursor']}"
    positions = [task["position"] for task in found]
    assert positions == sorted(positions)  # plain string order is the order
    return [task["title"] for task in found]


def move(tasks, task: dict, **body):
    return tasks.request("POST", f"/{task['id']}/move", json=body)


class TestPositions:
    def test_new_tasks_go_last_in_creation_order(self, tasks, siblings):
        assert order(tasks) == ["a", "b", "c"]

    def test_positions_are_short_plain_strings(self, siblings):
        assert [task["position"] for task in siblings.values()] == ["a0", "a1", "a2"]

    def test_the_database_orders_positions_byte_by_byte(self, tasks):
        for title in ("x", "y"):
            tasks.create(title=title)
        collation = db.session.execute(
            text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'tasks' AND column_name = 'position'"
            )
        ).scalar()
        assert collation == "C"
        # In C order uppercase sorts before lowercase, as in Python and every client.
        ordered = db.session.scalars(
            text(
                "SELECT p FROM unnest(ARRAY['a0', 'Zz', 'a0V', 'a1']::text[]) p"
                ' ORDER BY p COLLATE "C"'
            )
        ).all()
        assert ordered == sorted(["a0", "Zz", "a0V", "a1"])


class TestMove:
    def test_after_a_sibling(self, tasks, siblings):
        response = move(tasks, siblings["a"], after=siblings["b"]["id"])
        assert response.status_code == 200
        assert order(tasks) == ["b", "a", "c"]

    def test_after_null_is_first(self, tasks, siblings):
        move(tasks, siblings["c"], after=None)
        assert order(tasks) == ["c", "a", "b"]

    def test_before_a_sibling(self, tasks, siblings):
        move(tasks, siblings["c"], before=siblings["b"]["id"])
        assert order(tasks) == ["a", "c", "b"]

    def test_neither_is_last(self, tasks, siblings):
        move(tasks, siblings["a"])
        assert order(tasks) == ["b", "c", "a"]

    def test_only_the_moved_tasks_position_changes(self, tasks, siblings):
        move(tasks, siblings["c"], after=siblings["a"]["id"])
        after = {t["title"]: t["position"] for t in tasks.list("sort=position")["data"]}
        assert (after["a"], after["b"]) == (siblings["a"]["position"], siblings["b"]["position"])
        assert siblings["a"]["position"] < after["c"] < siblings["b"]["position"]

    def test_into_another_parent_after_one_of_its_subtasks(self, tasks, siblings):
        host = siblings["a"]
        first = tasks.create(title="first", parent_id=host["id"])
        last = tasks.create(title="last", parent_id=host["id"])
        response = move(tasks, siblings["c"], parent_id=host["id"], after=first["id"])
        assert response.get_json()["data"]["parent_id"] == host["id"]
        assert order(tasks, f"parent={host['id']}") == ["first", "c", "last"]
        assert order(tasks) == ["a", "b"]
        assert last["id"]

    def test_into_another_list_first(self, client, user, tasks, siblings):
        created = client.post(f"/api/{user.id}/lists", json={"name": "L"}, headers=user.headers)
        list_id = created.get_json()["data"]["id"]
        there = tasks.create(title="there", list_id=list_id)
        child = tasks.create(title="child of b", parent_id=siblings["b"]["id"])
        response = move(tasks, siblings["b"], list_id=list_id, after=None)
        assert response.get_json()["data"]["list_id"] == list_id
        assert order(tasks, f"list={list_id}&parent=none") == ["b", "there"]
        moved_child = tasks.request("GET", f"/{child['id']}").get_json()["data"]
        assert moved_child["list_id"] == list_id and there["id"]

    def test_a_sibling_that_is_not_in_the_destination_is_422_naming_it(self, tasks, siblings):
        nested = tasks.create(title="nested", parent_id=siblings["b"]["id"])
        for field in ("after", "before"):
            response = move(tasks, siblings["a"], **{field: nested["id"]})
            problem = assert_problem(response, 422, "validation_error")
            assert list(problem["errors"]["json"]) == [field]
        assert order(tasks) == ["a", "b", "c"]

    def test_next_to_itself_is_422(self, tasks, siblings):
        response = move(tasks, siblings["a"], after=siblings["a"]["id"])
        assert list(assert_problem(response, 422, "validation_error")["errors"]["json"]) == [
            "after"
        ]

    def test_after_and_before_together_are_422(self, tasks, siblings):
        response = move(tasks, siblings["a"], after=siblings["b"]["id"], before=siblings["c"]["id"])
        assert list(assert_problem(response, 422, "validation_error")["errors"]["json"]) == [
            "before"
        ]

    @pytest.mark.parametrize("body", [{"after": "x"}, {"before": None}, {"elsewhere": 1}])
    def test_a_bad_body_is_422(self, tasks, siblings, body):
        assert_problem(move(tasks, siblings["a"], **body), 422, "validation_error")

    def test_a_stale_if_match_is_412(self, tasks, siblings):
        response = tasks.request(
            "POST",
            f"/{siblings['a']['id']}/move",
            json={"after": None},
            headers={"If-Match": '"stale"'},
        )
        assert_problem(response, 412, "precondition_failed")

    def test_the_current_if_match_applies_and_the_etag_moves(self, tasks, siblings):
        etag = tasks.request("GET", f"/{siblings['c']['id']}").headers["ETag"]
        response = tasks.request(
            "POST", f"/{siblings['c']['id']}/move", json={"after": None}, headers={"If-Match": etag}
        )
        assert response.status_code == 200
        assert response.headers["ETag"] != etag

    def test_an_unknown_task_is_404(self, tasks):
        assert_problem(tasks.request("POST", f"/{uuid.uuid4()}/move", json={}), 404, "not_found")


def test_a_thousand_moves_to_the_front_keep_keys_short_and_the_order_exact(tasks):
    made = [tasks.create(title=str(i)) for i in range(3)]
    expected = [task["title"] for task in made]
    longest = 0
    for i in range(1000):
        task = made[i % 3] if i % 7 else made[(i + 1) % 3]
        response = move(tasks, task, after=None)
        longest = max(longest, len(response.get_json()["data"]["position"]))
        expected.remove(task["title"])
        expected.insert(0, task["title"])
    assert order(tasks) == expected
    assert longest <= 3


def test_always_inserting_at_one_spot_renumbers_before_keys_grow_long(tasks, monkeypatch):
    """The adversarial case: every move goes right after the same task. Keys grow by about one
    character per six such moves; past MAX_KEY_LENGTH (64; 4 here, to reach it in a few
    dozen moves) the siblings are renumbered, in their order."""
    from app.tasks import positions

    monkeypatch.setattr(positions, "MAX_KEY_LENGTH", 4)
    anchor = tasks.create(title="anchor")
    tail = tasks.create(title="tail")
    made = []
    for i in range(40):
        task = tasks.create(title=f"m{i}")
        response = move(tasks, task, after=anchor["id"])
        assert len(response.get_json()["data"]["position"]) <= 4
        made.append(task["title"])
    assert order(tasks) == ["anchor", *reversed(made), "tail"]
    renumbered = tasks.request("GET", f"/{tail['id']}").get_json()["data"]["position"]
    assert renumbered != tail["position"]  # the one case where others' positions change
