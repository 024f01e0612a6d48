"""Test clients that call the API through Flask's test client, as real clients would."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from tests.support.accounts import PASSWORD, Account


class Auth:
    """Registers and logs in users through the API itself, as clients do."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, email: str | None = None, password: str = PASSWORD) -> Account:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        response = self.client.post(
            "/api/auth/register", json={"email": email, "password": password}
        )
        assert response.status_code == 201, response.get_json()
        return self._account(response.get_json()["data"])

    def login(self, email: str, password: str = PASSWORD) -> Account:
        response = self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return self._account(response.get_json()["data"])

    @staticmethod
    def _account(data: dict) -> Account:
        return Account(
            id=data["user"]["id"],
            email=data["user"]["email"],
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
        )


class Tasks:
    """Calls the task routes of one account, as its client would."""

    def __init__(self, client: FlaskClient, account: Account) -> None:
        self.client = client
        self.account = account
        self.base = f"/api/{account.id}/tasks"

    def create(self, **fields) -> dict:
        response = self.client.post(
            self.base, json={"title": "A task", **fields}, headers=self.account.headers
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["data"]

    def request(self, method: str, path: str = "", **kwargs):
        headers = {**self.account.headers, **kwargs.pop("headers", {})}
        return self.client.open(self.base + path, method=method, headers=headers, **kwargs)

    def list(self, query: str = "") -> dict:
        response = self.request("GET", f"?{query}" if query else "")
        assert response.status_code == 200, response.get_json()
        return response.get_json()
