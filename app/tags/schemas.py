"""Request and response schemas of /api/{user_id}/tags."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.common.fields import Text, UtcDateTime
from app.common.schemas import envelope, list_envelope


class TagSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    task_count = ma.fields.Integer(required=True, metadata={"description": "Tasks carrying it."})
    created_at = UtcDateTime(required=True)


class TagWriteSchema(ma.Schema):
    """A tag's name: 1 to 50 characters after trimming, unique per user case-insensitively."""

    name = Text(
        required=True, validate=validate.Length(min=1, max=50), metadata={"example": "errands"}
    )


TagEnvelope = envelope(TagSchema, "TagEnvelope")
TagListEnvelope = list_envelope(TagSchema, "TagListEnvelope")
