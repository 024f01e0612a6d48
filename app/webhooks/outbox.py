"""Events written in the transaction of the change that causes them, and their jobs queued.

The tasks' and lists' triggers (migration 8d3a6c1e5f72) stage a row per changed object of a
user with an active webhook, cascades included; before the transaction commits, `publish`
takes this transaction's rows, renders each object as its GET answers it and writes one event
per subscribed webhook, whose trigger defers its delivery job in the same statement (migration
a4c7e9d2b6f1). So a committed change always has its events and jobs, a rolled-back one has
none, and events wait in the table while no worker runs.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app
from sqlalchemy import insert, select, text

from app.common.locks import watched_users
from app.extensions import db
from app.models import Webhook, WebhookEvent
from app.webhooks import metrics, renderers
from app.webhooks.events import subscribed

# Named again by the webhook_events trigger that defers it (migration a4c7e9d2b6f1).
DELIVER_EVENT = "webhooks:deliver_event"
FIRE_USER_REMINDERS = "webhooks:fire_user_reminders"

# The events' table itself (a Table, as Core's insert wants it; `__table__` is typed wider).
EVENTS = WebhookEvent.metadata.tables["webhook_events"]

# This transaction's staged rows, taken out as they are read: nobody else ever sees them.
TAKE_STAGED = text(
    "DELETE FROM event_staging WHERE xact = pg_current_xact_id()"
    " RETURNING id, user_id, kind, object_id, op"
)

# The user's reminders job, written as procrastinate's own defer writes it (queue `default`,
# priority 0, no locks; tests/test_webhooks.py compares the two) through the SQL function that
# defer calls, as the events' trigger does: so the web process imports none of the worker's
# libraries (procrastinate, the HTTP client): `import wsgi` 99.9 -> 95.2 MB RSS.
DEFER_REMINDERS = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('default', :task_name, 0, NULL, NULL,"
    " jsonb_build_object('user_id', CAST(:user_id AS text)), NULL)"
    "::procrastinate_job_to_defer_v1])"
)


def publish(response: Response) -> None:
    """Turn this transaction's staged changes into events (call just before the commit)."""
    watched = watched_users()
    if not watched:
        return
    staged = db.session.execute(TAKE_STAGED).all()
    by_user: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in sorted(staged, key=lambda row: row.id):
        by_user[row.user_id].append(row)
    answered = renderers.answered(response)
    for user_id, rows in by_user.items():
        events = _events_of(user_id, rows, answered)
        queue_events(user_id, events, webhooks=watched.get(user_id))
        if any(_reminder_due(event_type, data) for event_type, data in events):
            _defer_reminders(user_id)


def _reminder_due(event_type: str, data: Any) -> bool:
    """A task written with a remind_at already past (and not fired, still pending): its
    reminder fires at once, not at the periodic job's next tick."""
    if not event_type.startswith("task.") or event_type == "task.deleted":
        return False
    remind_at = data.get("remind_at")
    if isinstance(remind_at, str):  # as the answer wrote it
        remind_at = datetime.fromisoformat(remind_at)
    return (
        remind_at is not None
        and data.get("reminded_at") is None
        and not data.get("is_completed")
        and remind_at <= datetime.now(UTC)
    )


def _defer_reminders(user_id: uuid.UUID) -> None:
    """The user's due reminders, fired by a worker as soon as this transaction commits."""
    db.session.execute(DEFER_REMINDERS, {"task_name": FIRE_USER_REMINDERS, "user_id": user_id})


def _net_operation(operations: list[str]) -> str | None:
    """What a transaction did to one object, from its staged operations in order: created and
    deleted is nothing; created (then changed) is created; a completion or reopening is the
    last of those; anything else an update."""
    if "deleted" in operations:
        return None if "created" in operations else "deleted"
    if "created" in operations:
        return "created"
    flips = [op for op in operations if op in ("completed", "reopened")]
    return flips[-1] if flips else "updated"


def _events_of(
    user_id: uuid.UUID, rows: list[Any], answered: dict[tuple[str, uuid.UUID], Any]
) -> list[tuple[str, Any]]:
    """(type, data) of every object the rows name, in the order they were first changed; an
    object the request's answer already holds is taken from it, the others are read."""
    operations: dict[tuple[str, uuid.UUID], list[str]] = {}
    for row in rows:
        operations.setdefault((row.kind, row.object_id), []).append(row.op)
    net = {key: _net_operation(ops) for key, ops in operations.items()}
    wanted: dict[str, list[uuid.UUID]] = defaultdict(list)
    for (kind, object_id), operation in net.items():
        if operation not in (None, "deleted") and (kind, object_id) not in answered:
            wanted[kind].append(object_id)
    views: dict[str, dict[uuid.UUID, Any]] = defaultdict(dict)
    for (kind, object_id), data in answered.items():
        views[kind][object_id] = data
    for kind, ids in wanted.items():
        views[kind].update(renderers.render(kind, user_id, ids))
    events: list[tuple[str, Any]] = []
    for (kind, object_id), operation in net.items():
        if operation is None:
            continue
        if operation == "deleted":
            events.append((f"{kind}.deleted", {"id": object_id}))
        elif object_id in views[kind]:
            events.append((f"{kind}.{operation}", views[kind][object_id]))
    return events


def queue_events(
    user_id: uuid.UUID,
    events: list[tuple[str, Any]],
    *,
    webhook_id: uuid.UUID | None = None,
    webhooks: list | None = None,
    extra: dict[str, Any] | None = None,
) -> list[uuid.UUID]:
    """One event row per (event, active subscribed webhook of the user, or the one named),
    each with its delivery job, in this transaction; the ids of the events written.
    `webhooks`: the user's active ones as [id, events] pairs, when the caller read them."""
    if not events:
        return []
    if webhooks is None:
        hooks = select(Webhook.id, Webhook.events).where(
            Webhook.user_id == user_id, Webhook.active.is_(True)
        )
        if webhook_id is not None:
            hooks = hooks.where(Webhook.id == webhook_id)
        webhooks = [list(row) for row in db.session.execute(hooks)]
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for event_type, data in events:
        targets = [
            hook_id if isinstance(hook_id, uuid.UUID) else uuid.UUID(hook_id)
            for hook_id, subscriptions in webhooks
            if subscribed(subscriptions, event_type)
        ]
        if not targets:
            continue
        body = current_app.json.dumps(
            {"type": event_type, "timestamp": now, "data": data, **(extra or {})}
        )
        rows.extend(
            {
                "id": uuid.uuid4(),
                "webhook_id": target,
                "type": event_type,
                "body": body,
                "created_at": now,
            }
            for target in targets
        )
    if rows:
        # Each row's delivery job comes with it: the table's trigger defers it (migration
        # a4c7e9d2b6f1), in this statement and transaction. A Core insert of the table: the
        # ORM's bulk path cost 390 us a call against 270 (scratch timing, one row, 2,000 calls).
        db.session.execute(insert(EVENTS), rows)
        for row in rows:
            metrics.queued(row["type"], 1)
    return [row["id"] for row in rows]
