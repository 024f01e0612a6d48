"""Query and response schemas of /api/{user_id}/changes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.common.schemas import ResponseSchema, list_envelope
from app.lists.schemas import ListSchema
from app.models.change import KINDS
from app.tags.schemas import TagSchema
from app.tasks.schemas import TaskSchema

MAX_TOKEN_LENGTH = 1000
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
# What a client counts itself: a change that only moves a count does not report its list or tag.
COUNTS = ("task_count", "open_count")


def _without_counts(schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The schema of a list or tag as its GET answers it, but for its derived counts."""
    fields = {key: field for key, field in schema._declared_fields.items() if key not in COUNTS}
    return ResponseSchema.from_dict(fields, name=name)


ListWithoutCountsSchema = _without_counts(ListSchema, "ListWithoutCountsSchema")
TagWithoutCountsSchema = _without_counts(TagSchema, "TagWithoutCountsSchema")
DATA_SCHEMAS: dict[str, type[ma.Schema]] = {
    "list": ListWithoutCountsSchema,
    "tag": TagWithoutCountsSchema,
    "task": TaskSchema,
}
WRITERS = {kind: schema() for kind, schema in DATA_SCHEMAS.items()}


class ChangedObject(ma.fields.Method):
    """The object a change is about, written by the schema of its kind; null when deleted.

    Documented as `oneOf` the kinds' schemas (app/changes/routes.py teaches apispec, in
    `changed_object2properties`).
    """

    def __init__(self, serialize: str, *, schemas: dict[str, type[ma.Schema]], **kwargs: Any):
        super().__init__(serialize, **kwargs)
        self.schemas = schemas


def changed_object2properties(self: Any, field: ma.fields.Field, **kwargs: Any) -> dict:
    """An apispec attribute function (bound to its OpenAPIConverter): a ChangedObject is
    `oneOf` a reference to each kind's schema, or null."""
    if not isinstance(field, ChangedObject):
        return {}
    return {
        "oneOf": [self.resolve_nested_schema(schema) for schema in field.schemas.values()],
        "nullable": True,
    }


class ChangeSchema(ResponseSchema):
    """A list, tag or task that was created, changed or deleted, in its latest state."""

    type = ma.fields.String(required=True, metadata={"enum": list(KINDS), "example": "list"})
    id = ma.fields.UUID(required=True, metadata={"example": "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"})
    deleted = ma.fields.Boolean(required=True, metadata={"example": False})
    data = ChangedObject(
        "write_data",
        schemas=DATA_SCHEMAS,
        required=True,
        metadata={
            "description": "The object as its GET answers it now (a list or tag without its "
            "counts); null when deleted.",
            "example": {
                "id": "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
                "name": "Groceries",
                "created_at": "2026-11-01T09:30:00Z",
                "updated_at": "2026-11-02T08:15:00Z",
            },
        },
    )

    def write_data(self, change: Any) -> Any:
        return None if change.data is None else WRITERS[change.type].dump(change.data)


class ChangesMetaSchema(ResponseSchema):
    next_since = ma.fields.String(
        required=True,
        metadata={
            "description": "The token to continue from: `since` of the next request (after the "
            "last page too, to ask for what changes next).",
            "example": "eyJ1IjoiN2M5ZTY2NzkifQ.c2lnbmF0dXJl",
        },
    )
    has_more = ma.fields.Boolean(
        required=True,
        metadata={"description": "Whether more follows at once: ask again now.", "example": False},
    )


ChangesQueryArgsSchema = ma.Schema.from_dict(
    {
        "since": ma.fields.String(
            validate=validate.Length(min=1, max=MAX_TOKEN_LENGTH),
            metadata={
                "description": "`meta.next_since` of the previous answer; absent: a full "
                "snapshot from the first page."
            },
        ),
        "limit": ma.fields.Integer(
            load_default=DEFAULT_LIMIT,
            validate=validate.Range(min=1, max=MAX_LIMIT),
            strict=False,
        ),
    },
    name="ChangesQueryArgsSchema",
)

ChangesEnvelope = list_envelope(ChangeSchema, "ChangesEnvelope", meta=ChangesMetaSchema)
