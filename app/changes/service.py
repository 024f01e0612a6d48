"""The change feed's reads (a full snapshot, the changes after a token) and the tombstones' purge.

Each page is a bounded number of statements whatever its size: the page of positions (one
indexed statement, all that a sync with nothing new costs), then one statement per kind of
object on it for their data. Nothing is held between pages but the token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
    Integer,
    String,
    Uuid,
    any_,
    bindparam,
    delete,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.changes import tokens
from app.changes.tokens import SyncToken
from app.extensions import db
from app.models import Change, Tag, TaskList, UserCounters
from app.tasks.listing import TAG_NAMES, TASK_COLUMNS
from app.tasks.query import TASKS

CHANGES = Change.__table__
USER = bindparam("user_id", type_=Uuid)
LIMIT = bindparam("limit", type_=Integer)
SEQ = bindparam("seq", type_=BigInteger)
KIND = bindparam("kind", type_=String)
OBJECT_ID = bindparam("object_id", type_=Uuid)
IDS = bindparam("ids", type_=ARRAY(Uuid))

# The feed, in the order of ix_changes_user_id_seq_kind_object_id: after one change, or after
# every change numbered `seq` (where a full snapshot hands over to the feed).
FEED_KEY = (CHANGES.c.seq, CHANGES.c.kind, CHANGES.c.object_id)
_FEED = (
    select(*FEED_KEY, CHANGES.c.deleted)
    .where(CHANGES.c.user_id == USER)
    .order_by(*FEED_KEY)
    .limit(LIMIT)
)
FEED_AFTER_CHANGE = _FEED.where(tuple_(*FEED_KEY) > tuple_(SEQ, KIND, OBJECT_ID))
FEED_AFTER_SEQ = _FEED.where(CHANGES.c.seq > SEQ)

# The live objects of a full snapshot, in the order of the primary key (user_id, kind,
# object_id): every live list, tag and task has its row (its latest change).
SNAPSHOT_KEY = (CHANGES.c.kind, CHANGES.c.object_id)
SNAPSHOT_FIRST = (
    select(*SNAPSHOT_KEY)
    .where(CHANGES.c.user_id == USER, ~CHANGES.c.deleted)
    .order_by(*SNAPSHOT_KEY)
    .limit(LIMIT)
)
SNAPSHOT_AFTER = SNAPSHOT_FIRST.where(tuple_(*SNAPSHOT_KEY) > tuple_(KIND, OBJECT_ID))

# The newest committed number of the user's sequence, read without a lock: what a snapshot
# stands for (S0).
CURRENT_SEQ = select(UserCounters.change_seq).where(UserCounters.user_id == USER)

# A page's objects, one statement per kind, as their GETs answer them: tasks through
# app/tasks' own columns with their tag names; lists and tags without their counts.
OBJECTS = {
    "list": select(TaskList.id, TaskList.name, TaskList.created_at, TaskList.updated_at).where(
        TaskList.user_id == USER, TaskList.id == any_(IDS)
    ),
    "tag": select(Tag.id, Tag.name, Tag.created_at).where(Tag.user_id == USER, Tag.id == any_(IDS)),
    "task": select(*TASK_COLUMNS, TAG_NAMES).where(
        TASKS.c.user_id == USER, TASKS.c.id == any_(IDS)
    ),
}

# A tombstone outlives the tokens that may still need it by a day: a write's changed_at is
# read a little before it commits, and the app's clock (tokens) may differ from the database's.
PURGE_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class ChangeView:
    """One change as answered: the object's kind and id, and its latest state (None when it
    is deleted)."""

    type: str
    id: uuid.UUID
    deleted: bool
    data: Any


@dataclass(frozen=True)
class ChangePage:
    changes: list[ChangeView]
    next_since: str
    has_more: bool


def read_changes(*, user_id: uuid.UUID, since: str | None, limit: int) -> ChangePage:
    """A page of the full snapshot (no `since`, or a snapshot's token) or of the changes after
    `since`; 422 naming `since` for a token that is not this user's, 410 sync_expired for one
    older than the history kept."""
    now = tokens.now()  # before any statement: the page is at least as new as this
    if since is None:
        return _snapshot_page(user_id, limit, None, now)
    token = tokens.decode(since, user_id=user_id, now=now)
    if token.snapshot:
        return _snapshot_page(user_id, limit, token, now)
    return _feed_page(user_id, limit, token, now)


def _feed_page(user_id: uuid.UUID, limit: int, token: SyncToken, now: int) -> ChangePage:
    """The changes after the token's position, oldest first, each object once.

    `changes` keeps one row per object, its latest change: an object changed again moves
    forward in the feed, never back, so a reader past a position never needs what is before.
    """
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1, "seq": token.seq}
    if token.kind is None:
        statement = FEED_AFTER_SEQ
    else:
        statement = FEED_AFTER_CHANGE
        params.update(kind=token.kind, object_id=token.object_id)
    rows = db.session.execute(statement, params).all()
    page, has_more = rows[:limit], len(rows) > limit
    objects = _objects(user_id, ((row.kind, row.object_id) for row in page if not row.deleted))
    # An object its row says is live but that is gone by the time its data is read was
    # deleted meanwhile: it is answered as deleted (its tombstone follows later anyway).
    changes = [
        _change(row.kind, row.object_id, objects.get((row.kind, row.object_id))) for row in page
    ]
    if page:
        last = page[-1]
        seq, kind, object_id = last.seq, last.kind, last.object_id
    else:
        seq, kind, object_id = token.seq, token.kind, token.object_id
    # The last page: every change after it was still uncommitted when `now` was read, so the
    # history is complete up to `now`. A page with more after it keeps the token's moment:
    # the changes it left for the next page may be older.
    issued_at = token.issued_at if has_more else now
    next_token = SyncToken(user_id, issued_at, seq, kind, object_id)
    return ChangePage(changes, tokens.encode(next_token), has_more)


def _snapshot_page(user_id: uuid.UUID, limit: int, token: SyncToken | None, now: int) -> ChangePage:
    """A page of every live list, tag and task, by (kind, id).

    The first page reads S0, the user's newest committed change number, before anything else:
    every change numbered up to S0 is then visible to this page's statements and the later
    pages', and every change after S0 comes in the feed that the last page hands over to. An
    object changed while the client pages may show a newer state here; its change follows.
    """
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    if token is None:
        seq, issued_at = db.session.scalar(CURRENT_SEQ, {"user_id": user_id}) or 0, now
        statement = SNAPSHOT_FIRST
    else:
        seq, issued_at = token.seq, token.issued_at
        statement = SNAPSHOT_AFTER
        params.update(kind=token.kind, object_id=token.object_id)
    rows = db.session.execute(statement, params).all()
    page, has_more = rows[:limit], len(rows) > limit
    objects = _objects(user_id, ((row.kind, row.object_id) for row in page))
    # Deleted since its row was read: left out, its deletion (numbered after S0) follows.
    changes = [
        _change(row.kind, row.object_id, found)
        for row in page
        if (found := objects.get((row.kind, row.object_id))) is not None
    ]
    if has_more:
        last = page[-1]
        next_token = SyncToken(user_id, issued_at, seq, last.kind, last.object_id, snapshot=True)
    else:
        next_token = SyncToken(user_id, issued_at, seq)
    return ChangePage(changes, tokens.encode(next_token), has_more)


def _change(kind: str, object_id: uuid.UUID, found: Any) -> ChangeView:
    return ChangeView(type=kind, id=object_id, deleted=found is None, data=found)


def _objects(
    user_id: uuid.UUID, refs: Iterable[tuple[str, uuid.UUID]]
) -> dict[tuple[str, uuid.UUID], Any]:
    """The current rows of these objects of the user's, by (kind, id): one statement per kind."""
    wanted: dict[str, list[uuid.UUID]] = {}
    for kind, object_id in refs:
        wanted.setdefault(kind, []).append(object_id)
    found: dict[tuple[str, uuid.UUID], Any] = {}
    for kind, ids in wanted.items():
        for row in db.session.execute(OBJECTS[kind], {"user_id": user_id, "ids": ids}):
            found[(kind, row.id)] = row
    return found


def purge_tombstones(*, retention: timedelta) -> int:
    """Delete the tombstones (changes of deleted objects) recorded longer ago than
    `retention` (plus PURGE_MARGIN): the CLI's `sync purge`, later a scheduled job. The caller
    commits. Live objects' rows are never purged: a full snapshot reads them."""
    cutoff = datetime.now(UTC) - retention - PURGE_MARGIN
    result = db.session.execute(delete(Change).where(Change.deleted, Change.changed_at < cutoff))
    return cast(CursorResult, result).rowcount
