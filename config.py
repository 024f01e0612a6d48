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
        return
    if len(config["JWT_SECRET_KEY"].encode()) < 32:
        raise ConfigError("JWT_SECRET_KEY must be set to at least 32 bytes when APP_ENV=production")
    if not config["SQLALCHEMY_DATABASE_URI"]:
        raise ConfigError("DATABASE_URL must be set when APP_ENV=production")
