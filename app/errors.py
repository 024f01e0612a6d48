"""The one error shape, RFC 9457 problem+json, for every failure the service can produce."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "5"

# The stable `code` of each status when the raiser did not name a more precise one.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

DEFAULT_DETAILS = {
    400: "The request could not be parsed.",
    401: "Authentication is required.",
    403: "This resource belongs to another user.",
    404: "The requested resource was not found.",
    405: "The method is not allowed for this resource.",
    412: "The resource has changed since the given ETag.",
    413: "The request body is larger than the service accepts (1 MiB).",
    415: "Request bodies must be sent as application/json.",
    422: "The request is invalid.",
    429: "Too many requests; retry after the time in Retry-After.",
    500: "An unexpected error occurred; it has been logged.",
    503: "The service is temporarily unavailable; retry after the time in Retry-After.",
}


class ApiError(Exception):
    """An expected failure with a status, a stable code and a message for the client."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        errors: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.detail = detail or DEFAULT_DETAILS.get(status, HTTPStatus(status).phrase)
        self.errors = errors
        self.headers = headers or {}


def problem(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    *,
    errors: dict | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a problem+json response; the request id ties it to the log line."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or DEFAULT_DETAILS.get(status, HTTPStatus(status).phrase),
        "code": code or DEFAULT_CODES.get(status, "error"),
    }
    if errors is not None:
        body["errors"] = errors
    body["request_id"] = g.get("request_id")
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    response.headers.update(headers or {})
    if "Retry-After" in response.headers:
        g.retry_after = response.headers["Retry-After"]
    return response


def handle_api_error(error: ApiError) -> Response:
    return problem(
        error.status, error.code, error.detail, errors=error.errors, headers=error.headers
    )


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug, webargs/smorest and flask-limiter failures, in the one shape."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    code = data.get("code")
    detail = data.get("message")
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status == 400 and errors and "json" in errors:
        # webargs reports an unparseable body this way.
        code, detail = "invalid_json", "The request body is not valid JSON."
    if status == 429:
        detail = f"Rate limit exceeded: {error.description}."
    if status == 422 and errors:
        detail = "The request is invalid: see errors."
    return problem(status, code, detail, errors=errors, headers=headers)


def handle_database_unavailable(error: Exception) -> Response:
    """The database cannot be reached: tell clients to come back; pre-ping heals the pool."""
    log.error("database unavailable: %s", type(error).__name__)
    return problem(503, headers={"Retry-After": RETRY_AFTER_SECONDS})


def handle_unexpected_error(error: Exception) -> Response:
    """A bug: log the traceback with the request id, answer without internals."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled exception")
    return problem(500)


def settle_retry_after(response: Response) -> Response:
    """flask-limiter writes its window's reset as Retry-After on every limited response; only a
    429 means that. A 503 keeps its own value, and other answers carry none."""
    if response.status_code != 429:
        own = g.get("retry_after")
        if own:
            response.headers["Retry-After"] = own
        else:
            response.headers.pop("Retry-After", None)
    return response


def register_error_handlers(app: Flask) -> None:
    """Route every failure to the problem+json shape (smorest's HTTP handler is ProblemApi's)."""
    app.register_error_handler(ApiError, handle_api_error)
    for error in (OperationalError, InterfaceError, PoolTimeoutError):
        app.register_error_handler(error, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)
