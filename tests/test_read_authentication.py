"""Every read behind the auth guard is a 401 for every bad token, whatever it would have found.

Whatever the read finds with a live token (a task, nothing, a 404, a 422, a 304), a token whose
session is not live gets the same 401 as on any other route, and nothing of the data.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token

from tests.support.problems import assert_problem

# (name, path under /api/{user_id}, headers, status with a live token): every read behind the
# guard, including the paths where the read itself finds nothing or refuses the request.
READS = [
    ("list", "/tasks", {}, 200),
    ("list, empty page", "/tasks?q=nothingmatchesthis", {}, 200),
    ("list, bad parameter", "/tasks?status=done", {}, 422),
    ("list, next page", "/tasks?limit=1&sort=created_at&cursor=NEXT", {}, 200),
    ("list, past the last page", "/tasks?limit=2&sort=created_at&cursor=PAST", {}, 200),
    ("task", "/tasks/TASK", {}, 200),
    ("task, not modified", "/tasks/TASK", {"If-None-Match": "ETAG"}, 304),
    ("task, missing", f"/tasks/{uuid.uuid4()}", {}, 404),
    ("tags", "/tags", {}, 200),
]


@pytest.fixture
def stored(tasks):
    """Tasks "one" and "two", the first one's id and ETag, a cursor after "one" (a page with
    a row) and one after "two" (past the last page, where the count runs alone)."""
    task = tasks.create(title="one", tags=["t"])
    tasks.create(title="two")
    third = tasks.create(title="three")
    after_one = tasks.list("limit=1&sort=created_at")["meta"]["next_cursor"]
    after_two = tasks.list("limit=2&sort=created_at")["meta"]["next_cursor"]
    assert tasks.request("DELETE", f"/{third['id']}").status_code == 204
    etag = tasks.request("GET", f"/{task['id']}").headers["ETag"]
    return {"TASK": task["id"], "ETAG": etag, "NEXT": after_one, "PAST": after_two}


def _read(client, user, token, path, headers, stored):
    for placeholder, value in stored.items():
        path = path.replace(placeholder, value)
        headers = {name: text.replace(placeholder, value) for name, text in headers.items()}
    return client.get(
        f"/api/{user.id}{path}", headers={"Authorization": f"Bearer {token}", **headers}
    )


@pytest.mark.parametrize(
    ("name", "path", "headers", "status"), READS, ids=[read[0] for read in READS]
)
class TestEveryRead:
    def test_answers_with_a_live_session(self, client, user, stored, name, path, headers, status):
        response = _read(client, user, user.access_token, path, headers, stored)
        assert response.status_code == status

    def test_is_401_once_the_session_is_logged_out(
        self, client, user, stored, name, path, headers, status
    ):
        logout = client.post("/api/auth/logout", headers=user.headers)
        assert logout.status_code == 204
        response = _read(client, user, user.access_token, path, headers, stored)
        assert_problem(response, 401, "token_revoked")

    def test_is_401_for_a_token_without_a_session(
        self, app, client, user, stored, name, path, headers, status
    ):
        with app.app_context():
            token = create_access_token(identity=user.id)
        response = _read(client, user, token, path, headers, stored)
        assert_problem(response, 401, "token_revoked")

    def test_is_401_for_a_token_of_a_session_of_another_user(
        self, app, client, auth, user, stored, name, path, headers, status
    ):
        other = auth.register()
        sid = _claims(app, other.access_token)["sid"]
        with app.app_context():
            token = create_access_token(identity=user.id, additional_claims={"sid": sid})
        response = _read(client, user, token, path, headers, stored)
        assert_problem(response, 401, "token_revoked")

    def test_is_401_for_an_expired_token(
        self, app, client, user, stored, name, path, headers, status
    ):
        sid = _claims(app, user.access_token)["sid"]
        with app.app_context():
            token = create_access_token(
                identity=user.id,
                additional_claims={"sid": sid},
                expires_delta=timedelta(seconds=-1),
            )
        response = _read(client, user, token, path, headers, stored)
        assert_problem(response, 401, "token_expired")

    def test_a_refresh_token_is_not_an_access_token(
        self, client, user, stored, name, path, headers, status
    ):
        response = _read(client, user, user.refresh_token, path, headers, stored)
        assert_problem(response, 401, "token_invalid")


def test_a_revoked_token_naming_another_user_is_401_not_403(client, auth, user):
    other = auth.register()
    client.post("/api/auth/logout", headers=user.headers)
    response = client.get(f"/api/{other.id}/tasks", headers=user.headers)
    assert_problem(response, 401, "token_revoked")


def test_a_live_token_naming_another_user_is_403(client, auth, user):
    other = auth.register()
    response = client.get(f"/api/{other.id}/tasks", headers=user.headers)
    assert_problem(response, 403, "forbidden")


def test_a_session_revoked_between_two_reads_is_refused_at_once(client, tasks, user):
    task = tasks.create()
    assert tasks.request("GET", f"/{task['id']}").status_code == 200
    client.post("/api/auth/logout", headers=user.headers)
    assert_problem(tasks.request("GET", f"/{task['id']}"), 401, "token_revoked")


def test_the_cases_read_what_they_say(client, user, stored):
    """The cursor cases reach both paths of a page: one with rows, one where only the count
    runs (past the last page)."""
    path = "/tasks?limit={}&sort=created_at&cursor={}"
    next_page = _read(client, user, user.access_token, path.format(1, "NEXT"), {}, stored)
    past_last = _read(client, user, user.access_token, path.format(2, "PAST"), {}, stored)
    assert [task["title"] for task in next_page.get_json()["data"]] == ["two"]
    assert past_last.get_json()["data"] == []
    assert past_last.get_json()["meta"]["count"] == 2


def _claims(app, token: str) -> dict:
    import jwt as pyjwt

    return pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
