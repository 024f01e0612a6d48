"""Connections, sampled once a second: PostgreSQL's server connections (pg_stat_activity)
against PgBouncer's clients and servers (SHOW POOLS on its admin console)."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import psycopg

from tests.support.own_pgbouncer import OwnPgBouncer


class ConnectionSampler(threading.Thread):
    """One sample a second until stopped; a part that is down (PgBouncer restarting) leaves
    its fields out of that sample."""

    def __init__(self, admin_url: str, database: str, bouncer: OwnPgBouncer) -> None:
        super().__init__(daemon=True, name="connection-sampler")
        self.admin_url = admin_url
        self.database = database
        self.bouncer = bouncer
        self.samples: list[dict[str, Any]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(1.0):
            sample: dict[str, Any] = {"t": time.monotonic()}
            sample.update(self._postgres())
            sample.update(self._pgbouncer())
            self.samples.append(sample)

    def _postgres(self) -> dict[str, int]:
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=1) as conn:
                row = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE state = 'active')"
                    " FROM pg_stat_activity"
                    " WHERE datname = %s AND backend_type = 'client backend'",
                    (self.database,),
                ).fetchone()
        except psycopg.Error:
            return {}
        assert row is not None
        return {"pg_connections": int(row[0]), "pg_active": int(row[1])}

    def _pgbouncer(self) -> dict[str, int]:
        try:
            pools = [p for p in self.bouncer.show("POOLS") if p["database"] == self.database]
            clients = [c for c in self.bouncer.show("CLIENTS") if c["database"] == self.database]
        except psycopg.Error:
            return {}

        def total(*columns: str) -> int:
            return sum(int(pool.get(column) or 0) for pool in pools for column in columns)

        return {
            "clients": len(clients),
            "cl_active": total("cl_active"),
            "cl_waiting": total("cl_waiting"),
            "sv_active": total("sv_active"),
            "servers": total("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"),
        }

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def summary(self, since: float, until: float) -> dict[str, Any]:
        """Max and mean of every field over the samples taken between `since` and `until`."""
        inside = [s for s in self.samples if since <= s["t"] <= until]
        fields = ("pg_connections", "pg_active", "clients", "cl_waiting", "sv_active", "servers")
        out: dict[str, Any] = {"samples": len(inside)}
        for name in fields:
            values = [s[name] for s in inside if name in s]
            if values:
                out[name] = {"max": max(values), "mean": round(statistics.fmean(values), 1)}
        return out
