"""Request, query and response schemas of /api/{user_id}/tasks."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.common.fields import StrictBoolean, Text, UtcDateTime
from app.common.schemas import envelope, list_envelope
from app.models import Priority

SORT_FIELDS = ("created_at", "updated_at", "due_at", "priority", "title")
SORTS = [*SORT_FIELDS, *(f"-{field}" for field in SORT_FIELDS)]
MAX_TAGS = 20


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
    return ma.fields.Enum(Priority, by_value=True, metadata={"type": "string"}, **kwargs)


class TaskSchema(ma.Schema):
    """A task as the API answers it."""

    id = ma.fields.UUID(required=True)
    user_id = ma.fields.UUID(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True, allow_none=True)
    is_completed = ma.fields.Boolean(required=True)
    completed_at = UtcDateTime(required=True, allow_none=True)
    priority = _priority(required=True)
    due_at = UtcDateTime(required=True, allow_none=True)
    tags = ma.fields.Method(
        "tag_names", required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)

    def tag_names(self, task: Any) -> list[str]:
        return sorted((tag.name for tag in task.tags), key=str.casefold)


class TaskCreateSchema(ma.Schema):
    """The writable fields; omitted optional ones take their defaults (POST and PUT)."""

    title = _title(required=True)
    description = Text(allow_none=True, load_default=None, validate=validate.Length(max=5000))
    is_completed = StrictBoolean(load_default=False)
    priority = _priority(load_default=Priority.NONE)
    due_at = UtcDateTime(
        allow_none=True, load_default=None, metadata={"example": "2026-11-30T17:00:00Z"}
    )
    tags = _tags(load_default=list)


class TaskPatchSchema(ma.Schema):
    """Any of the writable fields; the others keep their values (PATCH)."""

    title = _title()
    description = Text(allow_none=True, validate=validate.Length(max=5000))
    is_completed = StrictBoolean()
    priority = _priority()
    due_at = UtcDateTime(allow_none=True)
    tags = _tags()


class TaskCompletionSchema(ma.Schema):
    """`{"is_completed": bool}` sets it; an empty body toggles it."""

    is_completed = StrictBoolean()


class TaskQueryArgsSchema(ma.Schema):
    """Filters, sort and page of the task list."""

    status = ma.fields.String(
        load_default="all", validate=validate.OneOf(["all", "pending", "completed"])
    )
    priority = ma.fields.List(_priority(), metadata={"description": "One or more; any matches."})
    tag = ma.fields.List(
        Text(validate=validate.Length(min=1, max=50)),
        metadata={"description": "One or more; a task must carry every tag named."},
    )
    due_before = UtcDateTime(metadata={"description": "Tasks due strictly before this time."})
    due_after = UtcDateTime(metadata={"description": "Tasks due strictly after this time."})
    q = Text(
        validate=validate.Length(max=200),
        metadata={"description": 'Full-text search: words, stems, "phrases", -exclusions.'},
    )
    sort = ma.fields.String(
        load_default="-created_at",
        validate=validate.OneOf(SORTS),
        metadata={
            "description": "Key, `-` for descending; ties broken by id; no due date sorts last."
        },
    )
    limit = ma.fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=100), strict=False
    )
    cursor = ma.fields.String(
        validate=validate.Length(max=1000),
        metadata={"description": "`meta.next_cursor` of the previous page."},
    )


class TaskPageMetaSchema(ma.Schema):
    count = ma.fields.Integer(
        required=True, metadata={"description": "Tasks matching the filters, on every page."}
    )
    limit = ma.fields.Integer(required=True)
    next_cursor = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Null exactly when no task follows."},
    )


TaskEnvelope = envelope(TaskSchema, "TaskEnvelope")
TaskListEnvelope = list_envelope(TaskSchema, "TaskListEnvelope", meta=TaskPageMetaSchema)
