"""JWT issuance, and the flask-jwt-extended hooks: the live-session check and the 401 answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt
from sqlalchemy import Row, bindparam, exists, func, select

from app.errors import problem
from app.extensions import db, jwt
from app.models import LoginSession, User


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def new_jti() -> str:
    return uuid.uuid4().hex


def issue_tokens(*, user_id: uuid.UUID, session_id: uuid.UUID, refresh_jti: str) -> TokenPair:
    """An access and a refresh token for one login session; the refresh jti is the session's."""
    claims = {"sid": str(session_id)}
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return TokenPair(
        access_token=create_access_token(identity=str(user_id), additional_claims=claims),
        refresh_token=create_refresh_token(
            identity=str(user_id), additional_claims={**claims, "jti": refresh_jti}
        ),
        expires_in=int(lifetime.total_seconds()),
    )


def _parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _unauthorized(code: str, detail: str) -> Response:
    error = "invalid_request" if code == "unauthorized" else "invalid_token"
    return problem(401, code, detail, headers={"WWW-Authenticate": f'Bearer error="{error}"'})


# A token is good only while its login session is live (not revoked, not expired): that is
# how logout and refresh-token reuse take effect at once, in every worker and instance. The
# check loads the token's user in the same statement, as a row of the columns the API shows (no
# ORM object: nothing on the way in writes the user). Built once, not per request.
USER_WITH_LIVE_SESSION = select(User.id, User.email, User.name, User.created_at).where(
    User.id == bindparam("user_id"),
    exists().where(
        LoginSession.id == bindparam("session_id"),
        LoginSession.user_id == User.id,
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > func.now(),
    ),
)


def _token_ids(jwt_payload: dict) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(user id, session id) from a token's claims; None when they are not both UUIDs."""
    user_id = _parse_uuid(jwt_payload.get("sub"))
    session_id = _parse_uuid(jwt_payload.get("sid"))
    if user_id is None or session_id is None:
        return None
    return user_id, session_id


def load_user(jwt_header: dict, jwt_payload: dict) -> Row | None:
    """flask-jwt-extended's user lookup: the token's user while its session is live, else None
    (which the library turns into the 401 `token_revoked` below). One query per request."""
    ids = _token_ids(jwt_payload)
    if ids is None:
        return None
    user_id, session_id = ids
    user = db.session.execute(
        USER_WITH_LIVE_SESSION, {"user_id": user_id, "session_id": session_id}
    ).first()
    if user is not None:
        g.user_id = user.id  # the access log's user
    return user


def token_session_id() -> uuid.UUID:
    """The login session (`sid`) of this request's verified token."""
    return uuid.UUID(get_jwt()["sid"])


def init_jwt_hooks(app: Flask) -> None:
    """Every JWT failure becomes a 401 problem with a precise code (never a 422 or {"msg"})."""
    jwt.user_lookup_loader(load_user)
    jwt.unauthorized_loader(
        lambda reason: _unauthorized("unauthorized", "A bearer token is required.")
    )
    jwt.invalid_token_loader(
        lambda reason: _unauthorized("token_invalid", "The token is malformed or not valid here.")
    )
    jwt.expired_token_loader(
        lambda header, payload: _unauthorized("token_expired", "The token has expired.")
    )
    jwt.user_lookup_error_loader(
        lambda header, payload: _unauthorized("token_revoked", "The token has been revoked.")
    )
    jwt.token_verification_failed_loader(
        lambda header, payload: _unauthorized("token_invalid", "The token is not valid here.")
    )
