"""A user's tag: names are unique per user, case-insensitively, and keep their first spelling."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Tag(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "tags"
    __table_args__ = (
        Index("uq_tags_user_id_lower_name", "user_id", text("lower(name)"), unique=True),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
