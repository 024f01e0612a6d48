"""Prometheus metrics at /metrics: requests, latency, database pool and rate-limit refusals."""

from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.errors import ApiError
from app.extensions import db, limiter

log = logging.getLogger(__name__)

# prometheus_client picks its storage when it is imported, from this same variable: set, every
# process writes its samples to files there (gunicorn.conf.py creates and cleans the directory)
# and a scrape sums the files of every worker; unset (`flask run`, tests), one process's memory.
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ

# Our own registry rather than the global one, so that nothing a library registers is exposed.
REGISTRY = CollectorRegistry(auto_describe=True)

# Labels come from closed sets only (route rules, known methods, statuses), so that clients
# cannot create series: a path full of ids or a made-up method would otherwise be one each.
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests here take milliseconds; the low buckets are the ones that tell regressions apart.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route rule and status.",
    ["method", "endpoint", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the first before-request hook to the response, by method and route rule.",
    ["method", "endpoint"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Database connections checked out of the pool, summed over the live workers.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
RATE_LIMIT_REFUSALS = Counter(
    "rate_limit_refusals_total",
    "Requests refused with 429 by the rate limiter, by route rule.",
    ["endpoint"],
    registry=REGISTRY,
)

# Marks a pool entry whose checkout was counted. SQLAlchemy also fires `checkin` for a
# connection attempt that failed (no checkout event before it), which must not be subtracted.
_COUNTED = "metrics_counted_checkout"

# Label children by label values: `.labels()` validates and locks on every call.
_requests: dict[tuple[str, str, int], Any] = {}
_latencies: dict[tuple[str, str], Any] = {}


def _record_request(response: Response) -> Response:
    """Count the answer and observe its latency: a few dictionary lookups and additions."""
    if not current_app.config["METRICS_ENABLED"]:
        return response
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "other"
    status = response.status_code
    counter = _requests.get((method, endpoint, status))
    if counter is None:
        counter = _requests.setdefault(
            (method, endpoint, status), REQUESTS.labels(method, endpoint, str(status))
        )
    counter.inc()
    # Set by the very first before-request hook (app/core/observability.py); a request that failed
    # before it ran has no start time and is counted without a latency.
    started = g.get("request_started")
    if started is not None:
        histogram = _latencies.get((method, endpoint))
        if histogram is None:
            histogram = _latencies.setdefault((method, endpoint), LATENCY.labels(method, endpoint))
        histogram.observe(time.perf_counter() - started)
    if status == 429:
        RATE_LIMIT_REFUSALS.labels(endpoint).inc()
    return response


def watch_pool(app: Flask, engine: Engine) -> None:
    """Follow checkouts and checkins with the gauge; each worker writes its own value."""

    def checked_out(dbapi_connection: Any, entry: Any, proxy: Any) -> None:
        if app.config["METRICS_ENABLED"]:
            entry.record_info[_COUNTED] = True
            POOL_IN_USE.inc()

    def checked_in(dbapi_connection: Any, entry: Any) -> None:
        if entry.record_info.pop(_COUNTED, False):
            POOL_IN_USE.dec()

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", checked_in)


def _authorized(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@limiter.exempt
def metrics() -> Response:
    """The Prometheus exposition; 404 unless METRICS_ENABLED, a bearer token if one is set."""
    if not current_app.config["METRICS_ENABLED"]:
        raise ApiError(404)
    token = current_app.config["METRICS_TOKEN"]
    if token and not _authorized(token):
        raise ApiError(
            401,
            "unauthorized",
            "The metrics token is missing or wrong.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if MULTIPROCESS:
        # A fresh registry per scrape reads the files of every worker, dead ones included
        # (their counters still count; their live gauges were removed by child_exit).
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = current_app.response_class(encoder(registry), content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_metrics(app: Flask) -> None:
    """Route, request hook and pool listeners. The route is a plain Flask one, not a smorest
    view, so it stays out of the OpenAPI document: it is for the operator's scraper only."""
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    app.after_request(_record_request)
    with app.app_context():
        for engine in db.engines.values():
            watch_pool(app, engine)
    if app.config["METRICS_ENABLED"] and app.config["APP_ENV"] == "production":
        if not MULTIPROCESS:
            log.warning(
                "PROMETHEUS_MULTIPROC_DIR is unset: /metrics shows only the worker that answers"
            )
        if not app.config["METRICS_TOKEN"]:
            log.warning("METRICS_TOKEN is unset: keep /metrics off the public network")
