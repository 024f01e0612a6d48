"""Request and response schemas of /api/auth."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.common.fields import Text, UtcDateTime
from app.common.schemas import ResponseSchema, envelope, list_envelope


class Password(ma.fields.String):
    """8 to 128 characters, not all whitespace; never trimmed (spaces are part of it)."""

    default_error_messages = {"blank": "Must not be only whitespace."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("format", "password")
        super().__init__(required=True, validate=validate.Length(min=8, max=128), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        password = super()._deserialize(value, attr, data, **kwargs)
        if not password.strip():
            raise self.make_error("blank")
        return password


class Email(Text):
    """Valid syntax, at most 254 characters, compared and stored lower-cased."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            required=True,
            validate=[validate.Length(max=254), validate.Email()],
            metadata={"format": "email", "example": "ada@example.com"},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).lower()


class RegisterSchema(ma.Schema):
    email = Email()
    password = Password(metadata={"example": "correct horse battery"})
    name = Text(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"example": "Ada Lovelace"},
    )


class LoginSchema(ma.Schema):
    email = Text(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata={"format": "email", "example": "ada@example.com"},
    )
    password = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"format": "password", "example": "correct horse battery"},
    )


class PasswordChangeSchema(ma.Schema):
    current_password = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"format": "password", "example": "correct horse battery"},
    )
    new_password = Password(metadata={"example": "another long secret"})


class UserSchema(ResponseSchema):
    id = ma.fields.UUID(required=True, metadata={"example": "7c9e6679-7425-40de-944b-e07fc1f90ae7"})
    email = ma.fields.String(
        required=True, metadata={"format": "email", "example": "ada@example.com"}
    )
    name = ma.fields.String(required=True, allow_none=True, metadata={"example": "Ada Lovelace"})
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})


class AuthResultSchema(ResponseSchema):
    user = ma.fields.Nested(UserSchema, required=True)
    access_token = ma.fields.String(
        required=True, metadata={"example": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIi..."}
    )
    refresh_token = ma.fields.String(
        required=True, metadata={"example": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmcmVz..."}
    )
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(
        required=True,
        metadata={"description": "Seconds until the access token expires.", "example": 900},
    )


class SessionSchema(ResponseSchema):
    id = ma.fields.UUID(
        required=True,
        metadata={
            "description": "The tokens' `sid` claim.",
            "example": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        },
    )
    created_at = UtcDateTime(required=True, metadata={"example": "2026-11-01T09:30:00Z"})
    last_used_at = UtcDateTime(
        required=True,
        metadata={
            "description": "The last login or token refresh.",
            "example": "2026-11-02T08:15:00Z",
        },
    )
    user_agent = ma.fields.String(
        required=True, allow_none=True, metadata={"example": "Mozilla/5.0 (X11; Linux x86_64)"}
    )
    current = ma.fields.Boolean(
        required=True,
        metadata={"description": "Whether this request's token belongs to it.", "example": True},
    )


AuthResultEnvelope = envelope(AuthResultSchema, "AuthResultEnvelope")
UserEnvelope = envelope(UserSchema, "UserEnvelope")
SessionListEnvelope = list_envelope(SessionSchema, "SessionListEnvelope")
