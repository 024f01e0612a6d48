"""A worker's own /metrics (WORKER_METRICS_PORT): its attempts and reminder lateness, and the
queue's depth, oldest pending event and newest heartbeat read from the database when scraped."""

from __future__ import annotations

from typing import Any

from flask import Flask
from prometheus_client import start_http_server

from app.core.metrics import REGISTRY
from app.extensions import db
from app.webhooks.metrics import QUEUE_STATE, QueueCollector


def serve_metrics(app: Flask) -> None:
    """Start the metrics server on a thread of its own, when a port is configured."""
    port = app.config["WORKER_METRICS_PORT"]
    if not port:
        return

    def read() -> Any:
        with app.app_context():
            row = db.session.execute(QUEUE_STATE).one()
            db.session.rollback()
            return row

    REGISTRY.register(QueueCollector(read))
    start_http_server(port, addr="127.0.0.1", registry=REGISTRY)
