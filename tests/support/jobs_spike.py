"""A procrastinate app for the job-queue spike (tests/test_job_queue_spike.py, docs/job-queue.md):
its tasks record every run in a table, so a test sees what ran, how often, where and when.

Runs against SPIKE_DATABASE_URL (a libpq URL) in the schema SPIKE_SCHEMA, so it never
touches the service's own tables; a worker is `procrastinate -a tests.support.jobs_spike.app
worker`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import psycopg
from procrastinate import App, BaseRetryStrategy, JobContext, PsycopgConnector, RetryDecision
from procrastinate.jobs import Job

SPIKE_SCHEMA = "procrastinate_spike"


def spike_conninfo() -> str:
    return os.environ.get("SPIKE_DATABASE_URL", "")


def spike_options() -> str:
    """libpq options: the spike's schema first on the search path (procrastinate's SQL is
    unqualified, so its tables and functions are found there)."""
    return f"-c search_path={SPIKE_SCHEMA}"


app = App(
    connector=PsycopgConnector(
        conninfo=spike_conninfo(), kwargs={"options": spike_options()}, min_size=1, max_size=4
    )
)


class DeliveryFailed(Exception):
    """What a delivery task raises on a failed attempt; carries the receiver's Retry-After."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(f"failed (retry after {retry_after})")
        self.retry_after = retry_after


class ScheduleRetry(BaseRetryStrategy):
    """Retries on a fixed schedule (WEBHOOK_RETRY_SCHEDULE's shape), never sooner than a
    Retry-After the exception carries; gives up when the schedule is spent."""

    def __init__(self, schedule: list[float]) -> None:
        self.schedule = schedule

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        failed_before = job.attempts  # 0 on the first run: it counts finished attempts
        if failed_before >= len(self.schedule):
            return None
        wait = self.schedule[failed_before]
        if isinstance(exception, DeliveryFailed) and exception.retry_after is not None:
            wait = max(wait, exception.retry_after)
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))


def _record(run_id: str, attempt: int) -> None:
    with psycopg.connect(spike_conninfo(), options=spike_options(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO spike_runs (run_id, attempt, pid) VALUES (%s, %s, %s)",
            (run_id, attempt, os.getpid()),
        )


@app.task(name="record", pass_context=True)
def record(context: JobContext, run_id: str) -> None:
    """Record that it ran."""
    assert context.job is not None
    _record(run_id, context.job.attempts)


@app.task(name="flaky", pass_context=True, retry=ScheduleRetry([1, 2]))
def flaky(
    context: JobContext, run_id: str, failures: int, retry_after: float | None = None
) -> None:
    """Record the attempt; fail the first `failures` attempts (with a Retry-After)."""
    assert context.job is not None
    attempt = context.job.attempts
    _record(run_id, attempt)
    if attempt < failures:
        raise DeliveryFailed(retry_after)
