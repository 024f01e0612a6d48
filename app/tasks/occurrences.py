"""Recurring tasks in the database: a rule checked on write, the next occurrence made once.

The calendar arithmetic is app/tasks/recurrence.py's (pure); this module applies it to Task
rows inside the writing transaction, so a completion and its successor commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.errors import ApiError
from app.extensions import db
from app.models import Task
from app.tasks import placement, recurrence


def checked_schedule(rule: str | None, *, due_at: datetime | None, time_zone: str) -> str | None:
    """The rule as stored (normalised), after the contract's checks: 422 naming `recurrence`
    or `time_zone` (an unknown zone is refused whether or not the task recurs)."""
    try:
        zone = recurrence.validate_time_zone(time_zone)
        return None if rule is None else recurrence.validate(rule, due_at=due_at, time_zone=zone)
    except recurrence.RecurrenceError as error:
        raise ApiError(422, errors={"json": {k: [v] for k, v in error.errors.items()}}) from None


def spawn_next(task: Task, *, now: datetime) -> Task | None:
    """Create the next occurrence of a task that has just become completed, once.

    Nothing when the task does not recur, already made its successor (reopened and completed
    again), or its rule has no further occurrence (COUNT or UNTIL spent). The successor copies
    the title, description, priority, tags, list, parent, rule (COUNT lowered) and zone, is due
    at the rule's first occurrence after both the task's due_at and `now`, and goes directly
    after the task among its siblings. Subtasks are not copied.
    """
    if task.recurrence is None or task.next_occurrence_id is not None or task.due_at is None:
        return None
    successor = recurrence.next_occurrence(
        task.recurrence,
        due_at=task.due_at,
        time_zone=task.time_zone,
        now=now,
        wall_clock=task.recurrence_wall_clock,
    )
    if successor is None:
        return None
    fields: dict[str, Any] = {
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "list_id": task.list_id,
        "parent_id": task.parent_id,
        "due_at": successor.due_at,
        "remind_at": recurrence.shifted(task.remind_at, successor),
        "recurrence": successor.recurrence,
        "recurrence_wall_clock": successor.wall_clock,
        "time_zone": task.time_zone,
        "tags": list(task.tags),
        "position": placement.position_after(task),
    }
    following = Task(**fields)
    db.session.add(following)
    db.session.flush()  # its id, for the link; the insert also counts it against the limit
    task.next_occurrence_id = following.id
    return following
