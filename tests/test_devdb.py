"""The embedded development server: started on demand, stopped by `make stop`, and a data
directory of another PostgreSQL major moved aside rather than reused."""

from __future__ import annotations

import psycopg
import pytest

from app.core.devdb import embedded_database_url, stop_embedded_server

pytestmark = pytest.mark.slow


def test_the_embedded_server_has_btree_gin(tmp_path):
    url = embedded_database_url(str(tmp_path), "taskapi")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION btree_gin")
            version = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'btree_gin'"
            ).fetchone()
        assert version == ("1.3",)
    finally:
        stop_embedded_server(str(tmp_path))


def test_stop_embedded_server_stops_it_so_connections_fail(tmp_path):
    url = embedded_database_url(str(tmp_path), "taskapi")
    assert stop_embedded_server(str(tmp_path)) is True
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


def test_stop_embedded_server_says_so_when_none_runs(tmp_path):
    embedded_database_url(str(tmp_path), "taskapi")
    stop_embedded_server(str(tmp_path))
    assert stop_embedded_server(str(tmp_path)) is False


def test_a_data_directory_of_another_major_is_moved_aside(tmp_path):
    old = tmp_path / "pgdata"
    old.mkdir()
    (old / "PG_VERSION").write_text("16\n")
    try:
        embedded_database_url(str(tmp_path), "taskapi")
        moved = [path.name for path in tmp_path.glob("pgdata-16-*")]
        assert len(moved) == 1
        assert (tmp_path / "pgdata" / "PG_VERSION").read_text() == "18\n"
    finally:
        stop_embedded_server(str(tmp_path))
