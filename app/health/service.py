"""Whether the database answers and carries the newest migration."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.migrations import migration_heads
from app.extensions import db


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
