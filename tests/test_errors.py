"""Every failure answers the contract's problem+json, with the documented status and code."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import InternalError, OperationalError

from app.auth import service
from tests.support.problems import assert_problem


def test_unknown_route_is_404(client):
    assert_problem(client.get("/api/nowhere"), 404, "not_found")


def test_wrong_method_is_405_and_keeps_allow(client):
    response = client.delete("/api/auth/login")
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_body_over_one_mib_is_413(client):
    body = '{"email": "' + "a" * (1024 * 1024) + '"}'
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_body_that_is_not_json_is_415(client, content_type):
    response = client.post("/api/auth/login", data="email=a", content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("body", ["{bad", '{"email": "a@b.c",}', '"\\ud800"', "[" * 5000])
def test_unparseable_json_is_400(client, body):
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    assert_problem(response, 400, "invalid_json")


def test_validation_error_names_every_bad_field(client):
    response = client.post("/api/auth/register", json={"email": 5, "password": None, "x": 1})
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]["json"]) == {"email", "password", "x"}


def test_nul_character_is_a_validation_error(client):
    response = client.post(
        "/api/auth/register", json={"email": "a@b.io", "password": "x" * 10, "name": "a\x00b"}
    )
    problem = assert_problem(response, 422, "validation_error")
    assert list(problem["errors"]["json"]) == ["name"]


def test_unexpected_exception_is_500_without_internals_and_logged(client, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("secret internals: SELECT * FROM users")

    monkeypatch.setattr(service, "log_in", explode)
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/auth/login", json={"email": "a@b.io", "password": "x"})
    problem = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "SELECT" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1
    assert logged[0].request_id == problem["request_id"]
    assert "secret internals" in caplog.text


def test_database_unreachable_is_503_with_retry_after(client, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(service, "log_in", unreachable)
    response = client.post("/api/auth/login", json={"email": "a@b.io", "password": "x"})
    assert_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "connection refused" not in response.get_data(as_text=True)


def test_a_driver_error_on_a_connection_that_died_is_503(client, monkeypatch):
    """What psycopg raises when PgBouncer relays a server cut off at COMMIT."""

    def cut_off(**kwargs):
        raise InternalError(
            "COMMIT",
            {},
            Exception("received 2 results from command 'COMMIT'"),
            connection_invalidated=True,
        )

    monkeypatch.setattr(service, "log_in", cut_off)
    response = client.post("/api/auth/login", json={"email": "a@b.io", "password": "x"})
    assert_problem(response, 503, "service_unavailable")


def test_a_driver_error_on_a_live_connection_is_500(client, monkeypatch):
    def broken_query(**kwargs):
        raise InternalError("SELECT 1", {}, Exception("cache lookup failed"))

    monkeypatch.setattr(service, "log_in", broken_query)
    response = client.post("/api/auth/login", json={"email": "a@b.io", "password": "x"})
    assert_problem(response, 500, "internal_error")
