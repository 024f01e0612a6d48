"""The task list's SQL: one statement per shape of filters, sort and cursor, built once.

A list request used to build its statement anew, and building plus SQLAlchemy's cache key was
about half a millisecond of every page. A page's statement depends only on which filters are
present (and how many priorities and tags), the sort and the kind of cursor; the values are
bound parameters. So each shape is built the first time it is asked for and kept (a bounded
cache: the number of tags a client can pass is what makes shapes unbounded).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select, text

from app.auth.tokens import LIVE_SESSION
from app.common.pagination import SortOrder, after, order_by
from app.models import Tag, Task, task_tags

TASKS = Task.__table__
TAGS = Tag.__table__
# The same table again, for the count subquery of the page's statement.
COUNTED = TASKS.alias("counted")
SORT_COLUMNS = {
    name: TASKS.c[name] for name in ("created_at", "updated_at", "due_at", "priority", "title")
}
# What a task is answered with: every column but the search vector.
TASK_COLUMNS = [column for column in TASKS.c if column.key != "search"]

# The names of a task's tags, as one array (empty when none): a subquery correlated to the
# task row of the statement it is part of.
TAG_NAMES = (
    select(func.coalesce(func.array_agg(TAGS.c.name), text("'{}'::varchar[]")))
    .select_from(task_tags.join(TAGS, TAGS.c.id == task_tags.c.tag_id))
    .where(task_tags.c.task_id == TASKS.c.id)
    .scalar_subquery()
    .label("tag_names")
)


@dataclass(frozen=True)
class TaskFilters:
    status: str = "all"
    priorities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None
    q: str | None = None

    def tag_keys(self) -> tuple[str, ...]:
        """The tags to match, once each, compared case-insensitively."""
        return tuple(dict.fromkeys(tag.casefold() for tag in self.tags))


@dataclass(frozen=True)
class Shape:
    """What a list statement's SQL depends on (values are parameters)."""

    status: str
    priorities: bool
    tags: int
    due_before: bool
    due_after: bool
    q: bool
    sort: str
    cursor: str  # "none", "value" (after a row with a sort key) or "null" (after one without)
    in_session: bool

    @classmethod
    def of(
        cls,
        filters: TaskFilters,
        sort: str,
        after_row: tuple[Any, uuid.UUID] | None,
        in_session: bool,
    ) -> Shape:
        """The shape of a request: its filters, sort, cursor (the row it points after, if any)
        and whether the statement checks the token's session."""
        if after_row is None:
            cursor = "none"
        else:
            cursor = "null" if after_row[0] is None else "value"
        return cls(
            status=filters.status,
            priorities=bool(filters.priorities),
            tags=len(filters.tag_keys()),
            due_before=filters.due_before is not None,
            due_after=filters.due_after is not None,
            q=bool(filters.q),
            sort=sort,
            cursor=cursor,
            in_session=in_session,
        )


def parameters(
    *,
    user_id: uuid.UUID,
    filters: TaskFilters,
    limit: int,
    after_row: tuple[Any, uuid.UUID] | None = None,
    session_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The values of a list statement's parameters (those its shape does not use are ignored)."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "priorities": list(filters.priorities),
        "due_before": filters.due_before,
        "due_after": filters.due_after,
        "q": filters.q,
        "limit": limit + 1,  # one more than the page: whether there is a next page
        "session_id": session_id,
    }
    values.update({f"tag_{index}": name for index, name in enumerate(filters.tag_keys())})
    if after_row is not None:
        values["after_value"], values["after_id"] = after_row
    return values


def _conditions(tasks: Any, shape: Shape) -> list[Any]:
    """The WHERE clause of a filtered list, over `tasks` (the table, or COUNTED)."""
    c = tasks.c
    conditions: list[Any] = [c.user_id == bindparam("user_id")]
    if shape.status != "all":
        conditions.append(c.is_completed.is_(shape.status == "completed"))
    if shape.priorities:
        conditions.append(c.priority.in_(bindparam("priorities", expanding=True)))
    if shape.due_before:
        conditions.append(c.due_at < bindparam("due_before", type_=c.due_at.type))
    if shape.due_after:
        conditions.append(c.due_at > bindparam("due_after", type_=c.due_at.type))
    if shape.q:
        query = func.websearch_to_tsquery("english", bindparam("q", type_=c.title.type))
        conditions.append(c.search.op("@@")(query))
    for index in range(shape.tags):
        carrying = (
            select(task_tags.c.task_id)
            .join(TAGS, TAGS.c.id == task_tags.c.tag_id)
            .where(
                TAGS.c.user_id == bindparam("user_id"),
                func.lower(TAGS.c.name)
                == func.lower(bindparam(f"tag_{index}", type_=TAGS.c.name.type)),
            )
        )
        conditions.append(c.id.in_(carrying))
    return conditions


@lru_cache(maxsize=512)
def count_statement(shape: Shape) -> Select:
    """How many tasks match the shape's filters (whatever the cursor)."""
    return select(func.count()).select_from(COUNTED).where(*_conditions(COUNTED, shape))


@lru_cache(maxsize=512)
def page_statement(shape: Shape) -> Select:
    """One page in keyset order, with each task's tag names and the total count.

    The count is an uncorrelated subquery over COUNTED (PostgreSQL runs it once, as an
    InitPlan); the tag names, a correlated one per row of the page. In a session, the statement
    also checks that the token's session is live (no row otherwise).
    """
    order = SortOrder.parse(shape.sort)
    column = SORT_COLUMNS[order.field]
    statement = (
        select(*TASK_COLUMNS, TAG_NAMES, count_statement(shape).scalar_subquery().label("total"))
        .where(*_conditions(TASKS, shape))
        .order_by(*order_by(column, TASKS.c.id, order))
        .limit(bindparam("limit", type_=Integer))
    )
    if shape.cursor != "none":
        statement = statement.where(
            after(column, TASKS.c.id, order, past_nulls=shape.cursor == "null")
        )
    if shape.in_session:
        statement = statement.where(LIVE_SESSION)
    return statement
