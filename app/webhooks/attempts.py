"""One delivery attempt of one event, recorded in the delivery log, and what it decides: done,
retried later, or the webhook disabled (410 Gone, or 50 events in a row that spent their
retries)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Webhook, WebhookDelivery, WebhookEvent
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
    """Log the attempt and settle what it decides, in one transaction (the webhook's row
    locked, so that two workers' outcomes count in a row correctly); True to retry."""
    # populate_existing: the session keeps what attempt() loaded before the network call
    # (expire_on_commit is off), and a count in a row read from that stale copy would lose
    # the other workers' outcomes; the locked row is what counts.
    webhook = db.session.scalar(
        select(Webhook)
        .where(Webhook.id == webhook_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    event = db.session.get(WebhookEvent, event_id, populate_existing=True)
    if webhook is None or event is None:
        db.session.rollback()
        return False
    number = failed_before + 1
    db.session.add(
        WebhookDelivery(
            webhook_id=webhook_id,
            event_id=event_id,
            event_type=event_type,
            attempt=number,
            status_code=result.status_code,
            error=result.error[:ERROR_LENGTH] if result.error else None,
            duration_ms=result.duration_ms,
        )
    )
    event.attempts = number
    retry = False
    if result.succeeded:
        _settle(event, "delivered")
        webhook.exhausted_in_a_row = 0
    elif result.gone:
        _settle(event, "failed")
        _disable(webhook, "The receiver answered 410 Gone.")
    elif failed_before < len(current_schedule()):
        retry = True
    else:
        _settle(event, "failed")
        webhook.exhausted_in_a_row += 1
        if webhook.exhausted_in_a_row >= EXHAUSTED_LIMIT:
            _disable(webhook, f"{EXHAUSTED_LIMIT} events in a row failed after every retry.")
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


def _settle(event: WebhookEvent, state: str) -> None:
    event.state = state
    event.finished_at = datetime.now(UTC)


def _disable(webhook: Webhook, reason: str) -> None:
    """Nothing more is sent to it until a PATCH with `active: true`."""
    webhook.active = False
    webhook.disabled_reason = reason
    webhook.updated_at = datetime.now(UTC)
    log.warning("webhook disabled", extra={"webhook_id": str(webhook.id), "reason": reason})
