"""The `{user_id}` in a resource path must be the token's user: 401 without a token, else 403."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request
from flask_jwt_extended import verify_jwt_in_request
from werkzeug.exceptions import HTTPException

from app.auth.tokens import require_live_session, verify_token_deferring_session_check
from app.core.database import SAFE_METHODS
from app.errors import ApiError


def owner_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate, then refuse a path that names another user (existence is not revealed:
    the answer is the same whether or not that user exists).

    A write checks the token's session before it starts. A read defers the check to its own
    statement (one query per read instead of two) and is answered only once the session is
    known to be live: a revoked token is a 401 whatever the read found, as it is for a write.
    """

    @wraps(view)
    def wrapper(*args: Any, user_id: uuid.UUID, **kwargs: Any) -> Any:
        deferred = request.method in SAFE_METHODS
        if deferred:
            verify_token_deferring_session_check()
        else:
            verify_jwt_in_request()
        if g.user_id != user_id:
            require_live_session()
            raise ApiError(403, detail="The path names another user than the token's.")
        if not deferred:
            return view(*args, user_id=user_id, **kwargs)
        try:
            answer = view(*args, user_id=user_id, **kwargs)
        except (ApiError, HTTPException):
            require_live_session()
            raise
        require_live_session()
        return answer

    return wrapper
