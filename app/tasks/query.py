"""What a task list can ask for: its filters and its sort keys, each declared once, here.

A filter is one entry of FILTERS: the query parameter (validated and documented by its
marshmallow field), the SQL condition it adds, and the values it binds, side by side. The
query-args schema (schemas.py) and the list statement (listing.py) are both built from them, so
adding a filter is one entry here. Sort keys are SORT_KEYS, likewise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from marshmallow import validate
from sqlalchemy import ColumnElement, DateTime, and_, bindparam, func, select

from app.common.fields import NONE, IdOrNone, Text, UtcDateTime
from app.models import Priority, Tag, Task, task_tags
from app.models.task import NO_LIST

TASKS = Task.__table__
TAGS = Tag.__table__
MAX_TAG_FILTERS = 20


def no_params(value: Any) -> dict[str, Any]:
    """For a filter whose SQL binds no value of its own."""
    return {}


def present(value: Any) -> Hashable:
    """The usual shape: the filter's SQL is the same whatever its value, when it has one."""
    return True if value not in (None, "", [], ()) else None


@dataclass(frozen=True)
class ListFilter:
    """One query parameter of the task list and the SQL it adds.

    - `field`: how the parameter is read and documented (its name is its key in FILTERS);
    - `shape(value)`: what the statement's SQL depends on, hashable; None when the filter does
      not apply (list statements are built once per shape, values being bound parameters);
    - `condition(columns, shape)`: the WHERE clause over `columns` (the tasks table's, or the
      count subquery's), with its values as bind parameters;
    - `params(value)`: the values of those bind parameters.
    """

    field: ma.fields.Field
    condition: Callable[[Any, Any], ColumnElement[bool]]
    params: Callable[[Any], dict[str, Any]] = no_params
    shape: Callable[[Any], Hashable] = present


def _tag_keys(names: Any) -> tuple[str, ...]:
    """The tags to match, once each, compared case-insensitively."""
    return tuple(dict.fromkeys(name.casefold() for name in names or ()))


def _carrying_every_tag(c: Any, count: int) -> ColumnElement[bool]:
    """Tasks carrying each of `count` named tags (parameters tag_0, tag_1, ...)."""
    return and_(
        *(
            c.id.in_(
                select(task_tags.c.task_id)
                .join(TAGS, TAGS.c.id == task_tags.c.tag_id)
                .where(
                    TAGS.c.user_id == bindparam("user_id"),
                    func.lower(TAGS.c.name)
                    == func.lower(bindparam(f"tag_{i}", type_=TAGS.c.name.type)),
                )
            )
            for i in range(count)
        )
    )


def _link_filter(key: str, description: str) -> ListFilter:
    """A filter on a link that may be absent, `?list=<id>` or `?list=none` (likewise parent),
    as an equality on the link's key column (the id, or NO_LINK for none): one statement
    either way, and the only form in which the sibling index also gives position order."""
    no_link = uuid.UUID(NO_LIST)
    return ListFilter(
        field=IdOrNone(metadata={"description": description}),
        condition=lambda c, _: c[key] == bindparam(key, type_=c[key].type),
        params=lambda value: {key: no_link if value == NONE else value},
    )


def _priority_field() -> ma.fields.Enum:
    return ma.fields.Enum(Priority, by_value=True, metadata={"type": "string", "example": "high"})


FILTERS: dict[str, ListFilter] = {
    "status": ListFilter(
        field=ma.fields.String(
            load_default="all", validate=validate.OneOf(["all", "pending", "completed"])
        ),
        shape=lambda value: None if value == "all" else value,
        condition=lambda c, status: c.is_completed.is_(status == "completed"),
    ),
    "priority": ListFilter(
        field=ma.fields.List(
            _priority_field(),
            validate=validate.Length(max=len(Priority)),
            metadata={"description": "One or more; any matches."},
        ),
        condition=lambda c, _: c.priority.in_(bindparam("priorities", expanding=True)),
        params=lambda values: {"priorities": list(values)},
    ),
    "tag": ListFilter(
        field=ma.fields.List(
            Text(validate=validate.Length(min=1, max=50)),
            validate=validate.Length(max=MAX_TAG_FILTERS),
            metadata={"description": "One or more; a task must carry every tag named."},
        ),
        shape=lambda names: len(_tag_keys(names)) or None,
        condition=_carrying_every_tag,
        params=lambda names: {f"tag_{i}": key for i, key in enumerate(_tag_keys(names))},
    ),
    "due_before": ListFilter(
        field=UtcDateTime(metadata={"description": "Tasks due strictly before this time."}),
        condition=lambda c, _: c.due_at < bindparam("due_before", type_=c.due_at.type),
        params=lambda value: {"due_before": value},
    ),
    "due_after": ListFilter(
        field=UtcDateTime(metadata={"description": "Tasks due strictly after this time."}),
        condition=lambda c, _: c.due_at > bindparam("due_after", type_=c.due_at.type),
        params=lambda value: {"due_after": value},
    ),
    "q": ListFilter(
        field=Text(
            validate=validate.Length(max=200),
            metadata={"description": 'Full-text search: words, stems, "phrases", -exclusions.'},
        ),
        condition=lambda c, _: c.search.op("@@")(
            func.websearch_to_tsquery("english", bindparam("q", type_=c.title.type))
        ),
        params=lambda text: {"q": text},
    ),
    "list": _link_filter("list_key", "A list's id: its tasks (every level); `none`: in no list."),
    "parent": _link_filter(
        "parent_key", "A task's id: its direct subtasks; `none`: top-level tasks only."
    ),
}

# The keys a list can be sorted by (`-` before one for descending), and their columns.
SORT_KEYS = {
    name: TASKS.c[name]
    for name in ("created_at", "updated_at", "due_at", "priority", "title", "position")
}
SORTS = [*SORT_KEYS, *(f"-{name}" for name in SORT_KEYS)]
DEFAULT_SORT = "-created_at"


def sorts_by_time(key: str) -> bool:
    """Whether a sort key's values are times (a cursor carries them as text)."""
    return isinstance(SORT_KEYS[key].type, DateTime)
