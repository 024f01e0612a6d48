"""One lock per user that every write of that user's tasks, lists and tags takes first."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.core.database import transaction_memo
from app.extensions import db

# The next number of the user's change sequence (migration 5b8e1f3a7c20): an upsert of the
# user's counters row, which locks that row (FOR NO KEY UPDATE: the foreign-key checks of rows
# inserted for the user are not blocked) until the transaction ends.
LOCK_USER = text("SELECT change_seq_of(:user_id)")


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
        db.session.execute(LOCK_USER, {"user_id": user_id})
        locked[user_id] = True
