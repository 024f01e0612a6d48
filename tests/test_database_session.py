"""Views marked @read_only read in autocommit; every other request keeps its transaction.

These tests commit for real: the rolled-back transaction of the other tests binds the session
to one connection, which (by design) keeps its transaction whatever the method.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from app.extensions import db

pytestmark = pytest.mark.commits


@pytest.fixture
def autocommit_by_statement(app) -> Iterator[list[tuple[str, bool]]]:
    """(statement, whether its connection was in autocommit) for every statement run."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split()[0].upper(), conn.connection.dbapi_connection.autocommit))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_reads_run_in_autocommit_and_writes_in_a_transaction(client, auth, autocommit_by_statement):
    user = auth.register()
    base = f"/api/{user.id}/tasks"
    autocommit_by_statement.clear()
    created = client.post(base, json={"title": "t"}, headers=user.headers)
    assert created.status_code == 201
    writes = list(autocommit_by_statement)
    autocommit_by_statement.clear()
    task_id = created.get_json()["data"]["id"]
    assert client.get(f"{base}/{task_id}", headers=user.headers).status_code == 200
    assert client.get(base, headers=user.headers).status_code == 200
    assert client.get("/api/auth/me", headers=user.headers).status_code == 200
    assert client.get("/health/ready").status_code == 200
    reads = list(autocommit_by_statement)

    assert writes and not any(autocommit for _, autocommit in writes), writes
    # The token's session check, then the read itself; /auth/me is the check alone.
    assert len(reads) == 6 and all(autocommit for _, autocommit in reads), reads


def test_a_write_after_reads_still_commits_atomically(client, auth, autocommit_by_statement):
    """A connection handed back by a read is not left in autocommit for the next write."""
    user = auth.register()
    base = f"/api/{user.id}/tasks"
    for _ in range(3):
        client.get(base, headers=user.headers)
    autocommit_by_statement.clear()
    response = client.post(base, json={"title": "t", "tags": ["a", "b"]}, headers=user.headers)
    assert response.status_code == 201
    assert not any(autocommit for _, autocommit in autocommit_by_statement)


@pytest.mark.direct
def test_reads_keep_their_prepared_statements_between_requests(client, auth, app):
    """psycopg deallocates every prepared statement on ROLLBACK; reads no longer end in one,
    so a connection prepares the session check and the task read once (after 5 runs each) and
    reuses them: PostgreSQL stops planning them anew."""
    user = auth.register()
    base = f"/api/{user.id}/tasks"
    task_id = client.post(base, json={"title": "t"}, headers=user.headers).get_json()["data"]["id"]
    runs: Counter[Any] = Counter()

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM tasks" in statement:
            runs[conn.connection.dbapi_connection] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        # The pool hands its idle connections out in turn (up to 10 of them after other
        # tests): enough reads for each to pass psycopg's threshold of 5 runs.
        for _ in range(120):
            assert client.get(f"{base}/{task_id}", headers=user.headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    connection, count = runs.most_common(1)[0]
    assert count > 5
    prepared = connection.execute("SELECT statement FROM pg_prepared_statements").fetchall()
    connection.rollback()
    assert any("FROM tasks" in text for (text,) in prepared), prepared
    assert any("login_sessions" in text for (text,) in prepared), prepared


@pytest.mark.parametrize(
    ("method", "path", "reads_only"),
    [
        ("GET", "/api/{user}/tasks", True),
        ("HEAD", "/api/{user}/tasks", True),
        ("GET", "/api/{user}/tasks/{task}", True),
        ("POST", "/api/{user}/tasks", False),
        ("PATCH", "/api/{user}/tasks/{task}", False),
        ("GET", "/api/auth/me", True),
        ("POST", "/api/auth/refresh", False),
        ("GET", "/health/ready", True),
        # A GET whose view is not marked keeps a transaction: the method alone decides nothing.
        ("GET", "/metrics", False),
        ("GET", "/no/such/route", False),
    ],
)
def test_autocommit_is_what_the_view_declares(app, method, path, reads_only):
    from app.core.database import request_reads_only

    url = path.format(user=uuid.uuid4(), task=uuid.uuid4())
    with app.test_request_context(url, method=method):
        assert request_reads_only() is reads_only


@pytest.fixture
def statements(app) -> Iterator[list[str]]:
    """The text of every statement run."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_behind_a_pooler_a_write_transaction_sets_its_own_statement_timeout(
    app, client, auth, statements, monkeypatch
):
    """No startup option reaches PostgreSQL through PgBouncer; SET LOCAL ends with the
    transaction, so it leaves nothing behind on a server connection that others share."""
    user = auth.register()
    monkeypatch.setitem(app.config, "DB_TRANSACTION_POOLER", True)
    monkeypatch.setitem(app.config, "DB_STATEMENT_TIMEOUT_MS", 1234)
    statements.clear()
    response = client.post(f"/api/{user.id}/tasks", json={"title": "t"}, headers=user.headers)
    assert response.status_code == 201
    assert statements[0] == "SET LOCAL statement_timeout = 1234"
    assert statements.count("SET LOCAL statement_timeout = 1234") == 1


def test_behind_a_pooler_a_read_in_autocommit_sets_nothing(
    app, client, auth, statements, monkeypatch
):
    user = auth.register()
    monkeypatch.setitem(app.config, "DB_TRANSACTION_POOLER", True)
    statements.clear()
    assert client.get(f"/api/{user.id}/tasks", headers=user.headers).status_code == 200
    assert statements and not any(s.startswith("SET") for s in statements), statements


def test_without_a_pooler_a_write_sets_no_statement_timeout(
    app, client, auth, statements, monkeypatch
):
    """The connection's startup options carry it already."""
    user = auth.register()
    monkeypatch.setitem(app.config, "DB_TRANSACTION_POOLER", False)
    statements.clear()
    response = client.post(f"/api/{user.id}/tasks", json={"title": "t"}, headers=user.headers)
    assert response.status_code == 201
    assert not any(s.startswith("SET") for s in statements), statements
