"""Assertions on the contract's error shape."""

from __future__ import annotations

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_problem(response, status: int, code: str) -> dict:
    """The response is the contract's problem+json with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_FIELDS <= set(body)
    assert set(body) - PROBLEM_FIELDS <= {"errors", "operation"}
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
