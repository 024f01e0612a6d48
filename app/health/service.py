"""Whether the database answers and carries the newest migration."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@cache
def migration_heads() -> frozenset[str]:
    """The newest revisions in migrations/, read once per process."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def database_state() -> tuple[bool, str]:
    """(ready, reason): ready when the database answers and is at the newest migration."""
    try:
        applied = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        db.session.rollback()
        return False, "database unreachable or not migrated"
    if applied != migration_heads():
        return False, "database schema is not at the newest migration"
    return True, "ok"
