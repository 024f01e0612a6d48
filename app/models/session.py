"""A login session: the `sid` claim of every token issued from one login."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedAt, UUIDPrimaryKey
from app.models.user import User


class LoginSession(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The one refresh token of this session that may still be spent; rotation replaces it,
    # and presenting any older one is treated as theft.
    refresh_jti: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(lazy="raise")
