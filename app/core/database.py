"""The database session: a GET or HEAD request reads in autocommit, outside a transaction."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from flask import has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy import Connection, Engine

# Requests that change nothing (HTTP's safe methods): no route writes on them.
SAFE_METHODS = frozenset({"GET", "HEAD"})

_autocommit: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def autocommit_engine(engine: Engine) -> Engine:
    """The engine's autocommit twin: same pool, connections handed out in autocommit and put
    back as they were. Made once per engine (the session keys its connections by it)."""
    if engine not in _autocommit:
        _autocommit[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return _autocommit[engine]


class RequestSession(Session):
    """Flask-SQLAlchemy's session, with the connection of a safe request in autocommit.

    A read is one statement (two when its check of the token's session found nothing), so a
    transaction around it only added a BEGIN and a ROLLBACK round trip; and psycopg answers a
    ROLLBACK by deallocating the connection's prepared statements, so without this nothing
    stayed prepared from one request to the next and PostgreSQL planned every read anew.
    Writes (any other method) keep their transaction. A session bound to a connection, as in
    the tests' rolled-back transaction, keeps that connection.
    """

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine | Connection:
        bind = super().get_bind(*args, **kwargs)
        if isinstance(bind, Engine) and has_request_context() and request.method in SAFE_METHODS:
            return autocommit_engine(bind)
        return bind
