"""How many tasks, lists and tags each user has: the per-user limits, kept by the database.

Triggers on tasks, lists and tags (migration 3f1b7c2d9e10) add and subtract whole statements'
rows, cascades included, and the CHECK constraints refuse the one row too many: two creates at
the limit cannot both pass, because each waits for the other's update of this one row.

The same row holds the user's change sequence (`change_seq`, migration 5b8e1f3a7c20): every
write of a user takes its next number first (app/common/locks.lock_user), which is the user's
lock too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

# The contract's limits; the constraint names are what the service maps to 409 limit_reached.
LIMITS = {"tasks": 100_000, "lists": 1_000, "tags": 1_000}


class UserCounters(Base):
    __tablename__ = "user_counters"
    __table_args__ = tuple(
        CheckConstraint(f"{column} <= {limit}", name=f"{column}_limit")
        for column, limit in LIMITS.items()
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tasks: Mapped[int] = mapped_column(default=0, server_default="0")
    lists: Mapped[int] = mapped_column(default=0, server_default="0")
    tags: Mapped[int] = mapped_column(default=0, server_default="0")
    # The latest number of the change feed's sequence (app/changes): 0 until the first write.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
