"""Argon2id password hashing with the configured cost, and a dummy hash for unknown emails."""

from __future__ import annotations

import ctypes

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

# glibc's malloc gives a block above its mmap threshold a mapping of its own, returned at free,
# but raises the threshold to the size of such a block once it is freed: from the second hash
# on, Argon2's 19 MiB of working memory came from the heap and stayed resident in every
# gunicorn worker (+19 MB RSS after the first login; tests/test_passwords_memory.py). Setting
# the threshold fixes it (no more raising). At 1 MiB a request's ordinary allocations stay on
# the heap; only blocks that large (a hash's, a big snapshot's) get a mapping of their own.
M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
OWN_MAPPING_FROM_BYTES = 1024 * 1024


def give_large_blocks_back_at_free() -> None:
    """Have malloc return every block of 1 MiB or more to the system when it is freed."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc and musl; not macOS
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, OWN_MAPPING_FROM_BYTES)


class Passwords:
    """Hashes and verifies passwords; one instance per app, built from its config."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        give_large_blocks_back_at_free()
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
