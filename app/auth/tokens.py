"""JWT issuance and the flask-jwt-extended hooks: revocation, current user, 401 answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g
from flask_jwt_extended import create_access_token, create_refresh_token
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


# Built once: every authenticated request runs it, so it is not rebuilt per request. The user
# comes back only while the token's session is live (not revoked, not expired), as a row of
# the columns the API shows (no ORM object: nothing on the read path writes the user).
USER_WITH_LIVE_SESSION = select(User.id, User.email, User.name, User.created_at).where(
    User.id == bindparam("user_id"),
    exists().where(
        LoginSession.id == bindparam("session_id"),
        LoginSession.user_id == User.id,
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > func.now(),
    ),
)


def is_token_revoked(jwt_header: dict, jwt_payload: dict) -> bool:
    """One query: the token's user, if its session is live; kept as the request's user."""
    user_id = _parse_uuid(jwt_payload.get("sub"))
    session_id = _parse_uuid(jwt_payload.get("sid"))
    if user_id is None or session_id is None:
        return True
    params = {"user_id": user_id, "session_id": session_id}
    user = db.session.execute(USER_WITH_LIVE_SESSION, params).first()
    if user is None:
        return True
    g.user, g.user_id = user, user_id
    return False


def load_current_user(jwt_header: dict, jwt_payload: dict) -> Row | None:
    """`current_user`: the row is_token_revoked loaded (id, email, name, created_at)."""
    return g.get("user")


def init_jwt_hooks(app: Flask) -> None:
    """Every JWT failure becomes a 401 problem with a precise code (never a 422 or {"msg"})."""
    jwt.token_in_blocklist_loader(is_token_revoked)
    jwt.user_lookup_loader(load_current_user)
    jwt.unauthorized_loader(
        lambda reason: _unauthorized("unauthorized", "A bearer token is required.")
    )
    jwt.invalid_token_loader(
        lambda reason: _unauthorized("token_invalid", "The token is malformed or not valid here.")
    )
    jwt.expired_token_loader(
        lambda header, payload: _unauthorized("token_expired", "The token has expired.")
    )
    jwt.revoked_token_loader(
        lambda header, payload: _unauthorized("token_revoked", "The token has been revoked.")
    )
    jwt.user_lookup_error_loader(
        lambda header, payload: _unauthorized("token_revoked", "The token has been revoked.")
    )
    jwt.token_verification_failed_loader(
        lambda header, payload: _unauthorized("token_invalid", "The token is not valid here.")
    )
