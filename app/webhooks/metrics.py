"""Webhook and reminder metrics: events queued (web), attempts and their outcomes, reminder
lateness (worker), and from the tables at each scrape, the queue's depth and oldest event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from app.core.metrics import REGISTRY

EVENTS_QUEUED = Counter(
    "webhook_events_queued_total",
    "Webhook events written (one per event and subscribed webhook), by type.",
    ["type"],
    registry=REGISTRY,
)
ATTEMPTS = Counter(
    "webhook_delivery_attempts_total",
    "Delivery attempts by outcome: delivered, retrying (failed, a retry is scheduled),"
    " failed (no retry left, or 410 Gone).",
    ["outcome"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "webhook_delivery_retries_total",
    "Delivery attempts that were retries (the second attempt of an event and later).",
    registry=REGISTRY,
)
REMINDER_LATENESS = Histogram(
    "reminder_lateness_seconds",
    "From a reminder's remind_at to the moment it fired.",
    buckets=(1, 5, 10, 15, 30, 60, 120, 300, 900, 3600),
    registry=REGISTRY,
)


def queued(event_type: str, count: int) -> None:
    EVENTS_QUEUED.labels(event_type).inc(count)


def attempted(event_type: str, result: Any, *, retried: bool, will_retry: bool) -> None:
    outcome = "delivered" if result.succeeded else "retrying" if will_retry else "failed"
    ATTEMPTS.labels(outcome).inc()
    if retried:
        RETRIES.inc()


def reminded(lateness_seconds: float) -> None:
    REMINDER_LATENESS.observe(max(0.0, lateness_seconds))


# Read at each scrape of the worker's metrics: the pending events use a partial index, and the
# heartbeats are a handful of rows.
QUEUE_STATE = text(
    """
    SELECT
        (SELECT count(*) FROM webhook_events WHERE state = 'pending') AS pending,
        (SELECT extract(epoch FROM now() - min(created_at)) FROM webhook_events
          WHERE state = 'pending') AS oldest,
        (SELECT extract(epoch FROM now() - max(last_heartbeat)) FROM procrastinate_workers)
          AS heartbeat
    """
)


class QueueCollector(Collector):
    """Gauges read from the database when scraped (a worker's metrics server)."""

    def __init__(self, read: Any) -> None:
        self._read = read  # () -> the QUEUE_STATE row

    def collect(self) -> Iterator[GaugeMetricFamily]:
        row = self._read()
        yield GaugeMetricFamily(
            "webhook_events_pending", "Webhook events not yet delivered or given up.", row.pending
        )
        yield GaugeMetricFamily(
            "webhook_oldest_pending_event_age_seconds",
            "Age of the oldest event not yet delivered (0 when none).",
            float(row.oldest or 0),
        )
        yield GaugeMetricFamily(
            "worker_heartbeat_age_seconds",
            "Since the newest heartbeat of any job-queue worker (-1 when none is registered).",
            -1.0 if row.heartbeat is None else float(row.heartbeat),
        )
