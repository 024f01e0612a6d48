"""Where a task stands: its list, its parent and its place among its siblings.

Every rule of subtasks that the database cannot check is here, in one place: the parent exists
and is the user's, a task is not its own ancestor, at most MAX_DEPTH levels. (The database
itself keeps a subtask in its parent's list and deletes subtrees; see app/models/task.py.)
Callers hold the user's lock (app/common/locks.py), so these checks and the positions they
compute cannot be raced past by another write of the same user.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import column, func, literal, select, tuple_, update, values
from sqlalchemy.orm import aliased

from app.core.database import transaction_memo
from app.errors import ApiError
from app.extensions import db
from app.models import Task, TaskList
from app.models.task import NO_LIST
from app.tasks import positions

MAX_DEPTH = 5  # a top-level task is level 1


@dataclass(frozen=True)
class Place:
    """A group of siblings: the tasks with this list and this parent (None: none)."""

    list_id: uuid.UUID | None
    parent_id: uuid.UUID | None


def _field_error(field: str, message: str) -> ApiError:
    return ApiError(422, errors={"json": {field: [message]}})


NO_LINK = uuid.UUID(NO_LIST)


def _siblings(user_id: uuid.UUID, place: Place, *, besides: uuid.UUID | None) -> list[Any]:
    """The siblings of `place`, through the keys the sibling index holds (equalities, so an
    index scan also gives them in position order)."""
    conditions = [
        Task.user_id == user_id,
        Task.list_key == (place.list_id or NO_LINK),
        Task.parent_key == (place.parent_id or NO_LINK),
    ]
    if besides is not None:
        conditions.append(Task.id != besides)
    return conditions


def _ancestry(user_id: uuid.UUID, task_id: uuid.UUID) -> list[uuid.UUID]:
    """The task and its ancestors, nearest first: its level is their number (1: top level).
    A bounded walk: chains are at most MAX_DEPTH long, and the walk stops one past that."""
    up = (
        select(Task.id, Task.parent_id, literal(1).label("level"))
        .where(Task.id == task_id, Task.user_id == user_id)
        .cte("up", recursive=True)
    )
    parent = aliased(Task)
    up = up.union_all(
        select(parent.id, parent.parent_id, up.c.level + 1)
        .join(up, parent.id == up.c.parent_id)
        .where(up.c.level <= MAX_DEPTH)
    )
    return list(db.session.scalars(select(up.c.id).order_by(up.c.level)))


def subtree_height(task_id: uuid.UUID) -> int:
    """Levels from the task down to its deepest subtask (1: no subtasks)."""
    down = select(Task.id, literal(1).label("level")).where(Task.id == task_id).cte("down", True)
    child = aliased(Task)
    down = down.union_all(
        select(child.id, down.c.level + 1)
        .join(down, child.parent_id == down.c.id)
        .where(down.c.level <= MAX_DEPTH)
    )
    return int(db.session.scalar(select(func.max(down.c.level))) or 1)


def subtree(task_id: uuid.UUID) -> Any:
    """The task and every subtask of it, at every level (a recursive CTE of ids; UNION, not
    UNION ALL, so that even a cycle the rules failed to prevent would end the walk)."""
    down = select(Task.id).where(Task.id == task_id).cte("subtree", recursive=True)
    child = aliased(Task)
    return down.union(select(child.id).join(down, child.parent_id == down.c.id))


def descendants(task_id: uuid.UUID) -> Any:
    """The ids of every subtask of the task, at every level, without the task itself."""
    tree = subtree(task_id)
    return select(tree.c.id).where(tree.c.id != task_id)


def _parent_list(user_id: uuid.UUID, parent_id: uuid.UUID) -> uuid.UUID | None:
    """The parent's list; 422 naming parent_id when it is not one of the user's tasks."""
    row = db.session.execute(
        select(Task.list_id).where(Task.id == parent_id, Task.user_id == user_id)
    ).first()
    if row is None:
        raise _field_error("parent_id", "No such task.")
    return row.list_id


def destination(*, user_id: uuid.UUID, task: Task | None, changes: dict[str, Any]) -> Place:
    """Where `changes` put a task (`task` None: a new one), checked against every rule.

    `parent_id` makes it a subtask: the parent must be the user's, not the task or one of its
    subtasks, and deep enough room for the task's own subtree (422 naming parent_id); the task
    goes to the parent's list, and a `list_id` that differs is a 422 naming list_id. Without a
    parent, a `list_id` must be one of the user's lists (422 naming list_id).
    """
    parent_given, list_given = "parent_id" in changes, "list_id" in changes
    parent_id = changes["parent_id"] if parent_given else (task.parent_id if task else None)
    if parent_id is not None:
        if parent_given and (task is None or parent_id != task.parent_id):
            parent_list = _parent_list(user_id, parent_id)
            ancestry = _ancestry(user_id, parent_id)
            height = 1
            if task is not None:
                if task.id in ancestry:
                    raise _field_error("parent_id", "A task cannot be its own ancestor.")
                height = subtree_height(task.id)
            if len(ancestry) + height > MAX_DEPTH:
                raise _field_error(
                    "parent_id", f"Subtasks go at most {MAX_DEPTH} levels deep (top level is 1)."
                )
        else:
            parent_list = task.list_id if task else None
        if list_given and changes["list_id"] != parent_list:
            raise _field_error("list_id", "A subtask is in its parent's list.")
        return Place(list_id=parent_list, parent_id=parent_id)
    list_id = changes["list_id"] if list_given else (task.list_id if task else None)
    if list_given and list_id is not None and (task is None or list_id != task.list_id):
        exists = db.session.scalar(
            select(TaskList.id).where(TaskList.id == list_id, TaskList.user_id == user_id)
        )
        if exists is None:
            raise _field_error("list_id", "No such list.")
    return Place(list_id=list_id, parent_id=None)


def new_task_position(user_id: uuid.UUID, place: Place) -> str:
    """The key of a new task: after every sibling. The key it gets is kept for the rest of
    the transaction, so the next create among the same siblings (a batch of creates) needs no
    query; anything else that places a task forgets them all (last_position and the others).
    """
    given = transaction_memo("new_positions")
    previous = given.get((user_id, place))
    if previous is None or positions.needs_renumbering(positions.key_between(previous, None)):
        key = last_position(user_id, place)
    else:
        key = positions.key_between(previous, None)
    given[(user_id, place)] = key
    return key


def _forget_new_positions() -> None:
    transaction_memo("new_positions").clear()


def last_position(user_id: uuid.UUID, place: Place, *, besides: uuid.UUID | None = None) -> str:
    """A key after every sibling: where a new task, or one that changes place, goes."""
    _forget_new_positions()
    return positions.key_between(_end(user_id, place, besides=besides, last=True), None)


def _end(user_id: uuid.UUID, place: Place, *, besides: uuid.UUID | None, last: bool) -> str | None:
    """The first (or last) sibling's position, if any.

    ORDER BY ... LIMIT 1 rather than min() or max(): the connections' generic plan, which
    estimates one sibling, aggregated every sibling the index holds (690 rows read for a bench
    user's create, 10,000 for the growth user's; a custom plan read one), where this reads
    one row whatever the plan (`make explain` checks both plans on the bench data)."""
    order = Task.position.desc() if last else Task.position.asc()
    return db.session.scalar(
        select(Task.position)
        .where(*_siblings(user_id, place, besides=besides))
        .order_by(order)
        .limit(1)
    )


def _neighbour(
    user_id: uuid.UUID, place: Place, anchor: Any, *, after: bool, besides: uuid.UUID
) -> str | None:
    """The position of the sibling just after (or before) `anchor`, if any."""
    key = tuple_(Task.position, Task.id)
    bound = tuple_(literal(anchor.position, Task.position.type), literal(anchor.id))
    order = (Task.position, Task.id) if after else (Task.position.desc(), Task.id.desc())
    return db.session.scalar(
        select(Task.position)
        .where(*_siblings(user_id, place, besides=besides), key > bound if after else key < bound)
        .order_by(*order)
        .limit(1)
    )


def _sibling(user_id: uuid.UUID, place: Place, field: str, sibling_id: uuid.UUID) -> Any:
    """The named sibling in the destination; 422 naming the field when it is not one."""
    row = db.session.execute(
        select(Task.id, Task.position).where(
            Task.id == sibling_id, *_siblings(user_id, place, besides=None)
        )
    ).first()
    if row is None:
        raise _field_error(field, "No such task among the task's siblings there.")
    return row


Slot = Callable[[list[uuid.UUID]], int]  # where, among the siblings' ids in order, a task goes


def position_for(
    *, user_id: uuid.UUID, task_id: uuid.UUID, place: Place, spec: dict[str, Any]
) -> str:
    """The moved task's new key: after `spec["after"]` (None: first), before `spec["before"]`,
    or last; the sibling named must be in `place` and not the task itself."""
    _forget_new_positions()
    for field in ("after", "before"):
        if spec.get(field) == task_id:
            raise _field_error(field, "A task cannot be placed next to itself.")
    if "after" in spec and spec["after"] is None:
        first = _end(user_id, place, besides=task_id, last=False)
        return _between(user_id, place, task_id, None, first, slot=lambda ids: 0)
    if "after" in spec:
        anchor = _sibling(user_id, place, "after", spec["after"])
        upper = _neighbour(user_id, place, anchor, after=True, besides=task_id)
        return _between(user_id, place, task_id, anchor.position, upper, slot=_after_id(anchor.id))
    if "before" in spec:
        anchor = _sibling(user_id, place, "before", spec["before"])
        lower = _neighbour(user_id, place, anchor, after=False, besides=task_id)
        return _between(
            user_id, place, task_id, lower, anchor.position, slot=lambda ids: ids.index(anchor.id)
        )
    return last_position(user_id, place, besides=task_id)


def _after_id(anchor: uuid.UUID) -> Slot:
    return lambda ids: ids.index(anchor) + 1


def position_after(task: Task) -> str:
    """A key directly after `task` among its siblings (where its next occurrence goes)."""
    _forget_new_positions()
    place = Place(task.list_id, task.parent_id)
    upper = _neighbour(task.user_id, place, task, after=True, besides=task.id)
    return _between(task.user_id, place, None, task.position, upper, slot=_after_id(task.id))


def _between(
    user_id: uuid.UUID,
    place: Place,
    moving: uuid.UUID | None,
    lower: str | None,
    upper: str | None,
    *,
    slot: Slot,
) -> str:
    """A key between two neighbours. When it would be too long (or the neighbours' keys are
    equal), the siblings are renumbered instead, in their order, leaving the slot's key free:
    the one case where placing a task changes other tasks' positions (positions.py)."""
    try:
        key = positions.key_between(lower, upper)
        if not positions.needs_renumbering(key):
            return key
    except positions.PositionError:
        pass
    return _renumber(user_id, place, moving, slot)


def _renumber(user_id: uuid.UUID, place: Place, moving: uuid.UUID | None, slot: Slot) -> str:
    """Short keys for every sibling but `moving`, in order, in one statement; the key left
    at `slot` is returned for the moving (or new) task."""
    db.session.flush()  # nothing pending is lost when the loaded siblings are expired below
    ids = list(
        db.session.scalars(
            select(Task.id)
            .where(*_siblings(user_id, place, besides=moving))
            .order_by(Task.position, Task.id)
        )
    )
    keys = positions.spread_keys(len(ids) + 1)
    gap = keys.pop(slot(ids))
    renumbered = values(
        column("id", Task.id.type), column("key", Task.position.type), name="renumbered"
    ).data(list(zip(ids, keys, strict=True)))
    db.session.execute(
        update(Task)
        .where(Task.id == renumbered.c.id)
        .values(position=renumbered.c.key, updated_at=datetime.now(UTC), version=Task.version + 1)
    )
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, Task) and loaded.id in ids:
            db.session.expire(loaded, ["position", "updated_at", "version"])
    return gap
