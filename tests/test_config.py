"""Production refuses to start on an unsafe configuration, with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.webhooks.secrets import generate_key
from config import ConfigError, load_config, sqlalchemy_url
from tests.support.servers import PROJECT_ROOT

STRONG_SECRET = "s" * 32


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "postgresql://db/x"}, "JWT_SECRET_KEY"),
        ({"DATABASE_URL": "postgresql://db/x", "JWT_SECRET_KEY": "short"}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": STRONG_SECRET}, "DATABASE_URL"),
    ],
)
def test_production_refuses_unsafe_settings(monkeypatch, env, message):
    monkeypatch.setenv("APP_ENV", "production")
    for name in ("DATABASE_URL", "JWT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_production_accepts_a_complete_configuration(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example.com/app?sslmode=require")
    monkeypatch.setenv("WEBHOOK_SECRET_KEY", generate_key())
    config = load_config()
    assert config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://u:p@db.example.com/app?sslmode=require"
    )


@pytest.mark.parametrize("days", ["0", "-3"])
def test_a_change_history_shorter_than_a_day_is_refused(monkeypatch, days):
    monkeypatch.setenv("SYNC_RETENTION_DAYS", days)
    with pytest.raises(ConfigError, match="SYNC_RETENTION_DAYS must be at least 1"):
        load_config()


def test_the_change_history_is_kept_30_days_by_default(monkeypatch):
    monkeypatch.delenv("SYNC_RETENTION_DAYS", raising=False)
    assert load_config()["SYNC_RETENTION_DAYS"] == 30


def test_the_process_exits_with_one_line(monkeypatch):
    env = {"APP_ENV": "production", "PATH": "/usr/bin:/bin", "JWT_SECRET_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: JWT_SECRET_KEY must be set to at least 32 bytes "
        "when APP_ENV=production"
    ]


def test_the_web_process_loads_none_of_the_workers_nor_the_migrations_libraries():
    # Each would be in every gunicorn worker's RSS (procrastinate, the HTTP client and the
    # signing library: ~5 MB at import); the web defers jobs in SQL (app/webhooks/outbox.py).
    # Alembic and Flask-Migrate are loaded by `flask db` alone (app/core/migrations.py).
    not_for_the_web = ["procrastinate", "httpcore", "httpx", "standardwebhooks", "app.jobs"]
    not_for_the_web += ["alembic", "flask_migrate"]
    env = {
        "APP_ENV": "production",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql://db.invalid/x",  # never connected to: nothing is served
        "JWT_SECRET_KEY": STRONG_SECRET,
        "WEBHOOK_SECRET_KEY": generate_key(),
    }
    script = f"import sys, wsgi; print([m for m in {not_for_the_web!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_urls_are_pointed_at_psycopg3():
    assert sqlalchemy_url("postgresql://h/d") == "postgresql+psycopg://h/d"
    assert sqlalchemy_url("postgresql+psycopg://h/d") == "postgresql+psycopg://h/d"


def test_a_transaction_pooler_gets_no_prepared_statements_nor_startup_options():
    from app import _engine_options

    class FakeApp:
        config = {
            "DB_CONNECT_TIMEOUT": 3,
            "DB_STATEMENT_TIMEOUT_MS": 5000,
            "DB_POOL_SIZE": 2,
            "DB_MAX_OVERFLOW": 0,
            "DB_TRANSACTION_POOLER": True,
        }

    pooled = _engine_options(FakeApp())["connect_args"]  # type: ignore[arg-type]
    assert pooled["prepare_threshold"] is None
    assert "options" not in pooled
    FakeApp.config["DB_TRANSACTION_POOLER"] = False
    direct = _engine_options(FakeApp())["connect_args"]  # type: ignore[arg-type]
    assert direct["options"] == "-c statement_timeout=5000 -c plan_cache_mode=force_generic_plan"
    assert "prepare_threshold" not in direct
