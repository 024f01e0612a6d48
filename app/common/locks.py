"""One lock per user that every write of that user's tasks, lists and tags takes first."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select

from app.core.database import transaction_memo
from app.extensions import db
from app.models import User

# FOR NO KEY UPDATE: it excludes other writers of this user, yet not the foreign-key checks of
# rows being inserted for the user (they take FOR KEY SHARE on the same row).
LOCK_USER = select(User.id).where(User.id == bindparam("user_id")).with_for_update(key_share=True)


def lock_user(user_id: uuid.UUID) -> None:
    """Serialise this transaction with every other write of the same user, until it ends.

    Rules that span rows (a task is not its own ancestor, positions among siblings, the
    per-user limits, and the change feed's order) then hold under concurrency without
    retries: two writes of one user run one after the other. Taken first, before any other
    row lock, so that two writes can never wait for each other in opposite orders.
    """
    locked = transaction_memo("locked_users")
    if user_id not in locked:
        db.session.execute(LOCK_USER, {"user_id": user_id})
        locked[user_id] = True
