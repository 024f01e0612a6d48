"""Real gunicorn processes for tests whose behaviour depends on processes and workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(
    base_url: str, process: subprocess.Popen, timeout: float = 30, path: str = "/health/live"
) -> None:
    """Poll `path` until it answers 200; fail early when the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url}{path} did not answer 200 in {timeout}s")


def launch(
    env: dict[str, str],
    log_path: Path | None = None,
    *,
    new_session: bool = False,
    port: int | None = None,
) -> tuple[str, subprocess.Popen]:
    """Start the production entry point (gunicorn.conf.py, wsgi:app) with exactly `env` (plus
    PORT: `port`, else a free one) without waiting for it; returns its base URL and process.
    stdout and stderr go to `log_path`; `new_session` puts it in a process group of its own."""
    port = port or free_port()
    # The child keeps its own copy of the descriptor, so ours can close at once.
    with open(log_path or os.devnull, "ab") as output:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env={**env, "PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    return f"http://127.0.0.1:{port}", process


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Graceful shutdown, killed if it takes longer than gunicorn's graceful timeout allows."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _test_env(env: dict[str, str], workers: int) -> dict[str, str]:
    """The tests' settings (cheap password hashes, quiet logs) under the caller's."""
    return {
        **os.environ,
        "APP_ENV": "testing",
        "WEB_CONCURRENCY": str(workers),
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "64",
        "LOG_LEVEL": "WARNING",
        # A log file is read while the server runs, so lines must not wait in a buffer.
        "PYTHONUNBUFFERED": "1",
        **env,
    }


@contextmanager
def gunicorn_servers(
    envs: list[dict[str, str]], workers: int = 1, log_paths: list[Path | None] | None = None
) -> Iterator[list[str]]:
    """Run several instances of the production entry point at once (they boot in parallel);
    yields their base URLs. Each server's stdout and stderr go to its log path, if given."""
    log_paths = log_paths or [None] * len(envs)
    with ExitStack() as stack:
        started = []
        for env, log_path in zip(envs, log_paths, strict=True):
            base_url, process = launch(_test_env(env, workers), log_path)
            stack.callback(stop, process)
            started.append((base_url, process))
        for base_url, process in started:
            wait_until_serving(base_url, process)
        yield [base_url for base_url, _ in started]


@contextmanager
def gunicorn_server(
    env: dict[str, str], workers: int = 1, log_path: Path | None = None
) -> Iterator[str]:
    """Run the production entry point on a free port; yields its base URL. With `log_path`,
    the server's stdout and stderr (the app's JSON log lines included) are written there."""
    with gunicorn_servers([env], workers, [log_path]) as (base_url,):
        yield base_url


def json_log_lines(log_path: Path) -> list[dict]:
    """The JSON lines of a server log (gunicorn's own plain-text lines are left out)."""
    lines = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            lines.append(record)
    return lines


def wait_for_log_line(log_path: Path, matches: Callable[[dict], bool], timeout: float = 5) -> dict:
    """The first JSON log line that `matches`, polling until it is written or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in json_log_lines(log_path) if matches(record)]
        if found:
            return found[0]
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"no matching log line in {timeout}s:\n{log_path.read_text(errors='replace')}"
            )
        time.sleep(0.05)
