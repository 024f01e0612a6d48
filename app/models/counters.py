"""How many tasks, lists and tags each user has: the per-user limits, kept by the database.

Triggers on tasks, lists and tags (migration 3f1b7c2d9e10) add and subtract whole statements'
rows, cascades included, and the CHECK constraints refuse the one row too many: two creates at
the limit cannot both pass, because each waits for the other's update of this one row.
"""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey
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
