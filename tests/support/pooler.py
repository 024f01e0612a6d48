"""TEST_PGBOUNCER=1: the suite's databases are reached through a PgBouncer of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from config import env_bool, sqlalchemy_url
from tests.support.own_pgbouncer import own_pgbouncer


def through_pgbouncer_requested() -> bool:
    """Whether this run goes through PgBouncer (`make test-pgbouncer` sets TEST_PGBOUNCER=1).

    It needs DB_TRANSACTION_POOLER=true too, which every app the tests build (in this process
    and in the gunicorn processes they start) reads from the environment."""
    if not env_bool("TEST_PGBOUNCER", False):
        return False
    if not env_bool("DB_TRANSACTION_POOLER", False):
        raise RuntimeError("TEST_PGBOUNCER=1 needs DB_TRANSACTION_POOLER=true as well")
    return True


@contextmanager
def pooled(url: str, parent: Path) -> Iterator[str]:
    """`url` itself, or with TEST_PGBOUNCER=1 the URL of a PgBouncer in transaction mode in
    front of it (started under `parent`, stopped afterwards); SQLAlchemy form either way."""
    if not through_pgbouncer_requested():
        yield sqlalchemy_url(url)
        return
    os.makedirs(parent, exist_ok=True)
    with own_pgbouncer(parent, url) as bouncer:
        yield sqlalchemy_url(bouncer.url)
