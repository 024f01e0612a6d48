"""The task list's SQL: one statement per shape of filters, sort and cursor, built once.

A page's statement depends only on which filters apply (and, for tags, how many), the sort and
the kind of cursor; the values are bound parameters (app/tasks/query.py declares each filter's
SQL and values). So each shape is built the first time it is asked for and kept, in a bounded
cache. Building a statement and its cache key was about half a millisecond of every page.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select, text

from app.common.pagination import SortOrder, after, order_by
from app.models import task_tags
from app.tasks.query import FILTERS, SORT_KEYS, TAGS, TASKS

# The same table again, for the count subquery of the page's statement.
COUNTED = TASKS.alias("counted")
# What a task is answered with: every column but those only the database and writes use.
TASK_COLUMNS = [
    column
    for column in TASKS.c
    if column.key not in {"search", "list_key", "parent_key", "recurrence_wall_clock"}
]

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
class Shape:
    """What a list statement's SQL depends on (values are parameters)."""

    filters: tuple[tuple[str, Hashable], ...]  # (name, shape) of each filter that applies
    sort: str
    cursor: str  # "none", "value" (after a row with a sort key) or "null" (after one without)

    @property
    def searches(self) -> bool:
        """Whether it has a full-text query (`q`), whose best plan depends on its words."""
        return any(name == "q" for name, _ in self.filters)

    @classmethod
    def of(cls, filters: Mapping[str, Any], sort: str, after_row: tuple[Any, Any] | None) -> Shape:
        """The shape of a request: its filters' values, its sort, and the cursor's row."""
        shapes = ((name, spec.shape(filters.get(name))) for name, spec in FILTERS.items())
        if after_row is None:
            cursor = "none"
        else:
            cursor = "null" if after_row[0] is None else "value"
        return cls(
            filters=tuple((name, shape) for name, shape in shapes if shape is not None),
            sort=sort,
            cursor=cursor,
        )


def parameters(
    *,
    user_id: uuid.UUID,
    filters: Mapping[str, Any],
    shape: Shape,
    limit: int,
    after_row: tuple[Any, uuid.UUID] | None,
) -> dict[str, Any]:
    """The values of the statement's parameters: the applying filters', the page's, the cursor's."""
    values: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}  # one more: a next page?
    for name, _ in shape.filters:
        values.update(FILTERS[name].params(filters[name]))
    if after_row is not None:
        values["after_value"], values["after_id"] = after_row
    return values


def _conditions(tasks: Any, shape: Shape) -> list[Any]:
    """The WHERE clause of a filtered list, over `tasks` (the table, or COUNTED)."""
    return [tasks.c.user_id == bindparam("user_id")] + [
        FILTERS[name].condition(tasks.c, filter_shape) for name, filter_shape in shape.filters
    ]


@lru_cache(maxsize=512)
def count_statement(shape: Shape) -> Select:
    """How many tasks match the shape's filters (whatever the cursor)."""
    return select(func.count()).select_from(COUNTED).where(*_conditions(COUNTED, shape))


@lru_cache(maxsize=512)
def page_statement(shape: Shape) -> Select:
    """One page in keyset order, with each task's tag names and the total count.

    The count is an uncorrelated subquery over COUNTED (PostgreSQL runs it once, as an
    InitPlan); the tag names, a correlated one per row of the page.
    """
    order = SortOrder.parse(shape.sort)
    column = SORT_KEYS[order.field]
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
    return statement
