"""Task logic: the one owner-filtered loader, writes with If-Match, and the filtered list."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import ETags

from app.common import etags
from app.common.locks import lock_user
from app.common.pagination import SortOrder, decode_cursor, encode_cursor
from app.core.database import planned_with_their_values
from app.errors import ApiError
from app.extensions import db
from app.models import Tag, Task
from app.tags.service import resolve_tags
from app.tasks import listing, occurrences, placement
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


def get_user_tasks(*, user_id: uuid.UUID, task_ids: list[uuid.UUID]) -> list[Any]:
    """Those of the tasks that are the user's, as reads answer them: one statement."""
    return list(
        db.session.execute(
            select(*TASK_COLUMNS, TAG_NAMES).where(
                TASKS.c.user_id == user_id, TASKS.c.id.in_(task_ids)
            )
        )
    )


def _lock_for_write(*, user_id: uuid.UUID, task_id: uuid.UUID, if_match: ETags | None) -> Task:
    """The task, locked, after its If-Match (when given) matched the version now stored."""
    task = get_user_task(user_id=user_id, task_id=task_id, lock=True)
    etags.require_match(if_match, etag_of(task), "task")
    return task


# The fields a write copies as they are; the others are placed (list, parent), checked
# together (recurrence, due_at, time_zone), resolved (tags) or derived (completion).
PLAIN_FIELDS = ("title", "description", "priority", "due_at")
SCHEDULE_FIELDS = ("recurrence", "due_at", "time_zone")


def _lock_tasks(*, user_id: uuid.UUID, task_id: uuid.UUID, if_match: ETags | None) -> Task:
    """The user's lock first (every write of a user takes it first: no two can deadlock),
    then the task, row-locked, after its If-Match (when given) matched the stored version."""
    lock_user(user_id)
    return _lock_for_write(user_id=user_id, task_id=task_id, if_match=if_match)


def _place(task: Task, user_id: uuid.UUID, changes: dict[str, Any]) -> bool:
    """Move the task where `changes` put it (list, parent), last among its new siblings, with
    its whole subtree: every descendant's list_id changes in the same single statement."""
    if "list_id" not in changes and "parent_id" not in changes:
        return False
    place = placement.destination(user_id=user_id, task=task, changes=changes)
    if (place.list_id, place.parent_id) == (task.list_id, task.parent_id):
        return False
    _move(task, place, placement.last_position(user_id, place, besides=task.id))
    return True


def _move(task: Task, place: placement.Place, position: str) -> None:
    """Put the task at `place` and `position`; its subtasks follow it into the list.

    One UPDATE over the subtree, the task's own parent and position included: the database
    checks that every subtask is in its parent's list at the end of each statement, so the
    task and its subtree must change list together.
    """
    db.session.flush()
    tree = placement.subtree(task.id)
    now = datetime.now(UTC)
    is_root = Task.id == task.id
    db.session.execute(
        update(Task)
        .where(Task.id.in_(select(tree.c.id)), Task.user_id == task.user_id)
        .values(
            list_id=place.list_id,
            parent_id=case((is_root, place.parent_id), else_=Task.parent_id),
            position=case((is_root, position), else_=Task.position),
            updated_at=now,
            version=Task.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(task, ["list_id", "parent_id", "position", "list_key", "version"])


def _complete(task: Task, now: datetime) -> None:
    """Mark the task completed, with its pending subtasks at every level (one statement, the
    same completed_at), and make the next occurrence of each recurring one among them."""
    task.is_completed, task.completed_at = True, now
    # Not flushed before the subtasks' UPDATE (which reads only the descendants): the task's
    # own UPDATE then goes out once, at the caller's flush, with its updated_at and version,
    # instead of once here and once more for those.
    with db.session.no_autoflush:
        completed = db.session.execute(
            update(Task)
            .where(
                Task.id.in_(placement.descendants(task.id)),
                Task.user_id == task.user_id,
                Task.is_completed.is_(False),
            )
            .values(is_completed=True, completed_at=now, updated_at=now, version=Task.version + 1)
            .returning(Task.id, Task.recurrence)
            .execution_options(synchronize_session=False)
        ).all()
    occurrences.spawn_next(task, now=now)
    recurring = [row.id for row in completed if row.recurrence is not None]
    for subtask in _locked_tasks(task.user_id, recurring):
        occurrences.spawn_next(subtask, now=now)


def _locked_tasks(user_id: uuid.UUID, task_ids: list[uuid.UUID]) -> Sequence[Task]:
    """Tasks as objects with their tags (subtasks whose next occurrence must be made)."""
    if not task_ids:
        return []
    return (
        db.session.scalars(
            select(Task)
            .where(Task.id.in_(task_ids), Task.user_id == user_id)
            .options(joinedload(Task.tags))
            .order_by(Task.position, Task.id)
            .execution_options(populate_existing=True)  # past the bulk UPDATE above
        )
        .unique()
        .all()
    )


def _set_completion(task: Task, is_completed: bool, now: datetime) -> bool:
    """Keep `completed_at` consistent with `is_completed` (the database checks it too).
    Completing also completes the subtasks; reopening reopens the task alone."""
    if is_completed == task.is_completed:
        return False
    if is_completed:
        _complete(task, now)
    else:
        task.is_completed, task.completed_at = False, None
    return True


def _schedule(task: Task, changes: dict[str, Any]) -> None:
    """Check the rule with the due date and zone it will have; a new due date or zone forgets
    the wall-clock time a daylight-saving gap had moved."""
    final = {field: changes.get(field, getattr(task, field)) for field in SCHEDULE_FIELDS}
    final["recurrence"] = occurrences.checked_schedule(
        final["recurrence"], due_at=final["due_at"], time_zone=final["time_zone"]
    )
    if any(final[field] != getattr(task, field) for field in SCHEDULE_FIELDS):
        task.recurrence_wall_clock = None
    for field, value in final.items():
        setattr(task, field, value)


def _apply(task: Task, user_id: uuid.UUID, changes: dict[str, Any]) -> bool:
    """Apply writable fields to a locked task; True when anything changed."""
    now = datetime.now(UTC)
    watched = (*PLAIN_FIELDS, "recurrence", "time_zone")
    before = tuple(getattr(task, field) for field in watched)
    old_tags = {tag.id for tag in task.tags}
    moved = _place(task, user_id, changes)
    if any(field in changes for field in SCHEDULE_FIELDS):
        _schedule(task, changes)
    for field in PLAIN_FIELDS:
        if field in changes:
            setattr(task, field, changes[field])
    if "tags" in changes:
        task.tags = resolve_tags(user_id=user_id, names=changes["tags"])
    rearmed = "remind_at" in changes and changes["remind_at"] != task.remind_at
    if rearmed:
        task.remind_at, task.reminded_at = changes["remind_at"], None
    completion = "is_completed" in changes and _set_completion(task, changes["is_completed"], now)
    after = tuple(getattr(task, field) for field in watched)
    return (
        moved
        or completion
        or rearmed
        or before != after
        or old_tags != {tag.id for tag in task.tags}
    )


def create_task(*, user_id: uuid.UUID, data: dict[str, Any], flush: bool = True) -> Task:
    """A new task, last among its siblings; 422 when its list, parent or rule is refused,
    409 limit_reached past the user's 100,000 tasks. A task created completed makes no next
    occurrence (it will when it is reopened and completed again).

    Every field the answer shows is known here (the id too), so a batch may leave the INSERT
    pending (`flush=False`): its creates then go to the database together, in one statement,
    at its next query (app/tasks/batch.py counts them against the limit itself)."""
    lock_user(user_id)
    place = placement.destination(user_id=user_id, task=None, changes=data)
    now = datetime.now(UTC)
    task = Task(
        id=uuid.uuid4(),
        version=1,
        user_id=user_id,
        title=data["title"],
        description=data["description"],
        priority=data["priority"],
        due_at=data["due_at"],
        list_id=place.list_id,
        parent_id=place.parent_id,
        position=placement.new_task_position(user_id, place),
        time_zone=data["time_zone"],
        recurrence=occurrences.checked_schedule(
            data["recurrence"], due_at=data["due_at"], time_zone=data["time_zone"]
        ),
        is_completed=data["is_completed"],
        completed_at=now if data["is_completed"] else None,
        remind_at=data["remind_at"],
        reminded_at=None,
        created_at=now,
        updated_at=now,
        tags=resolve_tags(user_id=user_id, names=data["tags"]),
    )
    db.session.add(task)
    if flush:
        db.session.flush()
    return task


def update_task(
    *, user_id: uuid.UUID, task_id: uuid.UUID, changes: dict[str, Any], if_match: ETags | None
) -> Task:
    """PATCH applies the fields given; PUT passes every writable field (defaults filled in)."""
    task = _lock_tasks(user_id=user_id, task_id=task_id, if_match=if_match)
    if _apply(task, user_id, changes):
        task.touch()
    db.session.flush()
    return task


def complete_task(
    *, user_id: uuid.UUID, task_id: uuid.UUID, is_completed: bool | None, if_match: ETags | None
) -> Task:
    """Set completion, or toggle it when `is_completed` is None."""
    task = _lock_tasks(user_id=user_id, task_id=task_id, if_match=if_match)
    target = (not task.is_completed) if is_completed is None else is_completed
    if _apply(task, user_id, {"is_completed": target}):
        task.touch()
    db.session.flush()
    return task


def move_task(
    *, user_id: uuid.UUID, task_id: uuid.UUID, spec: dict[str, Any], if_match: ETags | None
) -> Task:
    """Place the task after or before a sibling (or last), optionally in another list or
    under another parent first; only the task's own position changes (but see
    placement._renumber)."""
    task = _lock_tasks(user_id=user_id, task_id=task_id, if_match=if_match)
    place = placement.destination(user_id=user_id, task=task, changes=spec)
    position = placement.position_for(user_id=user_id, task_id=task.id, place=place, spec=spec)
    if (place.list_id, place.parent_id) != (task.list_id, task.parent_id):
        _move(task, place, position)
        task.touch()
    elif position != task.position:
        task.position = position
        task.touch()
    db.session.flush()
    return task


def delete_task(*, user_id: uuid.UUID, task_id: uuid.UUID, if_match: ETags | None) -> None:
    """Delete the task and its subtasks at every level (the parent foreign key cascades)."""
    task = _lock_tasks(user_id=user_id, task_id=task_id, if_match=if_match)
    db.session.delete(task)
    db.session.flush()


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
    planning: AbstractContextManager[None] = (
        planned_with_their_values() if shape.searches else nullcontext()
    )
    with planning:
        rows = db.session.execute(listing.page_statement(shape), params).all()
        if rows:
            count = rows[0].total
        elif cursor:
            # Past the last page the statement has no row to carry the total: ask for it alone.
            count = db.session.scalar(listing.count_statement(shape), params) or 0
        else:
            count = 0
    tasks = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = tasks[-1]
        next_cursor = encode_cursor(order, getattr(last, order.field), last.id)
    return TaskPage(tasks=tasks, count=count, limit=limit, next_cursor=next_cursor)
