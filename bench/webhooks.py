"""The webhook measurements of `make bench` (bench/run.py calls `measure`; issue 15).

- write cost, workers stopped: wrk `create` for users with an active webhook (every write also
  renders its event, inserts it and defers its delivery job) against users without one, each
  followed by a short /health/ready run; the ratio of their ratios to ready. The hooked run
  leaves its events queued (no worker runs yet).
- delivery throughput: 2 worker processes (`flask --app wsgi worker run`) started on that
  queue; events per second from the first arrival at the receiver to the last (and from the
  workers' start, their own start-up included).
- latency: task creates paced at 50/s (open loop, on a fixed schedule) for users with a
  webhook; from the moment the API answered 201 (client side: the commit is before it) to the
  delivery's arrival at the receiver, which runs in a process of its own (CLOCK_MONOTONIC is
  one clock for every process of the machine).
- write cost while 50 changes/s are delivered: wrk `create` for users without a webhook, once
  beside 50 creates/s (paced as above) for other users without one, once beside 50 creates/s
  for users with one, whose events the two workers deliver meanwhile; the ratio of their
  ratios to ready is what the webhooks (outbox and delivery at that rate) cost the API's own
  writes.
- write cost, workers delivering flat out: the first pair of wrk runs while the two workers
  deliver everything the hooked run writes, as fast as they can, on the cores gunicorn and
  PostgreSQL use too (shown, not a target: it measures the machine's sharing).

The receiver (`python -m bench.webhooks receive OUT PORTFILE`) is a small asyncio HTTP server
on 127.0.0.1 answering 204 and appending "arrival_ns webhook-id type data-id" per request to
OUT. Workers and receiver run in sessions of their own and are stopped in `finally`, and every
wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
DATA = BENCH / ".data"
WORKERS = 2
RATE = 50.0
DELIVER_TASK = "webhooks:deliver_event"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the receiver (its own process) -----------------------------------------------------------


async def _serve(out_path: Path, port_path: Path) -> None:
    out = open(out_path, "a", buffering=1)  # noqa: SIM115 (open for the server's life)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                arrived = time.monotonic_ns()
                kind, data_id = "-", "-"
                try:
                    event = json.loads(body)
                    kind = str(event.get("type") or "-")
                    data = event.get("data")
                    if isinstance(data, dict) and data.get("id"):
                        data_id = str(data["id"])
                except ValueError:
                    pass
                out.write(f"{arrived} {headers.get('webhook-id', '-')} {kind} {data_id}\n")
                close = headers.get("connection", "").lower() == "close"
                writer.write(
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                )
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    port_path.write_text(f"{port}\n")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with server:
        await stopping.wait()
    out.close()


class Receiver:
    """The receiver process, and what it recorded: first arrival per webhook-id."""

    def __init__(self, directory: Path) -> None:
        self.out = directory / "webhook-receiver.txt"
        self.port_file = directory / "webhook-receiver.port"
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.first: dict[str, tuple[float, str, str]] = {}  # webhook-id: (arrival, type, id)
        self.requests = 0
        self._offset = 0

    def start(self, limit: float = 15) -> None:
        self.out.unlink(missing_ok=True)
        self.port_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.webhooks", "receive", str(self.out), str(self.port_file)],
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(self.out.with_suffix(".log"), "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + limit
        while not (self.port_file.exists() and self.port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the webhook receiver did not start: {self.out}.log")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(self.port_file.read_text())}"

    def poll(self) -> None:
        """Read what arrived since the last poll (whole lines only)."""
        if not self.out.exists():
            return
        with open(self.out, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].decode().splitlines():
            arrived, webhook_id, kind, data_id = line.split(" ")
            self.requests += 1
            if webhook_id not in self.first:
                self.first[webhook_id] = (int(arrived) / 1e9, kind, data_id)

    def wait_for(self, wanted: set[str], limit: float) -> bool:
        """Poll until every webhook-id in `wanted` arrived, or `limit` seconds passed."""
        deadline = time.monotonic() + limit
        while True:
            self.poll()
            if wanted.issubset(self.first):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def stop(self) -> None:
        _stop_group(self.process, 5)


# --- the workers ------------------------------------------------------------------------------


def _stop_group(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM to the process's session (its own), SIGKILL when it outlives `timeout`."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


class Workers:
    """WORKERS `flask --app wsgi worker run` processes with the bench server's environment."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = {**env, "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
        self.directory = directory
        self.processes: list[subprocess.Popen] = []
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        for index in range(WORKERS):
            out = self.directory / f"webhook-worker-{index}.log"
            with open(out, "wb") as output:
                self.processes.append(
                    subprocess.Popen(
                        [str(BIN / "flask"), "--app", "wsgi", "worker", "run"],
                        cwd=ROOT,
                        env=self.env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def check_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                out = self.directory / f"webhook-worker-{index}.log"
                tail = out.read_text(errors="replace")[-2000:]
                raise SystemExit(f"webhook worker {index} exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            _stop_group(process, 20)
        self.processes = []


# --- database helpers -------------------------------------------------------------------------


def remove_webhooks(url: str, user_ids: list[str]) -> None:
    """The bench users' webhooks (their events and log go with them) and the delivery jobs
    left queued for events that no longer exist."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute("DELETE FROM webhooks WHERE user_id = ANY(%s::uuid[])", (user_ids,))
        conn.execute(
            "DELETE FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'"
            " AND NOT EXISTS (SELECT 1 FROM webhook_events e"
            "  WHERE e.id::text = procrastinate_jobs.args->>'event_id')",
            (DELIVER_TASK,),
        )


def pending_events(url: str, webhook_ids: list[str]) -> set[str]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id FROM webhook_events WHERE webhook_id = ANY(%s::uuid[])"
            " AND state = 'pending'",
            (webhook_ids,),
        ).fetchall()
    return {str(row[0]) for row in rows}


# --- measurements -----------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by the gunicorn workers, the webhook workers and PostgreSQL (every
    `postgres` process of the machine), between two readings."""

    def __init__(self, server_pid: int, workers: Workers) -> None:
        self.server = psutil.Process(server_pid)
        self.workers = workers

    @staticmethod
    def _cpu(processes: list[psutil.Process]) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return total

    def read(self) -> dict[str, float]:
        try:
            web = self.server.children()
        except psutil.Error:
            web = []
        postgres = [
            process
            for process in psutil.process_iter(["name"])
            if process.info["name"] == "postgres"
        ]
        hooks = []
        for worker in self.workers.processes:
            try:
                hooks.append(psutil.Process(worker.pid))
            except psutil.Error:
                continue
        return {
            "gunicorn": self._cpu(web),
            "postgres": self._cpu(postgres),
            "webhook_workers": self._cpu(hooks),
        }

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict:
        """CPU milliseconds per request of each part."""
        return {
            key: round(1000 * (after[key] - before[key]) / max(1, requests), 2) for key in before
        }


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


def paced_creates(
    base: str, users: list[tuple[str, str]], rate: float, seconds: float
) -> tuple[list[tuple[str, float]], dict[str, Any]]:
    """Task creates at `rate` a second on a fixed schedule (open loop), round-robin over the
    users; [(task id, monotonic time the 201 arrived)] and the generator's own figures."""
    local = threading.local()
    answered: list[tuple[str, float]] = []
    late: list[float] = []
    took: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def send(k: int, scheduled: float) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=10)
        user_id, token = users[k % len(users)]
        started = time.monotonic()
        try:
            answer = client.post(
                f"/api/{user_id}/tasks",
                json={"title": f"Bench new task webhook {k}"},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            with lock:
                errors.append(f"{type(error).__name__}: {error}")
            return
        done = time.monotonic()
        with lock:
            late.append(started - scheduled)
            took.append(done - started)
            if answer.status_code == 201:
                answered.append((answer.json()["data"]["id"], done))
            else:
                errors.append(f"{answer.status_code} {answer.text[:200]}")

    count = int(rate * seconds)
    threads = 64  # enough for 50/s at over 1 s each: the schedule, not the pool, paces

    clients: list[httpx.Client] = []

    def warm(_: int) -> None:
        local.client = httpx.Client(base_url=base, timeout=10)
        clients.append(local.client)
        local.client.get("/health/live")
        time.sleep(0.2)  # so that each thread takes one

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(warm, range(threads)))
        begin = time.monotonic() + 0.1
        for k in range(count):
            at = begin + k / rate
            pause = at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(send, k, at)
        pool.shutdown(wait=True, cancel_futures=False)
    for client in clients:
        client.close()
    ordered = sorted(late) or [0.0]
    took.sort()
    return answered, {
        "post_p50_ms": round(statistics.median(took or [0.0]) * 1000, 1),
        "post_p95_ms": round(_quantile(took or [0.0], 0.95) * 1000, 1),
        "sent": count,
        "answered_201": len(answered),
        "errors": len(errors),
        "error_examples": errors[:3],
        "late_p99_ms": round(_quantile(ordered, 0.99) * 1000, 1),
    }


Alongside = Callable[[float], Any]


def _write_pair(
    run_wrk: Callable[[str, Path, int], dict[str, Any]],
    drain: Callable[[], None],
    cpu: CpuMeter,
    tokens_without: Path,
    tokens_with: Path,
    seconds: int,
    alongside: dict[str, Alongside] | None = None,
) -> dict[str, Any]:
    """ready, create ("without"), ready, create ("with"), ready: each create's req/s as a
    ratio to the mean of the ready runs around it, and the ratio of those two; the CPU each
    part used per create. `alongside[side]`, when given, runs in a thread for the length of
    that side's wrk run (its answer is kept as the row's "alongside")."""
    ready_seconds = max(2, seconds // 4)
    runs: dict[str, Any] = {}
    refs: list[float] = []

    def ready() -> None:
        drain()
        refs.append(run_wrk("ready", tokens_without, ready_seconds)["rps"])

    ready()
    for name, tokens in (("without", tokens_without), ("with", tokens_with)):
        drain()
        background = (alongside or {}).get(name)
        with ThreadPoolExecutor(max_workers=1) as side:
            # Started a little before wrk and ending a little after: its pace covers the run.
            running = side.submit(background, seconds + 2) if background else None
            if running is not None:
                time.sleep(1)
            before = cpu.read()
            row = run_wrk("create", tokens, seconds)
            if running is not None:
                row["alongside"] = running.result(timeout=seconds + 60)
        drain()  # what wrk left queued is served (and counted) before the CPU reading
        row["cpu_ms_per_request"] = cpu.per_request(before, cpu.read(), row["requests"])
        ready()
        reference = (refs[-2] + refs[-1]) / 2
        row["ready_reference_rps"] = round(reference, 1)
        row["vs_ready"] = round(row["rps"] / reference, 3) if reference else None
        runs[name] = row
    ratio = (
        round(runs["with"]["vs_ready"] / runs["without"]["vs_ready"], 2)
        if runs["without"]["vs_ready"]
        else None
    )
    return {
        "without": runs["without"],
        "with": runs["with"],
        "ready_rps": refs,
        "ratio": ratio,
        "raw_ratio": round(runs["with"]["rps"] / runs["without"]["rps"], 2),
    }


def _wait_for_creates(receiver: Receiver, task_ids: set[str], limit: float) -> dict[str, float]:
    """{task id: arrival} of the task.created deliveries of these tasks, waiting up to `limit`
    seconds for all of them."""
    deadline = time.monotonic() + limit
    arrived: dict[str, float] = {}
    while time.monotonic() < deadline:
        receiver.poll()
        arrived = {
            data_id: at
            for at, kind, data_id in receiver.first.values()
            if kind == "task.created" and data_id in task_ids
        }
        if len(arrived) == len(task_ids):
            break
        time.sleep(0.1)
    return arrived


def _errors(pair: dict[str, Any]) -> int:
    return sum(pair[k]["non_2xx"] + pair[k]["socket_errors"] for k in ("with", "without"))


def measure(
    *,
    base: str,
    server_pid: int,
    env: dict[str, str],
    database_url: str,
    hooked: list[tuple[str, str]],
    plain: list[tuple[str, str]],
    tokens_hooked: Path,
    tokens_plain: Path,
    run_wrk: Callable[[str, Path, int], dict[str, Any]],
    drain: Callable[[], None],
    write_seconds: int,
    latency_seconds: float,
) -> dict[str, Any]:
    """Every webhook figure (module docstring); `hooked` and `plain` are (user id, access
    token) pairs, `tokens_*` the same users as wrk token files. `errors` counts every failed
    request and every event that never arrived."""
    DATA.mkdir(exist_ok=True)
    user_ids = [user_id for user_id, _ in hooked + plain]
    remove_webhooks(database_url, user_ids)
    receiver = Receiver(DATA)
    workers = Workers(env, DATA)
    cpu = CpuMeter(server_pid, workers)
    result: dict[str, Any] = {"workers": WORKERS, "hooked_users": len(hooked)}
    try:
        receiver.start()
        webhook_ids = []
        for index, (user_id, token) in enumerate(hooked):
            answer = httpx.post(
                f"{base}/api/{user_id}/webhooks",
                json={"url": f"{receiver.url}/hook/{index}", "events": ["*"]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            if answer.status_code != 201:
                raise SystemExit(f"webhook create: {answer.status_code} {answer.text[:300]}")
            webhook_ids.append(answer.json()["data"]["id"])

        log("webhooks: writes with and without a webhook, no worker running")
        stopped = _write_pair(run_wrk, drain, cpu, tokens_plain, tokens_hooked, write_seconds)
        result["writes_workers_stopped"] = stopped
        queued = pending_events(database_url, webhook_ids)
        log(
            f"webhooks: create {stopped['with']['rps']:.0f} req/s with a webhook, "
            f"{stopped['without']['rps']:.0f} without (ratio {stopped['ratio']}); "
            f"{len(queued)} events queued"
        )

        workers.start()
        limit = 30 + len(queued) / 20
        arrived_all = receiver.wait_for(queued, limit)
        workers.check_alive()
        times = sorted(receiver.first[i][0] for i in queued if i in receiver.first)
        delivered = len(times)
        span = times[-1] - times[0] if delivered > 1 else 0.0
        result["throughput"] = {
            "events": len(queued),
            "delivered": delivered,
            "all_arrived": arrived_all,
            "events_per_s": round((delivered - 1) / span, 1) if span else None,
            "events_per_s_from_start": (
                round(delivered / (times[-1] - workers.started), 1) if times else None
            ),
            "first_arrival_after_start_s": round(times[0] - workers.started, 2) if times else None,
            "seconds": round(span, 2),
        }
        log(f"webhooks: delivery with {WORKERS} workers: {result['throughput']}")

        drain()
        log(f"webhooks: latency at {RATE:.0f} creates/s for {latency_seconds:g}s")
        answered, generator = paced_creates(base, hooked, RATE, latency_seconds)
        wanted = {task_id for task_id, _ in answered}
        by_task = _wait_for_creates(receiver, wanted, 30)
        latencies = sorted(by_task[t] - at for t, at in answered if t in by_task) or [0.0]
        result["latency"] = {
            "rate": RATE,
            "seconds": latency_seconds,
            **generator,
            "delivered": len(by_task),
            "missing": len(wanted) - len(by_task),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(_quantile(latencies, 0.95) * 1000, 1),
            "p99_ms": round(_quantile(latencies, 0.99) * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1),
        }
        log(f"webhooks: latency commit -> delivery: {result['latency']}")

        log(f"webhooks: writes while {RATE:.0f} changes/s are delivered, and while as many are not")
        paced = _write_pair(
            run_wrk,
            drain,
            cpu,
            tokens_plain,
            tokens_plain,
            write_seconds,
            alongside={
                "without": lambda s: paced_creates(base, plain, RATE, s),
                "with": lambda s: paced_creates(base, hooked, RATE, s),
            },
        )
        result["writes_while_delivering_paced"] = paced
        generated = {side: paced[side]["alongside"] for side in ("without", "with")}
        hooked_creates = {task_id for task_id, _ in generated["with"][0]}
        arrived = _wait_for_creates(receiver, hooked_creates, 30)
        result["paced_alongside"] = {
            **{side: figures for side, (_, figures) in generated.items()},
            "hooked_delivered": len(arrived),
            "hooked_missing": len(hooked_creates) - len(arrived),
        }
        log(
            f"webhooks: create {paced['with']['rps']:.0f} req/s while {RATE:.0f} changes/s are"
            f" delivered, {paced['without']['rps']:.0f} beside {RATE:.0f} plain creates/s"
            f" (ratio {paced['ratio']}); {len(arrived)} of {len(hooked_creates)} paced hooked"
            " creates delivered"
        )

        log("webhooks: writes with and without a webhook, 2 workers delivering")
        running = _write_pair(run_wrk, drain, cpu, tokens_plain, tokens_hooked, write_seconds)
        result["writes_workers_running"] = running
        backlog = pending_events(database_url, webhook_ids)
        caught_up = receiver.wait_for(backlog, 30 + len(backlog) / 20)
        workers.check_alive()
        receiver.poll()
        result["after"] = {
            "backlog_after_writes": len(backlog),
            "backlog_delivered": caught_up,
            "requests_received": receiver.requests,
            "distinct_webhook_ids": len(receiver.first),
        }
        log(
            f"webhooks: create {running['with']['rps']:.0f} req/s with a webhook, "
            f"{running['without']['rps']:.0f} without (ratio {running['ratio']}) while "
            f"delivering; backlog of {len(backlog)} delivered: {caught_up}"
        )
        result["errors"] = (
            _errors(stopped)
            + _errors(running)
            + generator["errors"]
            + (len(queued) - delivered)
            + result["latency"]["missing"]
            + _errors(paced)
            + sum(result["paced_alongside"][side]["errors"] for side in ("without", "with"))
            + result["paced_alongside"]["hooked_missing"]
            + (0 if caught_up else 1)
        )
    finally:
        workers.stop()
        receiver.stop()
        remove_webhooks(database_url, user_ids)
    return result


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "receive":
        asyncio.run(_serve(Path(sys.argv[2]), Path(sys.argv[3])))
        return
    raise SystemExit("usage: python -m bench.webhooks receive OUT PORTFILE (bench/run.py runs it)")


if __name__ == "__main__":
    main()
