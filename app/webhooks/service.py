"""Webhook logic: the address rules at every write, at most 10 per user, secrets sealed at rest,
re-enabling, pings, and the delivery log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.common.locks import lock_user, watch_user
from app.errors import ApiError
from app.extensions import db
from app.models import WEBHOOK_LIMIT, Webhook, WebhookDelivery, WebhookEvent
from app.webhooks.addresses import UnsafeUrl, check_url
from app.webhooks.events import PING
from app.webhooks.outbox import queue_events
from app.webhooks.secrets import SecretBox, new_secret

DELIVERIES_SHOWN = 100


@dataclass(frozen=True)
class CreatedWebhook:
    """A new webhook and its secret, which is answered this once."""

    webhook: Webhook
    secret: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.webhook, name)


def _checked_url(url: str) -> str:
    """The normalised URL, or a 422 naming `url` (resolved now: DNS is asked)."""
    try:
        return check_url(url, current_app.config["WEBHOOK_ALLOWED_HOSTS"])
    except UnsafeUrl as error:
        raise ApiError(422, errors={"json": {"url": [str(error)]}}) from None


def _box() -> SecretBox:
    return SecretBox.from_setting(current_app.config["WEBHOOK_SECRET_KEY"])


def list_webhooks(*, user_id: uuid.UUID) -> list[Webhook]:
    """The user's webhooks, oldest first."""
    return list(
        db.session.scalars(
            select(Webhook)
            .where(Webhook.user_id == user_id)
            .order_by(Webhook.created_at, Webhook.id)
        )
    )


def get_webhook(*, user_id: uuid.UUID, webhook_id: uuid.UUID, lock: bool = False) -> Webhook:
    """One webhook by id *and* owner: another user's is a 404."""
    statement = select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id)
    if lock:
        lock_user(user_id)
        statement = statement.with_for_update()
    webhook = db.session.scalar(statement)
    if webhook is None:
        raise ApiError(404, detail="No such webhook.")
    return webhook


def create_webhook(
    *, user_id: uuid.UUID, url: str, events: list[str], description: str
) -> CreatedWebhook:
    """A new, active webhook with a fresh secret; 409 limit_reached past 10 (counted under
    the user's lock, so two creates at the limit cannot both pass)."""
    url = _checked_url(url)
    watch_user(user_id)
    count = db.session.scalar(select(func.count()).where(Webhook.user_id == user_id))
    if count is not None and count >= WEBHOOK_LIMIT:
        raise ApiError(
            409, "limit_reached", f"You have reached the limit of {WEBHOOK_LIMIT} webhooks."
        )
    secret = new_secret()
    now = datetime.now(UTC)
    webhook = Webhook(
        id=uuid.uuid4(),
        user_id=user_id,
        url=url,
        events=events,
        description=description,
        secret=_box().seal(secret),
        active=True,
        disabled_reason=None,
        exhausted_in_a_row=0,
        created_at=now,
        updated_at=now,
    )
    db.session.add(webhook)
    db.session.flush()
    return CreatedWebhook(webhook, secret)


def update_webhook(*, user_id: uuid.UUID, webhook_id: uuid.UUID, changes: dict) -> Webhook:
    """Change url, events or description; `active: true` re-enables (and forgets the failures
    in a row). Events skipped while it was disabled stay skipped."""
    if "url" in changes:
        changes["url"] = _checked_url(changes["url"])
    webhook = get_webhook(user_id=user_id, webhook_id=webhook_id, lock=True)
    changed = False
    for field in ("url", "events", "description"):
        if field in changes and changes[field] != getattr(webhook, field):
            setattr(webhook, field, changes[field])
            changed = True
    if changes.get("active") and not webhook.active:
        webhook.active, webhook.disabled_reason, webhook.exhausted_in_a_row = True, None, 0
        watch_user(user_id)
        changed = True
    if changed:
        webhook.updated_at = datetime.now(UTC)
        db.session.flush()
    return webhook


def delete_webhook(*, user_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
    """Delete it with its events and log; jobs still queued for them find nothing and end."""
    webhook = get_webhook(user_id=user_id, webhook_id=webhook_id, lock=True)
    db.session.delete(webhook)
    db.session.flush()


def ping(*, user_id: uuid.UUID, webhook_id: uuid.UUID) -> uuid.UUID:
    """Queue a webhook.ping event to this webhook alone, whatever it subscribed to. A
    disabled webhook's ping is recorded as skipped: nothing is sent until it is re-enabled."""
    webhook = get_webhook(user_id=user_id, webhook_id=webhook_id, lock=True)
    data = {"id": webhook.id, "url": webhook.url}
    if webhook.active:
        (event_id,) = queue_events(user_id, [(PING, data)], webhook_id=webhook.id)
        return event_id
    now = datetime.now(UTC)
    skipped = WebhookEvent(
        id=uuid.uuid4(),
        webhook_id=webhook.id,
        type=PING,
        body=current_app.json.dumps({"type": PING, "timestamp": now, "data": data}),
        state="skipped",
        created_at=now,
        finished_at=now,
    )
    db.session.add(skipped)
    db.session.flush()
    return skipped.id


def list_deliveries(*, user_id: uuid.UUID, webhook_id: uuid.UUID) -> list[WebhookDelivery]:
    """Its latest 100 attempts, newest first."""
    get_webhook(user_id=user_id, webhook_id=webhook_id)
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(DELIVERIES_SHOWN)
        )
    )
