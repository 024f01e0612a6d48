"""Task logic: the one owner-filtered loader, writes with If-Match, and the filtered list."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import ETags

from app.common import etags
from app.common.pagination import SortOrder, decode_cursor, encode_cursor
from app.errors import ApiError
from app.extensions import db
from app.models import Tag, Task
from app.tags.service import resolve_tags
from app.tasks import listing
from app.tasks.listing import TAG_NAMES, TASK_COLUMNS, TASKS
from app.tasks.query import sorts_by_time


def etag_of(task: Any) -> str:
    """A strong ETag that changes with every change of the task."""
    return etags.etag_of(task.id, task.version)


# One task with its tag names, by id and owner: the statement of every task read, built once.
TASK_READ = select(*TASK_COLUMNS, TAG_NAMES).where(
    TASKS.c.id == bindparam("task_id"), TASKS.c.user_id == bindparam("user_id")
)


def get_user_task(*, user_id: uuid.UUID, task_id: uuid.UUID, lock: bool = False) -> Any:
    """The only way to load a task: by id *and* owner, so another user's task is a 404.

    A read answers a row (the task's columns and its tag_names) from one statement. A write
    (`lock`) answers the Task, row-locked so that If-Match checks and concurrent writes are
    race-free, with the tag objects it may replace.
    """
    task: Any
    if lock:
        # The tags come joined in the same statement (one round trip, not two); only the
        # task's row is locked.
        task = (
            db.session.scalars(
                select(Task)
                .where(Task.id == task_id, Task.user_id == user_id)
                .options(joinedload(Task.tags.and_(Tag.user_id == user_id)))
                .with_for_update(of=Task)
            )
            .unique()
            .one_or_none()
        )
    else:
        task = db.session.execute(TASK_READ, {"task_id": task_id, "user_id": user_id}).first()
    if task is None:
        raise ApiError(404, detail="No such task.")
    return task


def _lock_for_write(*, user_id: uuid.UUID, task_id: uuid.UUID, if_match: ETags | None) -> Task:
    """The task, locked, after its If-Match (when given) matched the version now stored."""
    task = get_user_task(user_id=user_id, task_id=task_id, lock=True)
    etags.require_match(if_match, etag_of(task), "task")
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
class TaskPage:
    tasks: Sequence[Any]  # rows with a task's columns and its tag_names
    count: int
    limit: int
    next_cursor: str | None


def list_tasks(
    *,
    user_id: uuid.UUID,
    filters: Mapping[str, Any],
    sort: str,
    limit: int,
    cursor: str | None,
) -> TaskPage:
    """One page in keyset order, with each task's tag names and the total count: one statement
    (listing.page_statement). `filters` holds the query's values by name (app/tasks/query.py)."""
    order = SortOrder.parse(sort)
    after_row = None
    if cursor:
        after_row = decode_cursor(cursor, order, datetime_key=sorts_by_time(order.field))
    shape = listing.Shape.of(filters, sort, after_row)
    params = listing.parameters(
        user_id=user_id, filters=filters, shape=shape, limit=limit, after_row=after_row
    )
    rows = db.session.execute(listing.page_statement(shape), params).all()
    tasks = rows[:limit]
    if rows:
        count = rows[0].total
    elif cursor:
        # Past the last page the statement has no row to carry the total: ask for it alone.
        count = db.session.scalar(listing.count_statement(shape), params) or 0
    else:
        count = 0
    next_cursor = None
    if len(rows) > limit:
        last = tasks[-1]
        next_cursor = encode_cursor(order, getattr(last, order.field), last.id)
    return TaskPage(tasks=tasks, count=count, limit=limit, next_cursor=next_cursor)
