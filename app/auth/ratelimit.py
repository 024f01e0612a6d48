"""Who a request counts against: its user when it carries a valid token, else its address."""

from __future__ import annotations

from flask import g, request
from flask_jwt_extended import decode_token
from flask_limiter.util import get_remote_address

from app.core.views import declared


def _token_subject() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        # Only the signature and expiry matter for counting; revocation is checked later.
        return str(decode_token(header[7:].strip())["sub"])
    except Exception:
        return None


def rate_limit_key() -> str:
    """The default key: per user when authenticated, per client address otherwise."""
    if "rate_limit_key" not in g:
        subject = _token_subject()
        g.rate_limit_key = f"user:{subject}" if subject else f"addr:{get_remote_address()}"
    return str(g.rate_limit_key)


def address_key() -> str:
    return f"addr:{get_remote_address()}"


def email_key() -> str:
    """Login and register also count per email, so one account cannot be guessed at from many
    addresses."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"email:{email.strip().lower()}" if isinstance(email, str) else address_key()


def request_cost() -> int:
    """What this request counts against the default limits: 1, or what its view declares with
    @costs (a batch counts one per operation, however it is sent)."""
    cost = declared("rate_limit_cost")
    return max(1, int(cost())) if cost is not None else 1
