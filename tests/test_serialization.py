"""ResponseSchema's fast dump writes exactly what marshmallow's own dump writes, for every
response schema of the service (found by walking the subclasses, so a new one is covered)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import marshmallow as ma
import orjson
import pytest

from app.common.fields import UtcDateTime
from app.common.schemas import ResponseSchema
from app.core.json_provider import OPTIONS

# Not UTC, with microseconds: both dumps must turn it into the same `Z` string.
BERLIN_TIME = datetime(2026, 11, 30, 18, 45, 1, 123456, tzinfo=timezone(timedelta(hours=1)))


def _schemas(app) -> list[type[ResponseSchema]]:
    found: list[type[ResponseSchema]] = []
    pending = list(ResponseSchema.__subclasses__())
    while pending:
        schema = pending.pop()
        found.append(schema)
        pending.extend(schema.__subclasses__())
    return sorted(set(found), key=lambda schema: (schema.__module__, schema.__name__))


def _value(field: ma.fields.Field) -> Any:
    """A value of the field's type, as a service would hand it over."""
    if isinstance(field, UtcDateTime):
        return BERLIN_TIME
    if isinstance(field, ma.fields.Nested):
        schema = field.schema
        return _sample(schema)
    if isinstance(field, ma.fields.List):
        return [_value(field.inner), _value(field.inner)]
    if isinstance(field, ma.fields.Enum):
        return next(iter(field.enum))
    if isinstance(field, ma.fields.UUID):
        return uuid.UUID("0b6f3c1e-8a52-4f7d-9c3e-2d4a1b5e6f70")
    if isinstance(field, ma.fields.Boolean):
        return True
    if isinstance(field, ma.fields.Integer):
        return 42
    if isinstance(field, ma.fields.Dict):
        return {"a": "b"}
    return "text"


def _sample(schema: ma.Schema) -> SimpleNamespace:
    """An object with a value for every field (and what Method fields read)."""
    values = {
        field.attribute or name: _value(field)
        for name, field in schema.fields.items()
        if not isinstance(field, ma.fields.Method)
    }
    values["tag_names"] = ["Errands", "bills", "Town"]
    values.setdefault("data", None)  # a change's object (a Method field); see the test below
    return SimpleNamespace(**values)


def _json(value: Any) -> bytes:
    def default(obj: Any) -> Any:
        if isinstance(obj, enum.Enum):
            return obj.value
        raise TypeError(type(obj))

    return orjson.dumps(value, option=OPTIONS, default=default)


def test_every_response_schema_dumps_as_marshmallow_does(app):
    schemas = _schemas(app)
    assert len(schemas) > 20  # the walk found the service's schemas, envelopes included
    for schema_class in schemas:
        schema = schema_class()
        obj = _sample(schema)
        assert _json(schema.dump(obj)) == _json(schema.marshmallow_dump(obj)), schema_class


@pytest.mark.parametrize("value", [None, BERLIN_TIME.replace(tzinfo=UTC)])
def test_times_and_nulls_are_written_alike(app, value):
    from app.tasks.schemas import TaskSchema

    schema = TaskSchema()
    obj = _sample(schema)
    obj.due_at = value
    assert _json(schema.dump(obj)) == _json(schema.marshmallow_dump(obj))


@pytest.mark.parametrize("kind", ["task", "list", "tag"])
def test_a_changes_object_dumps_alike(app, kind):
    from app.changes.schemas import WRITERS, ChangeSchema

    schema = ChangeSchema()
    change = SimpleNamespace(type=kind, id=uuid.uuid4(), deleted=False)
    change.data = _sample(WRITERS[kind])
    assert _json(schema.dump(change)) == _json(schema.marshmallow_dump(change))
