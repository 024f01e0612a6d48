"""Keyset pagination over (sort key, id) with opaque, signed cursors.

Written here rather than with sqlakeyset because the contract sorts `due_at` with nulls last
in both directions, which needs the null-aware predicates below, and because a cursor must be
bound to the sort it was made for (a cursor from another sort is a 422, not a wrong page).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, and_, bindparam, or_, tuple_

from app.errors import ApiError


@dataclass(frozen=True)
class SortOrder:
    """A sort like `-due_at`: the column's name and the direction."""

    field: str
    descending: bool

    @classmethod
    def parse(cls, text: str) -> SortOrder:
        return cls(field=text.lstrip("-"), descending=text.startswith("-"))

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


def order_by(column: Any, id_column: Any, order: SortOrder) -> list[Any]:
    """ORDER BY the key, then id in the same direction; a nullable key sorts nulls last.

    NULLS LAST only where nulls can exist: on a NOT NULL column it would stop PostgreSQL from
    reading a (user_id, key, id) index backwards for a descending sort.
    """
    key = column.desc() if order.descending else column.asc()
    if column.expression.nullable:
        key = key.nulls_last()
    return [key, id_column.desc() if order.descending else id_column.asc()]


def after(
    column: Any, id_column: Any, order: SortOrder, *, past_nulls: bool
) -> ColumnElement[bool]:
    """Rows strictly after the cursor's row in `order`, with nulls sorting last.

    The cursor's row is the parameters `after_value` and `after_id`; `past_nulls` when that row
    had no value (then only nulls remain, ordered by id). The row comparison
    `(key, id) > (:after_value, :after_id)` is what a (user_id, key, id) index serves.
    """
    last_id = bindparam("after_id", type_=id_column.type)
    id_after = id_column < last_id if order.descending else id_column > last_id
    if past_nulls:
        return and_(column.is_(None), id_after)
    position = tuple_(column, id_column)
    bound = tuple_(bindparam("after_value", type_=column.type), last_id)
    beyond = position < bound if order.descending else position > bound
    if column.expression.nullable:
        return or_(beyond, column.is_(None))
    return beyond


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["JWT_SECRET_KEY"], salt="keyset-cursor")


def encode_cursor(order: SortOrder, value: Any, last_id: uuid.UUID) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return _serializer().dumps({"s": str(order), "v": value, "i": str(last_id)})


def _invalid(message: str) -> ApiError:
    return ApiError(422, errors={"query": {"cursor": [message]}})


def decode_cursor(cursor: str, order: SortOrder, *, datetime_key: bool) -> tuple[Any, uuid.UUID]:
    """The (value, id) a cursor points after; 422 when it is not ours or not for this sort."""
    try:
        payload = _serializer().loads(cursor)
        sort, value, last_id = payload["s"], payload["v"], uuid.UUID(payload["i"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _invalid("Not a valid cursor.") from None
    if sort != str(order):
        raise _invalid(f"This cursor was made for sort={sort}, not sort={order}.")
    if datetime_key and value is not None:
        value = datetime.fromisoformat(value)
    return value, last_id
