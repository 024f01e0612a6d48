"""Rejects bodies that are not JSON (415) or not parseable (400) before any view runs."""

from __future__ import annotations

from flask import Flask, request

from app.errors import ApiError

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def check_json_body() -> None:
    if request.method not in BODY_METHODS or not _has_body():
        return
    if not request.is_json:
        raise ApiError(415)
    try:
        # Parsed once here; Flask caches it for webargs. orjson's own depth limit turns
        # absurdly nested documents into a decode error rather than a RecursionError.
        request.get_json()
    except Exception as error:
        if getattr(error, "code", None) == 413:
            raise
        # The parser's words say where the body is wrong (or that a number is beyond a double's
        # range, which orjson refuses) and quote only the client's input. Flask re-raises a
        # generic BadRequest from werkzeug's, whose description holds them.
        cause = error.__cause__ or error
        reason = str(getattr(cause, "description", cause))
        reason = reason.removeprefix("Failed to decode JSON object: ")[:200]
        raise ApiError(
            400, "invalid_json", f"The request body is not valid JSON: {reason}"
        ) from error


def init_request_body_checks(app: Flask) -> None:
    app.before_request(check_json_body)
