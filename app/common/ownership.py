"""The `{user_id}` in a resource path must be the token's user: 401 without a token, else 403."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_jwt_extended import current_user, verify_jwt_in_request

from app.errors import ApiError


def owner_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate, then refuse a path that names another user (existence is not revealed:
    the answer is the same whether or not that user exists)."""

    @wraps(view)
    def wrapper(*args: Any, user_id: uuid.UUID, **kwargs: Any) -> Any:
        verify_jwt_in_request()
        if current_user.id != user_id:
            raise ApiError(403, detail="The path names another user than the token's.")
        return view(*args, user_id=user_id, **kwargs)

    return wrapper
