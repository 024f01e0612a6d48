"""A PostgreSQL of a test's own (pgserver), which the test may stop and restart at will."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil


def _process_gone(pid: int) -> bool:
    """True once the process has exited (a zombie nobody has reaped yet counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class OwnPostgres:
    """A running pgserver instance: its URL, and stop/start for outage tests."""

    def __init__(self, server: Any) -> None:
        self._server = server

    @property
    def url(self) -> str:
        """A libpq URL over the server's unix socket; the same after every restart."""
        return str(self._server.get_uri())

    def stop(self, timeout: float = 15) -> None:
        """Fast shutdown (SIGINT to the postmaster: clients are cut off), waiting until it is
        gone, so nothing can connect any more when this returns."""
        pid = self._server.get_pid()
        os.kill(pid, 2)  # SIGINT is PostgreSQL's "fast" shutdown
        pid_file = Path(self._server.pgdata) / "postmaster.pid"
        deadline = time.monotonic() + timeout
        # The postmaster removes its pid file last, so both mean it has finished.
        while not (_process_gone(pid) and not pid_file.exists()):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"PostgreSQL (pid {pid}) did not stop in {timeout}s")
            time.sleep(0.05)

    def start(self) -> None:
        """Start it again on the same data directory and socket (pg_ctl waits until ready)."""
        self._server.ensure_postgres_running()


@contextmanager
def own_postgres(parent: Path) -> Iterator[OwnPostgres]:
    """Init and run a throwaway PostgreSQL under `parent`/pgdata; deleted afterwards."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as in CI); pgserver's lock file
        # falls back to /tmp, which is fine here.
        warnings.simplefilter("ignore")
        import pgserver

    # As root, pgserver runs postgres as the user "pgserver" and itself opens the parent
    # directories to traversal (g+rx, o+rx) and chowns pgdata, so a pytest tmp_path works.
    server = pgserver.get_server(parent / "pgdata", cleanup_mode="delete")
    try:
        yield OwnPostgres(server)
    finally:
        server.cleanup()
