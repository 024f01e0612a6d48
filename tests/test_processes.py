"""Behaviour only real processes show: instances, workers, Redis and PostgreSQL outages."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.live import Answer, migrate, register
from tests.support.own_postgres import own_postgres
from tests.support.own_redis import own_redis
from tests.support.pooler import pooled
from tests.support.problems import assert_problem
from tests.support.servers import (
    gunicorn_server,
    gunicorn_servers,
    wait_for_log_line,
)

FLASK = Path(sys.executable).parent / "flask"
WRONG_LOGIN = {"email": "nobody@example.com", "password": "wrong password"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """TEST_REDIS_URL when set, else a redis-server of this module's own: a bare machine has
    the program (make test installs it) but no server running."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    with own_redis() as server:
        yield server.url


def shared_redis_env(redis_url: str, **settings: str) -> dict[str, str]:
    """Settings for instances that share the test Redis, under counters no other test sees."""
    return {
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        **settings,
    }


def wrong_login(base_url: str) -> httpx.Response:
    """A login that fails on its credentials; it still counts against the auth limits."""
    return httpx.post(f"{base_url}/api/auth/login", json=WRONG_LOGIN, timeout=10)


@pytest.mark.commits
def test_logout_on_one_instance_revokes_the_token_on_another(database_url, redis_url):
    env = shared_redis_env(redis_url, DATABASE_URL=database_url)
    with gunicorn_servers([env, env]) as (first, second):
        account = register(first)
        me = f"{second}/api/auth/me"
        assert httpx.get(me, headers=account.headers, timeout=10).status_code == 200

        logout = httpx.post(f"{first}/api/auth/logout", headers=account.headers, timeout=10)
        assert logout.status_code == 204

        # No propagation delay: the very next call on the other instance is refused.
        assert_problem(
            Answer(httpx.get(me, headers=account.headers, timeout=10)), 401, "token_revoked"
        )


@pytest.mark.commits
def test_auth_limit_is_shared_across_instances(database_url, redis_url):
    env = shared_redis_env(redis_url, DATABASE_URL=database_url, RATELIMIT_AUTH="3 per minute")
    with gunicorn_servers([env, env]) as (first, second):
        remaining = []
        for base_url in (first, second, first):
            response = wrong_login(base_url)
            assert response.status_code == 401
            remaining.append(response.headers["X-RateLimit-Remaining"])
        # One count across both instances: each would start at 2 with counters of its own.
        assert remaining == ["2", "1", "0"]

        refused = wrong_login(second)
        assert_problem(Answer(refused), 429, "rate_limited")
        assert 0 < int(refused.headers["Retry-After"]) <= 60


class HeldLogin:
    """A login whose body is withheld: the sync worker that accepted it is stuck reading it,
    so every other request has to go to another worker until the body is sent."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.body = json.dumps(WRONG_LOGIN).encode()
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
            % (host.encode(), len(self.body))
        )
        # gunicorn answers 100 Continue only from inside the worker that took the connection.
        assert self._read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue\r\n")

    def _read_until(self, end: bytes) -> bytes:
        """Read byte by byte, so nothing after `end` is consumed."""
        data = b""
        while not data.endswith(end):
            chunk = self.sock.recv(1)
            assert chunk, "connection closed early"
            data += chunk
        return data

    def finish(self) -> int:
        """Send the body; the status of the answer."""
        self.sock.sendall(self.body)
        status_line = self._read_until(b"\r\n")
        self.sock.close()
        return int(status_line.split()[1])


@pytest.mark.commits
def test_auth_limit_is_shared_across_workers(database_url, redis_url):
    env = shared_redis_env(redis_url, DATABASE_URL=database_url, RATELIMIT_AUTH="3 per minute")
    with gunicorn_server(env, workers=2) as base_url:
        held = HeldLogin(base_url)
        # Both go to the other worker, since the first one is busy with the held login.
        assert [wrong_login(base_url).status_code for _ in range(2)] == [401, 401]
        assert held.finish() == 401
        # Counters per worker would be 1 and 2 now, and either worker would let this through.
        assert_problem(Answer(wrong_login(base_url)), 429, "rate_limited")


@pytest.mark.commits
def test_requests_are_served_when_the_limit_storage_dies(database_url, tmp_path):
    log_path = tmp_path / "server.log"
    with own_redis() as redis_server:
        env = {
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": redis_server.url,
            "RATELIMIT_AUTH": "10 per minute",
        }
        with gunicorn_server(env, log_path=log_path) as base_url:
            account = register(base_url)
            assert wrong_login(base_url).status_code == 401
            # The counters really are in this Redis, so its death is felt.
            with redis.Redis.from_url(redis_server.url) as storage:
                assert storage.dbsize() > 0

            redis_server.kill()

            # Fail open: the limits are skipped, the requests themselves are answered.
            assert_problem(Answer(wrong_login(base_url)), 401, "invalid_credentials")
            me = httpx.get(f"{base_url}/api/auth/me", headers=account.headers, timeout=10)
            assert me.status_code == 200
            assert httpx.get(f"{base_url}/health/live", timeout=10).status_code == 200

            line = wait_for_log_line(
                log_path,
                lambda record: (
                    record.get("logger") == "flask-limiter"
                    and record.get("message") == "Failed to rate limit. Swallowing error"
                ),
            )
            assert line["level"] == "ERROR"
            assert "redis.exceptions.ConnectionError" in line["exc_info"]


def test_database_outage_is_a_503_and_heals_without_a_restart(tmp_path):
    with own_postgres(tmp_path) as postgres, pooled(postgres.url, tmp_path) as served:
        migrate(postgres.url)
        env = {"DATABASE_URL": served, "DB_CONNECT_TIMEOUT": "1"}
        with gunicorn_server(env) as base_url:
            account = register(base_url)
            calls = {
                "me": lambda: httpx.get(
                    f"{base_url}/api/auth/me", headers=account.headers, timeout=10
                ),
                "ready": lambda: httpx.get(f"{base_url}/health/ready", timeout=10),
            }
            assert {name: call().status_code for name, call in calls.items()} == {
                "me": 200,
                "ready": 200,
            }

            postgres.stop()
            for name, call in calls.items():
                started = time.monotonic()
                response = call()
                assert time.monotonic() - started < 5, name
                assert_problem(Answer(response), 503, "service_unavailable")
                # The app's own 5 s, also on rate-limited routes (see settle_retry_after).
                assert response.headers["Retry-After"] == "5", name

            postgres.start()
            # The pool's pre-ping replaces the dead connections; no restart of gunicorn.
            deadline = time.monotonic() + 15
            statuses = {}
            while time.monotonic() < deadline:
                statuses = {name: call().status_code for name, call in calls.items()}
                if statuses == {"me": 200, "ready": 200}:
                    break
                time.sleep(0.2)
            assert statuses == {"me": 200, "ready": 200}
