"""HTTP routes of /api/auth: register, login, refresh, me, logout, sessions, password."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, jwt_required
from flask_smorest import Blueprint

from app.auth import service
from app.auth.ratelimit import address_key, email_key
from app.auth.schemas import (
    AuthResultEnvelope,
    LoginSchema,
    PasswordChangeSchema,
    RegisterSchema,
    SessionListEnvelope,
    UserEnvelope,
)
from app.auth.tokens import token_session_id
from app.common.docs import errors
from app.core.database import read_only
from app.errors import ApiError
from app.extensions import limiter

blp = Blueprint(
    "auth", __name__, url_prefix="/api/auth", description="Accounts, login sessions and tokens."
)


def _auth_limit() -> str:
    return str(current_app.config["RATELIMIT_AUTH"])


# Login and register share one budget per client address and one per email, much tighter than
# the default: ten tries a minute means ten, whichever of the two routes they use.
auth_rate_limits: list[Callable[..., Any]] = [
    limiter.shared_limit(_auth_limit, scope="auth-address", key_func=address_key),
    limiter.shared_limit(_auth_limit, scope="auth-email", key_func=email_key),
]


@blp.route("/register")
class Register(MethodView):
    decorators = auth_rate_limits

    @blp.arguments(RegisterSchema)
    @blp.response(201, AuthResultEnvelope)
    @errors(blp, 409, body=True)
    @blp.doc(operationId="register")
    def post(self, data: dict) -> dict:
        """Create an account and log it in.

        The email is compared case-insensitively and stored lower-cased: an existing account is
        409 `email_taken`. The password is stored only as a slow salted hash. Answers the user
        and the token pair of a new session. Limited per client address and per email.
        """
        result = service.register_user(**data, user_agent=request.user_agent.string)
        g.user_id = result.user.id
        return {"data": result.as_dict()}


@blp.route("/login")
class Login(MethodView):
    decorators = auth_rate_limits

    @blp.arguments(LoginSchema)
    @blp.response(200, AuthResultEnvelope)
    @errors(blp, 401, body=True)
    @blp.doc(operationId="login")
    def post(self, data: dict) -> dict:
        """Log in with email and password; opens a new session.

        A wrong password and an unknown email get the same 401 `invalid_credentials`. Answers
        the user and the token pair of the new session (its id is the tokens' `sid` claim).
        Limited per client address and per email.
        """
        result = service.log_in(**data, user_agent=request.user_agent.string)
        g.user_id = result.user.id
        return {"data": result.as_dict()}


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, AuthResultEnvelope)
    @errors(blp, auth=True)
    @blp.doc(operationId="refreshTokens")
    def post(self) -> dict:
        """Trade the refresh token (as bearer) for a new access and refresh token.

        Refresh rotates: the presented refresh token is spent. Presenting a spent one again is
        treated as theft: 401 `token_revoked`, and the whole session, access tokens included,
        is revoked.
        """
        claims = get_jwt()
        tokens = service.rotate_refresh_token(
            user_id=current_user.id, session_id=token_session_id(), jti=claims["jti"]
        )
        return {"data": service.AuthResult(user=current_user, tokens=tokens).as_dict()}


@blp.route("/me")
class Me(MethodView):
    @read_only
    @jwt_required()
    @blp.response(200, UserEnvelope)
    @errors(blp, auth=True)
    @blp.doc(operationId="getMe")
    def get(self) -> dict:
        """The account the access token belongs to.

        Its `id` is the `{user_id}` that every task and tag path starts with.
        """
        return {"data": current_user}


@blp.route("/logout")
class Logout(MethodView):
    @jwt_required()
    @blp.response(204)
    @errors(blp, auth=True)
    @blp.doc(operationId="logout")
    def post(self) -> None:
        """Revoke this session: its access and refresh tokens stop working at once.

        Revocation is stored in the database, so it holds at once in every worker and instance:
        the next call with either token is 401 `token_revoked`.
        """
        service.revoke_session(user_id=current_user.id, session_id=token_session_id())


@blp.route("/sessions")
class Sessions(MethodView):
    @read_only
    @jwt_required()
    @blp.response(200, SessionListEnvelope)
    @errors(blp, auth=True)
    @blp.doc(operationId="listSessions")
    def get(self) -> dict:
        """The account's live sessions (logins not revoked or expired), newest first.

        A session's `id` is the `sid` claim of its tokens; `current` marks the one this
        request's token belongs to.
        """
        current_sid = token_session_id()
        sessions = service.list_live_sessions(user_id=current_user.id)
        data = [
            {
                "id": s.id,
                "created_at": s.created_at,
                "last_used_at": s.last_used_at,
                "user_agent": s.user_agent,
                "current": s.id == current_sid,
            }
            for s in sessions
        ]
        return {"data": data, "meta": {"count": len(data)}}


@blp.route("/sessions/<uuid:session_id>")
class SessionById(MethodView):
    @jwt_required()
    @blp.response(204)
    @errors(blp, 404, auth=True)
    @blp.doc(operationId="revokeSession")
    def delete(self, session_id: uuid.UUID) -> None:
        """Revoke one session, for instance a lost device's.

        Its access and refresh tokens stop working at once. A session that is not one of the
        account's live sessions is 404.
        """
        if not service.revoke_session(user_id=current_user.id, session_id=session_id):
            raise ApiError(404)


@blp.route("/password")
class PasswordChange(MethodView):
    @jwt_required()
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @errors(blp, auth=True, body=True)
    @blp.doc(operationId="changePassword")
    def post(self, data: dict) -> None:
        """Change the password; every other session is signed out.

        A wrong `current_password` is 401 `invalid_credentials`. The session of this request
        stays signed in.
        """
        service.change_password(user_id=current_user.id, **data, keep_session_id=token_session_id())
