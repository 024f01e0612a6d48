"""The blueprint every resource of a user is built on: /api/{user_id}/..., always guarded."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.auth.guard import require_path_owner
from app.core import idempotency


class UserBlueprint(Blueprint):
    """A flask-smorest Blueprint whose routes live under /api/{user_id}/ and whose every request
    first passes the auth guard: a live token of that very user (401 or 403 otherwise).

    Views receive `user_id` (a UUID, the token's user) and know nothing of tokens or sessions.
    Every POST and PATCH also honours an Idempotency-Key (app/core/idempotency.py): a retry
    answers the first answer again, recorded with the work in the request's transaction.
    """

    def __init__(self, name: str, import_name: str, **kwargs: Any) -> None:
        super().__init__(name, import_name, url_prefix="/api/<uuid:user_id>", **kwargs)
        self.before_request(require_path_owner)
        self.before_request(idempotency.claim)
