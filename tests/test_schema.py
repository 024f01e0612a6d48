"""The database is built by the migrations alone, and they agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.core.migrations import migration_heads
from app.extensions import db
from app.models.base import is_mapped_name


def test_models_and_migrations_agree():
    context = MigrationContext.configure(
        db.session.connection(), opts={"compare_type": True, "include_name": is_mapped_name}
    )
    assert compare_metadata(context, db.metadata) == []


def test_database_is_at_the_newest_migration():
    applied = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    assert applied == set(migration_heads())


def test_email_is_unique_case_insensitively_in_the_database_too():
    row = db.session.execute(
        text(
            "SELECT count(*) FROM pg_constraint WHERE conname IN "
            "('uq_users_email', 'ck_users_email_lowercase')"
        )
    ).scalar()
    assert row == 2


def test_times_are_timestamptz():
    kinds = set(
        db.session.scalars(
            text(
                "SELECT DISTINCT data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name LIKE '%\\_at'"
            )
        )
    )
    assert kinds == {"timestamp with time zone"}


def test_the_search_index_takes_each_insert_at_once():
    # A GIN pending list is read whole by every search of every user (migration 759673c703da).
    options = db.session.scalar(
        text("SELECT reloptions FROM pg_class WHERE relname = 'ix_tasks_user_id_search'")
    )
    assert options == ["fastupdate=off"]
