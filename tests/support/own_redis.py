"""A redis-server of a test's own, which the test may kill without disturbing anyone else."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from tests.support.servers import free_port


@dataclass
class OwnRedis:
    """A running redis-server: its URL, and a way to make it disappear."""

    url: str
    process: subprocess.Popen

    def kill(self) -> None:
        """Stop it abruptly, as a crash would, and wait until it is gone."""
        self.process.kill()
        self.process.wait(timeout=10)


def _wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 10) -> None:
    """Poll PING until the server answers; fail early when it exits."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
    finally:
        client.close()
    raise TimeoutError(f"redis-server did not answer in {timeout}s")


@contextmanager
def own_redis() -> Iterator[OwnRedis]:
    """Run a throwaway redis-server (no persistence) on a free port of 127.0.0.1."""
    # Where scripts/system-deps.sh (run by make test) looks for it, and installs it when missing.
    wanted = os.environ.get("REDIS_SERVER") or "redis-server"
    executable = shutil.which(wanted)
    if executable is None:
        raise RuntimeError(f"{wanted} is missing: run scripts/system-deps.sh (make test does)")
    port = free_port()
    process = subprocess.Popen(
        # No snapshots, no append-only file: nothing is written to disk.
        [executable, "--port", str(port), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = OwnRedis(url=f"redis://127.0.0.1:{port}/0", process=process)
    try:
        _wait_until_answering(server.url, process)
        yield server
    finally:
        if process.poll() is None:
            server.kill()
