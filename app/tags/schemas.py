"""Request and response schemas of /api/{user_id}/tags."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.common.fields import Text, UtcDateTime
from app.common.schemas import ResponseSchema, envelope, list_envelope


class TagSchema(ResponseSchema):
    id = ma.fields.UUID(required=True, metadata={"example": "5d1c2b3a-9e8f-4a7b-8c6d-1e2f3a4b5c6d"})
    name = ma.fields.String(required=True, metadata={"example": "errands"})
    task_count = ma.fields.Integer(
        required=True, metadata={"description": "Tasks carrying it.", "example": 1}
    )
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})


class TagWriteSchema(ma.Schema):
    """A tag's name: 1 to 50 characters after trimming, unique per user case-insensitively."""

    name = Text(
        required=True, validate=validate.Length(min=1, max=50), metadata={"example": "errands"}
    )


TagEnvelope = envelope(TagSchema, "TagEnvelope")
TagListEnvelope = list_envelope(TagSchema, "TagListEnvelope")
