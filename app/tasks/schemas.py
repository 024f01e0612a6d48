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


def _link(description: str, example: str | None, **kwargs: Any) -> ma.fields.UUID:
    return ma.fields.UUID(
        allow_none=True, metadata={"description": description, "example": example}, **kwargs
    )


def _list_id(**kwargs: Any) -> ma.fields.UUID:
    return _link("One of the user's lists; null: no list.", None, **kwargs)


def _parent_id(**kwargs: Any) -> ma.fields.UUID:
    return _link("The task this is a subtask of; null: a top-level task.", None, **kwargs)


def _recurrence(**kwargs: Any) -> Text:
    return Text(
        allow_none=True,
        validate=validate.Length(min=1, max=500),
        metadata={
            "description": "An RFC 5545 RRULE value (FREQ DAILY to YEARLY); needs `due_at`.",
            "example": "FREQ=WEEKLY;BYDAY=MO,TH",
        },
        **kwargs,
    )


def _time_zone(**kwargs: Any) -> Text:
    return Text(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "IANA zone the recurrence runs in.", "example": "Europe/Berlin"},
        **kwargs,
    )


def _remind_at(**kwargs: Any) -> UtcDateTime:
    return UtcDateTime(
        allow_none=True,
        metadata={
            "description": "When its `task.reminder` webhook event fires (within 60 s; at once "
            "for a time already past), if the task is still pending.",
            "example": "2026-11-30T16:30:00Z",
        },
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
    list_id = _list_id(required=True)
    parent_id = _parent_id(required=True)
    position = ma.fields.String(
        required=True,
        metadata={
            "description": "Its place among its siblings, made by the server: compare as plain "
            "strings (byte by byte), never compute.",
            "example": "a0",
        },
    )
    recurrence = _recurrence(required=True)
    time_zone = _time_zone(required=True)
    next_occurrence_id = _link(
        "The task created when this recurring task was completed.", None, required=True
    )
    remind_at = _remind_at(required=True)
    reminded_at = UtcDateTime(
        required=True,
        allow_none=True,
        metadata={
            "description": "When its reminder fired; cleared when `remind_at` changes.",
            "example": None,
        },
    )

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
    list_id = _list_id()
    parent_id = _parent_id(load_default=None)
    recurrence = _recurrence(load_default=None)
    time_zone = _time_zone(load_default="UTC")
    remind_at = _remind_at(load_default=None)

    @ma.post_load
    def _no_list_unless_a_parent_gives_one(self, data: dict[str, Any], **kwargs: Any) -> dict:
        """An omitted `list_id` is no list, except for a subtask: it is in its parent's."""
        if "list_id" not in data and data["parent_id"] is None:
            data["list_id"] = None
        return data


class TaskPatchSchema(ma.Schema):
    """Any of the writable fields; the others keep their values (PATCH)."""

    title = _title()
    description = _description()
    is_completed = StrictBoolean(metadata={"example": False})
    priority = _priority()
    due_at = UtcDateTime(allow_none=True, metadata={"example": "2026-11-30T17:00:00Z"})
    tags = _tags()
    list_id = _list_id()
    parent_id = _parent_id()
    recurrence = _recurrence()
    time_zone = _time_zone()
    remind_at = _remind_at()


class TaskMoveSchema(ma.Schema):
    """Where to put the task: after or before a sibling (or last), and optionally elsewhere."""

    after = ma.fields.UUID(
        allow_none=True,
        metadata={
            "description": "The sibling to follow directly; null: first among its siblings.",
            "example": "0b6f3c1e-8a52-4f7d-9c3e-2d4a1b5e6f70",
        },
    )
    before = ma.fields.UUID(
        metadata={
            "description": "The sibling to precede directly.",
            "example": "0b6f3c1e-8a52-4f7d-9c3e-2d4a1b5e6f70",
        }
    )
    list_id = _list_id()
    parent_id = _parent_id()

    @ma.validates_schema
    def _after_or_before(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "after" in data and "before" in data:
            raise ma.ValidationError("Give `after` or `before`, not both.", "before")


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


BATCH_OPERATIONS = ("create", "update", "replace", "complete", "move", "delete")
MAX_BATCH = 100
REF_PATTERN = r"^[A-Za-z0-9_-]{1,50}$"


class BatchOperationSchema(ma.Schema):
    """One operation: `data` is the body its single route takes, `if_match` that route's
    If-Match; `"$ref"` stands for the id of a task an earlier create named `ref`."""

    op = ma.fields.String(
        required=True, validate=validate.OneOf(BATCH_OPERATIONS), metadata={"example": "create"}
    )
    ref = ma.fields.String(
        validate=validate.Regexp(REF_PATTERN),
        metadata={"description": "Names a created task for later operations.", "example": "trip"},
    )
    id = ma.fields.String(
        validate=validate.Length(min=1, max=51),
        metadata={"description": "The task's id, or `$ref`.", "example": "$trip"},
    )
    data = ma.fields.Dict(
        metadata={"description": "The single route's body.", "example": {"title": "Trip"}}
    )
    if_match = ma.fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "The single route's If-Match.", "example": '"3f2a9c"'},
    )

    @ma.validates_schema
    def _fits_the_operation(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("op") == "create":
            for field in ("id", "if_match"):
                if field in data:
                    raise ma.ValidationError("Not for a create.", field)
        elif "op" in data:
            if "id" not in data:
                raise ma.ValidationError("Missing data for required field.", "id")
            if "ref" in data:
                raise ma.ValidationError("Only a create names a ref.", "ref")


class Operations(ma.fields.List):
    """A list of BatchOperationSchema, as documented; each operation itself is checked when its
    turn comes (app/tasks/batch.py), so that a failure names the first failing operation."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return list(value)


class BatchSchema(ma.Schema):
    """Up to 100 task operations, applied in order, all or nothing."""

    operations = Operations(
        ma.fields.Nested(BatchOperationSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
    )


class BatchMetaSchema(ResponseSchema):
    refs = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.UUID(),
        required=True,
        metadata={"description": "The id of each task a create named.", "example": {}},
    )


BatchResultEnvelope = ResponseSchema.from_dict(
    {
        "data": ma.fields.List(
            ma.fields.Nested(
                TaskSchema,
                allow_none=True,
                metadata={"description": "A task, or null after a delete.", "example": None},
            ),
            required=True,
            metadata={
                "description": "The task after each operation, in order; null: deleted.",
                "example": [None],
            },
        ),
        "meta": ma.fields.Nested(BatchMetaSchema, required=True),
    },
    name="BatchResultEnvelope",
)
