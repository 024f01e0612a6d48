"""Request and response schemas of /api/{user_id}/webhooks."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.common.fields import StrictBoolean, Text, UtcDateTime
from app.common.schemas import ResponseSchema, envelope, list_envelope
from app.webhooks.addresses import MAX_URL_LENGTH
from app.webhooks.events import EVENT_TYPES, EVERY_EVENT

EXAMPLE_ID = "5d2e8f1a-3b4c-4d6e-9f70-8a1b2c3d4e5f"


def _url(**kwargs: Any) -> Text:
    return Text(
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={
            "description": "https:// (http:// only for WEBHOOK_ALLOWED_HOSTS); its host must "
            "resolve to public addresses only, now and at every delivery.",
            "example": "https://hooks.example.com/tasks",
        },
        **kwargs,
    )


class _Events(ma.fields.List):
    """A non-empty list of event types, or ["*"] (every event; beside others it is still
    every event); answered without duplicates, in order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            ma.fields.String(validate=validate.OneOf((*EVENT_TYPES, EVERY_EVENT))),
            validate=validate.Length(min=1, max=len(EVENT_TYPES)),
            metadata={"example": ["task.completed", "task.reminder"]},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        events = list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))
        # "*" is every event, whatever else is named beside it.
        return [EVERY_EVENT] if EVERY_EVENT in events else events


def _description(**kwargs: Any) -> Text:
    return Text(
        validate=validate.Length(max=500),
        metadata={"example": "Calendar sync"},
        **kwargs,
    )


class WebhookSchema(ResponseSchema):
    """A webhook as the API answers it (never its secret, except once, on creation)."""

    id = ma.fields.UUID(required=True, metadata={"example": EXAMPLE_ID})
    url = ma.fields.String(required=True, metadata={"example": "https://hooks.example.com/tasks"})
    events = ma.fields.List(
        ma.fields.String(), required=True, metadata={"example": ["task.completed"]}
    )
    description = ma.fields.String(required=True, metadata={"example": "Calendar sync"})
    active = ma.fields.Boolean(
        required=True,
        metadata={"description": "False once disabled; nothing is sent then.", "example": True},
    )
    disabled_reason = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why it was disabled, while it is.", "example": None},
    )
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})
    updated_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})


class CreatedWebhookSchema(WebhookSchema):
    """A webhook just created, with its signing secret: shown here only."""

    secret = ma.fields.String(
        required=True,
        metadata={
            "description": 'The Standard Webhooks signing key: "whsec_" + base64 of 32 '
            "random bytes. Shown only in this answer.",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
    )


class WebhookCreateSchema(ma.Schema):
    """A new webhook: where to send, which events, and a note for the user."""

    url = _url(required=True)
    events = _Events(required=True)
    description = _description(load_default="")


class WebhookPatchSchema(ma.Schema):
    """Any of url, events, description; `active: true` re-enables a disabled webhook."""

    url = _url()
    events = _Events()
    description = _description()
    active = StrictBoolean(
        validate=validate.Equal(True, error="Only true: the service disables, you re-enable."),
        metadata={"description": "true re-enables a disabled webhook.", "example": True},
    )


class DeliverySchema(ResponseSchema):
    """One delivery attempt."""

    id = ma.fields.UUID(required=True, metadata={"example": "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b"})
    event_id = ma.fields.UUID(
        required=True,
        metadata={"description": "The webhook-id header.", "example": EXAMPLE_ID},
    )
    event_type = ma.fields.String(required=True, metadata={"example": "task.completed"})
    attempt = ma.fields.Integer(required=True, metadata={"example": 1})
    status_code = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The receiver's status; null when none came.", "example": 200},
    )
    error = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Why no answer came (refused address, timeout, connection).",
            "example": None,
        },
    )
    duration_ms = ma.fields.Integer(required=True, metadata={"example": 42})
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-30T16:45:01Z"})


class PingSchema(ResponseSchema):
    """The ping event queued."""

    event_id = ma.fields.UUID(
        required=True,
        metadata={
            "description": "Its webhook-id; find it in the deliveries.",
            "example": EXAMPLE_ID,
        },
    )


WebhookEnvelope = envelope(WebhookSchema, "WebhookEnvelope")
CreatedWebhookEnvelope = envelope(CreatedWebhookSchema, "CreatedWebhookEnvelope")
WebhookListEnvelope = list_envelope(WebhookSchema, "WebhookListEnvelope")
DeliveryListEnvelope = list_envelope(DeliverySchema, "DeliveryListEnvelope")
PingEnvelope = envelope(PingSchema, "PingEnvelope")
