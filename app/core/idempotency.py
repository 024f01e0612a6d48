"""Idempotency-Key: a POST or PATCH under /api/{user_id}/ retried with the same key answers its
first answer again instead of doing the work twice.

The answer is recorded in the transaction that does the work (app/core/transactions.py), so the
work and the record commit together or not at all. While a request with a key runs, it holds a
transaction-scoped advisory lock on (user, key): a second request with that key finds the lock
taken and is told 409 idempotency_key_in_use at once, instead of waiting for the first or
running beside it. Once the first commits, its record is there: retries with the same method,
path and body (compared as parsed JSON) get it replayed, byte for byte, with
`Idempotent-Replayed: true`; another request under the same key is 422 idempotency_key_reused.

Not recorded (a retry runs afresh): answers decided before the work (401, 403, 413, 415, 429,
which come before this module's hook), 422s and 5xx. Recorded: successes, and the 404, 409 and
412 that the work itself decided (nothing else was committed then).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import orjson
from flask import Response, current_app, g, request
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from app.errors import ApiError
from app.extensions import db
from app.models import IdempotencyRecord

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
VALID_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
# What a replay repeats besides the status and the body.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
RECORDED_ERRORS = frozenset({404, 409, 412})
RETRY_IN_USE_SECONDS = "1"


@dataclass(frozen=True)
class Claim:
    """This request's key, held (the advisory lock) and not yet answered."""

    user_id: uuid.UUID
    key: str
    fingerprint: bytes


def _fingerprint() -> bytes:
    """What a retry must repeat: the method, the path and query, and the body as parsed JSON
    (so key order and spacing do not matter)."""
    body = request.get_json(silent=True)
    canonical = b"" if body is None else orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    query = "&".join(sorted(request.query_string.decode("latin-1").split("&")))
    return hashlib.sha256(
        b"\n".join([request.method.encode(), request.path.encode(), query.encode(), canonical])
    ).digest()


def _ttl() -> timedelta:
    return timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])


def claim() -> Response | None:
    """Before a keyed POST or PATCH (after the auth guard): the stored answer to replay, or
    None with the key held for this request (or no key). 422 for a malformed key or one
    reused for another request, 409 while another request with the key is running."""
    if request.method not in METHODS or KEY_HEADER not in request.headers:
        return None
    key = request.headers[KEY_HEADER]
    if not VALID_KEY.match(key):
        raise ApiError(
            422, errors={"headers": {KEY_HEADER: ["Must be 1 to 255 printable ASCII characters."]}}
        )
    user_id = (request.view_args or {})["user_id"]
    held = db.session.scalar(
        select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"{user_id}:{key}", 0)))
    )
    if not held:
        raise ApiError(
            409,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still running; retry after Retry-After.",
            headers={"Retry-After": RETRY_IN_USE_SECONDS},
        )
    fingerprint = _fingerprint()
    # Read after the lock is held: a first request that just committed has its record seen.
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at > func.now() - _ttl(),
        )
    )
    if record is None:
        g.idempotency = Claim(user_id=user_id, key=key, fingerprint=fingerprint)
        return None
    if record.fingerprint != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used for another request (method, path or body).",
        )
    g.answer_replayed = True
    return Response(record.body, status=record.status, headers=_replayed(record.headers))


def _replayed(headers: dict[str, Any]) -> dict[str, str]:
    return {**headers, REPLAYED_HEADER: "true"}


def recorded(response: Response) -> bool:
    """Whether this request's answer is recorded for its key (it has one, and the answer is a
    success or a 404, 409 or 412 the work decided)."""
    return "idempotency" in g and (
        200 <= response.status_code < 300 or response.status_code in RECORDED_ERRORS
    )


def record(response: Response) -> None:
    """Store the answer under the request's key, in the current transaction (a record past its
    TTL under the same key is replaced)."""
    held: Claim = g.pop("idempotency")
    values = {
        "user_id": held.user_id,
        "key": held.key,
        "fingerprint": held.fingerprint,
        "status": response.status_code,
        "headers": {
            name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
        },
        "body": response.get_data(),
        "created_at": func.now(),
    }
    statement = insert(IdempotencyRecord).values(values)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "key"],
            set_={
                name: statement.excluded[name] for name in values if name not in ("user_id", "key")
            },
        )
    )


def purge(*, older_than: timedelta) -> int:
    """Delete the records older than `older_than` (expired: retries of them run afresh)."""
    result = db.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < func.now() - older_than)
    )
    return cast(CursorResult, result).rowcount
