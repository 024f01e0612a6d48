"""Real job-queue worker processes for tests: `python -m flask --app wsgi worker run` on the test
database, registered (its heartbeat row in procrastinate_workers) before the test goes on, and
stopped with SIGTERM afterwards; every wait is bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.database import libpq_url, test_database_url
from tests.support.receiver import wait_for
from tests.support.servers import PROJECT_ROOT

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass
class Worker:
    """A running worker: its process, its procrastinate worker id and its log file."""

    process: subprocess.Popen
    worker_id: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker_ids(database_url: str) -> set[int]:
    """The ids of the workers registered in procrastinate_workers right now."""
    with psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute("SELECT id FROM procrastinate_workers").fetchall()
    return {int(row[0]) for row in rows}


def worker_env(database_url: str, retry_schedule: str, **extra: str) -> dict[str, str]:
    """The environment of a test worker: the test database (the worker LISTENs, so it gets a
    direct connection even when the tests go through a pooler), 127.0.0.1 allowed as a
    webhook host, the test's retry schedule, and JSON logs written at once."""
    return {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": libpq_url(database_url),
        "WORKER_DATABASE_URL": libpq_url(test_database_url()),
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "WEBHOOK_RETRY_SCHEDULE": retry_schedule,
        "WORKER_CONCURRENCY": "4",
        "WORKER_METRICS_PORT": "0",
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def running_worker(
    database_url: str,
    log_path: Path,
    *,
    retry_schedule: str = "",
    env: dict[str, str] | None = None,
) -> Iterator[Worker]:
    """Start a worker and wait (at most START_TIMEOUT s) for its row in procrastinate_workers;
    on leaving, SIGTERM (a job in flight finishes first) and at most STOP_TIMEOUT s before it
    is killed. stdout and stderr go to `log_path`. Start several one after the other: each
    waits for a row that was not there before it."""
    before = worker_ids(database_url)
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "run"],
            cwd=PROJECT_ROOT,
            env=worker_env(database_url, retry_schedule, **(env or {})),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        new: set[int] = set()

        def registered() -> bool:
            nonlocal new
            if process.poll() is not None:
                return True
            new = worker_ids(database_url) - before
            return bool(new)

        wait_for(registered, START_TIMEOUT)
        if process.poll() is not None or not new:
            raise RuntimeError(
                f"the worker did not register in {START_TIMEOUT:g}s"
                f" (exit code {process.poll()}):\n{log_path.read_text(errors='replace')}"
            )
        yield Worker(process, min(new), log_path)
    finally:
        stop_worker(process)


def stop_worker(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL if it is not gone within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
