"""List logic: names unique per user in any case, counts in the same query, cascading delete."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from werkzeug.datastructures import ETags

from app.common import etags
from app.common.locks import lock_user
from app.errors import ApiError
from app.extensions import db
from app.models import Task, TaskList


@dataclass(frozen=True)
class ListView:
    """A list as answered: its own fields and the counts of its tasks (every level)."""

    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime
    version: int
    task_count: int
    open_count: int

    @property
    def etag(self) -> str:
        """Changes whenever the answer would: the list's own version and its counts."""
        return etags.etag_of(self.id, f"{self.version}.{self.task_count}.{self.open_count}")


def _with_counts(user_id: uuid.UUID) -> Select:
    """The user's lists with their counts: one statement, grouped, whatever the number of lists
    (the tasks come through the (user_id, list_key, ...) index)."""
    return (
        select(
            TaskList,
            func.count(Task.id).label("task_count"),
            func.count(Task.id).filter(Task.is_completed.is_(False)).label("open_count"),
        )
        .outerjoin(Task, and_(Task.user_id == TaskList.user_id, Task.list_key == TaskList.id))
        .where(TaskList.user_id == user_id)
        .group_by(TaskList.id)
    )


def _view(task_list: TaskList, task_count: int, open_count: int) -> ListView:
    return ListView(
        id=task_list.id,
        name=task_list.name,
        created_at=task_list.created_at,
        updated_at=task_list.updated_at,
        version=task_list.version,
        task_count=task_count,
        open_count=open_count,
    )


def list_lists(*, user_id: uuid.UUID) -> list[ListView]:
    """Every list of the user, sorted by name case-insensitively, with counts: one query."""
    rows = db.session.execute(
        _with_counts(user_id).order_by(func.lower(TaskList.name), TaskList.id)
    )
    return [_view(*row) for row in rows]


def get_user_list(*, user_id: uuid.UUID, list_id: uuid.UUID) -> ListView:
    """One list by id *and* owner, with its counts: another user's list is a 404."""
    row = db.session.execute(_with_counts(user_id).where(TaskList.id == list_id)).first()
    if row is None:
        raise ApiError(404, detail="No such list.")
    return _view(*row)


def get_user_lists(*, user_id: uuid.UUID, list_ids: list[uuid.UUID]) -> list[ListView]:
    """Those of the lists that are the user's, with their counts: one query."""
    rows = db.session.execute(_with_counts(user_id).where(TaskList.id.in_(list_ids)))
    return [_view(*row) for row in rows]


def user_has_list(*, user_id: uuid.UUID, list_id: uuid.UUID) -> bool:
    """Whether the list is one of the user's (for task bodies naming a list_id)."""
    found = db.session.scalar(
        select(TaskList.id).where(TaskList.id == list_id, TaskList.user_id == user_id)
    )
    return found is not None


def _lock_for_write(*, user_id: uuid.UUID, list_id: uuid.UUID, if_match: ETags | None) -> Any:
    """The list, row-locked, after its If-Match (when given) matched what it looks like now."""
    lock_user(user_id)
    task_list = db.session.scalar(
        select(TaskList)
        .where(TaskList.id == list_id, TaskList.user_id == user_id)
        .with_for_update()
    )
    if task_list is None:
        raise ApiError(404, detail="No such list.")
    etags.require_match(if_match, get_user_list(user_id=user_id, list_id=list_id).etag, "list")
    return task_list


def create_list(*, user_id: uuid.UUID, name: str) -> ListView:
    """A new, empty list; 409 list_exists for a name the user has in any case (the unique index
    decides, so two creates of one name cannot both pass), 409 limit_reached past 1,000."""
    lock_user(user_id)
    now = datetime.now(UTC)
    task_list = TaskList(user_id=user_id, name=name, created_at=now, updated_at=now)
    db.session.add(task_list)
    db.session.flush()
    return _view(task_list, 0, 0)


def rename_list(
    *, user_id: uuid.UUID, list_id: uuid.UUID, name: str, if_match: ETags | None
) -> ListView:
    """Rename (409 list_exists on a clash); the same name changes nothing."""
    task_list = _lock_for_write(user_id=user_id, list_id=list_id, if_match=if_match)
    if task_list.name != name:
        task_list.name = name
        task_list.touch()
        db.session.flush()
    return get_user_list(user_id=user_id, list_id=list_id)


def delete_list(*, user_id: uuid.UUID, list_id: uuid.UUID, if_match: ETags | None) -> None:
    """Delete the list and every task in it, at every level, in one transaction (the tasks'
    foreign key cascades)."""
    task_list = _lock_for_write(user_id=user_id, list_id=list_id, if_match=if_match)
    db.session.delete(task_list)
    db.session.flush()
