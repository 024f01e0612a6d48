"""A user's task, and the tags it carries (many-to-many through task_tags)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
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
# The task's list, or this stand-in when it has none: a subtask's (parent_id, user_id, list_key)
# must be its parent's (id, user_id, list_key), so the database itself keeps a subtask in its
# parent's list, with or without a list (a plain foreign key skips rows whose list_id is null).
NO_LIST = NO_PARENT = "00000000-0000-0000-0000-000000000000"
LIST_KEY = f"COALESCE(list_id, '{NO_LIST}'::uuid)"
# The same for the parent: PostgreSQL orders an index scan by `position` only below columns
# fixed by `=`, never by IS NULL, so siblings in no list or at the top level are found, and
# ordered, through these keys (make explain: 8 ms with a sort of 10,000 rows, 0.3 ms without).
PARENT_KEY = f"COALESCE(parent_id, '{NO_PARENT}'::uuid)"


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
        CheckConstraint("parent_id <> id", name="not_its_own_parent"),
        CheckConstraint("recurrence IS NULL OR due_at IS NOT NULL", name="recurrence_needs_due_at"),
        # A task's list is one of its own user's; deleting the list deletes its tasks.
        ForeignKeyConstraint(
            ["list_id", "user_id"],
            ["lists.id", "lists.user_id"],
            ondelete="CASCADE",
            name="fk_tasks_list_id_lists",
        ),
        # A subtask's parent is a task of the same user in the same list; deleting a task
        # deletes its subtasks, at every level.
        UniqueConstraint("id", "user_id", "list_key", name="uq_tasks_id_user_id_list_key"),
        ForeignKeyConstraint(
            ["parent_id", "user_id", "list_key"],
            ["tasks.id", "tasks.user_id", "tasks.list_key"],
            ondelete="CASCADE",
            name="fk_tasks_parent_id_tasks",
        ),
        # Siblings in the order a person arranged them (`?list=L&parent=P&sort=position`, with
        # `none` as the keys' stand-in), a list's tasks at every level (`?list=L`), its counts.
        Index(
            "ix_tasks_user_id_list_key_parent_key_position_id",
            "user_id",
            "list_key",
            "parent_key",
            "position",
            "id",
        ),
        # What the foreign keys' cascades look up when a list or task is deleted.
        Index("ix_tasks_list_id", "list_id", postgresql_where=text("list_id IS NOT NULL")),
        Index("ix_tasks_parent_id", "parent_id", postgresql_where=text("parent_id IS NOT NULL")),
        Index(
            "ix_tasks_next_occurrence_id",
            "next_occurrence_id",
            postgresql_where=text("next_occurrence_id IS NOT NULL"),
        ),
        # One index per list order (user first, id as the tie-breaker) and per filter.
        Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
        Index("ix_tasks_user_id_due_at_id", "user_id", "due_at", "id"),
        Index("ix_tasks_user_id_priority_id", "user_id", "priority", "id"),
        Index("ix_tasks_user_id_title_id", "user_id", "title", "id"),
        Index("ix_tasks_user_id_is_completed", "user_id", "is_completed"),
        # Full-text search within one user's tasks: GIN over (user_id, search) needs btree_gin
        # (migration 6717da168d56); the planner reads the user's matches alone, never every
        # user's, which the dropped global index did (README, design notes). fastupdate off
        # (migration 759673c703da): GIN's pending list, read whole by every search of every
        # user, had grown to 10,251 entries in one `make bench` and cost each search ~4 ms.
        Index(
            "ix_tasks_user_id_search",
            "user_id",
            "search",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        # The reminders that are due: what the reminder job looks for, every user at once.
        Index(
            "ix_tasks_due_reminders",
            "remind_at",
            postgresql_where=text(
                "remind_at IS NOT NULL AND reminded_at IS NULL AND NOT is_completed"
            ),
        ),
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

    list_id: Mapped[uuid.UUID | None]
    parent_id: Mapped[uuid.UUID | None]
    # A fractional key among siblings (app/tasks/positions.py), compared byte by byte, as
    # clients compare it.
    position: Mapped[str] = mapped_column(String(collation="C"))
    list_key: Mapped[uuid.UUID] = mapped_column(Computed(LIST_KEY, persisted=True))
    parent_key: Mapped[uuid.UUID] = mapped_column(Computed(PARENT_KEY, persisted=True))
    # RFC 5545 RRULE value (app/tasks/recurrence.py), computed on the wall clock of time_zone.
    recurrence: Mapped[str | None] = mapped_column(String(500))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The local time this occurrence of a series stands for, when a daylight-saving gap moved
    # its due_at (02:30 on the spring-forward night is due at 03:30): the next occurrence
    # returns to 02:30. Naive on purpose: a wall-clock time of time_zone.
    recurrence_wall_clock: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    next_occurrence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL")
    )
    # When its task.reminder event fires (app/webhooks/reminders.py), and when it did; a new
    # remind_at clears reminded_at, which arms the reminder again.
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]

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
