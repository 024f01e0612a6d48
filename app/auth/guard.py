"""The one guard of every resource under /api/{user_id}/: a live access token of that user."""

from __future__ import annotations

from flask import request
from flask_jwt_extended import current_user, verify_jwt_in_request

from app.errors import ApiError


def require_path_owner() -> None:
    """Authenticate the request, then refuse a path that names another user.

    verify_jwt_in_request checks the token (signature, expiry, type: 401s with precise codes)
    and loads its user while its login session is live (app/auth/tokens.load_user: a revoked
    token is a 401 whatever the path). The path's `{user_id}` must then be that user: 403
    otherwise, the same whether or not the named user exists, so nothing is revealed.
    """
    verify_jwt_in_request()
    if current_user.id != (request.view_args or {}).get("user_id"):
        raise ApiError(403, detail="The path names another user than the token's.")
