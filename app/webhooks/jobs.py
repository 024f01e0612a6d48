"""The webhooks' background jobs: deliver one event, fire the due reminders, keep tables tidy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from procrastinate import BaseRetryStrategy, Blueprint, JobContext, RetryDecision
from procrastinate.jobs import Job

from config import DEFAULT_RETRY_SCHEDULE, retry_schedule

blueprint = Blueprint()


class DeliveryFailed(Exception):
    """A failed attempt that is to be retried; carries the receiver's Retry-After."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(f"delivery failed (retry after: {retry_after})")
        self.retry_after = retry_after


class ScheduleRetry(BaseRetryStrategy):
    """WEBHOOK_RETRY_SCHEDULE's delays, one per retry, never sooner than the Retry-After the
    receiver asked for (capped at the schedule's longest delay, so that a receiver cannot
    park an event for a week); nothing more once the schedule is spent."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, DeliveryFailed):
            return None  # a bug, not the receiver: the job fails and is logged
        schedule = current_schedule()
        if job.attempts >= len(schedule):
            return None
        wait = schedule[job.attempts]
        if exception.retry_after is not None:
            wait = max(wait, min(exception.retry_after, max(schedule)))
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))


def current_schedule() -> list[float]:
    """The worker's WEBHOOK_RETRY_SCHEDULE (its Flask config)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return list(current_app.config["WEBHOOK_RETRY_SCHEDULE"])
    import os

    return retry_schedule(os.environ.get("WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE))


@blueprint.task(name="deliver_event", pass_context=True, retry=ScheduleRetry())
def deliver_event(context: JobContext, event_id: str) -> None:
    """One attempt at delivering one event; raises DeliveryFailed to be retried."""
    from app.jobs import flask_context
    from app.webhooks import attempts

    assert context.job is not None
    with flask_context():
        attempts.attempt(uuid.UUID(event_id), failed_before=context.job.attempts)


@blueprint.periodic(cron="* * * * * */10")
@blueprint.task(name="fire_reminders", queueing_lock="fire_reminders")
def fire_reminders(timestamp: int) -> None:
    """Every 10 s: every due reminder fires (late ones too, when a worker was down)."""
    from app.jobs import flask_context
    from app.webhooks import reminders

    with flask_context():
        reminders.fire_due()


@blueprint.task(name="fire_user_reminders")
def fire_user_reminders(user_id: str) -> None:
    """At once: a write set a remind_at already past (app/webhooks/outbox.py)."""
    from app.jobs import flask_context
    from app.webhooks import reminders

    with flask_context():
        reminders.fire_due_for(uuid.UUID(user_id))


@blueprint.periodic(cron="*/5 * * * *")
@blueprint.task(name="tidy", queueing_lock="tidy", pass_context=True)
async def tidy(context: JobContext, timestamp: int) -> None:
    """Every 5 min: the jobs of a worker that died mid-job run again (procrastinate's own
    recipe: a worker whose heartbeat stopped 30 s ago is dead), and staged rows that no
    transaction took (a write outside a request) are dropped."""
    from app.webhooks import housekeeping

    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs():
        await manager.retry_job(job)
    await asyncio.to_thread(housekeeping.drop_stale_staging)
