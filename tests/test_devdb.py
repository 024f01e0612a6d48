"""The embedded development PostgreSQL outlives make run and make test; `make stop` stops it."""

from __future__ import annotations

import psycopg
import pytest

from app.core.devdb import embedded_database_url, stop_embedded_server


def test_stop_with_no_server_says_so(tmp_path):
    assert stop_embedded_server(str(tmp_path)) == (
        f"no embedded PostgreSQL is running under {tmp_path.resolve() / 'pgdata'}"
    )


@pytest.mark.slow
def test_stop_stops_the_running_server(tmp_path):
    url = embedded_database_url(str(tmp_path), "taskapi")
    pgdata = tmp_path.resolve() / "pgdata"
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    try:
        assert stop_embedded_server(str(tmp_path)) == (
            f"stopped the embedded PostgreSQL under {pgdata} (pid {pid})"
        )
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()
    finally:
        stop_embedded_server(str(tmp_path))
