"""Requests gunicorn refuses before the app sees them still get the contract's problem+json."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.live import Answer, register
from tests.support.problems import assert_problem
from tests.support.servers import gunicorn_server

pytestmark = pytest.mark.slow

# gunicorn.conf.py's limit_request_line: the longest request line the service reads.
LIMIT = 8190


@pytest.fixture(scope="module")
def base_url(database_url):
    with gunicorn_server({"DATABASE_URL": database_url}) as url:
        yield url


def _raw(base_url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client library would send some of these) and read the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_request_line_over_the_limit_is_a_problem_414(base_url):
    user = register(base_url)
    response = httpx.get(
        f"{base_url}/api/{user.id}/tasks",
        params={"cursor": "x" * LIMIT},
        headers=user.headers,
        timeout=10,
    )
    body = assert_problem(Answer(response), 414, "uri_too_long")
    assert body["title"] == "URI Too Long"
    assert "x" * 100 not in response.text  # the refused line is not echoed back


def test_a_long_cursor_within_the_limit_is_a_422_naming_it(base_url):
    user = register(base_url)
    response = httpx.get(
        f"{base_url}/api/{user.id}/tasks",
        params={"cursor": "x" * 8000},
        headers=user.headers,
        timeout=10,
    )
    body = assert_problem(Answer(response), 422, "validation_error")
    assert list(body["errors"]["query"]) == ["cursor"]


def test_headers_over_the_limit_are_a_problem_431(base_url):
    response = httpx.get(
        f"{base_url}/health/live", headers={f"X-Filler-{i}": "y" * 100 for i in range(120)}
    )
    assert_problem(Answer(response), 431, "headers_too_large")


def test_a_malformed_request_line_is_a_problem_400(base_url):
    answer = _raw(base_url, b"GET /health/live HTTP/1.1 extra\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/problem+json" in head
    assert b'"code": "bad_request"' in body
