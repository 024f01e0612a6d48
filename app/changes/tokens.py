"""Sync tokens (`since`, `next_since`): signed, bound to their user, dated, opaque to clients.

A token says where its holder is: in the feed, after the change (seq, kind, object_id), or
after every change numbered seq when kind is None; or, in a full snapshot being paged, the
snapshot's seq (S0) and the last object answered, by (kind, object_id). `issued_at` is the
moment since which the holder's history is known complete: every change the holder has not
seen was committed after it (app/changes/service.py keeps that true), so a token older than
the history kept (SYNC_RETENTION_DAYS) may have lost tombstones, and is 410 sync_expired.

Signed with itsdangerous as the task list's cursors are, with a salt of their own: a cursor is
never a token, nor the reverse.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.errors import ApiError
from app.models.change import KINDS

SALT = "change-feed-since"
DAY_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class SyncToken:
    """A position in a user's feed (`snapshot` false) or in their full snapshot (true)."""

    user_id: uuid.UUID
    issued_at: int  # Unix seconds
    seq: int
    kind: str | None = None
    object_id: uuid.UUID | None = None
    snapshot: bool = False


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["JWT_SECRET_KEY"], salt=SALT)


def encode(token: SyncToken) -> str:
    payload = {
        "u": str(token.user_id),
        "t": token.issued_at,
        "s": token.seq,
        "k": token.kind,
        "i": None if token.object_id is None else str(token.object_id),
        "m": int(token.snapshot),
    }
    return _serializer().dumps(payload)


def _invalid(message: str) -> ApiError:
    return ApiError(422, errors={"query": {"since": [message]}})


def _parse(text: str) -> SyncToken:
    """The token's content, or a 422 when it is not one the service signed."""
    try:
        payload = _serializer().loads(text)
        token = SyncToken(
            user_id=uuid.UUID(payload["u"]),
            issued_at=payload["t"],
            seq=payload["s"],
            kind=payload["k"],
            object_id=None if payload["i"] is None else uuid.UUID(payload["i"]),
            snapshot=bool(payload["m"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise _invalid("Not a valid sync token.") from None
    # Signed, so made here; checked anyway, so that no token can reach SQL malformed.
    well_formed = (
        type(token.issued_at) is int
        and type(token.seq) is int
        and (token.kind is None) == (token.object_id is None)
        and (token.kind is None or token.kind in KINDS)
        and (token.kind is not None or not token.snapshot)
    )
    if not well_formed:
        raise _invalid("Not a valid sync token.")
    return token


def decode(text: str, *, user_id: uuid.UUID, now: int) -> SyncToken:
    """The token `since`: 422 naming `since` when it is not a token of this user's, 410
    sync_expired when it is older than the history kept."""
    token = _parse(text)
    if token.user_id != user_id:
        raise _invalid("Not a sync token of this user's.")
    retention = current_app.config["SYNC_RETENTION_DAYS"] * DAY_SECONDS
    if token.issued_at < now - retention:
        raise ApiError(
            410,
            "sync_expired",
            "This sync token is older than the change history kept: start again from a full "
            "snapshot (no `since`).",
        )
    return token


def now() -> int:
    """The time a token is issued at: read before the statements it stands for."""
    return int(time.time())
