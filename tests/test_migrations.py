"""The newest migration, run from the previous head on a database that holds data, and back."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fractional_indexing import generate_n_keys_between

from tests.support.database import PROJECT_ROOT, libpq_url
from tests.support.live import migrate

# Migrations run on a direct connection (make migrate, the image's release step), never
# through the pooler; the scratch databases are made through the server's own `postgres`.
pytestmark = [pytest.mark.slow, pytest.mark.direct]

BEFORE_LISTS = "6717da168d56"
LISTS = (
    PROJECT_ROOT / "migrations/versions/20261202_3f1b7c2d9e10_lists_subtasks_order_recurrence.py"
)


@pytest.fixture
def scratch_url(database_url: str) -> Iterator[str]:
    """A database of the test's own on the tests' server, dropped afterwards."""
    url = urlsplit(libpq_url(database_url))
    name = f"taskapi_migration_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(url._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _user(conn: psycopg.Connection, tasks: int, tags: int) -> uuid.UUID:
    """A user with `tasks` tasks created in shuffled time order and `tags` tags on the first."""
    user_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
        (user_id, f"{user_id}@example.com"),
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(tasks):
        # Inserted in another order than created_at's: the migration must follow created_at.
        minute = (n * 37) % tasks
        conn.execute(
            "INSERT INTO tasks (id, user_id, title, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (uuid.uuid4(), user_id, f"m{minute:03d}", start + timedelta(minutes=minute), start),
        )
    for n in range(tags):
        conn.execute(
            "INSERT INTO tags (id, user_id, name) VALUES (%s, %s, %s)",
            (uuid.uuid4(), user_id, f"tag{n}"),
        )
    return user_id


def test_existing_tasks_stay_in_no_list_at_the_top_in_creation_order(scratch_url):
    migrate(scratch_url, "upgrade", BEFORE_LISTS)
    with psycopg.connect(scratch_url) as conn:
        small = _user(conn, tasks=3, tags=1)
        large = _user(conn, tasks=70, tags=2)  # past the 62 keys of one character
        _user(conn, tasks=0, tags=0)
    migrate(scratch_url)
    with psycopg.connect(scratch_url) as conn:
        for user_id, count in ((small, 3), (large, 70)):
            rows = conn.execute(
                "SELECT title, position, list_id, parent_id, time_zone, recurrence"
                " FROM tasks WHERE user_id = %s ORDER BY created_at",
                (user_id,),
            ).fetchall()
            assert [row[0] for row in rows] == [f"m{n:03d}" for n in range(count)]
            assert [row[1] for row in rows] == generate_n_keys_between(None, None, count)
            assert {row[2:] for row in rows} == {(None, None, "UTC", None)}
        counted = conn.execute(
            "SELECT user_id, tasks, lists, tags FROM user_counters ORDER BY tasks"
        ).fetchall()
        assert [row[1:] for row in counted] == [(0, 0, 0), (3, 0, 1), (70, 0, 2)]
        # The triggers count from now on.
        conn.execute(
            "INSERT INTO tasks (id, user_id, title, position) VALUES (%s, %s, 'new', 'b1A')",
            (uuid.uuid4(), small),
        )
        assert conn.execute(
            "SELECT tasks FROM user_counters WHERE user_id = %s", (small,)
        ).fetchone() == (4,)


def test_downgrade_keeps_every_task(scratch_url):
    migrate(scratch_url, "upgrade", BEFORE_LISTS)
    with psycopg.connect(scratch_url) as conn:
        user_id = _user(conn, tasks=5, tags=1)
    migrate(scratch_url)
    with psycopg.connect(scratch_url) as conn:
        list_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO lists (id, user_id, name) VALUES (%s, %s, 'L')", (list_id, user_id)
        )
        conn.execute("UPDATE tasks SET list_id = %s WHERE user_id = %s", (list_id, user_id))
    migrate(scratch_url, "downgrade", BEFORE_LISTS)
    with psycopg.connect(scratch_url) as conn:
        assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (5,)
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
        assert {"lists", "user_counters"}.isdisjoint(tables)
    migrate(scratch_url)  # and up again


def test_the_sql_key_function_is_the_librarys_sequence(database_url):
    spec = importlib.util.spec_from_file_location("lists_migration", LISTS)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    checked = [*range(0, 4000), 62 * 62 + 61, 62 + 62 * 62, 100_000, 238_327 + 3906]
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(migration.POSITION_KEY_FUNCTION)
        keys = conn.execute(
            "SELECT pg_temp.position_key(k) FROM unnest(%s::bigint[]) k", (checked,)
        ).fetchall()
    expected = generate_n_keys_between(None, None, max(checked) + 1)
    assert [key for (key,) in keys] == [expected[k] for k in checked]


BEFORE_CHANGES = "9c4d2e7a1b35"


def _owner(conn: psycopg.Connection, tasks: int, tags: int) -> uuid.UUID:
    """A user with tasks and tags, written in the schema just before the change feed."""
    user_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x')",
        (user_id, f"{user_id}@example.com"),
    )
    for n in range(tasks):
        conn.execute(
            "INSERT INTO tasks (id, user_id, title, position) VALUES (%s, %s, %s, %s)",
            (uuid.uuid4(), user_id, f"t{n}", f"a{n}"),
        )
    for n in range(tags):
        conn.execute(
            "INSERT INTO tags (id, user_id, name) VALUES (%s, %s, %s)",
            (uuid.uuid4(), user_id, f"tag{n}"),
        )
    return user_id


def test_existing_objects_get_their_change_and_the_feed_numbers_from_there(scratch_url):
    migrate(scratch_url, "upgrade", BEFORE_CHANGES)
    with psycopg.connect(scratch_url) as conn:
        user_id = _owner(conn, tasks=3, tags=2)
        idle = _owner(conn, tasks=0, tags=0)
        list_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO lists (id, user_id, name) VALUES (%s, %s, 'L')", (list_id, user_id)
        )
    migrate(scratch_url)
    with psycopg.connect(scratch_url) as conn:
        rows = conn.execute(
            "SELECT kind, count(*), min(seq), max(seq), bool_or(deleted) FROM changes"
            " WHERE user_id = %s GROUP BY kind ORDER BY kind",
            (user_id,),
        ).fetchall()
        assert rows == [("list", 1, 0, 0, False), ("tag", 2, 0, 0, False), ("task", 3, 0, 0, False)]
        counters = conn.execute(
            "SELECT user_id, change_seq FROM user_counters WHERE user_id IN (%s, %s)",
            (user_id, idle),
        ).fetchall()
        assert sorted(seq for _, seq in counters) == [0, 0]
        # From now on the triggers record, numbered from the user's counter.
        conn.execute("DELETE FROM lists WHERE id = %s", (list_id,))
        assert conn.execute(
            "SELECT seq, deleted FROM changes WHERE object_id = %s", (list_id,)
        ).fetchone() == (1, True)


def test_the_change_feed_migration_goes_down_and_up_again(scratch_url):
    migrate(scratch_url, "upgrade", BEFORE_CHANGES)
    with psycopg.connect(scratch_url) as conn:
        _owner(conn, tasks=2, tags=1)
    migrate(scratch_url)
    migrate(scratch_url, "downgrade", BEFORE_CHANGES)
    with psycopg.connect(scratch_url) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
        assert "changes" not in tables
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'user_counters' AND column_name = 'change_seq'"
        ).fetchall()
        assert columns == []
        functions = conn.execute(
            "SELECT proname FROM pg_proc WHERE proname IN ('change_seq_of', 'record_changes')"
        ).fetchall()
        assert functions == []
        # Writes work without the feed.
        conn.execute("DELETE FROM tasks")
    migrate(scratch_url)
    with psycopg.connect(scratch_url) as conn:
        assert conn.execute("SELECT count(*) FROM changes WHERE kind = 'tag'").fetchone() == (1,)
