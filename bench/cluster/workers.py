"""The extension point for the webhook workers (issue 15), which do not exist yet.

When they do, this module is the one to fill in; bench/cluster/run.py already calls it at the
right moments and reports what it returns:

- `start()`, after the instances: start a local receiver (an HTTP server on 127.0.0.1 that
  records every delivery: its `webhook-id` header and body) and two worker processes, each in a
  session of its own registered with `reaper.add_group(...)`, with the instances' environment
  (`env`) and their delivery URL pointed at the receiver. A worker that needs LISTEN connects
  to PostgreSQL directly (`direct_database_url`), not through PgBouncer in transaction mode.
- `kill_one_mid_delivery()`, in its phase of the run: wait (bounded) until the receiver holds a
  delivery open, SIGKILL that worker's process group (reaper.kill_group) and return the time of
  the kill, so that analysis.Window(cause, at) excuses what was in flight; then start it again.
- `check()`, after the load: every event the API recorded reaches the receiver at least once,
  and each `webhook-id` is seen with one payload; return {"holds": bool, ...}.
- `available` becomes True: the run then fails when `check()` does not hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cluster.reaper import Reaper

NOT_BUILT = "no webhook workers yet (issue 15): skipped"


class WebhookWorkers:
    """Two webhook workers and a receiver; until issue 15 lands, a placeholder that says so."""

    available = False
    count = 2

    def __init__(
        self, reaper: Reaper, env: dict[str, str], direct_database_url: str, directory: Path
    ) -> None:
        self.reaper = reaper
        self.env = env
        self.direct_database_url = direct_database_url
        self.directory = directory

    def start(self) -> dict[str, Any]:
        """Start the receiver and the workers; what was started."""
        return {"workers": 0, "status": NOT_BUILT}

    def kill_one_mid_delivery(self) -> float | None:
        """SIGKILL one worker while a delivery is in flight; the monotonic time of the kill, or
        None when there is nothing to kill."""
        return None

    def check(self) -> dict[str, Any]:
        """Every event delivered at least once, one payload per webhook-id."""
        return {"status": NOT_BUILT, "holds": None}
