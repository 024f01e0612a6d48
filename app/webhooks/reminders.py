"""Due reminders fire: each pending task whose remind_at has come gets its task.reminder event
once, and reminded_at; a reminder that came due while no worker ran fires late, marked so."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from app.common.locks import lock_user, watched_users
from app.extensions import db
from app.webhooks import metrics, renderers
from app.webhooks.outbox import queue_events

# The contract's promise: within 60 s of remind_at. Later than that, the event says "late".
ON_TIME_SECONDS = 60
USERS_PER_RUN = 200

DUE_USERS = text(
    "SELECT DISTINCT user_id FROM tasks"
    " WHERE remind_at <= :now AND reminded_at IS NULL AND NOT is_completed"
    " LIMIT :limit"
)
# The event of a fired reminder is task.reminder, not task.updated: the staging triggers look
# away until the transaction ends (migration 8d3a6c1e5f72).
QUIET = text("SELECT set_config('taskapi.quiet_events', 'on', true)")
# Under the user's lock, taken first as every write of the user does (no deadlock with a
# request). The version moves (the task's answer changed: its ETag must), updated_at does not
# (no one edited it); the change feed records it like any update, for offline clients.
FIRE = text(
    """
    UPDATE tasks SET reminded_at = :now, version = version + 1
    WHERE user_id = :user_id AND remind_at <= :now AND reminded_at IS NULL
      AND NOT is_completed
    RETURNING id, remind_at
    """
)


def fire_due() -> int:
    """Fire every due reminder, one user per transaction; how many fired."""
    fired = 0
    while True:
        # The app's clock as a parameter: now() would be the transaction's start, and a
        # volatile clock_timestamp() could not bound the partial index's scan.
        now = datetime.now(UTC)
        users = db.session.scalars(DUE_USERS, {"limit": USERS_PER_RUN, "now": now}).all()
        db.session.commit()
        for user_id in users:
            fired += _fire_for(user_id, now)
        if len(users) < USERS_PER_RUN:
            return fired


def fire_due_for(user_id: uuid.UUID) -> int:
    """Fire one user's due reminders now; how many fired."""
    return _fire_for(user_id, datetime.now(UTC))


def _fire_for(user_id: uuid.UUID, now: datetime) -> int:
    lock_user(user_id)
    # The user's lock statement brought their active webhooks: without one, the reminders are
    # marked fired and nothing is rendered or queued.
    watched = watched_users()
    told = user_id in watched
    db.session.execute(QUIET)
    rows = db.session.execute(FIRE, {"user_id": user_id, "now": now}).all()
    views = renderers.render("task", user_id, [row.id for row in rows]) if told else {}
    for row in rows:
        lateness = (now - row.remind_at).total_seconds()
        metrics.reminded(lateness)
        if told:
            queue_events(
                user_id,
                [("task.reminder", views[row.id])],
                webhooks=watched[user_id],
                extra={"late": lateness > ON_TIME_SECONDS},
            )
    db.session.commit()
    return len(rows)
