"""The cluster run's two webhook workers (issue 15) and the receiver they deliver to.

bench/cluster/run.py calls it at the right moments and reports what it returns:

- `start()`, after the instances: a receiver on 127.0.0.1 (a threaded HTTP server in this
  process that records every delivery: its `webhook-id` and a digest of its body), one active
  webhook per loaded user pointed at it (rows written directly, the secret sealed with the
  instances' WEBHOOK_SECRET_KEY, as the API would), and two worker processes
  (`flask --app wsgi worker run`), each in a session of its own registered with the reaper,
  with the instances' environment but the database reached directly (`direct_database_url`:
  they LISTEN, which PgBouncer in transaction mode would lose) and WEBHOOK_ALLOWED_HOSTS
  letting them post to http://127.0.0.1.
- `kill_one_mid_delivery()`: the receiver holds the next delivery open (bounded wait for
  one), the worker process whose connection it is (by its TCP peer) is SIGKILLed with its
  group, the hold released; the time of the kill is returned and the worker started again.
- `check()`, after the load: waits (bounded) until every event the API recorded for these
  webhooks reached the receiver at least once; the jobs the killed worker held are put back
  in the queue first (procrastinate's stalled-job recipe, which the app's `tidy` job runs
  only every 5 minutes); each `webhook-id` must arrive with one payload.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg

from app.webhooks.secrets import SecretBox, new_secret
from bench.cluster.reaper import Reaper, kill_group

NOT_BUILT = "no webhook workers yet (issue 15): skipped"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DRAIN_SECONDS = 60
HOLD_SECONDS = 5


class _Receiver:
    """Every delivery's webhook-id and body digests; `hold()` keeps the next one open."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: dict[str, set[str]] = {}
        self.requests = 0
        self.hold_next = threading.Event()
        self.holding = threading.Event()  # a delivery is being held open
        self.release = threading.Event()
        self.held_peer: int | None = None  # the held connection's client port
        self.held_id: str | None = None  # the held delivery's webhook-id
        self.arrivals: dict[str, int] = {}  # webhook-id: requests
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                webhook_id = self.headers.get("webhook-id", "-")
                with receiver.lock:
                    receiver.requests += 1
                    digest = hashlib.sha256(body).hexdigest()
                    receiver.bodies.setdefault(webhook_id, set()).add(digest)
                    receiver.arrivals[webhook_id] = receiver.arrivals.get(webhook_id, 0) + 1
                    hold = receiver.hold_next.is_set() and not receiver.holding.is_set()
                    if hold:
                        receiver.hold_next.clear()
                        receiver.held_peer = self.client_address[1]
                        receiver.held_id = webhook_id
                        receiver.holding.set()
                if hold:
                    receiver.release.wait(HOLD_SECONDS)
                try:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass
                self.close_connection = True

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class WebhookWorkers:
    """Two webhook workers and the receiver they deliver to."""

    available = True
    count = 2

    def __init__(
        self, reaper: Reaper, env: dict[str, str], direct_database_url: str, directory: Path
    ) -> None:
        self.reaper = reaper
        self.env = env
        self.direct_database_url = direct_database_url
        self.directory = directory
        self.receiver: _Receiver | None = None
        self.processes: list[subprocess.Popen | None] = [None] * self.count
        self.webhook_ids: list[str] = []
        self.killed: dict[str, Any] | None = None

    def _worker_env(self) -> dict[str, str]:
        return {
            **self.env,
            "DATABASE_URL": self.direct_database_url,
            "WORKER_DATABASE_URL": self.direct_database_url,
            "DB_TRANSACTION_POOLER": "false",
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        }

    def _launch(self, index: int) -> subprocess.Popen:
        with open(self.directory / f"worker-{index}.log", "ab") as output:
            process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "worker", "run", "--concurrency", "4"],
                cwd=ROOT,
                env=self._worker_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[index] = process
        self.reaper.add_group(f"webhook worker {index}", process)
        return process

    def start(self) -> dict[str, Any]:
        """Start the receiver, one webhook per user and the workers; what was started."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.receiver = _Receiver()
        self.reaper.add("webhook receiver", self.receiver.stop)
        box = SecretBox.from_setting(self.env["WEBHOOK_SECRET_KEY"])
        with psycopg.connect(self.direct_database_url, connect_timeout=5) as conn:
            conn.execute("DELETE FROM webhooks")
            users = [row[0] for row in conn.execute("SELECT id FROM users ORDER BY email")]
            for index, user_id in enumerate(users):
                webhook_id = uuid.uuid4()
                conn.execute(
                    "INSERT INTO webhooks (id, user_id, url, events, description, secret)"
                    " VALUES (%s, %s, %s, ARRAY['*'], 'cluster run', %s)",
                    (webhook_id, user_id, f"{self.receiver.url}/u/{index}", box.seal(new_secret())),
                )
                self.webhook_ids.append(str(webhook_id))
        for index in range(self.count):
            self._launch(index)
        return {
            "status": f"{self.count} (flask worker run, direct to PostgreSQL), "
            f"{len(self.webhook_ids)} webhooks to a receiver on {self.receiver.url}",
            "workers": self.count,
            "receiver": self.receiver.url,
            "webhooks": len(self.webhook_ids),
            "pids": [p.pid for p in self.processes if p],
        }

    def _owner_of_port(self, port: int) -> int | None:
        """Which worker holds the TCP connection from 127.0.0.1:`port`."""
        for index, process in enumerate(self.processes):
            if process is None:
                continue
            try:
                members = [psutil.Process(process.pid), *psutil.Process(process.pid).children()]
                for member in members:
                    for connection in member.net_connections(kind="tcp"):
                        if connection.laddr and connection.laddr.port == port:
                            return index
            except psutil.Error:
                continue
        return None

    def kill_one_mid_delivery(self, limit: float = 15) -> float | None:
        """SIGKILL the worker whose delivery the receiver holds open; the monotonic time of
        the kill, or None when no delivery came within `limit` seconds."""
        receiver = self.receiver
        if receiver is None:
            return None
        receiver.release.clear()
        receiver.holding.clear()
        receiver.hold_next.set()
        if not receiver.holding.wait(limit):
            receiver.hold_next.clear()
            self.killed = {"status": f"no delivery within {limit:g} s to hold"}
            return None
        found = self._owner_of_port(receiver.held_peer or 0)
        index = 0 if found is None else found  # not found (closed already): the first one
        process = self.processes[index]
        assert process is not None
        killed_at = time.monotonic()
        kill_group(process)
        receiver.release.set()
        self.killed = {
            "worker": index,
            "pid": process.pid,
            "by_peer": found is not None,
            "held_webhook_id": receiver.held_id,
        }
        self._launch(index)
        return killed_at

    def _requeue_stalled(self, conn: psycopg.Connection) -> int:
        """Jobs left `doing` by a worker that is gone back to `todo` (procrastinate's own
        retry_job: a worker whose heartbeat, every 10 s, stopped 20 s ago), as the app's
        `tidy` job would at its next run."""
        rows = conn.execute(
            "SELECT j.id FROM procrastinate_jobs j"
            " LEFT JOIN procrastinate_workers w ON w.id = j.worker_id"
            " WHERE j.status = 'doing'"
            " AND (w.id IS NULL OR w.last_heartbeat < now() - interval '20 seconds')"
        ).fetchall()
        for (job_id,) in rows:
            conn.execute(
                "SELECT procrastinate_retry_job_v2(%s, now(), NULL, NULL, NULL)", (job_id,)
            )
        return len(rows)

    def check(self) -> dict[str, Any]:
        """Every recorded event delivered at least once, one payload per webhook-id."""
        receiver = self.receiver
        if receiver is None:
            return {"status": NOT_BUILT, "holds": None}
        deadline = time.monotonic() + DRAIN_SECONDS
        requeued = 0
        redelivered: bool | None = None
        with psycopg.connect(self.direct_database_url, autocommit=True, connect_timeout=5) as conn:
            while True:
                events = {
                    str(row[0])
                    for row in conn.execute(
                        "SELECT id FROM webhook_events WHERE webhook_id = ANY(%s::uuid[])",
                        (self.webhook_ids,),
                    )
                }
                with receiver.lock:
                    missing = events - receiver.bodies.keys()
                    # The attempt the kill cut off runs again once its job is requeued.
                    redelivered = (
                        None
                        if receiver.held_id is None
                        else receiver.arrivals.get(receiver.held_id, 0) >= 2
                    )
                if (not missing and redelivered is not False) or time.monotonic() > deadline:
                    break
                requeued += self._requeue_stalled(conn)
                time.sleep(0.5)
        with receiver.lock:
            twice = sum(1 for bodies in receiver.bodies.values() if len(bodies) > 1)
            repeated = receiver.requests - len(receiver.bodies)
            requests = receiver.requests
        alive = sum(1 for p in self.processes if p is not None and p.poll() is None)
        return {
            "holds": not missing and twice == 0 and bool(events),
            "events": len(events),
            "missing": len(missing),
            "missing_examples": sorted(missing)[:3],
            "requests": requests,
            "delivered_more_than_once": repeated,
            "ids_with_two_payloads": twice,
            "stalled_jobs_requeued": requeued,
            "killed_attempt_delivered_again": redelivered,
            "killed": self.killed,
            "workers_alive": alive,
            "pid": os.getpid(),
        }
