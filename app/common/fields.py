"""Strict marshmallow fields: JSON's own types, trimmed text, times with a zone, answered in UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

# The rules below, as JSON Schema patterns, so the document tells clients and fuzzers too.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"


class Text(ma.fields.String):
    """A string, trimmed, that PostgreSQL can store (no NUL character).

    Length validators apply to the trimmed text, so a minimum length of 1 also means "not only
    whitespace"; the documented pattern says which.
    """

    default_error_messages = {"nul": "Must not contain the NUL character."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        must_have_content = any(
            isinstance(rule, ma.validate.Length) and (rule.min or 0) >= 1
            for rule in self.validators
        )
        self.metadata = {"pattern": NOT_BLANK if must_have_content else NO_NUL, **self.metadata}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text.strip()


def format_utc(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`: the one way the service writes a time."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class StrictBoolean(ma.fields.Boolean):
    """`true` or `false` only: not "true", "yes", 1 or 0."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class UtcDateTime(ma.fields.DateTime):
    """RFC 3339 with a zone in, UTC with a `Z` out; a time without a zone is refused."""

    default_error_messages = {
        "naive": "Must include a time zone (for example Z or +02:00).",
        "range": "Must be between years 1 and 9999 in UTC.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_utc(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            raise self.make_error("naive")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            # 0001-01-01T00:00+14:00 and 9999-12-31T23:59-14:00 have no UTC datetime.
            raise self.make_error("range") from None


NONE = "none"


class IdOrNone(ma.fields.String):
    """A UUID, or the word `none`: a filter on a link that may be absent (`?list=none`)."""

    default_error_messages = {"invalid_id": 'Must be a UUID or "none".'}

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "pattern": "^(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
            "[0-9a-fA-F]{12})$",
            "maxLength": 36,
            "example": NONE,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 36:
            raise self.make_error("invalid_id")
        if text == NONE:
            return NONE
        try:
            return uuid.UUID(text)
        except ValueError:
            raise self.make_error("invalid_id") from None
