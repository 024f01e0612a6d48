"""Tags: listing with counts, creating, renaming, deleting."""

from __future__ import annotations

import uuid

import pytest

from tests.support.problems import assert_problem


@pytest.fixture
def tags_url(user) -> str:
    return f"/api/{user.id}/tags"


def tag_list(client, user) -> dict:
    response = client.get(f"/api/{user.id}/tags", headers=user.headers)
    assert response.status_code == 200
    return response.get_json()


def test_no_tags(client, user):
    assert tag_list(client, user) == {"data": [], "meta": {"count": 0}}


def test_lists_by_name_with_task_counts(client, user, tasks):
    tasks.create(tags=["beta", "Alpha"])
    tasks.create(tags=["beta"])
    client.post(f"/api/{user.id}/tags", json={"name": "gamma"}, headers=user.headers)
    body = tag_list(client, user)
    assert [(t["name"], t["task_count"]) for t in body["data"]] == [
        ("Alpha", 1),
        ("beta", 2),
        ("gamma", 0),
    ]
    assert body["meta"] == {"count": 3}
    assert set(body["data"][0]) == {"id", "name", "task_count", "created_at"}


def test_create(client, user, tags_url):
    response = client.post(tags_url, json={"name": "  Errands "}, headers=user.headers)
    assert response.status_code == 201
    tag = response.get_json()["data"]
    assert (tag["name"], tag["task_count"]) == ("Errands", 0)
    uuid.UUID(tag["id"])


def test_create_an_existing_name_in_any_case_is_409(client, user, tags_url):
    client.post(tags_url, json={"name": "Errands"}, headers=user.headers)
    response = client.post(tags_url, json={"name": "ERRANDS"}, headers=user.headers)
    assert_problem(response, 409, "tag_exists")


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"name": "  "}, {"name": "x" * 51}, {}, {"name": 3}]
)
def test_bad_names_are_422(client, user, tags_url, body):
    problem = assert_problem(
        client.post(tags_url, json=body, headers=user.headers), 422, "validation_error"
    )
    assert list(problem["errors"]["json"]) == ["name"]


def test_rename_shows_on_tasks_and_moves_their_etag(client, user, tasks, tags_url):
    task = tasks.create(tags=["old"])
    etag = tasks.request("GET", f"/{task['id']}").headers["ETag"]
    tag_id = tag_list(client, user)["data"][0]["id"]
    response = client.patch(f"{tags_url}/{tag_id}", json={"name": "New"}, headers=user.headers)
    assert response.status_code == 200
    assert response.get_json()["data"]["name"] == "New"
    assert response.get_json()["data"]["task_count"] == 1
    fetched = tasks.request("GET", f"/{task['id']}")
    assert fetched.get_json()["data"]["tags"] == ["New"]
    assert fetched.headers["ETag"] != etag


def test_rename_changing_only_case_is_fine(client, user, tags_url):
    tag = client.post(tags_url, json={"name": "work"}, headers=user.headers).get_json()["data"]
    response = client.patch(f"{tags_url}/{tag['id']}", json={"name": "Work"}, headers=user.headers)
    assert response.get_json()["data"]["name"] == "Work"


def test_rename_onto_another_tag_is_409(client, user, tags_url):
    client.post(tags_url, json={"name": "home"}, headers=user.headers)
    tag = client.post(tags_url, json={"name": "work"}, headers=user.headers).get_json()["data"]
    response = client.patch(f"{tags_url}/{tag['id']}", json={"name": "HOME"}, headers=user.headers)
    assert_problem(response, 409, "tag_exists")
    assert {t["name"] for t in tag_list(client, user)["data"]} == {"home", "work"}


def test_delete_leaves_the_tasks_and_drops_the_tag_from_them(client, user, tasks, tags_url):
    task = tasks.create(tags=["gone", "kept"])
    gone = next(t for t in tag_list(client, user)["data"] if t["name"] == "gone")
    assert client.delete(f"{tags_url}/{gone['id']}", headers=user.headers).status_code == 204
    assert tasks.request("GET", f"/{task['id']}").get_json()["data"]["tags"] == ["kept"]
    assert [t["name"] for t in tag_list(client, user)["data"]] == ["kept"]


@pytest.mark.parametrize("tag_id", ["nope", str(uuid.uuid4())])
def test_unknown_or_malformed_tag_is_404(client, user, tags_url, tag_id):
    assert_problem(client.delete(f"{tags_url}/{tag_id}", headers=user.headers), 404, "not_found")
    response = client.patch(f"{tags_url}/{tag_id}", json={"name": "x"}, headers=user.headers)
    assert_problem(response, 404, "not_found")
