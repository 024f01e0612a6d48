"""Every model, imported in one place so that Alembic sees the whole metadata."""

from app.models.base import Base
from app.models.session import LoginSession
from app.models.tag import Tag
from app.models.task import Priority, Task, task_tags
from app.models.user import User

__all__ = ["Base", "LoginSession", "Priority", "Tag", "Task", "User", "task_tags"]
