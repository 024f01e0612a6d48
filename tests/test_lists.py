"""Lists: create, list with counts, get with ETags, rename, delete with every task in it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.support.clients import Tasks
from tests.support.problems import assert_problem

LIST_FIELDS = {"id", "name", "task_count", "open_count", "created_at", "updated_at"}


@pytest.fixture
def lists_url(user) -> str:
    return f"/api/{user.id}/lists"


def create(client, user, name: str = "Groceries"):
    response = client.post(f"/api/{user.id}/lists", json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def get(client, user, list_id: str, **headers):
    return client.get(f"/api/{user.id}/lists/{list_id}", headers={**user.headers, **headers})


class TestCreate:
    def test_answers_the_list_with_location_and_etag(self, client, user, lists_url):
        response = client.post(lists_url, json={"name": "  Groceries "}, headers=user.headers)
        assert response.status_code == 201
        data = response.get_json()["data"]
        assert set(data) == LIST_FIELDS
        assert (data["name"], data["task_count"], data["open_count"]) == ("Groceries", 0, 0)
        assert data["created_at"] == data["updated_at"]
        assert response.headers["Location"] == f"{lists_url}/{data['id']}"
        assert response.headers["ETag"] == get(client, user, data["id"]).headers["ETag"]

    def test_a_name_the_user_has_in_any_case_is_409(self, client, user, lists_url):
        create(client, user, "Groceries")
        response = client.post(lists_url, json={"name": "GROCERIES"}, headers=user.headers)
        assert_problem(response, 409, "list_exists")

    def test_another_users_list_of_that_name_is_no_clash(self, client, auth, user):
        other = auth.register()
        create(client, other, "Groceries")
        assert create(client, user, "Groceries")["name"] == "Groceries"

    @pytest.mark.parametrize(
        "body",
        [{"name": ""}, {"name": "   "}, {"name": "x" * 101}, {}, {"name": 3}, {"name": None}],
    )
    def test_a_bad_name_is_422_naming_it(self, client, user, lists_url, body):
        response = client.post(lists_url, json=body, headers=user.headers)
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["json"]) == ["name"]

    @pytest.mark.parametrize("field", ["id", "task_count", "open_count", "created_at", "color"])
    def test_read_only_and_unknown_fields_are_422(self, client, user, lists_url, field):
        response = client.post(lists_url, json={"name": "a", field: 1}, headers=user.headers)
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["json"]) == [field]

    def test_one_more_than_the_limit_is_409(self, client, user, lists_url):
        create(client, user, "one")
        db.session.execute(
            text("UPDATE user_counters SET lists = 1000 WHERE user_id = :u"), {"u": user.id}
        )
        response = client.post(lists_url, json={"name": "too many"}, headers=user.headers)
        assert_problem(response, 409, "limit_reached")
        assert [
            item["name"] for item in client.get(lists_url, headers=user.headers).get_json()["data"]
        ] == ["one"]


class TestList:
    def test_no_lists(self, client, user, lists_url):
        response = client.get(lists_url, headers=user.headers)
        assert response.get_json() == {"data": [], "meta": {"count": 0}}

    def test_sorted_by_name_in_any_case(self, client, user, lists_url):
        for name in ("beta", "Alpha", "gamma", "Beta 2"):
            create(client, user, name)
        body = client.get(lists_url, headers=user.headers).get_json()
        assert [item["name"] for item in body["data"]] == ["Alpha", "beta", "Beta 2", "gamma"]
        assert body["meta"] == {"count": 4}

    def test_counts_every_level_and_the_open_ones(self, client, user, lists_url, tasks):
        groceries = create(client, user, "Groceries")["id"]
        empty = create(client, user, "Empty")["id"]
        parent = tasks.create(title="parent", list_id=groceries)
        child = tasks.create(title="child", parent_id=parent["id"])
        tasks.create(title="grandchild", parent_id=child["id"], is_completed=True)
        tasks.create(title="elsewhere")
        counts = {
            item["id"]: (item["task_count"], item["open_count"])
            for item in client.get(lists_url, headers=user.headers).get_json()["data"]
        }
        assert counts == {groceries: (3, 2), empty: (0, 0)}


class TestGet:
    def test_answers_the_list_and_its_etag(self, client, user):
        created = create(client, user)
        response = get(client, user, created["id"])
        assert response.status_code == 200
        assert response.get_json()["data"] == created
        assert response.headers["ETag"].startswith('"')

    def test_if_none_match_with_the_etag_is_304(self, client, user):
        created = create(client, user)
        etag = get(client, user, created["id"]).headers["ETag"]
        response = get(client, user, created["id"], **{"If-None-Match": etag})
        assert response.status_code == 304
        assert response.headers["ETag"] == etag

    def test_the_etag_moves_with_the_counts_but_updated_at_does_not(self, client, user, tasks):
        created = create(client, user)
        before = get(client, user, created["id"])
        task = tasks.create(list_id=created["id"])
        after_create = get(client, user, created["id"])
        tasks.request("PATCH", f"/{task['id']}/complete")
        after_complete = get(client, user, created["id"])
        etags = {r.headers["ETag"] for r in (before, after_create, after_complete)}
        assert len(etags) == 3
        assert {r.get_json()["data"]["updated_at"] for r in (before, after_complete)} == {
            created["updated_at"]
        }
        assert after_complete.get_json()["data"]["open_count"] == 0

    @pytest.mark.parametrize("list_id", [str(uuid.uuid4()), "not-a-uuid"])
    def test_an_unknown_or_malformed_id_is_404(self, client, user, list_id):
        assert_problem(get(client, user, list_id), 404, "not_found")


class TestRename:
    def test_renames_and_moves_updated_at_and_etag(self, client, user, lists_url):
        created = create(client, user, "Old")
        etag = get(client, user, created["id"]).headers["ETag"]
        response = client.patch(
            f"{lists_url}/{created['id']}", json={"name": "New"}, headers=user.headers
        )
        assert response.status_code == 200
        data = response.get_json()["data"]
        assert data["name"] == "New"
        assert data["updated_at"] > created["updated_at"]
        assert response.headers["ETag"] != etag
        assert response.headers["ETag"] == get(client, user, created["id"]).headers["ETag"]

    def test_the_same_name_changes_nothing(self, client, user, lists_url):
        created = create(client, user, "Same")
        etag = get(client, user, created["id"]).headers["ETag"]
        response = client.patch(
            f"{lists_url}/{created['id']}", json={"name": "Same"}, headers=user.headers
        )
        assert response.get_json()["data"] == created
        assert response.headers["ETag"] == etag

    def test_a_new_spelling_of_its_own_name_is_no_clash(self, client, user, lists_url):
        created = create(client, user, "groceries")
        response = client.patch(
            f"{lists_url}/{created['id']}", json={"name": "Groceries"}, headers=user.headers
        )
        assert response.get_json()["data"]["name"] == "Groceries"

    def test_a_clash_with_another_list_is_409(self, client, user, lists_url):
        create(client, user, "Taken")
        other = create(client, user, "Mine")
        response = client.patch(
            f"{lists_url}/{other['id']}", json={"name": "TAKEN"}, headers=user.headers
        )
        assert_problem(response, 409, "list_exists")
        assert get(client, user, other["id"]).get_json()["data"]["name"] == "Mine"

    def test_a_stale_if_match_is_412(self, client, user, lists_url, tasks):
        created = create(client, user)
        etag = get(client, user, created["id"]).headers["ETag"]
        tasks.create(list_id=created["id"])  # the counts change, so the answer and its ETag do
        response = client.patch(
            f"{lists_url}/{created['id']}",
            json={"name": "Renamed"},
            headers={**user.headers, "If-Match": etag},
        )
        assert_problem(response, 412, "precondition_failed")

    def test_the_current_if_match_applies(self, client, user, lists_url):
        created = create(client, user)
        etag = get(client, user, created["id"]).headers["ETag"]
        response = client.patch(
            f"{lists_url}/{created['id']}",
            json={"name": "Renamed"},
            headers={**user.headers, "If-Match": etag},
        )
        assert response.status_code == 200


class TestDelete:
    def test_deletes_the_list_and_its_tasks_at_every_level(self, client, user, lists_url, tasks):
        created = create(client, user)
        parent = tasks.create(title="parent", list_id=created["id"])
        child = tasks.create(title="child", parent_id=parent["id"])
        tasks.create(title="grandchild", parent_id=child["id"])
        kept = tasks.create(title="kept")
        response = client.delete(f"{lists_url}/{created['id']}", headers=user.headers)
        assert response.status_code == 204
        assert_problem(get(client, user, created["id"]), 404, "not_found")
        assert [task["id"] for task in tasks.list()["data"]] == [kept["id"]]
        counted = db.session.execute(
            text("SELECT tasks, lists FROM user_counters WHERE user_id = :u"), {"u": user.id}
        ).one()
        assert tuple(counted) == (1, 0)

    def test_a_stale_if_match_is_412_and_deletes_nothing(self, client, user, lists_url):
        created = create(client, user)
        response = client.delete(
            f"{lists_url}/{created['id']}", headers={**user.headers, "If-Match": '"stale"'}
        )
        assert_problem(response, 412, "precondition_failed")
        assert get(client, user, created["id"]).status_code == 200

    def test_an_unknown_list_is_404(self, client, user, lists_url):
        response = client.delete(f"{lists_url}/{uuid.uuid4()}", headers=user.headers)
        assert_problem(response, 404, "not_found")


class TestQueryCost:
    """A list answer and its counts are one statement, whatever the number of lists or tasks
    (after the guard's session check)."""

    @pytest.mark.parametrize("size", [1, 12])
    def test_listing_and_getting_cost_one_statement_each(self, client, user, statements, size):
        base = f"/api/{user.id}/lists"
        ids = []
        for n in range(size):
            created = client.post(base, json={"name": f"L{n}"}, headers=user.headers)
            ids.append(created.get_json()["data"]["id"])
            Tasks(client, user).create(list_id=ids[-1])
        statements.clear()
        listed = client.get(base, headers=user.headers).get_json()
        assert [item["task_count"] for item in listed["data"]] == [1] * size
        assert len(statements) == 2, statements  # the session check, then the lists
        statements.clear()
        one = client.get(f"{base}/{ids[0]}", headers=user.headers).get_json()["data"]
        assert (one["task_count"], one["open_count"]) == (1, 1)
        assert len(statements) == 2, statements
