"""A PgBouncer of a test's own, in transaction mode, in front of a PostgreSQL it is given."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.servers import free_port

PGBOUNCER_APT = "apt-get install -y pgbouncer"
# PgBouncer refuses to run as root; as root it is told to become another user after start-up.
UNPRIVILEGED_USER = "nobody"


def pgbouncer_executable() -> str:
    """PGBOUNCER, else Debian's pgbouncer (in /usr/sbin, often not on a user's PATH), as
    scripts/system-deps.sh finds it; fails with the install line when it is missing."""
    named = os.environ.get("PGBOUNCER")
    found = (
        shutil.which(named)
        if named
        else shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    )
    if found is None:
        raise RuntimeError(f"pgbouncer is not installed: {PGBOUNCER_APT}")
    return found


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _ini_value(value: Any) -> str:
    """A value of a [databases] connection string, quoted when it holds spaces."""
    text = str(value)
    return f"'{text}'" if " " in text or not text else text


def _run_as(params: dict) -> str | None:
    """Who PgBouncer becomes when started as root: the owner of the server's unix socket
    directory (an embedded PostgreSQL's is private to its user), else nobody."""
    if os.geteuid() != 0:
        return None
    host = str(params.get("host") or "")
    if host.startswith("/"):
        owner = Path(host).stat().st_uid
        if owner != 0:
            return pwd.getpwuid(owner).pw_name
    return UNPRIVILEGED_USER


class OwnPgBouncer:
    """A pgbouncer process on 127.0.0.1:`port` whose pool `dbname` leads to `target` (a libpq
    URL); stop, start and restart it, and read its admin console."""

    def __init__(
        self,
        directory: Path,
        target: str,
        *,
        pool_size: int = 20,
        max_client_conn: int = 500,
        query_wait_timeout: float = 3,
        log_path: Path | None = None,
        new_session: bool = False,
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.log_path = log_path or directory / "pgbouncer.log"
        self.new_session = new_session
        params = conninfo_to_dict(_libpq(target))
        self.dbname = str(params.get("dbname") or "postgres")
        self.user = str(params.get("user") or "postgres")
        self.process: subprocess.Popen | None = None
        self._write_config(params, pool_size, max_client_conn, query_wait_timeout)

    @property
    def url(self) -> str:
        """A libpq URL of the pooled database, through PgBouncer."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def admin_url(self) -> str:
        """The admin console (the virtual database `pgbouncer`): SHOW POOLS, SHOW CLIENTS."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/pgbouncer"

    @property
    def pid(self) -> int | None:
        """The running process's id, None while stopped."""
        return self.process.pid if self.process and self.process.poll() is None else None

    def _write_config(
        self, params: dict, pool_size: int, max_client_conn: int, query_wait_timeout: float
    ) -> None:
        server = {key: params[key] for key in ("host", "port", "password") if params.get(key)}
        server.update(dbname=self.dbname, user=self.user)
        database = " ".join(f"{key}={_ini_value(value)}" for key, value in server.items())
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": self.port,
            # No unix socket: nothing on disk for clients, and no path-length limit.
            "unix_socket_dir": "",
            "pool_mode": "transaction",
            # The servers behind (the machine's or an embedded PostgreSQL) trust local
            # connections; PgBouncer only needs to know the user name.
            "auth_type": "trust",
            "auth_file": self.directory / "userlist.txt",
            "admin_users": self.user,
            "default_pool_size": pool_size,
            "max_client_conn": max_client_conn,
            # A dead server connection is noticed before it is handed out, and a server that
            # has just come back is retried soon (the default waits 15 s).
            "server_check_delay": 0,
            "server_login_retry": 0.5,
            # While PostgreSQL is down, a query that waits for a server connection fails after
            # this many seconds (the default, 120, outlasts every client and gunicorn's own
            # timeout): the app answers 503 instead of hanging. Later ones fail at once.
            "query_wait_timeout": query_wait_timeout,
            "log_connections": 0,
            "log_disconnections": 0,
        }
        run_as = _run_as(params)
        if run_as:
            settings["user"] = run_as
        lines = ["[databases]", f"{self.dbname} = {database}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        self.config_path = self.directory / "pgbouncer.ini"
        self.config_path.write_text("\n".join(lines) + "\n")
        if run_as:
            # A RELOAD rereads both files as that user.
            account = pwd.getpwnam(run_as)
            for path in (self.directory, self.config_path, self.directory / "userlist.txt"):
                os.chown(path, account.pw_uid, account.pw_gid)

    def start(self, timeout: float = 10) -> None:
        """Start it in the foreground (no -d: the process is ours to wait for and signal) and
        wait until its admin console answers."""
        if self.pid is not None:
            raise RuntimeError("start(): pgbouncer is already running")
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                [pgbouncer_executable(), str(self.config_path)],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_session,
            )
        self._wait_until_answering(timeout)

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}:\n{log}")
            try:
                self.show("VERSION")
                return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise TimeoutError(f"pgbouncer did not answer in {timeout}s")

    def stop(self, *, safe: bool = False, timeout: float = 10) -> None:
        """SIGTERM (immediate shutdown: server and client connections are cut), or with `safe`
        SIGINT, the packaged service's stop signal (PAUSE, then shutdown: transactions in
        flight finish first). Killed if it outlasts `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT if safe else signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self, *, safe: bool = False) -> None:
        """Stop it and start it again on the same port."""
        self.stop(safe=safe)
        self.start()

    def show(self, what: str) -> list[dict[str, Any]]:
        """SHOW `what` on the admin console (POOLS, CLIENTS, SERVERS, STATS...), as dicts."""
        # The console speaks the simple query protocol only, outside any transaction.
        with psycopg.connect(
            make_conninfo(self.admin_url), autocommit=True, connect_timeout=2
        ) as conn:
            cursor = conn.execute(f"SHOW {what}", prepare=False)
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextmanager
def own_pgbouncer(parent: Path, target: str, **options: Any) -> Iterator[OwnPgBouncer]:
    """Run a PgBouncer (transaction pooling) under `parent`/pgbouncer in front of `target`;
    stopped afterwards, whatever happened."""
    bouncer = OwnPgBouncer(parent / "pgbouncer", target, **options)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
