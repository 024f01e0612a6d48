"""Account and session logic: registration, login, rotation, revocation, password change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, Row, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.auth.passwords import passwords
from app.auth.tokens import TokenPair, issue_tokens, new_jti
from app.errors import ApiError
from app.extensions import db
from app.models import LoginSession, User


def invalid_credentials() -> ApiError:
    """One answer for an unknown email and a wrong password, so neither reveals an account."""
    return ApiError(401, "invalid_credentials", "The email or password is wrong.")


@dataclass(frozen=True)
class AuthResult:
    user: User | Row  # a User, or the row of its columns that the token check loaded
    tokens: TokenPair

    def as_dict(self) -> dict:
        return {"user": self.user, **self.tokens.__dict__}


def _session_expiry() -> datetime:
    return datetime.now(UTC) + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]


def _start_session(user: User, user_agent: str | None) -> AuthResult:
    """Open a login session for `user` (the request commits it); its id is every token's sid."""
    refresh_jti = new_jti()
    session = LoginSession(
        user_id=user.id,
        refresh_jti=refresh_jti,
        expires_at=_session_expiry(),
        user_agent=(user_agent or None) and user_agent[:255],
    )
    db.session.add(session)
    db.session.flush()
    tokens = issue_tokens(user_id=user.id, session_id=session.id, refresh_jti=refresh_jti)
    return AuthResult(user=user, tokens=tokens)


def _add_user(email: str, password: str, name: str | None) -> User:
    """Insert the account, not yet committed; 409 when the email is taken."""
    user = User(email=email, name=name or None, password_hash=passwords().hash(password))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "email_taken", "An account with this email already exists.") from None
    return user


def register_user(
    *, email: str, password: str, name: str | None, user_agent: str | None
) -> AuthResult:
    """Create the account (409 when the email is taken) and log it in."""
    return _start_session(_add_user(email, password, name), user_agent)


def create_user(*, email: str, password: str, name: str | None) -> User:
    """Create the account without logging it in (operators, seeding); 409 when taken."""
    return _add_user(email, password, name)


def get_user_by_email(*, email: str) -> User | None:
    """The account with this email, compared as stored (trimmed, lower-cased)."""
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def log_in(*, email: str, password: str, user_agent: str | None) -> AuthResult:
    """Check the password (same work and answer whether or not the email exists)."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if not passwords().verify(user.password_hash if user else None, password) or user is None:
        raise invalid_credentials()
    if passwords().needs_rehash(user.password_hash):
        user.password_hash = passwords().hash(password)
    return _start_session(user, user_agent)


def rotate_refresh_token(*, user_id: uuid.UUID, session_id: uuid.UUID, jti: str) -> TokenPair:
    """Spend the presented refresh token and issue a new pair.

    The compare-and-swap on `refresh_jti` makes a token spendable once, even by two concurrent
    requests; presenting a spent one means it was copied, so the whole session is revoked.
    """
    new_refresh_jti = new_jti()
    rotated = db.session.execute(
        update(LoginSession)
        .where(
            LoginSession.id == session_id,
            LoginSession.user_id == user_id,
            LoginSession.refresh_jti == jti,
            LoginSession.revoked_at.is_(None),
        )
        .values(
            refresh_jti=new_refresh_jti,
            last_used_at=func.now(),
            expires_at=_session_expiry(),
        )
        .returning(LoginSession.id)
    ).first()
    if rotated is None:
        revoke_session(user_id=user_id, session_id=session_id)
        # Committed here, not by the request: its answer is a 401, and the revocation of a
        # session whose refresh token was copied must hold all the same.
        db.session.commit()
        raise ApiError(
            401, "token_revoked", "This refresh token was already used; the session is revoked."
        )
    return issue_tokens(user_id=user_id, session_id=session_id, refresh_jti=new_refresh_jti)


def revoke_session(*, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Revoke one of the user's sessions; False when the user has no such live session."""
    revoked = db.session.execute(
        update(LoginSession)
        .where(
            LoginSession.id == session_id,
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
        .returning(LoginSession.id)
    ).first()
    return revoked is not None


def list_live_sessions(*, user_id: uuid.UUID) -> list[LoginSession]:
    """The user's sessions that are neither revoked nor expired, newest first."""
    return list(
        db.session.scalars(
            select(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > func.now(),
            )
            .order_by(LoginSession.created_at.desc(), LoginSession.id)
        )
    )


def change_password(
    *, user_id: uuid.UUID, current_password: str, new_password: str, keep_session_id: uuid.UUID
) -> None:
    """Replace the password and sign every other session out."""
    user = db.session.get_one(User, user_id)
    if not passwords().verify(user.password_hash, current_password):
        raise ApiError(401, "invalid_credentials", "The current password is wrong.")
    user.password_hash = passwords().hash(new_password)
    db.session.execute(
        update(LoginSession)
        .where(
            LoginSession.user_id == user.id,
            LoginSession.id != keep_session_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
    )


def purge_sessions(*, older_than: timedelta) -> int:
    """Delete the sessions that expired or were revoked longer ago than `older_than`; their
    tokens were already refused (a token whose session is gone counts as revoked)."""
    cutoff = func.now() - older_than
    result = db.session.execute(
        delete(LoginSession).where(
            or_(LoginSession.expires_at < cutoff, LoginSession.revoked_at < cutoff)
        )
    )
    return cast(CursorResult, result).rowcount
