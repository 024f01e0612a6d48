"""Every model, imported in one place so that Alembic sees the whole metadata."""

from app.models.base import Base
from app.models.session import LoginSession
from app.models.user import User

__all__ = ["Base", "LoginSession", "User"]
