"""The database session: a view marked @read_only reads in autocommit, outside a transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from flask import current_app, has_request_context
from flask_sqlalchemy.session import Session
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import SessionTransaction

from app.core.views import declared

View = TypeVar("View", bound=Callable[..., Any])

_autocommit: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def read_only(view: View) -> View:
    """Declare that a view (a MethodView's method, or a view function) only reads: its request
    runs in autocommit, with no transaction around it. Unmarked views get a transaction, so a
    view that writes can never commit statement by statement by mistake."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def request_reads_only() -> bool:
    """Whether the view this request was routed to is marked @read_only."""
    return bool(declared("read_only", False))


def autocommit_engine(engine: Engine) -> Engine:
    """The engine's autocommit twin: same pool, connections handed out in autocommit and put
    back as they were. Made once per engine (the session keys its connections by it)."""
    if engine not in _autocommit:
        _autocommit[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return _autocommit[engine]


class RequestSession(Session):
    """Flask-SQLAlchemy's session, with the connection of a read-only request in autocommit.

    A read is one or two short statements, so a transaction around it only added a BEGIN and a
    ROLLBACK round trip; and psycopg answers a ROLLBACK by deallocating the connection's
    prepared statements, so without this nothing stayed prepared from one request to the next
    and PostgreSQL planned every read anew. Every other view keeps its transaction. A session
    bound to a connection, as in the tests' rolled-back transaction, keeps that connection.
    """

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine | Connection:
        bind = super().get_bind(*args, **kwargs)
        if isinstance(bind, Engine) and has_request_context() and request_reads_only():
            return autocommit_engine(bind)
        return bind


@event.listens_for(RequestSession, "after_begin")
def _statement_timeout_behind_a_pooler(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """Behind a transaction pooler no startup option can carry statement_timeout, so each
    transaction sets it for itself: SET LOCAL ends with the transaction, before the server
    connection serves another client. Reads in autocommit have no transaction to carry it;
    the database role's own statement_timeout covers them (README, Running at scale)."""
    config = current_app.config
    if not config["DB_TRANSACTION_POOLER"]:
        return
    # A read-only view's connection is in autocommit (the tests pin it in their transaction).
    autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    if autocommit or (has_request_context() and request_reads_only()):
        return
    timeout_ms = int(config["DB_STATEMENT_TIMEOUT_MS"])
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout_ms}")


MEMO = "transaction_memo"


def transaction_memo(name: str) -> dict:
    """A dictionary that lives as long as the request session's current transaction: what a
    write already knows (the user it locked, the last position it gave) need not be asked
    again by the next operation of the same batch. Emptied whenever a transaction ends."""
    from app.extensions import db  # here: the extensions import this module

    memo: dict[str, dict] = db.session.info.setdefault(MEMO, {})
    return memo.setdefault(name, {})


@event.listens_for(RequestSession, "after_transaction_end")
def _forget_the_transactions_memo(session: Session, transaction: SessionTransaction) -> None:
    # Not at the end of the inner "subtransaction" every flush() opens and closes (a parent,
    # not nested): the database transaction goes on, and so do its locks. Found when the
    # webhooks' memo kept vanishing; until then each flush also made lock_user run again.
    if transaction.parent is not None and not transaction.nested:
        return
    session.info.pop(MEMO, None)


# The connection's default, set at connect (app/__init__._engine_options) when no transaction
# pooler is in between.
GENERIC_PLANS = text("SET plan_cache_mode = force_generic_plan")
CUSTOM_PLANS = text("SET plan_cache_mode = force_custom_plan")


@contextmanager
def planned_with_their_values() -> Iterator[None]:
    """Have PostgreSQL plan the statements run inside for the values they are given.

    Connections use generic plans (every list shape is an index lookup whatever its values),
    but a full-text query's best plan depends on how many tasks its words match: a generic
    plan made for an average word walked a 100,000-task user's whole created_at index for a
    rare one (`make bench`: q=zeppelin p50 133 ms; bench/README.md). Behind a transaction
    pooler the connection keeps PostgreSQL's own `auto` mode, which plans with the values
    first, and a session SET would outlive the statement on a shared server connection:
    nothing is changed there.
    """
    from app.extensions import db  # here: the extensions import this module

    if current_app.config["DB_TRANSACTION_POOLER"]:
        yield
        return
    db.session.execute(CUSTOM_PLANS)
    try:
        yield
    finally:
        db.session.execute(GENERIC_PLANS)
