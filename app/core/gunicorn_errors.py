"""gunicorn's own answers to requests it refuses before the app sees them (a request line or
headers too long, a malformed request line) in the service's problem+json shape, not HTML."""

from __future__ import annotations

import json
import uuid
from typing import Any

from gunicorn import util

from app.errors import PROBLEM_MIMETYPE, status_of


def write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's replacement: same arguments, a problem+json body.

    `mesg` is left out of the body: it quotes the refused request line or header, which can be
    kilobytes long and is the client's own input anyway (gunicorn logs it as a warning).
    """
    known = status_of(status_int)
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "type": "about:blank",
            "title": known.title,
            "status": status_int,
            "detail": known.detail,
            "code": known.code,
            "request_id": request_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_MIMETYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def install() -> None:
    """Make every gunicorn worker answer its own refusals with write_problem (gunicorn.conf.py;
    the workers, forked from the master, inherit it)."""
    util.write_error = write_problem
