"""A user's webhooks, the events queued for each, and the log of every delivery attempt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ARRAY, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey

# The contract's limit of webhooks per user (app/webhooks/service.py checks it under the
# user's lock).
WEBHOOK_LIMIT = 10
EVENT_STATES = ("pending", "delivered", "failed", "skipped")


def _now() -> datetime:
    return datetime.now(UTC)


class Webhook(UUIDPrimaryKey, Base):
    __tablename__ = "webhooks"
    __table_args__ = (
        Index("ix_webhooks_user_id_created_at_id", "user_id", "created_at", "id"),
        # What the outbox triggers ask on every write: has this user an active webhook?
        Index("ix_webhooks_user_id_active", "user_id", postgresql_where=text("active")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    description: Mapped[str] = mapped_column(String(500))
    # Sealed with WEBHOOK_SECRET_KEY (app/webhooks/secrets.py), never the secret itself.
    secret: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Events in a row that spent every retry; 50 disables the webhook, a success resets it.
    exhausted_in_a_row: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())


class WebhookEvent(UUIDPrimaryKey, Base):
    """One event for one webhook: its id is the `webhook-id` header of every attempt."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'delivered', 'failed', 'skipped')", name="state_known"
        ),
        Index("ix_webhook_events_webhook_id", "webhook_id"),
        # The age of the oldest undelivered event (a metric).
        Index(
            "ix_webhook_events_pending_created_at",
            "created_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    # The exact body every attempt sends (and signs): rendered once, when the change happened.
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
    finished_at: Mapped[datetime | None]


class WebhookDelivery(UUIDPrimaryKey, Base):
    """One delivery attempt, as the deliveries route answers it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_id_created_at_id", "webhook_id", "created_at", "id"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
        Index("ix_webhook_deliveries_created_at", "created_at"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
