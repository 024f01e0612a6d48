"""Decorators that document the shared error answers of an operation in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint

from app.core.openapi import BEARER_SCHEME
from app.errors import STATUSES

BODY_ERRORS = (400, 413, 415, 422)
ALWAYS = (414, 429, 500, 503)


def errors(blp: Blueprint, *statuses: int, auth: bool = False, body: bool = False) -> Callable:
    """Document `statuses` (plus 401 and bearer security when `auth`, body errors when `body`,
    and the 429/500/503 any operation can give)."""
    wanted = set(statuses) | set(ALWAYS)
    if auth:
        wanted.add(401)
    if body:
        wanted.update(BODY_ERRORS)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for status in sorted(wanted):
            func = blp.alt_response(status, response=STATUSES[status].component)(func)
        if auth:
            func = blp.doc(security=[{BEARER_SCHEME: []}])(func)
        return func

    return decorate
