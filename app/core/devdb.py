"""The embedded PostgreSQL (pgserver) used in development and tests when no URL is given."""

from __future__ import annotations

import logging
import os
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


def stop_embedded_server(instance_path: str) -> str:
    """Stop the server under instance/pgdata if it runs (`make stop`); says what it did.

    The server is started with cleanup_mode=None so that it outlives make run and make test;
    this is its one way down. pg_ctl's fast mode disconnects whoever is still connected.
    """
    import psutil

    pgdata = (Path(instance_path) / "pgdata").resolve()
    pid_file = pgdata / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0]) if pid_file.is_file() else None
    if pid is None or not psutil.pid_exists(pid):
        return f"no embedded PostgreSQL is running under {pgdata}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    # As root, pgserver runs the server as its own user "pgserver", and pg_ctl refuses root.
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl = pgserver.pg_ctl  # type: ignore[attr-defined]  # made by pgserver at import
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    return f"stopped the embedded PostgreSQL under {pgdata} (pid {pid})"
