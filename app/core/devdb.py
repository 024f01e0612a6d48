"""The embedded PostgreSQL (pgserver) used in development and tests when no URL is given."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)
# pgserver narrates every handle it opens and closes; only its problems are worth a line.
logging.getLogger("pgserver").setLevel(logging.WARNING)


def embedded_database_url(instance_path: str, database: str) -> str:
    """Start (or reuse) the server under instance/pgdata and make sure `database` exists.

    Development only: pgserver bundles the server binaries in a wheel; production always
    names its database with DATABASE_URL.
    """
    import psycopg

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as in CI); pgserver does not use it.
        warnings.simplefilter("ignore")
        import pgserver  # a dev dependency, imported only when it is needed

    pgdata = Path(instance_path) / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None keeps the server running after this process exits, so every
    # gunicorn worker, `flask db upgrade` and the tests share one.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    url = server.get_uri(database)
    log.info("using embedded PostgreSQL", extra={"database": database, "pgdata": str(pgdata)})
    return url
