"""Spike for docs/job-queue.md: real `procrastinate worker` processes on the test database (in a
schema of their own), jobs deferred on a SQLAlchemy session's own connection and transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from procrastinate import exceptions as procrastinate_exceptions
from sqlalchemy.orm import Session

from tests.support.database import libpq_url
from tests.support.jobs_spike import SPIKE_SCHEMA, flaky, record, spike_options
from tests.support.receiver import wait_for

# A worker LISTENs, which a transaction-mode pooler cannot carry: it connects directly.
pytestmark = [pytest.mark.slow, pytest.mark.direct]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# `python -m` puts the working directory on sys.path; the console script would not find
# tests.support.jobs_spike (nor app.jobs) without PYTHONPATH.
PROCRASTINATE = [sys.executable, "-m", "procrastinate"]


@pytest.fixture(scope="module")
def spike_url(database_url: str) -> Iterator[str]:
    """The test database with an empty schema of the spike's own, where the procrastinate
    CLI applies its schema; dropped afterwards."""
    url = libpq_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SPIKE_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SPIKE_SCHEMA}")
    subprocess.run(
        [*PROCRASTINATE, "-a", "tests.support.jobs_spike.app", "schema", "--apply"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SPIKE_DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=60,
    )
    with psycopg.connect(url, options=spike_options(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE spike_runs (run_id text NOT NULL, attempt int NOT NULL,"
            " pid int NOT NULL, ran_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        conn.execute("CREATE TABLE spike_changes (id text PRIMARY KEY)")
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SPIKE_SCHEMA} CASCADE")


@pytest.fixture
def spike(spike_url: str) -> Iterator[str]:
    """Each test starts with no job and no run."""
    with psycopg.connect(spike_url, options=spike_options(), autocommit=True) as conn:
        conn.execute("TRUNCATE spike_runs, spike_changes, procrastinate_jobs CASCADE")
    yield spike_url


@pytest.fixture
def engine(spike_url: str) -> Iterator[sa.Engine]:
    """SQLAlchemy on psycopg 3, as the service uses it, on the spike's schema."""
    engine = sa.create_engine(
        spike_url.replace("postgresql://", "postgresql+psycopg://", 1),
        connect_args={"options": spike_options()},
    )
    yield engine
    engine.dispose()


@contextmanager
def worker(
    url: str, name: str, log: Path, options: list[str] | None = None
) -> Iterator[subprocess.Popen]:
    """A real `procrastinate worker` process, registered (heartbeat row) before this yields;
    stopped with SIGTERM (a graceful shutdown) afterwards."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [
                *PROCRASTINATE,
                "-a",
                "tests.support.jobs_spike.app",
                "worker",
                "--name",
                name,
                "--concurrency",
                "4",
                *(options or []),
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "SPIKE_DATABASE_URL": url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        registered = wait_for(lambda: process.poll() is not None or _workers(url) > 0, 30)
        assert registered and process.poll() is None, log.read_text()
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _workers(url: str) -> int:
    with psycopg.connect(url, options=spike_options(), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    return int(row[0]) if row else 0


def runs(url: str, run_id: str | None = None) -> list[tuple[str, int]]:
    """(run_id, attempt) of every recorded run, in order."""
    with psycopg.connect(url, options=spike_options(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT run_id, attempt FROM spike_runs"
            " WHERE %(run_id)s::text IS NULL OR run_id = %(run_id)s ORDER BY ran_at",
            {"run_id": run_id},
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def jobs_for(url: str, run_id: str) -> list[tuple[str, int]]:
    """(status, attempts) of the jobs whose arguments name `run_id`."""
    with psycopg.connect(url, options=spike_options(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT status::text, attempts FROM procrastinate_jobs"
            " WHERE args->>'run_id' = %s ORDER BY id",
            (run_id,),
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def change_and_defer(
    engine: sa.Engine, run_id: str, *, commit: bool, **task_kwargs: object
) -> None:
    """The service's shape: one session writes its change and defers the job on the same
    connection, then commits (or rolls back) both at once."""
    with Session(engine) as session:
        session.execute(sa.text("INSERT INTO spike_changes (id) VALUES (:id)"), {"id": run_id})
        connection = session.connection().connection.driver_connection
        task = flaky if task_kwargs else record
        task.configure(connection=connection).defer(run_id=run_id, **task_kwargs)
        if commit:
            session.commit()
        else:
            session.rollback()


def test_a_job_deferred_in_a_committed_transaction_runs(
    spike: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with worker(spike, "w1", tmp_path / "worker.log"):
        change_and_defer(engine, "committed", commit=True)
        assert wait_for(lambda: runs(spike) != [], 15)
    assert runs(spike) == [("committed", 0)]


def test_a_job_deferred_in_a_rolled_back_transaction_never_exists(
    spike: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """The rolled-back job is not even a row; a later committed job shows the worker ran."""
    with worker(spike, "w1", tmp_path / "worker.log"):
        change_and_defer(engine, "rolled-back", commit=False)
        change_and_defer(engine, "sentinel", commit=True)
        assert wait_for(lambda: runs(spike) != [], 15)
    assert (runs(spike), jobs_for(spike, "rolled-back")) == ([("sentinel", 0)], [])


def test_jobs_committed_while_no_worker_runs_wait_and_run_when_one_starts(
    spike: str, engine: sa.Engine, tmp_path: Path
) -> None:
    ids = [f"while-down-{n}" for n in range(3)]
    for run_id in ids:
        change_and_defer(engine, run_id, commit=True)
    waiting = [jobs_for(spike, run_id) for run_id in ids]
    with worker(spike, "w1", tmp_path / "worker.log"):
        assert wait_for(lambda: len(runs(spike)) == 3, 15)
    assert (waiting, sorted(runs(spike))) == (
        [[("todo", 0)]] * 3,
        [(run_id, 0) for run_id in ids],
    )


def test_two_workers_run_each_job_exactly_once(
    spike: str, engine: sa.Engine, tmp_path: Path
) -> None:
    ids = [f"race-{n:02}" for n in range(40)]
    with worker(spike, "w1", tmp_path / "w1.log"), worker(spike, "w2", tmp_path / "w2.log"):
        with Session(engine) as session:
            connection = session.connection().connection.driver_connection
            for run_id in ids:
                record.configure(connection=connection).defer(run_id=run_id)
            session.commit()
        assert wait_for(lambda: len(runs(spike)) >= 40, 30)
    assert sorted(runs(spike)) == [(run_id, 0) for run_id in ids]


def test_a_failed_job_is_retried_on_the_schedule_and_honours_retry_after(
    spike: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """ScheduleRetry([1, 2]): the first failure asks Retry-After 3 (so 3 s, not 1), the
    second waits 2 s, the third attempt succeeds. Lower bounds only: never early."""
    with worker(spike, "w1", tmp_path / "worker.log"):
        change_and_defer(engine, "flaky", commit=True, failures=2, retry_after=3)
        assert wait_for(lambda: jobs_for(spike, "flaky") == [("succeeded", 3)], 30)
    with psycopg.connect(spike, options=spike_options(), autocommit=True) as conn:
        times = [
            row[0]
            for row in conn.execute("SELECT ran_at FROM spike_runs ORDER BY ran_at").fetchall()
        ]
    gaps = [
        (later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)
    ]
    assert (runs(spike), gaps[0] >= 3, gaps[1] >= 2) == (
        [("flaky", 0), ("flaky", 1), ("flaky", 2)],
        True,
        True,
    )


def test_a_queueing_lock_conflict_on_the_session_connection_needs_a_savepoint(
    spike: str, engine: sa.Engine
) -> None:
    """A second job with the same queueing lock fails inside our transaction: without a
    savepoint the whole transaction (the change too) would be lost; with one, only the defer
    is undone and the change commits."""
    run_id = uuid.uuid4().hex
    with Session(engine) as session:
        session.execute(sa.text("INSERT INTO spike_changes (id) VALUES (:id)"), {"id": run_id})
        connection = session.connection().connection.driver_connection
        record.configure(connection=connection, queueing_lock="one").defer(run_id=run_id)
        with pytest.raises(procrastinate_exceptions.AlreadyEnqueued):
            with session.begin_nested():
                connection = session.connection().connection.driver_connection
                record.configure(connection=connection, queueing_lock="one").defer(run_id=run_id)
        session.commit()
    with psycopg.connect(spike, options=spike_options(), autocommit=True) as conn:
        changes = conn.execute("SELECT count(*) FROM spike_changes WHERE id = %s", (run_id,))
        changed = changes.fetchone()
    assert (changed, jobs_for(spike, run_id)) == ((1,), [("todo", 0)])


def test_a_job_is_picked_up_through_listen_notify(
    spike: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """With polling every 120 s, a job that runs within 15 s of its commit was announced by
    the NOTIFY that procrastinate's insert trigger sends (delivered at commit)."""
    polling = ["--fetch-job-polling-interval", "120"]
    with worker(spike, "w1", tmp_path / "worker.log", polling):
        time.sleep(1)  # past the worker's first fetch: from now on it only polls or listens
        change_and_defer(engine, "notified", commit=True)
        assert wait_for(lambda: runs(spike) != [], 15)
    assert runs(spike) == [("notified", 0)]
