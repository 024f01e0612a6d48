"""Per-user limits: 100,000 tasks, 1,000 lists, 1,000 tags; one more is 409 limit_reached.

The counts are kept by the database (triggers over whole statements, cascades included) and
checked by constraints; the tests set a user's counter near its limit instead of making 100,000
tasks, after proving that the counter follows every way rows come and go.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import LIMITS
from tests.support.problems import assert_problem


def counters(user) -> dict[str, int]:
    row = db.session.execute(
        text("SELECT tasks, lists, tags FROM user_counters WHERE user_id = :u"), {"u": user.id}
    ).one()
    return dict(row._mapping)


def set_counter(user, column: str, value: int) -> None:
    db.session.execute(
        text(f"UPDATE user_counters SET {column} = :v WHERE user_id = :u"),
        {"v": value, "u": user.id},
    )


def test_the_counters_follow_creates_and_every_kind_of_delete(client, user, tasks):
    created = client.post(f"/api/{user.id}/lists", json={"name": "L"}, headers=user.headers)
    list_id = created.get_json()["data"]["id"]
    parent = tasks.create(title="p", list_id=list_id, tags=["a", "b"])
    tasks.create(title="c", parent_id=parent["id"], tags=["a"])
    loose = tasks.create(title="loose", tags=["c"])
    assert counters(user) == {"tasks": 3, "lists": 1, "tags": 3}
    tasks.request("DELETE", f"/{loose['id']}")
    assert counters(user)["tasks"] == 2
    client.delete(f"/api/{user.id}/lists/{list_id}", headers=user.headers)  # cascades to 2
    tags = client.get(f"/api/{user.id}/tags", headers=user.headers).get_json()["data"]
    client.delete(f"/api/{user.id}/tags/{tags[0]['id']}", headers=user.headers)
    assert counters(user) == {"tasks": 0, "lists": 0, "tags": 2}


def test_the_limits_are_the_contracts():
    assert LIMITS == {"tasks": 100_000, "lists": 1_000, "tags": 1_000}


def test_one_task_past_the_limit_is_409_and_nothing_is_stored(tasks, user):
    tasks.create()
    set_counter(user, "tasks", LIMITS["tasks"])
    response = tasks.request("POST", "", json={"title": "one too many"})
    assert_problem(response, 409, "limit_reached")
    assert tasks.list()["meta"]["count"] == 1


def test_a_next_occurrence_past_the_limit_refuses_the_completion(tasks, user):
    task = tasks.create(recurrence="FREQ=DAILY", due_at="2027-01-01T09:00:00Z")
    set_counter(user, "tasks", LIMITS["tasks"])
    response = tasks.request("PATCH", f"/{task['id']}/complete")
    assert_problem(response, 409, "limit_reached")
    assert tasks.request("GET", f"/{task['id']}").get_json()["data"]["is_completed"] is False


def test_one_tag_past_the_limit_is_409(client, user):
    set_counter(user, "tags", LIMITS["tags"])
    response = client.post(f"/api/{user.id}/tags", json={"name": "t"}, headers=user.headers)
    assert_problem(response, 409, "limit_reached")


def test_a_task_whose_tags_would_pass_the_limit_is_refused_the_same_way(tasks, user):
    tasks.create(tags=["kept"])
    set_counter(user, "tags", LIMITS["tags"] - 1)
    response = tasks.request("POST", "", json={"title": "t", "tags": ["new one", "another"]})
    assert_problem(response, 409, "limit_reached")
    # Tags the user has already cost nothing.
    assert tasks.request("POST", "", json={"title": "t", "tags": ["kept"]}).status_code == 201


@pytest.mark.parametrize("column", ["tasks", "lists", "tags"])
def test_at_the_limit_exactly_is_still_allowed(client, user, tasks, column):
    set_counter(user, column, LIMITS[column] - 1)
    if column == "tasks":
        assert tasks.request("POST", "", json={"title": "last"}).status_code == 201
    else:
        response = client.post(
            f"/api/{user.id}/{column}", json={"name": "last"}, headers=user.headers
        )
        assert response.status_code == 201
    assert counters(user)[column] == LIMITS[column]
