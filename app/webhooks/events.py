"""The events a webhook can subscribe to, and which webhook gets which."""

from __future__ import annotations

from collections.abc import Iterable

TASK_EVENTS = (
    "task.created",
    "task.updated",
    "task.completed",
    "task.reopened",
    "task.deleted",
    "task.reminder",
)
LIST_EVENTS = ("list.created", "list.updated", "list.deleted")
EVENT_TYPES = TASK_EVENTS + LIST_EVENTS
EVERY_EVENT = "*"
# Sent by POST .../ping to that webhook alone, whatever it subscribed to.
PING = "webhook.ping"


def subscribed(events: Iterable[str], event_type: str) -> bool:
    """Whether a webhook with these `events` gets `event_type` (pings go to their webhook)."""
    events = tuple(events)
    return event_type == PING or EVERY_EVENT in events or event_type in events
