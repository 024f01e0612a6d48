"""Talking to live servers over HTTP: registration, migrations, answers in the test-client shape."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.support.accounts import PASSWORD, Account
from tests.support.servers import PROJECT_ROOT

FLASK = Path(sys.executable).parent / "flask"


class Answer:
    """An httpx response seen through the Flask test-response API that assert_problem reads."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()
        self._response = response

    def get_json(self) -> dict:
        """The body, parsed."""
        return self._response.json()

    def get_data(self, as_text: bool = False) -> str | bytes:
        """The body, as text or bytes."""
        return self._response.text if as_text else self._response.content


def register(base_url: str) -> Account:
    """Register a fresh user through a live server."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    response = httpx.post(
        f"{base_url}/api/auth/register", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Account(data["user"]["id"], email, data["access_token"], data["refresh_token"])


def migrate(database_url: str, *command: str) -> None:
    """Run the release step (`flask db upgrade`) against a database, or another `flask db`
    command (`migrate(url, "downgrade", "7c2e5d1a9b40")`)."""
    subprocess.run(
        [str(FLASK), "--app", "wsgi", "db", *(command or ("upgrade",))],
        cwd=PROJECT_ROOT,
        env={**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        timeout=60,
    )
