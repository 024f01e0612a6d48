"""Request and response schemas of /api/{user_id}/lists."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.common.fields import Text, UtcDateTime
from app.common.schemas import ResponseSchema, envelope, list_envelope


class ListSchema(ResponseSchema):
    """A list as the API answers it, with the counts of its tasks at every level."""

    id = ma.fields.UUID(required=True, metadata={"example": "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"})
    name = ma.fields.String(required=True, metadata={"example": "Groceries"})
    task_count = ma.fields.Integer(
        required=True, metadata={"description": "Its tasks, at every level.", "example": 3}
    )
    open_count = ma.fields.Integer(
        required=True, metadata={"description": "Those not completed.", "example": 2}
    )
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})
    updated_at = UtcDateTime(
        required=True,
        metadata={
            "description": "When the list's own fields last changed (not its counts).",
            "example": "2026-11-02T08:15:00Z",
        },
    )


class ListWriteSchema(ma.Schema):
    """A list's name: 1 to 100 characters after trimming, unique per user case-insensitively."""

    name = Text(
        required=True, validate=validate.Length(min=1, max=100), metadata={"example": "Groceries"}
    )


ListEnvelope = envelope(ListSchema, "ListEnvelope")
ListListEnvelope = list_envelope(ListSchema, "ListListEnvelope")
