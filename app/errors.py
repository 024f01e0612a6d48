"""The one error shape, RFC 9457 problem+json, for every failure the service can produce."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True)
class Status:
    """How the service names a status: the problem's `title`, its default `code` and `detail`,
    and the OpenAPI response component that documents it.

    Written out rather than taken from http.HTTPStatus, whose names and phrases change between
    Python versions (3.13 renamed 413 and 422), so the answers and the document are the same on
    every supported Python.
    """

    title: str
    code: str
    detail: str
    component: str


STATUSES = {
    400: Status("Bad Request", "bad_request", "The request could not be parsed.", "BAD_REQUEST"),
    401: Status("Unauthorized", "unauthorized", "Authentication is required.", "UNAUTHORIZED"),
    403: Status("Forbidden", "forbidden", "This resource belongs to another user.", "FORBIDDEN"),
    404: Status("Not Found", "not_found", "The requested resource was not found.", "NOT_FOUND"),
    405: Status(
        "Method Not Allowed",
        "method_not_allowed",
        "The method is not allowed for this resource.",
        "METHOD_NOT_ALLOWED",
    ),
    409: Status("Conflict", "conflict", "The request conflicts with existing data.", "CONFLICT"),
    410: Status("Gone", "gone", "The resource is no longer available.", "GONE"),
    412: Status(
        "Precondition Failed",
        "precondition_failed",
        "The resource has changed since the given ETag.",
        "PRECONDITION_FAILED",
    ),
    413: Status(
        "Request Entity Too Large",
        "payload_too_large",
        "The request body is larger than the service accepts (1 MiB).",
        "REQUEST_ENTITY_TOO_LARGE",
    ),
    414: Status(
        "URI Too Long",
        "uri_too_long",
        "The request line (path and query) is longer than the service reads.",
        "REQUEST_URI_TOO_LONG",
    ),
    415: Status(
        "Unsupported Media Type",
        "unsupported_media_type",
        "Request bodies must be sent as application/json.",
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    422: Status(
        "Unprocessable Entity",
        "validation_error",
        "The request is invalid.",
        "UNPROCESSABLE_ENTITY",
    ),
    429: Status(
        "Too Many Requests",
        "rate_limited",
        "Too many requests; retry after the time in Retry-After.",
        "TOO_MANY_REQUESTS",
    ),
    431: Status(
        "Request Header Fields Too Large",
        "headers_too_large",
        "The request's headers are larger than the service reads.",
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
    ),
    500: Status(
        "Internal Server Error",
        "internal_error",
        "An unexpected error occurred; it has been logged.",
        "INTERNAL_SERVER_ERROR",
    ),
    503: Status(
        "Service Unavailable",
        "service_unavailable",
        "The service is temporarily unavailable; retry after the time in Retry-After.",
        "SERVICE_UNAVAILABLE",
    ),
}


def status_of(status: int) -> Status:
    """The table's entry, or one made from the standard phrase for a status it does not list."""
    known = STATUSES.get(status)
    if known is not None:
        return known
    phrase = HTTPStatus(status).phrase
    return Status(phrase, "error", phrase, HTTPStatus(status).name)


class ApiError(Exception):
    """An expected failure with a status, a stable code and a message for the client (the
    status's defaults where they are not given)."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        errors: dict | None = None,
        headers: dict[str, str] | None = None,
        operation: int | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.operation = operation  # in a batch, the index of the operation that failed


def problem(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    *,
    errors: dict | None = None,
    headers: dict[str, str] | None = None,
    operation: int | None = None,
) -> Response:
    """Build a problem+json response; the request id ties it to the log line."""
    known = status_of(status)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": known.title,
        "status": status,
        "detail": detail or known.detail,
        "code": code or known.code,
    }
    if errors is not None:
        body["errors"] = errors
    if operation is not None:
        body["operation"] = operation
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
        error.status,
        error.code,
        error.detail,
        errors=error.errors,
        headers=error.headers,
        operation=error.operation,
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


def handle_database_error(error: DBAPIError) -> Response:
    """Any other driver error: an outage when the connection died under it, else a bug.

    Behind PgBouncer, a server cut off at COMMIT (a PostgreSQL restart) can reach psycopg as
    "received 2 results from command 'COMMIT'", an InternalError, on a connection that is then
    closed; SQLAlchemy marks it invalidated, and the client must hear 503 (retry), not 500."""
    if error.connection_invalidated:
        return handle_database_unavailable(error)
    return handle_unexpected_error(error)


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


def _field_error(field: str, message: str) -> ApiError:
    return ApiError(422, errors={"json": {field: [message]}})


def _limit_reached(what: str, limit: str) -> ApiError:
    return ApiError(409, "limit_reached", f"You have reached the limit of {limit} {what}.")


# What a constraint the database enforces means to a client, by constraint name. The services
# check what they can first (with a better message); these answer what only the database can
# decide under concurrency (two creates of one name, the row past a limit), and any request
# whose check a bug let through is still a clear 4xx rather than a 500.
CONSTRAINT_ERRORS = {
    "uq_tags_user_id_lower_name": lambda: ApiError(
        409, "tag_exists", "You already have a tag with this name."
    ),
    "uq_lists_user_id_lower_name": lambda: ApiError(
        409, "list_exists", "You already have a list with this name."
    ),
    "ck_user_counters_tasks_limit": lambda: _limit_reached("tasks", "100,000"),
    "ck_user_counters_lists_limit": lambda: _limit_reached("lists", "1,000"),
    "ck_user_counters_tags_limit": lambda: _limit_reached("tags", "1,000"),
    "fk_tasks_list_id_lists": lambda: _field_error("list_id", "No such list."),
    "fk_tasks_parent_id_tasks": lambda: _field_error(
        "parent_id", "No such task, or not in the task's list."
    ),
}


def constraint_error(error: IntegrityError) -> ApiError | None:
    """The contract's answer to a violated constraint, or None for one it does not know."""
    name = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    known = CONSTRAINT_ERRORS.get(name or "")
    return known() if known else None


def handle_integrity_error(error: IntegrityError) -> Response:
    """A constraint the request broke: its 4xx, or a bug (500) when the constraint is unknown."""
    from app.extensions import db  # here: the extensions import this module

    db.session.rollback()  # the failed transaction is over; the session may serve again
    known = constraint_error(error)
    if known is None:
        return handle_unexpected_error(error)
    return handle_api_error(known)


def register_error_handlers(app: Flask) -> None:
    """Route every failure to the problem+json shape (smorest's HTTP handler is ProblemApi's)."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    for error in (OperationalError, InterfaceError, PoolTimeoutError):
        app.register_error_handler(error, handle_database_unavailable)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)
