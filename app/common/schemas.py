"""Response schemas that dump fast, and the envelopes ({"data": ...}, plus "meta" for lists)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import marshmallow as ma

from app.common.fields import UtcDateTime

Writer = Callable[[Any], Any]
_MISSING = object()
_NO_OFFSET = timedelta(0)


def _utc(value: datetime | None) -> datetime | None:
    """A time in UTC (orjson writes it with `Z`): database times come in the session's zone."""
    if value is None or value.utcoffset() == _NO_OFFSET:
        return value
    return value.astimezone(UTC)


class ResponseSchema(ma.Schema):
    """A schema that documents a response and writes it, in one definition.

    marshmallow's own dump was the largest share of a list request's CPU (the previous
    profile: ~15%, a hand-written copy of TaskSchema replaced it). This dump follows the
    declared fields instead: it reads each attribute (or key) and leaves the value to orjson
    (app/core/json_provider.py), which writes UUIDs, enums and UTC datetimes natively; times are
    put in UTC, Method fields call their method, nested schemas recurse. Any other field type
    falls back to marshmallow's own serialisation. tests/test_serialization.py checks that the
    JSON is the same as marshmallow's for every response schema.
    """

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        writer = self.__dict__.get("_writer")
        if writer is None:
            writer = self.__dict__["_writer"] = self._compile()
        if many if many is not None else self.many:
            return [writer(item) for item in obj]
        return writer(obj)

    def marshmallow_dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """marshmallow's own dump, for the tests that compare it with the fast one."""
        return super().dump(obj, many=many)

    def _compile(self) -> Writer:
        # (key, attribute, writer); a Method field reads the whole object (attribute None).
        steps = [
            (
                field.data_key or name,
                None if isinstance(field, ma.fields.Method) else field.attribute or name,
                _value_writer(self, field),
            )
            for name, field in self.dump_fields.items()
        ]

        def write(obj: Any) -> dict[str, Any]:
            read: Callable[[str, Any], Any] = (
                obj.get if isinstance(obj, Mapping) else lambda key, d: getattr(obj, key, d)
            )
            out: dict[str, Any] = {}
            for key, attribute, convert in steps:
                value = obj if attribute is None else read(attribute, _MISSING)
                if value is _MISSING:
                    continue  # as marshmallow does: an absent attribute is left out
                out[key] = value if convert is None else convert(value)
            return out

        return write


def _value_writer(schema: ma.Schema, field: ma.fields.Field) -> Writer | None:
    """How one field's value is written; None when orjson writes the raw value as marshmallow
    would (strings, numbers, booleans, UUIDs, enums by value)."""
    if isinstance(field, UtcDateTime):
        return _utc
    if isinstance(field, ma.fields.Method):
        return getattr(schema, str(field.serialize_method_name))
    if isinstance(field, ma.fields.Nested):
        nested = field.schema
        return lambda value: None if value is None else nested.dump(value)
    if isinstance(field, ma.fields.List):
        inner = _value_writer(schema, field.inner)
        if inner is None:
            return list
        return lambda value: None if value is None else [inner(item) for item in value]
    plain = (ma.fields.String, ma.fields.Integer, ma.fields.Boolean, ma.fields.UUID)
    if type(field) in plain or (isinstance(field, ma.fields.Enum) and field.by_value):
        return None
    return lambda value: field._serialize(value, None, None)


class CountMetaSchema(ResponseSchema):
    count = ma.fields.Integer(
        required=True, metadata={"description": "Number of items.", "example": 1}
    )


def envelope(schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """`{"data": <schema>}`: one thing."""
    return ResponseSchema.from_dict({"data": ma.fields.Nested(schema, required=True)}, name=name)


def list_envelope(
    schema: type[ma.Schema], name: str, meta: type[ma.Schema] = CountMetaSchema
) -> type[ma.Schema]:
    """`{"data": [<schema>...], "meta": {...}}`: a list."""
    return ResponseSchema.from_dict(
        {
            "data": ma.fields.List(ma.fields.Nested(schema), required=True),
            "meta": ma.fields.Nested(meta, required=True),
        },
        name=name,
    )
