"""Settings read from the environment once, validated at start-up."""

from __future__ import annotations

import os
from datetime import timedelta

from dotenv import load_dotenv

load_dotenv()


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message is one line for the operator."""


def env_bool(name: str, default: bool) -> bool:
    """A boolean setting: 1, true, yes or on (any case) mean true; unset or empty, the default."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def sqlalchemy_url(url: str) -> str:
    """Point a plain PostgreSQL URL at the psycopg 3 driver (Heroku/Neon style URLs included)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Seconds between a failed delivery and its next attempt, one per retry (the contract's 5 s,
# 5 min, 30 min, 2 h, 8 h, 24 h); tests use seconds.
DEFAULT_RETRY_SCHEDULE = "5,300,1800,7200,28800,86400"
# Development and tests only, like the JWT key below: a fixed Fernet key (url-safe base64 of
# 32 bytes) so that sealed secrets survive a restart; production must set its own.
DEV_WEBHOOK_SECRET_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtd2ViaG9vay1rZXktMDE="


def retry_schedule(value: str) -> list[float]:
    """WEBHOOK_RETRY_SCHEDULE: seconds, comma-separated, each >= 0; empty means no retries."""
    try:
        schedule = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            "WEBHOOK_RETRY_SCHEDULE must be seconds separated by commas, e.g. 5,300,1800"
        ) from None
    if any(step < 0 for step in schedule):
        raise ConfigError("WEBHOOK_RETRY_SCHEDULE's delays must not be negative")
    return schedule


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment, then apply explicit overrides."""
    env = os.environ.get("APP_ENV", "development")
    database_url = os.environ.get("DATABASE_URL") or None
    access_minutes = _int("JWT_ACCESS_TOKEN_MINUTES", 15)
    refresh_days = _int("JWT_REFRESH_TOKEN_DAYS", 14)
    config: dict = {
        "APP_ENV": env,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url) if database_url else None,
        "DB_POOL_SIZE": _int("DB_POOL_SIZE", 5),
        "DB_MAX_OVERFLOW": _int("DB_MAX_OVERFLOW", 5),
        "DB_CONNECT_TIMEOUT": _int("DB_CONNECT_TIMEOUT", 3),
        "DB_STATEMENT_TIMEOUT_MS": _int("DB_STATEMENT_TIMEOUT_MS", 5000),
        "DB_TRANSACTION_POOLER": env_bool("DB_TRANSACTION_POOLER", False),
        "JWT_SECRET_KEY": os.environ.get("JWT_SECRET_KEY", ""),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=access_minutes),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=refresh_days),
        "PASSWORD_HASH_TIME_COST": _int("PASSWORD_HASH_TIME_COST", 2),
        "PASSWORD_HASH_MEMORY_KIB": _int("PASSWORD_HASH_MEMORY_KIB", 19456),
        "CORS_ORIGINS": [
            origin.strip()
            for origin in os.environ.get("CORS_ORIGINS", "").split(",")
            if origin.strip()
        ],
        "RATELIMIT_ENABLED": env_bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_DEFAULT": os.environ.get("RATELIMIT_DEFAULT", "300 per minute"),
        "RATELIMIT_AUTH": os.environ.get("RATELIMIT_AUTH", "10 per minute"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "taskapi"),
        "TRUSTED_PROXY_COUNT": _int("TRUSTED_PROXY_COUNT", 0),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # /metrics: 404 unless enabled; with a token, it also wants `Authorization: Bearer ...`.
        "METRICS_ENABLED": env_bool("METRICS_ENABLED", False),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # How long the first answer to a request with an Idempotency-Key answers its retries.
        "IDEMPOTENCY_TTL_HOURS": _int("IDEMPOTENCY_TTL_HOURS", 24),
        # How long deletions stay in the change feed; a sync token older than this is a 410.
        "SYNC_RETENTION_DAYS": _int("SYNC_RETENTION_DAYS", 30),
        # Webhooks: the keys that seal their secrets at rest (newest first), the hosts exempt
        # from the address rules (http:// allowed too), and the retry delays.
        "WEBHOOK_SECRET_KEY": os.environ.get("WEBHOOK_SECRET_KEY", ""),
        "WEBHOOK_ALLOWED_HOSTS": [
            host.strip()
            for host in os.environ.get("WEBHOOK_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        ],
        # The job-queue worker: its database when the web's goes through a transaction pooler
        # (a worker LISTENs: it needs a direct connection), its jobs at once, and the port of
        # its own /metrics (0: none).
        "WORKER_DATABASE_URL": sqlalchemy_url(os.environ.get("WORKER_DATABASE_URL", "")) or None,
        "WORKER_CONCURRENCY": _int("WORKER_CONCURRENCY", 4),
        "WORKER_METRICS_PORT": _int("WORKER_METRICS_PORT", 0),
        "WEBHOOK_RETRY_SCHEDULE": retry_schedule(
            os.environ.get("WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)
        ),
    }
    if overrides:
        config.update(overrides)
    check_config(config)
    return config


def check_config(config: dict) -> None:
    """Refuse to run production with a missing or weak secret, or without a database; refuse a
    change history shorter than a day anywhere."""
    if config["SYNC_RETENTION_DAYS"] < 1:
        raise ConfigError("SYNC_RETENTION_DAYS must be at least 1")
    if config["APP_ENV"] != "production":
        if not config["JWT_SECRET_KEY"]:
            # Development and tests get a fixed, obviously unsafe key so that tokens
            # survive a restart of `make run`; production can never take this path.
            config["JWT_SECRET_KEY"] = "dev-only-insecure-key-change-me-0123456789"
        if not config["WEBHOOK_SECRET_KEY"]:
            config["WEBHOOK_SECRET_KEY"] = DEV_WEBHOOK_SECRET_KEY
        return
    if len(config["JWT_SECRET_KEY"].encode()) < 32:
        raise ConfigError("JWT_SECRET_KEY must be set to at least 32 bytes when APP_ENV=production")
    if not config["SQLALCHEMY_DATABASE_URI"]:
        raise ConfigError("DATABASE_URL must be set when APP_ENV=production")
    if not config["WEBHOOK_SECRET_KEY"]:
        raise ConfigError(
            "WEBHOOK_SECRET_KEY must be set when APP_ENV=production (make one: flask webhook-key)"
        )
