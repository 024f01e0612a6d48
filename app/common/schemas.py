"""Response envelopes ({"data": ...}, plus "meta" for lists) shared by every blueprint."""

from __future__ import annotations

import marshmallow as ma


class CountMetaSchema(ma.Schema):
    count = ma.fields.Integer(
        required=True, metadata={"description": "Number of items.", "example": 1}
    )


def envelope(schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """`{"data": <schema>}`: one thing."""
    return ma.Schema.from_dict({"data": ma.fields.Nested(schema, required=True)}, name=name)


def list_envelope(
    schema: type[ma.Schema], name: str, meta: type[ma.Schema] = CountMetaSchema
) -> type[ma.Schema]:
    """`{"data": [<schema>...], "meta": {...}}`: a list."""
    return ma.Schema.from_dict(
        {
            "data": ma.fields.List(ma.fields.Nested(schema), required=True),
            "meta": ma.fields.Nested(meta, required=True),
        },
        name=name,
    )
