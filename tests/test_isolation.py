"""No route lets one user read, change or even detect another user's tasks, tags, lists or
webhooks."""

from __future__ import annotations

import uuid

import pytest

from tests.support.clients import Tasks
from tests.support.problems import assert_problem

TASK_ROUTES = [
    ("GET", "/tasks", None),
    ("POST", "/tasks", {"title": "intruder"}),
    ("GET", "/tasks/{task}", None),
    ("PUT", "/tasks/{task}", {"title": "intruder"}),
    ("PATCH", "/tasks/{task}", {"title": "intruder"}),
    ("DELETE", "/tasks/{task}", None),
    ("PATCH", "/tasks/{task}/complete", None),
    ("POST", "/tasks/{task}/move", {"after": None}),
    ("GET", "/tags", None),
    ("POST", "/tags", {"name": "intruder"}),
    ("PATCH", "/tags/{tag}", {"name": "intruder"}),
    ("DELETE", "/tags/{tag}", None),
    ("GET", "/lists", None),
    ("POST", "/lists", {"name": "intruder"}),
    ("GET", "/lists/{list}", None),
    ("PATCH", "/lists/{list}", {"name": "intruder"}),
    ("DELETE", "/lists/{list}", None),
    ("GET", "/changes", None),
    ("POST", "/tasks/batch", {"operations": [{"op": "create", "data": {"title": "intruder"}}]}),
    ("GET", "/webhooks", None),
    ("POST", "/webhooks", {"url": "http://127.0.0.1:9/intruder", "events": ["*"]}),
    ("GET", "/webhooks/{webhook}", None),
    ("PATCH", "/webhooks/{webhook}", {"description": "intruder"}),
    ("DELETE", "/webhooks/{webhook}", None),
    ("POST", "/webhooks/{webhook}/ping", None),
    ("GET", "/webhooks/{webhook}/deliveries", None),
]
# Path ids of nothing anybody has.
MISSING = {"task": uuid.uuid4(), "tag": uuid.uuid4(), "list": uuid.uuid4(), "webhook": uuid.uuid4()}


@pytest.fixture
def victim(app, auth, client, monkeypatch):
    """A user with a list holding a task carrying a tag (and a subtask of it), and a webhook;
    and their ids."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    account = auth.register()
    created = client.post(
        f"/api/{account.id}/lists", json={"name": "Secret"}, headers=account.headers
    )
    list_id = created.get_json()["data"]["id"]
    task = Tasks(client, account).create(title="secret", tags=["private"], list_id=list_id)
    Tasks(client, account).create(title="secret subtask", parent_id=task["id"])
    tags = client.get(f"/api/{account.id}/tags", headers=account.headers).get_json()["data"]
    hook = client.post(
        f"/api/{account.id}/webhooks",
        json={"url": "http://127.0.0.1:9/secret", "events": ["*"], "description": "secret"},
        headers=account.headers,
    ).get_json()["data"]
    return {
        "account": account,
        "task": task["id"],
        "tag": tags[0]["id"],
        "list": list_id,
        "webhook": hook["id"],
    }


@pytest.fixture
def intruder(auth):
    return auth.register()


def unchanged(client, victim) -> None:
    account = victim["account"]
    task = client.get(f"/api/{account.id}/tasks/{victim['task']}", headers=account.headers)
    assert task.status_code == 200
    data = task.get_json()["data"]
    assert (data["title"], data["is_completed"], data["tags"]) == ("secret", False, ["private"])
    tags = client.get(f"/api/{account.id}/tags", headers=account.headers).get_json()["data"]
    assert [t["name"] for t in tags] == ["private"]
    lists = client.get(f"/api/{account.id}/lists", headers=account.headers).get_json()["data"]
    assert [(item["name"], item["task_count"]) for item in lists] == [("Secret", 2)]
    hooks = client.get(f"/api/{account.id}/webhooks", headers=account.headers).get_json()["data"]
    assert [(hook["description"], hook["active"]) for hook in hooks] == [("secret", True)]


@pytest.mark.parametrize(("method", "route", "body"), TASK_ROUTES)
def test_the_victims_path_is_403(client, victim, intruder, method, route, body):
    path = f"/api/{victim['account'].id}" + route.format(**victim)
    response = client.open(path, method=method, json=body, headers=intruder.headers)
    assert_problem(response, 403, "forbidden")
    unchanged(client, victim)


@pytest.mark.parametrize(("method", "route", "body"), [r for r in TASK_ROUTES if "{" in r[1]])
def test_the_victims_ids_under_the_own_path_are_404(client, victim, intruder, method, route, body):
    """Same answer as for an id that does not exist, so existence is not revealed."""
    path = f"/api/{intruder.id}" + route.format(**victim)
    response = client.open(path, method=method, json=body, headers=intruder.headers)
    problem = assert_problem(response, 404, "not_found")
    missing = f"/api/{intruder.id}" + route.format(**MISSING)
    other = client.open(missing, method=method, json=body, headers=intruder.headers).get_json()
    assert problem["detail"] == other["detail"]
    unchanged(client, victim)


def test_lists_search_and_filters_show_only_own_tasks(client, victim, intruder):
    mine = Tasks(client, intruder)
    mine.create(title="mine")
    assert [t["title"] for t in mine.list()["data"]] == ["mine"]
    assert mine.list("q=secret")["meta"]["count"] == 0
    assert mine.list("tag=private")["meta"]["count"] == 0
    own_tags = client.get(f"/api/{intruder.id}/tags", headers=intruder.headers).get_json()
    assert own_tags == {"data": [], "meta": {"count": 0}}


def test_tag_names_are_per_user(client, victim, intruder):
    response = client.post(
        f"/api/{intruder.id}/tags", json={"name": "PRIVATE"}, headers=intruder.headers
    )
    assert response.status_code == 201
    task = Tasks(client, intruder).create(tags=["private"])
    assert task["tags"] == ["PRIVATE"]
    unchanged(client, victim)


def test_a_cursor_replays_nothing_of_another_user(client, victim, intruder):
    owner = Tasks(client, victim["account"])
    for i in range(3):
        owner.create(title=f"more {i}")
    cursor = owner.list("limit=1")["meta"]["next_cursor"]
    page = Tasks(client, intruder).list(f"limit=1&cursor={cursor}")
    assert page["data"] == []


@pytest.mark.parametrize(("method", "route", "body"), TASK_ROUTES)
def test_every_route_needs_a_token(client, method, route, body):
    path = f"/api/{uuid.uuid4()}" + route.format(**MISSING)
    assert_problem(client.open(path, method=method, json=body), 401, "unauthorized")


def test_a_malformed_user_id_is_404(client, intruder):
    response = client.get("/api/not-a-uuid/tasks", headers=intruder.headers)
    assert_problem(response, 404, "not_found")


# Body fields that name another object: another user's is the same 422 as one that does not
# exist, so nothing about it is revealed, and nothing of the victim's changes.
NAMING_FIELDS = [
    ("POST", "", {"title": "t", "list_id": "{list}"}, "list_id"),
    ("POST", "", {"title": "t", "parent_id": "{task}"}, "parent_id"),
    ("PATCH", "/{own}", {"list_id": "{list}"}, "list_id"),
    ("PATCH", "/{own}", {"parent_id": "{task}"}, "parent_id"),
    ("PUT", "/{own}", {"title": "t", "parent_id": "{task}"}, "parent_id"),
    ("POST", "/{own}/move", {"after": "{task}"}, "after"),
    ("POST", "/{own}/move", {"before": "{task}"}, "before"),
    ("POST", "/{own}/move", {"list_id": "{list}"}, "list_id"),
    ("POST", "/{own}/move", {"parent_id": "{task}"}, "parent_id"),
]


def _fill(body: dict, ids: dict) -> dict:
    return {k: v.format(**ids) if isinstance(v, str) and "{" in v else v for k, v in body.items()}


@pytest.mark.parametrize(("method", "route", "body", "field"), NAMING_FIELDS)
def test_naming_another_users_object_is_the_422_of_a_missing_one(
    client, victim, intruder, method, route, body, field
):
    mine = Tasks(client, intruder)
    own = mine.create(title="own")["id"]
    theirs = {"list": victim["list"], "task": victim["task"], "own": own}
    missing = {"list": str(uuid.uuid4()), "task": str(uuid.uuid4()), "own": own}
    answer = mine.request(method, route.format(own=own), json=_fill(body, theirs))
    problem = assert_problem(answer, 422, "validation_error")
    assert list(problem["errors"]["json"]) == [field]
    other = mine.request(method, route.format(own=own), json=_fill(body, missing)).get_json()
    assert problem["errors"] == other["errors"]
    unchanged(client, victim)


def test_list_and_parent_filters_show_nothing_of_another_user(client, victim, intruder):
    mine = Tasks(client, intruder)
    mine.create(title="mine")
    assert mine.list(f"list={victim['list']}")["meta"]["count"] == 0
    assert mine.list(f"parent={victim['task']}")["meta"]["count"] == 0
