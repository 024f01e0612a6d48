"""Strong ETags from a row's version: If-None-Match (304) on reads, If-Match (412) on writes."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Response, request
from werkzeug.datastructures import ETags

from app.errors import ApiError

# How views document the headers; each resource names itself in the descriptions.
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "Apply only if the resource still has this ETag (else 412).",
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "Answer 304 if the resource still has this ETag.",
}
ETAG_HEADER = {
    "ETag": {"description": "The resource's current version.", "schema": {"type": "string"}}
}


def etag_of(resource_id: uuid.UUID, version: Any) -> str:
    """A strong, opaque ETag that changes whenever `version` does."""
    digest = hashlib.blake2b(f"{resource_id}:{version}".encode(), digest_size=8).hexdigest()
    return f'"{digest}"'


def if_match() -> ETags | None:
    """The request's If-Match, or None when absent (then the last write wins)."""
    return request.if_match if "If-Match" in request.headers else None


def require_match(given: ETags | None, etag: str, what: str) -> None:
    """412 when the request's If-Match does not name the version now stored (`*` names any)."""
    if given is not None and not given.contains(etag.strip('"')):
        raise ApiError(412, detail=f"The {what} has changed since that ETag; fetch it again.")


def not_modified(etag: str) -> Response | None:
    """The 304 answer when the request's If-None-Match names the current ETag, else None."""
    if request.if_none_match.contains_weak(etag.strip('"')):
        return Response(status=304, headers={"ETag": etag})
    return None
