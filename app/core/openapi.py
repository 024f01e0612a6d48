"""flask-smorest's Api, taught the project's problem+json errors and bearer auth for the docs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from app.errors import PROBLEM_MIMETYPE, STATUSES, handle_http_exception

BEARER_SCHEME = "bearerAuth"


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error of the service is shaped."""

    type = ma.fields.String(required=True, metadata={"example": "about:blank"})
    title = ma.fields.String(required=True, metadata={"example": "Unprocessable Entity"})
    status = ma.fields.Integer(required=True, metadata={"example": 422})
    detail = ma.fields.String(
        required=True, metadata={"example": "The request is invalid: see errors."}
    )
    code = ma.fields.String(
        required=True,
        metadata={"description": "Stable machine-readable code.", "example": "validation_error"},
    )
    errors = ma.fields.Dict(
        metadata={
            "description": "Every bad field, by location (json, query, ...).",
            "example": {"json": {"title": ["Shorter than minimum length 1."]}},
        }
    )
    operation = ma.fields.Integer(
        metadata={
            "description": "In a batch: the index (from 0) of the operation that failed.",
            "example": 2,
        }
    )
    request_id = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Matches X-Request-ID and the log line.",
            "example": "3f0c9a6e1b2d4c5f8a7e6d5c4b3a2910",
        },
    )


class StableResponseNames(BasePlugin):
    """flask-smorest names a view's automatic 422 (and other) responses after http.HTTPStatus,
    which Python 3.13 renamed; point them at the service's own components instead."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **_: Any):
        for operation in (operations or {}).values():
            responses = operation.get("responses", {})
            for status, response in responses.items():
                known = STATUSES.get(int(status)) if str(status).isdigit() else None
                if isinstance(response, str) and known is not None:
                    responses[status] = known.component


class IdempotencyDocs(BasePlugin):
    """Every POST and PATCH under /api/{user_id}/ takes an Idempotency-Key (app/core/
    idempotency.py, applied by UserBlueprint): documented here once, for every such operation
    a resource adds, with the header of a replayed answer and the 409 and 422 it can give."""

    PARAMETER = {
        "in": "header",
        "name": "Idempotency-Key",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
        "description": "Retry safely: a repeat with this key (same method, path and body) "
        "answers the first answer again, for 24 hours. Another request under the key is 422 "
        "`idempotency_key_reused`; while the first runs, 409 `idempotency_key_in_use`.",
    }
    REPLAYED = {
        "Idempotent-Replayed": {
            "description": "`true` when this is the recorded answer of an earlier request "
            "with the same Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        }
    }

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **_: Any):
        if not (path or "").startswith("/api/{user_id}/"):
            return
        for method, operation in (operations or {}).items():
            if method not in ("post", "patch"):
                continue
            operation.setdefault("parameters", []).append(dict(self.PARAMETER))
            responses = operation.setdefault("responses", {})
            for status in (409, 422):
                responses.setdefault(status, STATUSES[status].component)
            for status, response in responses.items():
                if str(status).startswith("2") and isinstance(response, dict):
                    response.setdefault("headers", {}).update(self.REPLAYED)


class ProblemApi(Api):
    """Documents and answers every error as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("spec_kwargs", {}).setdefault(
            "extra_plugins", [StableResponseNames(), IdempotencyDocs()]
        )
        super().__init__(*args, **kwargs)

    def _register_responses(self) -> None:
        # Only the statuses the service answers, under names of its own (app/errors.STATUSES),
        # rather than one per http.HTTPStatus member, whose names vary with the Python version.
        for known in STATUSES.values():
            response: dict[str, Any] = {"description": known.title, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(known.component, response, lazy=True)
        response = {"description": "Unexpected error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def _register_pagination_header(self) -> None:
        # Lists page with cursors in `meta`, not flask-smorest's page numbers: without this,
        # its unused PaginationMetadata schema would sit in the document.
        pass

    def handle_http_exception(self, error):
        return handle_http_exception(error)


def register_security_scheme(api: Api) -> None:
    """The bearer JWT scheme that protected operations name in their `security`."""
    api.spec.components.security_scheme(
        BEARER_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
