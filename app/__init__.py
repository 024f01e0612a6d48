"""The application factory: config, checks, extensions, blueprints, error handlers, in order."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.auth.passwords import init_passwords
from app.auth.ratelimit import request_cost
from app.auth.routes import blp as auth_blp
from app.auth.tokens import init_jwt_hooks
from app.changes.routes import blp as changes_blp
from app.cli import register_commands
from app.core.devdb import embedded_database_url
from app.core.docs import bp as docs_bp
from app.core.json_provider import OrjsonProvider
from app.core.metrics import init_metrics
from app.core.migrations import migration_heads
from app.core.observability import configure_logging, init_request_tracking
from app.core.openapi import register_security_scheme
from app.core.request_body import init_request_body_checks
from app.core.security import init_security_headers
from app.core.transactions import init_transactions
from app.errors import register_error_handlers, settle_retry_after
from app.extensions import api, cors, db, jwt, limiter
from app.health.routes import blp as health_blp
from app.lists.routes import blp as lists_blp
from app.tags.routes import blp as tags_blp
from app.tasks.routes import blp as tasks_blp
from app.webhooks import outbox
from app.webhooks.routes import blp as webhooks_blp
from config import ConfigError, load_config, sqlalchemy_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 1024 * 1024


def create_app(config: dict | None = None) -> Flask:
    """Build the app; `config` overrides what the environment says (tests use it)."""
    app = Flask(__name__, instance_path=str(PROJECT_ROOT / "instance"))
    try:
        app.config.update(load_config(config))
    except ConfigError as error:
        # One clear line for the operator instead of a traceback.
        raise SystemExit(f"configuration error: {error}") from None
    app.config.update(_fixed_settings(app))

    configure_logging(app)
    _choose_database(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(app)

    app.json = OrjsonProvider(app)
    if app.config["TRUSTED_PROXY_COUNT"]:
        count = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    init_request_tracking(app)
    _init_extensions(app)
    _register_blueprints(app)

    init_metrics(app)
    register_commands(app)

    register_error_handlers(app)
    init_transactions(app, before_commit=[outbox.publish])
    return app


def _fixed_settings(app: Flask) -> dict:
    """Settings that are part of the contract rather than of the deployment."""
    storage = app.config["RATELIMIT_STORAGE_URI"]
    return {
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "JWT_IDENTITY_CLAIM": "sub",
        "JWT_CSRF_PROTECT": False,  # bearer headers only: no cookies, so no CSRF claim
        # Limits fail open: a broken Redis must not take the API down (the error is logged).
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # A view may count for more than one request (a batch: one per operation).
        "RATELIMIT_DEFAULTS_COST": request_cost,
        "RATELIMIT_STORAGE_OPTIONS": (
            {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
            if storage.startswith(("redis", "rediss"))
            else {}
        ),
        "API_TITLE": "Task API",
        "API_VERSION": "1.0.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"persistAuthorization": False, "tryItOutEnabled": False},
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "A multi-user task API: bearer tokens, per-user to-do lists.",
                "contact": {"name": "Task API maintainers"},
            },
            # Relative: the API is served where the document is, whatever the host.
            "servers": [{"url": "/", "description": "This service"}],
        },
    }


def _choose_database(app: Flask) -> None:
    """DATABASE_URL when given; otherwise, outside production, the embedded dev server."""
    if app.config["SQLALCHEMY_DATABASE_URI"]:
        return

    database = "taskapi_test" if app.config["APP_ENV"] == "testing" else "taskapi"
    url = embedded_database_url(app.instance_path, database)
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(url)


def _engine_options(app: Flask) -> dict:
    """Pool sized per worker, pre-ping so dropped connections (Neon, restarts) heal by themselves,
    and a statement timeout so no query can hold a worker forever."""
    connect_args: dict = {
        "connect_timeout": app.config["DB_CONNECT_TIMEOUT"],
        "application_name": "taskapi",
    }
    if app.config["DB_TRANSACTION_POOLER"]:
        # PgBouncer or Neon's pooled endpoint in transaction mode: a server connection serves
        # other clients between transactions, so no server-side prepared statements, and no
        # startup `options` (poolers refuse them): set statement_timeout on the role instead.
        connect_args["prepare_threshold"] = None
    else:
        # Generic plans: psycopg prepares a statement after its fifth run on a connection, and
        # PostgreSQL would still plan every run anew (custom plans) for ~0.2 ms of a list
        # page; every statement is built for index lookups that a generic plan serves as well
        # (`make explain` checks each list shape's generic plan on 1M tasks).
        connect_args["options"] = (
            f"-c statement_timeout={app.config['DB_STATEMENT_TIMEOUT_MS']}"
            " -c plan_cache_mode=force_generic_plan"
        )
    return {
        "pool_pre_ping": True,
        "pool_size": app.config["DB_POOL_SIZE"],
        "max_overflow": app.config["DB_MAX_OVERFLOW"],
        "pool_timeout": 5,
        "pool_recycle": 300,
        "connect_args": connect_args,
    }


def _init_extensions(app: Flask) -> None:

    db.init_app(app)
    jwt.init_app(app)
    init_jwt_hooks(app)
    init_passwords(app)
    # Registered before the limiter so that it runs after the limiter's header hook.
    app.after_request(settle_retry_after)
    limiter.init_app(app)
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
            "X-Request-ID",
        ],
        expose_headers=[
            "ETag",
            "Idempotent-Replayed",
            "Link",
            "Location",
            "Retry-After",
            "X-Request-ID",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
        max_age=600,
    )
    api.init_app(app)
    register_security_scheme(api)
    init_request_body_checks(app)
    init_security_headers(app)


def _register_blueprints(app: Flask) -> None:

    api.register_blueprint(health_blp)
    api.register_blueprint(auth_blp)
    api.register_blueprint(tasks_blp)
    api.register_blueprint(tags_blp)
    api.register_blueprint(lists_blp)
    api.register_blueprint(changes_blp)
    api.register_blueprint(webhooks_blp)
    app.register_blueprint(docs_bp)
    limiter.exempt(docs_bp)
    # Read migrations/ now, in gunicorn's master, rather than in every worker on its first
    # readiness probe: the parsed scripts are then shared, not copied.
    migration_heads()
