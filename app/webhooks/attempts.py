"""One delivery attempt of one event, recorded in the delivery log, and what it decides: done,
retried later, or the webhook disabled (410 Gone, or 50 events in a row that spent their
retries)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, text

from app.extensions import db
from app.models import Webhook, WebhookEvent
from app.webhooks import delivery, metrics
from app.webhooks.jobs import DeliveryFailed, current_schedule
from app.webhooks.secrets import SecretBox

log = logging.getLogger(__name__)

# Events in a row that spent every retry before their webhook is disabled (the contract's).
EXHAUSTED_LIMIT = 50
ERROR_LENGTH = 500


def attempt(event_id: uuid.UUID, *, failed_before: int) -> None:
    """Deliver the event once (`failed_before` attempts came before this one). Raises
    DeliveryFailed when the attempt failed and the schedule has a retry left."""
    found = db.session.execute(
        select(WebhookEvent, Webhook)
        .join(Webhook, Webhook.id == WebhookEvent.webhook_id)
        .where(WebhookEvent.id == event_id)
    ).first()
    if found is None:
        return  # its webhook (or user) was deleted meanwhile: the event went with it
    event, webhook = found
    if event.state != "pending":
        return  # already settled: a stalled job run again after its attempt was recorded
    if not webhook.active:
        _settle(event, "skipped")
        db.session.commit()
        log.info(
            "webhook event skipped: webhook disabled",
            extra={"event_id": str(event.id), "webhook_id": str(webhook.id)},
        )
        return
    secret = SecretBox.from_setting(current_app.config["WEBHOOK_SECRET_KEY"]).open(webhook.secret)
    url, webhook_id, event_type, body = webhook.url, webhook.id, event.type, event.body
    db.session.commit()  # no transaction stays open across the network

    result = delivery.deliver(
        url,
        secret,
        str(event_id),
        int(time.time()),
        body.encode("utf-8"),
        allowed_hosts=current_app.config["WEBHOOK_ALLOWED_HOSTS"],
    )
    retry = _record(event_id, webhook_id, event_type, failed_before, result)
    if retry:
        raise DeliveryFailed(result.retry_after)


def _record(
    event_id: uuid.UUID,
    webhook_id: uuid.UUID,
    event_type: str,
    failed_before: int,
    result: delivery.Attempt,
) -> bool:
    """Log the attempt and settle what it decides, in one transaction; True to retry.

    Each change is one atomic UPDATE, with no row read and locked first: two workers'
    outcomes still count in a row correctly (each adds to or resets the stored count), and
    no lock on the webhook's row is held that the outbox's inserts of its events (their
    foreign key) would wait for.
    """
    number = failed_before + 1
    retry = False
    state: str | None
    if result.succeeded:
        state = "delivered"
    elif result.gone or failed_before >= len(current_schedule()):
        state = "failed"
    else:
        state, retry = None, True
    settled = db.session.execute(
        RECORD,
        {
            "event_id": event_id,
            "webhook_id": webhook_id,
            "state": state,
            "attempt": number,
            "delivery_id": uuid.uuid4(),
            "event_type": event_type,
            "status_code": result.status_code,
            "error": result.error[:ERROR_LENGTH] if result.error else None,
            "duration_ms": result.duration_ms,
            "succeeded": result.succeeded,
        },
    ).scalar_one()
    if not settled:  # its webhook was deleted meanwhile, or another run settled it
        db.session.rollback()
        return False
    if result.gone:
        _disable(webhook_id, "The receiver answered 410 Gone.")
    elif state == "failed":  # it spent its retries
        exhausted = db.session.execute(COUNT_EXHAUSTED, {"id": webhook_id}).scalar()
        if exhausted is not None and exhausted >= EXHAUSTED_LIMIT:
            _disable(webhook_id, f"{EXHAUSTED_LIMIT} events in a row failed after every retry.")
    db.session.commit()
    metrics.attempted(event_type, result, retried=number > 1, will_retry=retry)
    log.info(
        "webhook delivery attempt",
        extra={
            "event_id": str(event_id),
            "webhook_id": str(webhook_id),
            "event_type": event_type,
            "attempt": number,
            "status_code": result.status_code,
            "error": result.error,
            "duration_ms": result.duration_ms,
            "will_retry": retry,
        },
    )
    return retry


# An attempt's outcome in one statement, where the ORM took three round trips and a flush
# (in one process, 8.5 -> 5.4 ms of CPU an attempt; bench/README.md, 2026-12-03): the
# event's attempts counted and, when this attempt decides it, its state settled, only while
# it is still pending; the attempt logged only then; and a success resets the webhook's count
# of events in a row that spent their retries (no write when it is 0 already, the usual
# case). Says whether the event was still pending.
RECORD = text(
    """
    WITH settled AS (
        UPDATE webhook_events
        SET attempts = :attempt,
            state = coalesce(CAST(:state AS varchar), state),
            finished_at = CASE WHEN CAST(:state AS varchar) IS NULL THEN NULL ELSE now() END
        WHERE id = :event_id AND state = 'pending'
        RETURNING id
    ), logged AS (
        INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, attempt,
            status_code, error, duration_ms, created_at)
        SELECT :delivery_id, :webhook_id, id, :event_type, :attempt,
            CAST(:status_code AS integer), CAST(:error AS varchar), :duration_ms, now()
        FROM settled
    ), reset AS (
        UPDATE webhooks SET exhausted_in_a_row = 0
        WHERE CAST(:succeeded AS boolean) AND id = :webhook_id AND exhausted_in_a_row <> 0
            AND EXISTS (SELECT FROM settled)
    )
    SELECT EXISTS (SELECT FROM settled)
    """
)
# One more event that spent its retries adds one and says how many now.
COUNT_EXHAUSTED = text(
    "UPDATE webhooks SET exhausted_in_a_row = exhausted_in_a_row + 1 WHERE id = :id"
    " RETURNING exhausted_in_a_row"
)
DISABLE = text(
    "UPDATE webhooks SET active = false, disabled_reason = :reason, updated_at = now()"
    " WHERE id = :id AND active"
)


def _settle(event: WebhookEvent, state: str) -> None:
    event.state = state
    event.finished_at = datetime.now(UTC)


def _disable(webhook_id: uuid.UUID, reason: str) -> None:
    """Nothing more is sent to it until a PATCH with `active: true`."""
    db.session.execute(DISABLE, {"id": webhook_id, "reason": reason})
    log.warning("webhook disabled", extra={"webhook_id": str(webhook_id), "reason": reason})
