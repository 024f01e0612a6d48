"""Fixtures: one app on a migrated test database, each test in a transaction rolled back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import create_app
from app.core.migrations import bind_migrations
from app.extensions import db, limiter
from tests.support.accounts import Account
from tests.support.clients import Auth, Tasks
from tests.support.database import test_database_url, truncate_all, wipe_schema
from tests.support.pooler import pooled


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test database; with TEST_PGBOUNCER=1, through a PgBouncer in transaction mode."""
    url = test_database_url()
    wipe_schema(url)
    with pooled(url, tmp_path_factory.mktemp("pooler")) as served:
        yield served


@pytest.fixture(scope="session")
def app(database_url: str) -> Flask:
    app = create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": database_url,
            # Cheap Argon2 parameters in tests only; production uses 19 MiB and 2 passes.
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_KIB": 64,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_DEFAULT": "1000 per minute",
            "RATELIMIT_AUTH": "10 per minute",
            "CORS_ORIGINS": ["https://app.example.com"],
        }
    )
    app.config["TESTING"] = True
    bind_migrations(app)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _rolled_back(request: pytest.FixtureRequest, app: Flask, database_url: str) -> Iterator[None]:
    """Bind the app's sessions to one connection whose transaction is rolled back afterwards
    (service commits become savepoints). Tests marked `commits` really commit, and the
    tables are emptied after them instead."""
    limiter.reset()
    if request.node.get_closest_marker("commits"):
        yield
        truncate_all(database_url)
        return
    # The test body gets an app context of its own too, so it can use db.session directly.
    with app.app_context():
        engines = db.engines
        originals = dict(engines)
        connections = {}
        for key, engine in originals.items():
            connection = engine.connect()
            connections[key] = (connection, connection.begin())
            engines[key] = connection  # type: ignore[assignment]
        try:
            yield
        finally:
            db.session.remove()
            for key, (connection, transaction) in connections.items():
                transaction.rollback()
                connection.close()
                engines[key] = originals[key]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def user(auth: Auth) -> Account:
    return auth.register()


@pytest.fixture
def tasks(client: FlaskClient, user: Account) -> Tasks:
    return Tasks(client, user)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """The SQL of every statement run meanwhile, on any engine, but the test harness's own
    savepoints and rollbacks: what the query-cost tests count."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)
