"""/metrics: off by default, a token when configured, counters that move, sums over workers."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from app.core.metrics import watch_pool
from app.extensions import db
from tests.support.problems import assert_problem
from tests.support.servers import gunicorn_server

TOKEN = "metrics-token-0123456789"
WRONG_LOGIN = {"email": "nobody@example.com", "password": "wrong password"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; a series that was never written is 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def enabled(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ENABLED", True)
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")


def scrape(client, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse(response.get_data(as_text=True))


class TestAccess:
    def test_off_by_default_is_a_404_problem(self, client):
        assert_problem(client.get("/metrics"), 404, "not_found")

    @pytest.mark.usefixtures("enabled")
    def test_enabled_answers_the_prometheus_text_format(self, client):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        text = response.get_data(as_text=True)
        for line in (
            "# TYPE http_requests_total counter",
            "# TYPE http_request_duration_seconds histogram",
            "# TYPE db_pool_connections_in_use gauge",
            "# TYPE rate_limit_refusals_total counter",
        ):
            assert line in text

    @pytest.mark.usefixtures("enabled")
    def test_openmetrics_when_asked(self, client):
        response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert response.get_data(as_text=True).endswith("# EOF\n")

    @pytest.mark.usefixtures("enabled")
    def test_token_required_when_configured(self, client, app, monkeypatch):
        monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
        missing = client.get("/metrics")
        assert_problem(missing, 401, "unauthorized")
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
            assert_problem(
                client.get("/metrics", headers={"Authorization": header}), 401, "unauthorized"
            )
        assert (
            client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        )

    @pytest.mark.usefixtures("enabled")
    def test_not_rate_limited(self, client):
        assert "X-RateLimit-Limit" in client.get("/api/auth/me").headers
        assert "X-RateLimit-Limit" not in client.get("/metrics").headers

    @pytest.mark.usefixtures("enabled")
    def test_not_in_the_openapi_document(self, client):
        paths = client.get("/api/openapi.json").get_json()["paths"]
        assert "/health/live" in paths
        assert "/metrics" not in paths


@pytest.mark.usefixtures("enabled")
class TestCounters:
    def test_requests_count_by_route_rule_method_and_status(self, client, user):
        before = scrape(client)
        client.get(f"/api/{user.id}/tasks", headers=user.headers)
        client.get(f"/api/{user.id}/tasks", headers=user.headers)
        client.get("/api/auth/me")
        after = scrape(client)
        rule = "/api/<uuid:user_id>/tasks"
        counted = {"name": "http_requests_total", "method": "GET"}

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta(**counted, endpoint=rule, status="200") == 2
        assert delta(**counted, endpoint="/api/auth/me", status="401") == 1
        assert delta("http_request_duration_seconds_count", method="GET", endpoint=rule) == 2
        assert delta("http_request_duration_seconds_sum", method="GET", endpoint=rule) > 0
        # The path's ids never become labels.
        assert not any(user.id in str(labels) for _, labels in after)

    def test_unknown_paths_and_methods_share_one_series(self, client):
        before = scrape(client)
        client.get("/no/such/path/1")
        client.get("/no/such/path/2")
        client.open("/health/live", method="BREW")
        after = scrape(client)
        labels = {"method": "GET", "endpoint": "<unmatched>", "status": "404"}
        assert (
            value(after, "http_requests_total", **labels)
            - value(before, "http_requests_total", **labels)
            == 2
        )
        brew = {"method": "other", "endpoint": "<unmatched>", "status": "405"}
        assert (
            value(after, "http_requests_total", **brew)
            - value(before, "http_requests_total", **brew)
            == 1
        )

    def test_rate_limit_refusals_are_counted(self, client):
        before = scrape(client)
        statuses = [client.post("/api/auth/login", json=WRONG_LOGIN).status_code for _ in range(11)]
        after = scrape(client)
        assert statuses == [401] * 10 + [429]
        refusals = {"endpoint": "/api/auth/login"}
        assert (
            value(after, "rate_limit_refusals_total", **refusals)
            - value(before, "rate_limit_refusals_total", **refusals)
            == 1
        )

    def test_nothing_is_counted_while_disabled(self, client, app, monkeypatch):
        before = scrape(client)
        monkeypatch.setitem(app.config, "METRICS_ENABLED", False)
        client.get("/api/auth/me")
        monkeypatch.setitem(app.config, "METRICS_ENABLED", True)
        after = scrape(client)
        labels = {"method": "GET", "endpoint": "/api/auth/me", "status": "401"}
        assert value(after, "http_requests_total", **labels) == value(
            before, "http_requests_total", **labels
        )


@pytest.mark.usefixtures("enabled")
class TestPoolGauge:
    def in_use(self, client) -> float:
        return value(scrape(client), "db_pool_connections_in_use")

    def test_follows_checkouts_and_checkins(self, client):
        # The test's own rolled-back connection is bound in place of the engine.
        engine = db.engines[None].engine
        start = self.in_use(client)
        first = engine.connect()
        second = engine.connect()
        assert self.in_use(client) == start + 2
        first.close()
        second.close()
        assert self.in_use(client) == start

    def test_a_failed_connection_attempt_does_not_lower_it(self, client, app):
        # SQLAlchemy fires `checkin` for a connection that could not be made, with no
        # `checkout` before it (a database outage): that must not count as one returned.
        unreachable = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
        )
        watch_pool(app, unreachable)
        start = self.in_use(client)
        with pytest.raises(OperationalError):
            unreachable.connect()
        assert self.in_use(client) == start
        unreachable.dispose()


def worker_pids(metrics_dir: Path) -> set[int]:
    """The processes that wrote request counters (one file each)."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in metrics_dir.glob("counter_*.db")}


@pytest.mark.slow
@pytest.mark.commits
def test_totals_are_summed_over_every_worker(database_url, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale")  # a previous run's, to be cleaned
    env = {
        "DATABASE_URL": database_url,
        "METRICS_ENABLED": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    requests = 60
    labels = {"method": "GET", "endpoint": "/health/ready", "status": "200"}
    # One client: building one per call costs more than the request itself (its TLS context).
    with gunicorn_server(env, workers=2) as base_url, httpx.Client(base_url=base_url) as http:

        def ready(_: int) -> int:
            return http.get("/health/ready", timeout=10).status_code

        # Concurrent clients keep one sync worker busy while the other accepts: both answer.
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(ready, range(requests))) == [200] * requests
        writers = worker_pids(metrics_dir)
        assert len(writers) == 2, writers

        def totals() -> Samples:
            return parse(http.get("/metrics", timeout=10).text)

        # Each scrape is answered by whichever worker accepts it; every one sees the sum.
        for _ in range(6):
            samples = totals()
            assert value(samples, "http_requests_total", **labels) == requests
            assert (
                value(
                    samples,
                    "http_request_duration_seconds_count",
                    method="GET",
                    endpoint="/health/ready",
                )
                == requests
            )
            assert value(samples, "db_pool_connections_in_use") == 0

        # A worker that is replaced keeps its counts; its live gauge file goes with it.
        victim = min(writers)
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while (metrics_dir / f"gauge_livesum_{victim}.db").exists():
            assert time.monotonic() < deadline, "child_exit did not mark the worker dead"
            time.sleep(0.05)
        assert (metrics_dir / f"counter_{victim}.db").exists()
        assert value(totals(), "http_requests_total", **labels) == requests
