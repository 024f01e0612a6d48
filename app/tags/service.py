"""Tag logic: names unique per user case-insensitively, created on first use."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from app.common.locks import lock_user
from app.errors import ApiError
from app.extensions import db
from app.models import Tag, Task, task_tags


def _distinct_names(names: Iterable[str]) -> list[str]:
    """Drop repeats that differ only in case, keeping the first spelling."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
    return list(seen.values())


def resolve_tags(*, user_id: uuid.UUID, names: Iterable[str]) -> list[Tag]:
    """The user's tags with these names, creating the missing ones.

    INSERT ... ON CONFLICT DO NOTHING makes simultaneous first uses of one name end with one tag.
    """
    wanted = _distinct_names(names)
    if not wanted:
        return []
    db.session.execute(
        insert(Tag)
        .values([{"id": uuid.uuid4(), "user_id": user_id, "name": name} for name in wanted])
        .on_conflict_do_nothing()
    )
    return list(
        db.session.scalars(
            select(Tag).where(
                Tag.user_id == user_id,
                func.lower(Tag.name).in_([func.lower(name) for name in wanted]),
            )
        )
    )


def _get_user_tag(*, user_id: uuid.UUID, tag_id: uuid.UUID) -> Tag:
    """A tag by id *and* owner: another user's tag is a 404."""
    tag = db.session.scalar(select(Tag).where(Tag.id == tag_id, Tag.user_id == user_id))
    if tag is None:
        raise ApiError(404, detail="No such tag.")
    return tag


def list_tags(*, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every tag of the user with how many tasks carry it, sorted by name: one query."""
    rows = db.session.execute(
        select(Tag, func.count(task_tags.c.task_id))
        .outerjoin(task_tags, task_tags.c.tag_id == Tag.id)
        .where(Tag.user_id == user_id)
        .group_by(Tag.id)
        .order_by(func.lower(Tag.name), Tag.id)
    )
    return [_with_count(tag, count) for tag, count in rows]


def _with_count(tag: Tag, count: int) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name, "task_count": count, "created_at": tag.created_at}


def create_tag(*, user_id: uuid.UUID, name: str) -> dict[str, Any]:
    """A new tag; 409 tag_exists for a name the user has in any case (the unique index decides),
    409 limit_reached past 1,000 tags (app/errors.CONSTRAINT_ERRORS)."""
    lock_user(user_id)
    tag = Tag(user_id=user_id, name=name)
    db.session.add(tag)
    db.session.flush()
    return _with_count(tag, 0)


def _touch_tasks_carrying(tag_id: uuid.UUID) -> None:
    """A tag's rename or removal changes how its tasks look: move their updated_at and ETag."""
    db.session.execute(
        update(Task)
        .where(Task.id.in_(select(task_tags.c.task_id).where(task_tags.c.tag_id == tag_id)))
        .values(updated_at=datetime.now(UTC), version=Task.version + 1)
    )


def rename_tag(*, user_id: uuid.UUID, tag_id: uuid.UUID, name: str) -> dict[str, Any]:
    """Rename; 409 tag_exists on a clash (the unique index decides)."""
    lock_user(user_id)
    tag = _get_user_tag(user_id=user_id, tag_id=tag_id)
    if tag.name != name:
        tag.name = name
        db.session.flush()
        _touch_tasks_carrying(tag.id)
    count = db.session.scalar(
        select(func.count()).select_from(task_tags).where(task_tags.c.tag_id == tag.id)
    )
    return _with_count(tag, count or 0)


def delete_tag(*, user_id: uuid.UUID, tag_id: uuid.UUID) -> None:
    """Delete the tag; the link rows cascade, so it leaves every task that carried it."""
    lock_user(user_id)
    tag = _get_user_tag(user_id=user_id, tag_id=tag_id)
    _touch_tasks_carrying(tag.id)
    db.session.delete(tag)
    db.session.flush()
