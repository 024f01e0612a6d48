"""One transaction per request: committed once the answer is a success, rolled back otherwise.

Services write through the request's session and never commit: the view's answer decides. So
a write and everything recorded with it (its changes, its idempotency record) commit together
or not at all, and a batch of operations is one transaction by construction. Views marked
@read_only (app/core/database.py) read in autocommit and have nothing to commit.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from app.core import idempotency
from app.core.database import request_reads_only
from app.errors import (
    handle_database_error,
    handle_database_unavailable,
    handle_integrity_error,
)
from app.extensions import db


def finish(response: Response) -> Response:
    """Commit a successful write's transaction; roll anything else back.

    A commit can still fail (a deferred constraint, the database gone): the answer then
    becomes that failure's, in the contract's shape, instead of a success that did not
    happen.
    """
    if request_reads_only():
        return response
    if g.get("answer_replayed"):
        db.session.rollback()
        return response
    if response.status_code >= 400:
        db.session.rollback()
        if not idempotency.recorded(response):
            return response
        # A 404, 409 or 412 that the work decided is kept for the key's retries, alone: the
        # work it refused was rolled back.
    try:
        if response.status_code < 400:
            for hook in current_app.extensions[BEFORE_COMMIT]:
                hook(response)
        if idempotency.recorded(response):
            idempotency.record(response)
        db.session.commit()
    except IntegrityError as error:
        return handle_integrity_error(error)
    except (OperationalError, InterfaceError) as error:
        db.session.rollback()
        return handle_database_unavailable(error)
    except DBAPIError as error:  # behind PgBouncer, a server cut off at COMMIT (errors.py)
        db.session.rollback()
        return handle_database_error(error)
    return response


BEFORE_COMMIT = "before_commit"


def init_transactions(app: Flask, before_commit: list[Callable[[Response], None]]) -> None:
    """Call last in create_app: Flask runs after-request hooks in reverse order of
    registration, so the commit runs first and the others see (and decorate) the answer it
    decided. `before_commit` runs in a successful write's transaction, just before its commit,
    with the answer (the webhooks' outbox writes the transaction's events there)."""
    app.extensions[BEFORE_COMMIT] = before_commit
    app.after_request(finish)
