"""A test account: a registered user and the tokens of their first session."""

from __future__ import annotations

from dataclasses import dataclass

PASSWORD = "correct horse battery"


@dataclass
class Account:
    """A registered user and the tokens of their first session."""

    id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}
