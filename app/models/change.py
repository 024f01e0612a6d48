"""The latest change of each list, tag and task of a user: the rows the change feed reads.

Written only by the database: statement-level triggers on lists, tags and tasks (migration
5b8e1f3a7c20) upsert one row per changed object, numbered by the user's change sequence
(`change_seq_of`, app/changes/__init__.py says why the order is safe to read).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

KINDS = ("list", "tag", "task")


class Change(Base):
    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint("kind IN ('list', 'tag', 'task')", name="kind_known"),
        # The feed: a user's changes in order, after a position (seq, kind, object_id).
        Index("ix_changes_user_id_seq_kind_object_id", "user_id", "seq", "kind", "object_id"),
        # The purge of old tombstones.
        Index("ix_changes_changed_at", "changed_at", postgresql_where=text("deleted")),
    )

    # The primary key also serves the full snapshot: a user's live objects by (kind, id).
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(4), primary_key=True)
    object_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool]
    changed_at: Mapped[datetime]
