"""One lock per user that every write of that user's tasks, lists, tags and webhooks takes first."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.core.database import transaction_memo
from app.extensions import db

# The next number of the user's change sequence (migration 5b8e1f3a7c20): an upsert of the
# user's counters row, which locks that row (FOR NO KEY UPDATE: the foreign-key checks of rows
# inserted for the user are not blocked) until the transaction ends. The same round trip
# brings the user's active webhooks ([id, events] pairs, null when none): only with one has
# the transaction's end events to publish (app/webhooks/outbox.py), and it need not ask again.
LOCK_USER = text(
    "SELECT change_seq_of(:user_id), (SELECT json_agg(json_build_array(id, events))"
    " FROM webhooks WHERE user_id = :user_id AND active)"
)
# What a transaction knows of a user's webhooks: none (None), these (the list), or that they
# changed and must be read again.
CHANGED = "changed"


def lock_user(user_id: uuid.UUID) -> None:
    """Serialise this transaction with every other write of the same user, until it ends
    (taken once per transaction: app/core/database.transaction_memo). Taking it also draws
    the user's next change number (app/changes/__init__.py).

    Rules that span rows (a task is not its own ancestor, positions among siblings, the
    per-user limits, and the change feed's order) then hold under concurrency without
    retries: two writes of one user run one after the other. Taken first, before any other
    row lock, so that two writes can never wait for each other in opposite orders.
    """
    locked = transaction_memo("locked_users")
    if user_id not in locked:
        _, webhooks = db.session.execute(LOCK_USER, {"user_id": user_id}).one()
        locked[user_id] = webhooks


def watch_user(user_id: uuid.UUID) -> None:
    """The user's webhooks changed in this transaction (one was created or re-enabled): its
    writes' events are published at the end, to the webhooks read again then."""
    lock_user(user_id)
    transaction_memo("locked_users")[user_id] = CHANGED


def watched_users() -> dict[uuid.UUID, list | None]:
    """The users this transaction locked who have an active webhook, each with its webhooks'
    [id, events] pairs as the lock read them (None: read them again)."""
    return {
        user_id: None if webhooks == CHANGED else webhooks
        for user_id, webhooks in transaction_memo("locked_users").items()
        if webhooks is not None
    }
