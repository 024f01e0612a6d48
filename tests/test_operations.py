"""Health probes, request ids, the JSON access log, CORS and security headers."""

from __future__ import annotations

import logging

from sqlalchemy import text

from app.extensions import db
from tests.support.problems import assert_problem


class TestHealth:
    def test_live(self, client):
        response = client.get("/health/live")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}

    def test_ready_when_migrated(self, client):
        assert client.get("/health/ready").get_json() == {"status": "ok"}

    def test_not_ready_when_behind_the_newest_migration(self, client):
        db.session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        response = client.get("/health/ready")
        assert_problem(response, 503, "service_unavailable")
        assert response.headers["Retry-After"]

    def test_probes_are_not_rate_limited(self, client):
        response = client.get("/health/live")
        assert "X-RateLimit-Limit" not in response.headers


class TestRequestId:
    def test_a_sane_client_id_is_echoed(self, client):
        response = client.get("/health/live", headers={"X-Request-ID": "abc-123.DEF"})
        assert response.headers["X-Request-ID"] == "abc-123.DEF"

    def test_an_unsafe_client_id_is_replaced(self, client):
        response = client.get("/health/live", headers={"X-Request-ID": "evil\tvalue" + "x" * 200})
        assert len(response.headers["X-Request-ID"]) == 32

    def test_errors_carry_it_too(self, client):
        assert client.get("/nowhere").headers["X-Request-ID"]


def test_one_json_log_line_per_request(client, user, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = client.get("/api/auth/me", headers=user.headers)
    lines = [r for r in caplog.records if r.name == "app.access"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.method, line.path, line.status) == ("GET", "/api/auth/me", 200)
    assert line.duration_ms >= 0
    assert line.request_id == response.headers["X-Request-ID"]
    assert line.user_id == user.id


def test_log_lines_are_json(app):
    handler = logging.getLogger().handlers[0]
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, "request", None, None)
    record.request_id = "r1"
    import json

    assert json.loads(handler.format(record))["request_id"] == "r1"


class TestCors:
    def preflight(self, client, origin):
        return client.options(
            "/api/auth/me",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )

    def test_configured_origin_is_allowed(self, client):
        response = self.preflight(client, "https://app.example.com")
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"

    def test_other_origins_are_not(self, client):
        response = self.preflight(client, "https://evil.example.com")
        assert "Access-Control-Allow-Origin" not in response.headers


class TestSecurityHeaders:
    def test_every_answer_is_nosniff_and_no_referrer(self, client):
        response = client.get("/health/live")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"

    def test_auth_answers_are_not_cached(self, client):
        response = client.post("/api/auth/login", json={"email": "a@b.io", "password": "nope"})
        assert response.headers["Cache-Control"] == "no-store"


class TestRateLimits:
    def test_login_is_limited_per_address_with_retry_after(self, client):
        for _ in range(10):
            response = client.post(
                "/api/auth/login", json={"email": "a@b.io", "password": "wrong password"}
            )
            assert response.status_code == 401
            assert "X-RateLimit-Remaining" in response.headers
        response = client.post(
            "/api/auth/login", json={"email": "a@b.io", "password": "wrong password"}
        )
        assert_problem(response, 429, "rate_limited")
        assert int(response.headers["Retry-After"]) > 0

    def test_authenticated_calls_count_per_user(self, client, user):
        response = client.get("/api/auth/me", headers=user.headers)
        assert response.headers["X-RateLimit-Limit"] == "1000"
        remaining = int(response.headers["X-RateLimit-Remaining"])
        second = client.get("/api/auth/me", headers=user.headers)
        assert int(second.headers["X-RateLimit-Remaining"]) == remaining - 1


class TestRetryAfter:
    def test_only_refusals_carry_it(self, client, user):
        assert "Retry-After" not in client.get("/api/auth/me", headers=user.headers).headers

    def test_login_and_register_share_one_budget_per_address(self, client):
        for i in range(5):
            client.post("/api/auth/login", json={"email": f"a{i}@b.io", "password": "nope"})
            client.post("/api/auth/register", json={"email": f"r{i}@b.io", "password": "x"})
        response = client.post("/api/auth/login", json={"email": "z@b.io", "password": "nope"})
        assert_problem(response, 429, "rate_limited")

    def test_a_503_keeps_its_own_on_a_limited_route(self, client, user, monkeypatch):
        from sqlalchemy.exc import OperationalError

        from app.auth import service

        def unreachable(**kwargs):
            raise OperationalError("SELECT 1", {}, Exception("down"))

        monkeypatch.setattr(service, "list_live_sessions", unreachable)
        response = client.get("/api/auth/sessions", headers=user.headers)
        assert_problem(response, 503, "service_unavailable")
        assert response.headers["Retry-After"] == "5"
        assert "X-RateLimit-Limit" in response.headers
