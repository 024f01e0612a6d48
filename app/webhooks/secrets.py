"""Webhook signing secrets, made here and sealed at rest: encrypted with keys from
WEBHOOK_SECRET_KEY (cryptography's MultiFernet), opened only to sign, so a database dump alone
cannot forge.

What it protects: a copy of the database (a dump, a backup, a replica, a read-only SQL
injection) yields no secret. What it does not: anyone who also has the key (the web and worker
processes' environment), a secret while it is in memory, and the receiver's own copy.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from secrets import token_bytes

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A webhook signing secret: "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(32)).decode("ascii")


class SecretKeyError(ValueError):
    """WEBHOOK_SECRET_KEY is missing or malformed, or no key opens a sealed secret."""


class SecretBox:
    """Seals with the first key; opens with any of them, so keys can be rotated."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyError("WEBHOOK_SECRET_KEY must name at least one key")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError):
            raise SecretKeyError(
                "WEBHOOK_SECRET_KEY must be Fernet keys (url-safe base64 of 32 bytes), "
                "comma-separated, newest first"
            ) from None

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """From WEBHOOK_SECRET_KEY: keys separated by commas, the newest (sealing) first."""
        return cls([key.strip() for key in value.split(",") if key.strip()])

    def seal(self, secret: str) -> str:
        """The secret encrypted and authenticated with the newest key, as text to store."""
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The secret back, to sign with; SecretKeyError when no key opens it (a key was
        dropped before every secret was rotated, or the stored value was altered)."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError("no WEBHOOK_SECRET_KEY key opens this secret") from None

    def rotate(self, sealed: str) -> str:
        """The same secret sealed again with the newest key (run over every row after
        putting a new key first; then the old key can be removed)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError("no WEBHOOK_SECRET_KEY key opens this secret") from None


def generate_key() -> str:
    """A new key for WEBHOOK_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")
