"""The job queue: one procrastinate App with every background task, and the worker that runs it.

The web process never opens a pool of its own: an event's delivery job is deferred by the
`webhook_events` trigger (migration a4c7e9d2b6f1) in the event's own INSERT, and the reminders'
immediate job by the same SQL function in the request's transaction (app/webhooks/outbox.py),
so the web never imports this module. A worker (`flask --app wsgi worker`, `make worker`)
builds the Flask app first, so that jobs use the same settings, models and database as the
web, then runs procrastinate's worker on a pool of its own: directly on the database
(WORKER_DATABASE_URL when the web goes through a transaction pooler), because it LISTENs for
new jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg_pool
from flask import Flask
from procrastinate import App, PsycopgConnector

from app.webhooks.jobs import blueprint as webhook_jobs

queue = App(connector=PsycopgConnector())
queue.add_tasks_from(webhook_jobs, namespace="webhooks")

_flask_app: Flask | None = None


@contextmanager
def flask_context() -> Iterator[None]:
    """The worker's Flask app context, for one job (each job thread gets its own session)."""
    if _flask_app is None:
        raise RuntimeError("no Flask app bound: run jobs through app.jobs.run_worker")
    with _flask_app.app_context():
        yield


def bind(app: Flask) -> None:
    """Run jobs in this Flask app (the worker's; tests that run a job in-process too)."""
    global _flask_app
    _flask_app = app


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL back in libpq's form (postgresql://), as psycopg's pool wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def worker_conninfo(app: Flask) -> str:
    """WORKER_DATABASE_URL, else the web's own database."""
    return libpq_url(app.config["WORKER_DATABASE_URL"] or app.config["SQLALCHEMY_DATABASE_URI"])


def run_worker(app: Flask, *, concurrency: int) -> None:
    """Run a worker until SIGTERM or SIGINT (a job in flight finishes first)."""
    bind(app)
    asyncio.run(_work(worker_conninfo(app), concurrency))


async def _work(conninfo: str, concurrency: int) -> None:
    # The one App, opened on a pool made here: its tasks (and the periodic deferrer) are
    # bound to it, so it is this App that must be open, not a copy with another connector.
    pool = psycopg_pool.AsyncConnectionPool(
        conninfo,
        kwargs={"application_name": "taskapi-worker"},
        min_size=1,
        max_size=concurrency + 2,
        open=False,
        check=psycopg_pool.AsyncConnectionPool.check_connection,
    )
    async with pool, queue.open_async(pool):
        await queue.run_worker_async(
            concurrency=concurrency,
            # Retries and reminders come due at a poll, not by NOTIFY (docs/job-queue.md):
            # one cheap indexed query a second keeps them on time.
            fetch_job_polling_interval=1,
            # The events and their delivery log are ours; procrastinate's rows of finished
            # jobs are not needed once they succeeded.
            delete_jobs="successful",
        )
