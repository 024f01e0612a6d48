"""Request, query and response schemas of /api/{user_id}/tasks."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.common.fields import StrictBoolean, Text, UtcDateTime
from app.common.schemas import ResponseSchema, envelope, list_envelope
from app.models import Priority
from app.tasks.query import DEFAULT_SORT, FILTERS, SORTS

MAX_TAGS = 20
MAX_CURSOR_LENGTH = 1000


def _title(**kwargs: Any) -> Text:
    return Text(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "1 to 200 characters after trimming.", "example": "Buy milk"},
        **kwargs,
    )


def _tags(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(
        Text(validate=validate.Length(min=1, max=50)),
        validate=validate.Length(max=MAX_TAGS),
        metadata={
            "description": "Tag names (created on first use, matched case-insensitively).",
            "example": ["errands"],
        },
        **kwargs,
    )


def _priority(**kwargs: Any) -> ma.fields.Enum:
    return ma.fields.Enum(
        Priority, by_value=True, metadata={"type": "string", "example": "high"}, **kwargs
    )


def _description(**kwargs: Any) -> Text:
    return Text(
        allow_none=True,
        validate=validate.Length(max=5000),
        metadata={"example": "Two litres, from the shop on the corner."},
        **kwargs,
    )


class TaskSchema(ResponseSchema):
    """A task as the API answers it: the documented shape and the one writer of a task."""

    id = ma.fields.UUID(required=True, metadata={"example": "0b6f3c1e-8a52-4f7d-9c3e-2d4a1b5e6f70"})
    user_id = ma.fields.UUID(
        required=True, metadata={"example": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}
    )
    title = ma.fields.String(required=True, metadata={"example": "Buy milk"})
    description = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"example": "Two litres, from the shop on the corner."},
    )
    is_completed = ma.fields.Boolean(required=True, metadata={"example": True})
    completed_at = UtcDateTime(
        required=True, allow_none=True, metadata={"example": "2026-11-30T16:45:00Z"}
    )
    priority = _priority(required=True)
    due_at = UtcDateTime(
        required=True, allow_none=True, metadata={"example": "2026-11-30T17:00:00Z"}
    )
    tags = ma.fields.Method(
        "tag_names",
        required=True,
        metadata={"type": "array", "items": {"type": "string"}, "example": ["errands"]},
    )
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})
    updated_at = UtcDateTime(required=True, metadata={"example": "2026-11-30T16:45:00Z"})

    def tag_names(self, task: Any) -> list[str]:
        return sorted(task.tag_names, key=str.casefold)


class TaskCreateSchema(ma.Schema):
    """The writable fields; omitted optional ones take their defaults (POST and PUT)."""

    title = _title(required=True)
    description = _description(load_default=None)
    is_completed = StrictBoolean(load_default=False, metadata={"example": False})
    priority = _priority(load_default=Priority.NONE)
    due_at = UtcDateTime(
        allow_none=True, load_default=None, metadata={"example": "2026-11-30T17:00:00Z"}
    )
    tags = _tags(load_default=list)


class TaskPatchSchema(ma.Schema):
    """Any of the writable fields; the others keep their values (PATCH)."""

    title = _title()
    description = _description()
    is_completed = StrictBoolean(metadata={"example": False})
    priority = _priority()
    due_at = UtcDateTime(allow_none=True, metadata={"example": "2026-11-30T17:00:00Z"})
    tags = _tags()


class TaskCompletionSchema(ma.Schema):
    """`{"is_completed": bool}` sets it; an empty body toggles it."""

    is_completed = StrictBoolean(metadata={"example": True})


# Filters, sort and page of the task list; the filters come from app/tasks/query.py.
TaskQueryArgsSchema = ma.Schema.from_dict(
    {
        **{name: spec.field for name, spec in FILTERS.items()},
        "sort": ma.fields.String(
            load_default=DEFAULT_SORT,
            validate=validate.OneOf(SORTS),
            metadata={
                "description": (
                    "Key, `-` for descending; ties broken by id; no due date sorts last."
                ),
                # Names for generated clients' enums (openapi-python-client would say VALUE_5).
                "x-enum-varnames": [
                    f"{sort.removeprefix('-').upper()}{'_DESC' if sort.startswith('-') else ''}"
                    for sort in SORTS
                ],
            },
        ),
        "limit": ma.fields.Integer(
            load_default=50, validate=validate.Range(min=1, max=100), strict=False
        ),
        "cursor": ma.fields.String(
            validate=validate.Length(max=MAX_CURSOR_LENGTH),
            metadata={"description": "`meta.next_cursor` of the previous page."},
        ),
    },
    name="TaskQueryArgsSchema",
)


class TaskPageMetaSchema(ResponseSchema):
    count = ma.fields.Integer(
        required=True,
        metadata={"description": "Tasks matching the filters, on every page.", "example": 1},
    )
    limit = ma.fields.Integer(required=True, metadata={"example": 50})
    next_cursor = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Null exactly when no task follows.", "example": None},
    )


TaskEnvelope = envelope(TaskSchema, "TaskEnvelope")
TaskListEnvelope = list_envelope(TaskSchema, "TaskListEnvelope", meta=TaskPageMetaSchema)
