"""Task logic: the one owner-filtered loader, writes with If-Match, and the filtered list."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, text
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import ETags

from app.auth.tokens import LIVE_SESSION, session_found_live
from app.common.pagination import SortOrder, after, decode_cursor, encode_cursor, order_by
from app.errors import ApiError
from app.extensions import db
from app.models import Tag, Task, task_tags
from app.tags.service import resolve_tags

# Reads are Core statements over the tables: a read only writes its rows out, so it skips the
# ORM's attribute machinery, identity map and instance building (rows read like tasks: the
# same names, plus tag_names). Writes use the ORM.
TASKS = Task.__table__
TAGS = Tag.__table__
SORT_COLUMNS = {
    name: TASKS.c[name] for name in ("created_at", "updated_at", "due_at", "priority", "title")
}
DATETIME_SORTS = {"created_at", "updated_at", "due_at"}
# What a task is answered with: every column but the search vector.
TASK_COLUMNS = [column for column in TASKS.c if column.key != "search"]


def etag_of(task: Task) -> str:
    """A strong ETag that changes with every change of the task."""
    digest = hashlib.blake2b(f"{task.id}:{task.version}".encode(), digest_size=8).hexdigest()
    return f'"{digest}"'


# The names of a task's tags, as one array (empty when none): a subquery correlated to the
# task row of the statement it is part of.
TAG_NAMES = (
    select(func.coalesce(func.array_agg(TAGS.c.name), text("'{}'::varchar[]")))
    .select_from(task_tags.join(TAGS, TAGS.c.id == task_tags.c.tag_id))
    .where(task_tags.c.task_id == TASKS.c.id)
    .scalar_subquery()
    .label("tag_names")
)

# One task with its tag names, by id and owner: the statement of every task read. A request
# passes its token's session too, which the statement checks (LIVE_SESSION) in the same trip.
TASK_READ = select(*TASK_COLUMNS, TAG_NAMES).where(
    TASKS.c.id == bindparam("task_id"), TASKS.c.user_id == bindparam("user_id")
)
TASK_READ_IN_SESSION = TASK_READ.where(LIVE_SESSION)


def get_user_task(
    *,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    lock: bool = False,
    session_id: uuid.UUID | None = None,
) -> Any:
    """The only way to load a task: by id *and* owner, so another user's task is a 404.

    A read answers a row (the task's columns and its tag_names) from one statement built once;
    with `session_id` (the request token's), that statement also checks the session is live.
    A write (`lock`) answers the Task, row-locked so that If-Match checks and concurrent writes
    are race-free, with the tag objects it may replace.
    """
    task: Task | Row | None
    if lock:
        task = db.session.scalar(
            select(Task)
            .where(Task.id == task_id, Task.user_id == user_id)
            .options(selectinload(Task.tags.and_(Tag.user_id == user_id)))
            .with_for_update(of=Task)
        )
    elif session_id is None:
        task = db.session.execute(TASK_READ, {"task_id": task_id, "user_id": user_id}).first()
    else:
        params = {"task_id": task_id, "user_id": user_id, "session_id": session_id}
        task = db.session.execute(TASK_READ_IN_SESSION, params).first()
        if task is not None:
            session_found_live()
    if task is None:
        raise ApiError(404, detail="No such task.")
    return task


def _lock_for_write(*, user_id: uuid.UUID, task_id: uuid.UUID, if_match: ETags | None) -> Task:
    """The task, locked, after its If-Match (when given) matched the version now stored."""
    task = get_user_task(user_id=user_id, task_id=task_id, lock=True)
    if if_match is not None and not if_match.contains(etag_of(task).strip('"')):
        raise ApiError(412, detail="The task has changed since that ETag; fetch it again.")
    return task


def _set_completion(task: Task, is_completed: bool) -> None:
    """Keep `completed_at` consistent with `is_completed` (the database checks it too)."""
    if is_completed != task.is_completed:
        task.is_completed = is_completed
        task.completed_at = datetime.now(UTC) if is_completed else None


def _apply(task: Task, user_id: uuid.UUID, changes: dict[str, Any]) -> bool:
    """Apply writable fields; True when anything changed."""
    before = (task.title, task.description, task.is_completed, task.priority, task.due_at)
    old_tags = {tag.id for tag in task.tags}
    for field in ("title", "description", "priority", "due_at"):
        if field in changes:
            setattr(task, field, changes[field])
    if "is_completed" in changes:
        _set_completion(task, changes["is_completed"])
    if "tags" in changes:
        task.tags = resolve_tags(user_id=user_id, names=changes["tags"])
    after_change = (task.title, task.description, task.is_completed, task.priority, task.due_at)
    return before != after_change or old_tags != {tag.id for tag in task.tags}


def create_task(*, user_id: uuid.UUID, data: dict[str, Any]) -> Task:
    task = Task(
        user_id=user_id,
        title=data["title"],
        description=data["description"],
        priority=data["priority"],
        due_at=data["due_at"],
        is_completed=False,
        tags=resolve_tags(user_id=user_id, names=data["tags"]),
    )
    _set_completion(task, data["is_completed"])
    db.session.add(task)
    db.session.commit()
    return task


def update_task(
    *, user_id: uuid.UUID, task_id: uuid.UUID, changes: dict[str, Any], if_match: ETags | None
) -> Task:
    """PATCH applies the fields given; PUT passes every writable field (defaults filled in)."""
    task = _lock_for_write(user_id=user_id, task_id=task_id, if_match=if_match)
    if _apply(task, user_id, changes):
        task.touch()
    db.session.commit()
    return task


def complete_task(
    *, user_id: uuid.UUID, task_id: uuid.UUID, is_completed: bool | None, if_match: ETags | None
) -> Task:
    """Set completion, or toggle it when `is_completed` is None."""
    task = _lock_for_write(user_id=user_id, task_id=task_id, if_match=if_match)
    target = (not task.is_completed) if is_completed is None else is_completed
    if _apply(task, user_id, {"is_completed": target}):
        task.touch()
    db.session.commit()
    return task


def delete_task(*, user_id: uuid.UUID, task_id: uuid.UUID, if_match: ETags | None) -> None:
    task = _lock_for_write(user_id=user_id, task_id=task_id, if_match=if_match)
    db.session.delete(task)
    db.session.commit()


@dataclass(frozen=True)
class TaskFilters:
    status: str = "all"
    priorities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None
    q: str | None = None


@dataclass(frozen=True)
class TaskPage:
    tasks: Sequence[Any]  # rows with a task's columns and its tag_names
    count: int
    limit: int
    next_cursor: str | None


def _conditions(tasks: Any, user_id: uuid.UUID, filters: TaskFilters) -> list[Any]:
    """The WHERE clause of a filtered list, over `tasks` (the table, or an alias of it)."""
    c = tasks.c
    conditions: list[Any] = [c.user_id == user_id]
    if filters.status != "all":
        conditions.append(c.is_completed.is_(filters.status == "completed"))
    if filters.priorities:
        conditions.append(c.priority.in_(filters.priorities))
    if filters.due_before is not None:
        conditions.append(c.due_at < filters.due_before)
    if filters.due_after is not None:
        conditions.append(c.due_at > filters.due_after)
    if filters.q:
        conditions.append(c.search.op("@@")(func.websearch_to_tsquery("english", filters.q)))
    for name in dict.fromkeys(tag.casefold() for tag in filters.tags):
        carrying = (
            select(task_tags.c.task_id)
            .join(TAGS, TAGS.c.id == task_tags.c.tag_id)
            .where(TAGS.c.user_id == user_id, func.lower(TAGS.c.name) == func.lower(name))
        )
        conditions.append(c.id.in_(carrying))
    return conditions


def list_tasks(
    *,
    user_id: uuid.UUID,
    filters: TaskFilters,
    sort: str,
    limit: int,
    cursor: str | None,
    session_id: uuid.UUID | None = None,
) -> TaskPage:
    """One page in keyset order, with each task's tag names and the total count: one statement.

    The count is an uncorrelated subquery over an alias (PostgreSQL runs it once, as an
    InitPlan); the tag names, a correlated one per row of the page. With `session_id` (the
    request token's), the statement also checks the session is live.
    """
    order = SortOrder.parse(sort)
    column = SORT_COLUMNS[order.field]
    counted = TASKS.alias("counted")
    count_query = (
        select(func.count()).select_from(counted).where(*_conditions(counted, user_id, filters))
    )
    query = (
        select(*TASK_COLUMNS, TAG_NAMES, count_query.scalar_subquery().label("total"))
        .where(*_conditions(TASKS, user_id, filters))
        .order_by(*order_by(column, TASKS.c.id, order))
        .limit(limit + 1)
    )
    if cursor:
        value, last_id = decode_cursor(cursor, order, datetime_key=order.field in DATETIME_SORTS)
        query = query.where(after(column, TASKS.c.id, order, value, last_id))
    params = {}
    if session_id is not None:
        query = query.where(LIVE_SESSION)
        params = {"user_id": user_id, "session_id": session_id}
    rows = db.session.execute(query, params).all()
    if rows and session_id is not None:
        session_found_live()
    tasks = rows[:limit]
    if rows:
        count = rows[0].total
    elif cursor:
        # Past the last page the statement has no row to carry the total: ask for it alone.
        count = db.session.scalar(count_query) or 0
    else:
        count = 0
    next_cursor = None
    if len(rows) > limit:
        last = tasks[-1]
        next_cursor = encode_cursor(order, getattr(last, order.field), last.id)
    return TaskPage(tasks=tasks, count=count, limit=limit, next_cursor=next_cursor)
