"""A user's list of tasks (a project, a shopping list); names unique per user in any case."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey


def _now() -> datetime:
    return datetime.now(UTC)


class TaskList(UUIDPrimaryKey, Base):
    __tablename__ = "lists"
    __table_args__ = (
        # Case-insensitive uniqueness in the database itself (two creates cannot both pass),
        # and the order lists are answered in.
        Index("uq_lists_user_id_lower_name", "user_id", text("lower(name)"), unique=True),
        # What tasks reference, so that a task's list is always one of its own user's.
        UniqueConstraint("id", "user_id", name="uq_lists_id_user_id"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
    # Bumped when the list's own fields change: part of its ETag (with its counts).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    def touch(self) -> None:
        """Record a change of the list's own fields: `updated_at` moves, the ETag changes."""
        self.updated_at = _now()
        self.version = self.version + 1
