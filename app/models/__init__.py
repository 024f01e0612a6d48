"""Every model, imported in one place so that Alembic sees the whole metadata."""

from app.models.base import Base
from app.models.change import Change
from app.models.counters import LIMITS, UserCounters
from app.models.idempotency import IdempotencyRecord
from app.models.session import LoginSession
from app.models.tag import Tag
from app.models.task import Priority, Task, task_tags
from app.models.task_list import TaskList
from app.models.user import User
from app.models.webhook import WEBHOOK_LIMIT, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "LIMITS",
    "WEBHOOK_LIMIT",
    "Base",
    "Change",
    "IdempotencyRecord",
    "LoginSession",
    "Priority",
    "Tag",
    "Task",
    "TaskList",
    "User",
    "UserCounters",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "task_tags",
]
