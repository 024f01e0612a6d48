"""Argon2id password hashing with the configured cost, and a dummy hash for unknown emails."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app


class Passwords:
    """Hashes and verifies passwords; one instance per app, built from its config."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Made at start-up, not on first use: the first unknown-email login must not take
        # longer than the others (that would tell an attacker something).
        self.dummy_hash = self.hasher.hash("not a real password; equalises login timing")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (None hashes against a dummy)."""
        try:
            matched = self.hasher.verify(password_hash or self.dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def init_passwords(app: Flask) -> None:
    app.extensions["passwords"] = Passwords(
        time_cost=app.config["PASSWORD_HASH_TIME_COST"],
        memory_kib=app.config["PASSWORD_HASH_MEMORY_KIB"],
    )


def passwords() -> Passwords:
    instance: Passwords = current_app.extensions["passwords"]
    return instance
