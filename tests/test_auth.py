"""Registration, login, refresh rotation, logout, sessions and password change."""

from __future__ import annotations

import uuid

import jwt as pyjwt
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.support.accounts import PASSWORD, Account
from tests.support.clients import Auth
from tests.support.problems import assert_problem


def decode(token: str, app) -> dict:
    return pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestRegister:
    def test_answers_user_and_both_tokens(self, client, app):
        response = client.post(
            "/api/auth/register",
            json={"email": "  Ada@Example.COM ", "password": PASSWORD, "name": " Ada "},
        )
        assert response.status_code == 201
        data = response.get_json()["data"]
        assert set(data) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
        assert data["token_type"] == "Bearer"
        assert data["expires_in"] == 900
        assert set(data["user"]) == {"id", "email", "name", "created_at"}
        assert data["user"]["email"] == "ada@example.com"
        assert data["user"]["name"] == "Ada"
        assert data["user"]["created_at"].endswith("Z")
        assert response.headers["Cache-Control"] == "no-store"

    def test_tokens_carry_the_contract_claims(self, auth, app):
        account = auth.register()
        access, refresh = decode(account.access_token, app), decode(account.refresh_token, app)
        for claims, kind in ((access, "access"), (refresh, "refresh")):
            assert {"sub", "type", "jti", "sid", "iat", "exp"} <= set(claims)
            assert claims["sub"] == account.id
            assert claims["type"] == kind
        assert access["sid"] == refresh["sid"]
        assert access["exp"] - access["iat"] == 15 * 60
        assert refresh["exp"] - refresh["iat"] == 14 * 24 * 3600

    def test_password_is_stored_as_argon2id_hash(self, auth, app):
        account = auth.register()
        stored = db.session.scalar(select(User).where(User.email == account.email))
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash

    def test_same_email_in_other_case_is_taken(self, client, auth):
        auth.register("taken@example.com")
        response = client.post(
            "/api/auth/register", json={"email": "TAKEN@example.com", "password": PASSWORD}
        )
        assert_problem(response, 409, "email_taken")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"email": "not-an-email", "password": PASSWORD}, "email"),
            ({"email": "a" * 250 + "@x.io", "password": PASSWORD}, "email"),
            ({"email": "a@example.com", "password": "short"}, "password"),
            ({"email": "a@example.com", "password": "x" * 129}, "password"),
            ({"email": "a@example.com", "password": " " * 12}, "password"),
            ({"email": "a@example.com", "password": 12345678}, "password"),
            ({"email": "a@example.com", "password": PASSWORD, "name": "n" * 101}, "name"),
            ({"email": "a@example.com", "password": PASSWORD, "id": str(uuid.uuid4())}, "id"),
            ({"password": PASSWORD}, "email"),
        ],
    )
    def test_invalid_fields_are_named(self, client, body, field):
        response = client.post("/api/auth/register", json=body)
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["json"]) == [field]

    def test_an_array_body_is_a_validation_error(self, client):
        response = client.post("/api/auth/register", json=[1, 2])
        assert_problem(response, 422, "validation_error")


class TestLogin:
    def test_opens_a_new_session(self, client, auth, app):
        first = auth.register()
        second = auth.login(first.email.upper())
        assert decode(second.access_token, app)["sid"] != decode(first.access_token, app)["sid"]
        assert client.get("/api/auth/me", headers=second.headers).status_code == 200

    def test_unknown_email_and_wrong_password_answer_identically(self, client, auth):
        account = auth.register()
        wrong_password = client.post(
            "/api/auth/login", json={"email": account.email, "password": "wrong password"}
        )
        unknown_email = client.post(
            "/api/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
        )
        first = assert_problem(wrong_password, 401, "invalid_credentials")
        second = assert_problem(unknown_email, 401, "invalid_credentials")
        first.pop("request_id"), second.pop("request_id")
        assert first == second

    def test_rehashes_when_the_cost_parameters_changed(self, app, auth):
        account = auth.register()
        stored = db.session.scalar(select(User).where(User.email == account.email))
        old_hash = stored.password_hash
        passwords = app.extensions["passwords"]
        original = passwords.hasher
        try:
            from argon2 import PasswordHasher

            passwords.hasher = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
            auth.login(account.email)
        finally:
            passwords.hasher = original
        db.session.refresh(stored)
        assert stored.password_hash != old_hash
        assert "m=128,t=2" in stored.password_hash


class TestRefresh:
    def test_rotates_both_tokens(self, client, user, app):
        response = client.post("/api/auth/refresh", headers=bearer(user.refresh_token))
        assert response.status_code == 200
        data = response.get_json()["data"]
        assert data["refresh_token"] != user.refresh_token
        assert data["user"]["id"] == user.id
        assert decode(data["access_token"], app)["sid"] == decode(user.access_token, app)["sid"]
        assert client.get("/api/auth/me", headers=bearer(data["access_token"])).status_code == 200

    def test_reusing_a_spent_refresh_token_revokes_the_session(self, client, user):
        rotated = client.post("/api/auth/refresh", headers=bearer(user.refresh_token))
        new_tokens = rotated.get_json()["data"]
        reuse = client.post("/api/auth/refresh", headers=bearer(user.refresh_token))
        assert_problem(reuse, 401, "token_revoked")
        # The thief's and the owner's tokens of that session are all dead now.
        me = client.get("/api/auth/me", headers=bearer(new_tokens["access_token"]))
        assert_problem(me, 401, "token_revoked")
        again = client.post("/api/auth/refresh", headers=bearer(new_tokens["refresh_token"]))
        assert_problem(again, 401, "token_revoked")

    def test_an_access_token_cannot_refresh(self, client, user):
        response = client.post("/api/auth/refresh", headers=user.headers)
        assert_problem(response, 401, "token_invalid")

    def test_a_refresh_token_cannot_access(self, client, user):
        response = client.get("/api/auth/me", headers=bearer(user.refresh_token))
        assert_problem(response, 401, "token_invalid")


class TestMe:
    def test_answers_the_token_user(self, client, user):
        response = client.get("/api/auth/me", headers=user.headers)
        assert response.status_code == 200
        assert response.get_json()["data"]["id"] == user.id
        assert "password_hash" not in response.get_json()["data"]


class TestLogout:
    def test_the_same_access_token_fails_at_once(self, client, user):
        assert client.post("/api/auth/logout", headers=user.headers).status_code == 204
        assert_problem(client.get("/api/auth/me", headers=user.headers), 401, "token_revoked")

    def test_the_session_refresh_token_fails_too(self, client, user):
        client.post("/api/auth/logout", headers=user.headers)
        response = client.post("/api/auth/refresh", headers=bearer(user.refresh_token))
        assert_problem(response, 401, "token_revoked")

    def test_other_sessions_keep_working(self, client, auth, user):
        other = auth.login(user.email)
        client.post("/api/auth/logout", headers=user.headers)
        assert client.get("/api/auth/me", headers=other.headers).status_code == 200


class TestSessions:
    def test_lists_live_sessions_and_marks_the_current_one(self, client, auth, user, app):
        second = auth.login(user.email)
        third = auth.login(user.email)
        client.post("/api/auth/logout", headers=third.headers)
        response = client.get("/api/auth/sessions", headers=second.headers)
        assert response.status_code == 200
        body = response.get_json()
        assert body["meta"] == {"count": 2}
        assert {s["id"] for s in body["data"]} == {
            decode(user.access_token, app)["sid"],
            decode(second.access_token, app)["sid"],
        }
        current = [s for s in body["data"] if s["current"]]
        assert [s["id"] for s in current] == [decode(second.access_token, app)["sid"]]
        assert set(body["data"][0]) == {"id", "created_at", "last_used_at", "user_agent", "current"}

    def test_revoking_a_session_signs_that_device_out(self, client, auth, user, app):
        lost = auth.login(user.email)
        sid = decode(lost.access_token, app)["sid"]
        assert client.delete(f"/api/auth/sessions/{sid}", headers=user.headers).status_code == 204
        assert_problem(client.get("/api/auth/me", headers=lost.headers), 401, "token_revoked")
        assert client.get("/api/auth/me", headers=user.headers).status_code == 200

    def test_another_users_session_is_not_found(self, client, auth, user, app):
        stranger = auth.register()
        sid = decode(stranger.access_token, app)["sid"]
        response = client.delete(f"/api/auth/sessions/{sid}", headers=user.headers)
        assert_problem(response, 404, "not_found")
        assert client.get("/api/auth/me", headers=stranger.headers).status_code == 200

    @pytest.mark.parametrize("sid", ["not-a-uuid", str(uuid.uuid4())])
    def test_unknown_or_malformed_id_is_not_found(self, client, user, sid):
        response = client.delete(f"/api/auth/sessions/{sid}", headers=user.headers)
        assert_problem(response, 404, "not_found")


class TestPasswordChange:
    def change(self, client, account: Account, current: str, new: str):
        return client.post(
            "/api/auth/password",
            headers=account.headers,
            json={"current_password": current, "new_password": new},
        )

    def test_revokes_every_other_session(self, client, auth: Auth, user):
        other = auth.login(user.email)
        assert self.change(client, user, PASSWORD, "a brand new password").status_code == 204
        assert client.get("/api/auth/me", headers=user.headers).status_code == 200
        assert_problem(client.get("/api/auth/me", headers=other.headers), 401, "token_revoked")

    def test_only_the_new_password_logs_in(self, client, auth, user):
        self.change(client, user, PASSWORD, "a brand new password")
        old = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert_problem(old, 401, "invalid_credentials")
        auth.login(user.email, "a brand new password")

    def test_wrong_current_password_is_refused(self, client, user):
        response = self.change(client, user, "not my password", "a brand new password")
        assert_problem(response, 401, "invalid_credentials")

    def test_new_password_is_validated(self, client, user):
        problem = assert_problem(
            self.change(client, user, PASSWORD, "short"), 422, "validation_error"
        )
        assert list(problem["errors"]["json"]) == ["new_password"]


ENDPOINTS = [
    ("get", "/api/auth/me"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/sessions"),
    ("delete", f"/api/auth/sessions/{uuid.uuid4()}"),
    ("post", "/api/auth/password"),
    ("post", "/api/auth/refresh"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_protected_endpoint_needs_a_token(client, method, path):
    response = getattr(client, method)(path)
    problem = assert_problem(response, 401, "unauthorized")
    assert "msg" not in problem
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
