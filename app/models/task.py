"""A user's task, and the tags it carries (many-to-many through task_tags)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UUIDPrimaryKey
from app.models.tag import Tag


class Priority(enum.StrEnum):
    """Declared from lowest to highest: PostgreSQL sorts an enum in this order."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def _now() -> datetime:
    return datetime.now(UTC)


task_tags = Table(
    "task_tags",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "tags of these tasks"; this serves "tasks carrying this tag".
    Index("ix_task_tags_tag_id_task_id", "tag_id", "task_id"),
)

# The text that full-text search matches: title and description, English stemming.
# Spelled as PostgreSQL prints it back, so that the schema check compares equal.
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, "
    "(title::text || ' '::text) || COALESCE(description, ''::text))"
)


class Task(UUIDPrimaryKey, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(
            "(is_completed AND completed_at IS NOT NULL)"
            " OR (NOT is_completed AND completed_at IS NULL)",
            name="completed_at_matches_is_completed",
        ),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint("char_length(description) <= 5000", name="description_length"),
        # One index per list order (user first, id as the tie-breaker) and per filter.
        Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
        Index("ix_tasks_user_id_due_at_id", "user_id", "due_at", "id"),
        Index("ix_tasks_user_id_priority_id", "user_id", "priority", "id"),
        Index("ix_tasks_user_id_title_id", "user_id", "title", "id"),
        Index("ix_tasks_user_id_is_completed", "user_id", "is_completed"),
        # Full-text search within one user's tasks: GIN over (user_id, search) needs btree_gin
        # (migration 6717da168d56); the planner reads the user's matches alone, never every
        # user's, which the dropped global index did (README, design notes).
        Index("ix_tasks_user_id_search", "user_id", "search", postgresql_using="gin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(5000))
    is_completed: Mapped[bool] = mapped_column(default=False, server_default="false")
    completed_at: Mapped[datetime | None]
    priority: Mapped[Priority] = mapped_column(
        Enum(Priority, name="task_priority", values_callable=lambda e: [m.value for m in e]),
        default=Priority.NONE,
        server_default=Priority.NONE.value,
    )
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=_now, server_default=func.now())
    # Bumped on every change: the ETag, and the check that makes If-Match race-free.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Deferred: only the WHERE clause of a search needs it, never a response.
    search: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True
    )

    tags: Mapped[list[Tag]] = relationship(secondary=task_tags, lazy="raise", order_by=Tag.name)

    @property
    def tag_names(self) -> list[str]:
        """The names of its tags, as read rows carry them (see app/tasks/service.py)."""
        return [tag.name for tag in self.tags]

    def touch(self) -> None:
        """Record a change: `updated_at` moves and the ETag changes."""
        self.updated_at = _now()
        self.version = self.version + 1


# `-due_at` sorts descending with nulls last, an order the ascending index cannot give backwards.
Index(
    "ix_tasks_user_id_due_at_desc_id",
    Task.user_id,
    Task.due_at.desc().nulls_last(),
    Task.id.desc(),
)
