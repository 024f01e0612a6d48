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


def location_header(what: str) -> dict[str, dict]:
    """The documented `Location` header of a 201 that created `what` (a task, a list)."""
    return {"Location": {"description": f"URL of the new {what}.", "schema": {"type": "string"}}}


def links_from_created(id_parameter: str, operations: list[tuple[str, str, str]]) -> dict:
    """OpenAPI links from a created object to what a client can do with it next, given as
    (link name, operationId, description): they document the workflow, and schemathesis'
    stateful phase chains the real id through them."""
    return {
        name: {
            "operationId": operation,
            "parameters": {
                "user_id": "$request.path.user_id",
                id_parameter: "$response.body#/data/id",
            },
            "description": description,
        }
        for name, operation, description in operations
    }
