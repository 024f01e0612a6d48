"""The test database: TEST_DATABASE_URL, else the embedded server; rebuilt by the migrations."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from app.core.devdb import embedded_database_url
from config import sqlalchemy_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """A SQLAlchemy URL for the database the tests may wipe."""
    url = os.environ.get("TEST_DATABASE_URL") or embedded_database_url(
        str(PROJECT_ROOT / "instance"), "taskapi_test"
    )
    return sqlalchemy_url(url)


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def wipe_schema(url: str) -> None:
    """Start every run from an empty schema, so the migrations alone build it."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def truncate_all(url: str) -> None:
    """Remove what a test that really commits left behind (users cascade to the rest; the job
    queue's jobs and the outbox's staging rows are no user's)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE users, procrastinate_jobs, procrastinate_periodic_defers, event_staging"
            " CASCADE"
        )
