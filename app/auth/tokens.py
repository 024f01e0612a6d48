"""JWT issuance, the flask-jwt-extended hooks (401 answers), and the live-session check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_header,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import RevokedTokenError
from sqlalchemy import Row, bindparam, exists, func, select
from werkzeug.local import LocalProxy

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
# how logout and refresh-token reuse take effect at once, in every worker and instance.
# Statements are built once, not per request; `user_id` is the token's user.
LIVE_SESSION = exists().where(
    LoginSession.id == bindparam("session_id"),
    LoginSession.user_id == bindparam("user_id"),
    LoginSession.revoked_at.is_(None),
    LoginSession.expires_at > func.now(),
)
# The user, only while the session is live, as a row of the columns the API shows (no ORM
# object: nothing on the read path writes the user).
USER_WITH_LIVE_SESSION = select(User.id, User.email, User.name, User.created_at).where(
    User.id == bindparam("user_id"), LIVE_SESSION
)


def verify_token_deferring_session_check() -> None:
    """Verify the request's access token (signature, expiry, type, claims) but leave the
    session check to the request's own read: one statement instead of two.

    Only for requests that change nothing. Their read carries LIVE_SESSION with
    live_session_params() and calls session_found_live() when it returns rows; the caller must
    still run require_live_session() before answering (it asks the database only when no read
    found the session live).
    """
    verify_jwt_in_request(skip_revocation_check=True)
    ids = _token_ids(get_jwt())
    if ids is None:
        raise RevokedTokenError(get_jwt_header(), get_jwt())
    g.user_id, g.session_id = ids
    g.session_live = False
    g.pop("user", None)


def token_session_id() -> uuid.UUID:
    """The login session of this request's (verified) token."""
    return g.session_id


def live_session_params() -> dict[str, uuid.UUID]:
    """The parameters of LIVE_SESSION for this request's token."""
    return {"user_id": g.user_id, "session_id": g.session_id}


def session_found_live() -> None:
    """A statement carrying LIVE_SESSION returned rows: the session is live."""
    g.session_live = True


def require_live_session() -> None:
    """The 401 `token_revoked` unless this request's session is known to be live (a deferred
    check whose read found nothing asks the database here)."""
    if g.get("session_live"):
        return
    if not db.session.scalar(select(LIVE_SESSION), live_session_params()):
        raise RevokedTokenError(get_jwt_header(), get_jwt())
    g.session_live = True


def _token_ids(jwt_payload: dict) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(user id, session id) from a token's claims; None when they are not both UUIDs."""
    user_id = _parse_uuid(jwt_payload.get("sub"))
    session_id = _parse_uuid(jwt_payload.get("sid"))
    if user_id is None or session_id is None:
        return None
    return user_id, session_id


def is_token_revoked(jwt_header: dict, jwt_payload: dict) -> bool:
    """One query: the token's user, if its session is live; kept as the request's user."""
    ids = _token_ids(jwt_payload)
    if ids is None:
        return True
    g.user_id, g.session_id = ids
    user = db.session.execute(USER_WITH_LIVE_SESSION, live_session_params()).first()
    if user is None:
        return True
    g.user, g.session_live = user, True
    return False


def _request_user() -> Row:
    return g.user


# The request's user (id, email, name, created_at), loaded with the session check; a request
# that deferred the check has none (using it there is a bug, and fails loudly).
current_user: Row = LocalProxy(_request_user)  # type: ignore[assignment]


def init_jwt_hooks(app: Flask) -> None:
    """Every JWT failure becomes a 401 problem with a precise code (never a 422 or {"msg"})."""
    jwt.token_in_blocklist_loader(is_token_revoked)
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
    jwt.token_verification_failed_loader(
        lambda header, payload: _unauthorized("token_invalid", "The token is not valid here.")
    )
