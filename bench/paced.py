"""The realistic load: simulated users, each sending the bench mix at a fixed pace (open loop).

    .venv/bin/python bench/paced.py --base http://127.0.0.1:PORT --tokens bench/.data/tokens.txt \\
        --out bench/.data/paced.json [--users 100] [--seconds 60] [--rate 1] [--seed 1]

Each simulated user sends at t0 + k/rate, its t0 a random point of its first period (so the
users' requests are spread evenly, not in bursts), whether or not its previous request has been
answered: a slow server gets the same load, not less (no coordinated omission). A request's
latency runs from its scheduled send time, not the actual one, to the last byte of the answer,
so any lag of this generator counts against the server; `late_ms`, the p99 of (actual start -
scheduled time), shows whether the generator kept its schedule. One connection per request
(gunicorn's sync workers close every connection anyway), raw asyncio streams and hand-written
HTTP/1.1, so that the generator stays light beside the server on the same cores.

The mix is bench/wrk.lua's: 60% list (the same seven variants), 20% get, 10% create, 5% update,
5% complete, drawn from a seeded RNG. The tokens file has one line per bench user, "<user id>
<access token> <list id> <parent id> <sync token> <task id> ..."; simulated user i uses line
i mod n.
Errors (non-2xx, connection errors, the 10 s timeout, requests unanswered a few seconds after
the end) are counted per endpoint. Writes the summary (the dict bench/run.py's table reads)
and the raw samples as JSON.

For bench/cluster, which kills parts of the cluster under this load, `--events` also writes one
line per request (endpoint, scheduled, start and end times on the system's monotonic clock,
status or error kind, and for an answered write the task's id, title and ETag), `--marker` makes
every created title unique to the run and the simulated user, and `--start-at` starts the
schedule at a given monotonic time.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The same as bench/wrk.lua's; {list} and {parent} are the user's list and a task with subtasks.
LIST_VARIANTS = (
    "",
    "?status=pending&sort=due_at",
    "?q=report",
    "?tag=work",
    "?priority=high&sort=-updated_at",
    "?list={list}&parent=none&sort=position",
    "?parent={parent}&sort=position",
)
PRIORITIES = ("none", "low", "medium", "high")
TAG_SETS: tuple[list[str], ...] = ([], ["work"], ["home", "urgent"])
ENDPOINTS = ("list", "get", "create", "update", "complete")
WEIGHTS = (60, 20, 10, 5, 5)
READS = ("list", "get")
WRITES = ("create", "update", "complete")
TIMEOUT = 10.0
GRACE = 5.0
MAX_EXAMPLES = 10


@dataclass
class Member:
    """One simulated user: a bench user's token and tasks, and its create counter."""

    user_id: str
    host: str
    token: str
    list_id: str
    parent_id: str
    tasks: list[str]
    created: int = 0
    marker: str = ""

    def request(self, endpoint: str, rng: random.Random) -> bytes:
        """The whole HTTP/1.1 request for `endpoint` (the paths and bodies of the former locust
        load, so that results stay comparable across the switch)."""
        base = f"/api/{self.user_id}/tasks"
        if endpoint == "list":
            query = rng.choice(LIST_VARIANTS).format(list=self.list_id, parent=self.parent_id)
            return self.raw("GET", base + query)
        if endpoint == "get":
            return self.raw("GET", f"{base}/{rng.choice(self.tasks)}")
        if endpoint == "create":
            self.created += 1
            unique = self.marker or f"{self.user_id[:8]}-"
            body = {
                "title": f"Bench new task {unique}{self.created}",
                "priority": rng.choice(PRIORITIES),
                "tags": rng.choice(TAG_SETS),
            }
            return self.raw("POST", base, body)
        if endpoint == "update":
            body = {"priority": rng.choice(PRIORITIES)}
            return self.raw("PATCH", f"{base}/{rng.choice(self.tasks)}", body)
        return self.raw("PATCH", f"{base}/{rng.choice(self.tasks)}/complete", {})

    def raw(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        """Request line and headers; `Connection: close` so that a keep-alive server, too,
        ends the response with the connection (one connection per request)."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: application/json\r\n"
            "Connection: close\r\n"
        )
        if body is None:
            return (head + "\r\n").encode()
        data = json.dumps(body).encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        return head.encode() + data


@dataclass
class Tally:
    """Every outcome: latency per endpoint (failures included, at the time they failed),
    errors per endpoint and kind, how late each request started, a few failure examples."""

    samples_ms: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    errors: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    late_ms: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    events: list[list[Any]] | None = None

    def failed(self, endpoint: str, kind: str, detail: str) -> None:
        """Count one failed request (its latency is recorded by the caller)."""
        self.errors[endpoint] += 1
        self.kinds[f"{endpoint} {kind}"] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{endpoint}: {kind}: {detail}"[:300])


def read_members(path: Path, host: str, users: int, marker: str = "") -> list[Member]:
    """Simulated user i gets line i mod n of the tokens file; with a `marker`, its created
    titles carry "<marker><i>-"."""
    lines = []
    for line in path.read_text().splitlines():
        if line.strip():
            user_id, token, list_id, parent_id, _since, *tasks = line.split()
            if not tasks:
                raise SystemExit(f"{path}: user {user_id} has no task ids (get needs them)")
            lines.append((user_id, token, list_id, parent_id, tasks))
    if not lines:
        raise SystemExit(f"no users in {path}")
    members = []
    for i in range(users):
        user_id, token, list_id, parent_id, tasks = lines[i % len(lines)]
        unique = f"{marker}{i}-" if marker else ""
        members.append(
            Member(
                user_id=user_id,
                host=host,
                token=token,
                list_id=list_id,
                parent_id=parent_id,
                tasks=list(tasks),
                marker=unique,
            )
        )
    return members


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, str]:
    """Status, body and ETag ("" if none) of one HTTP/1.1 response: Content-Length, chunked,
    or up to the close."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before any answer")
    status = int(status_line.split(None, 2)[1])
    length: int | None = None
    chunked = False
    etag = ""
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"etag":
            etag = value.strip().decode(errors="replace")
    if chunked:
        parts = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return status, b"".join(parts), etag
    if length is not None:
        return status, await reader.readexactly(length), etag
    return status, await reader.read(), etag


async def send(
    host: str, port: int, endpoint: str, payload: bytes, scheduled: float, tally: Tally
) -> None:
    """One request on its own connection; records latency from the scheduled time, and the
    error if any (a cancellation at the end is recorded by the caller instead)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    tally.late_ms.append((started - scheduled) * 1000)
    outcome = ""
    written: tuple[str, str, str] | None = None
    try:
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(payload)
                await writer.drain()
                status, body, etag = await read_response(reader)
            finally:
                writer.close()
    except TimeoutError:
        outcome = "timeout"
        tally.failed(endpoint, outcome, f"no answer in {TIMEOUT:g} s")
    except Exception as error:
        # Refused or reset connections (OSError), a cut body (IncompleteReadError), an answer
        # that does not parse (ValueError, IndexError); and anything else, so that no request
        # can vanish from the counts as an unretrieved task exception.
        outcome = type(error).__name__
        tally.failed(endpoint, outcome, str(error) or repr(error))
    else:
        outcome = f"HTTP {status}"
        if not 200 <= status < 300:
            text = body[:160].decode(errors="replace")
            tally.failed(endpoint, outcome, text)
        elif tally.events is not None and endpoint in WRITES:
            written = _written(body, etag)
    ended = loop.time()
    tally.samples_ms[endpoint].append((ended - scheduled) * 1000)
    if tally.events is not None:
        tally.events.append([endpoint, scheduled, started, ended, outcome, *(written or ())])


def _written(body: bytes, etag: str) -> tuple[str, str, str] | None:
    """(task id, title, ETag) of an answered write, None when the body does not say."""
    try:
        task = json.loads(body)["data"]
        return str(task["id"]), str(task["title"]), etag
    except (ValueError, KeyError, TypeError):
        return None


async def drive(
    base: str,
    members: list[Member],
    *,
    seconds: float,
    rate: float,
    seed: int,
    grace: float = GRACE,
    start_at: float | None = None,
    record: bool = False,
) -> Tally:
    """Send every member's requests on schedule for `seconds` (from `start_at` on the monotonic
    clock, if given), then wait up to `grace` seconds for the ones still in flight (counted as
    errors if they do not finish). With `record`, every request is kept in `tally.events`."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    rng = random.Random(seed)
    tally = Tally(events=[] if record else None)
    loop = asyncio.get_running_loop()
    # A short lead, so that the first requests are not late because of the setup.
    start = max(start_at or 0.0, loop.time() + 0.05)
    end = start + seconds
    period = 1 / rate
    # (next send time, member, k): one heap entry per member, in time order.
    queue = [(start + rng.uniform(0, period), i, 0) for i in range(len(members))]
    heapq.heapify(queue)
    in_flight: dict[asyncio.Task[None], tuple[str, float]] = {}
    while queue and queue[0][0] < end:
        scheduled, index, k = heapq.heappop(queue)
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        endpoint = rng.choices(ENDPOINTS, WEIGHTS)[0]
        payload = members[index].request(endpoint, rng)
        task = loop.create_task(send(host, port, endpoint, payload, scheduled, tally))
        in_flight[task] = (endpoint, scheduled)
        task.add_done_callback(lambda done: in_flight.pop(done, None))
        # From t0 and k, not by adding periods up, so that no rounding error accumulates.
        first = scheduled - k * period
        heapq.heappush(queue, (first + (k + 1) * period, index, k + 1))
    if in_flight:
        await asyncio.wait(list(in_flight), timeout=max(0.0, end + grace - loop.time()))
    now = loop.time()
    for task, (endpoint, scheduled) in list(in_flight.items()):
        task.cancel()
        tally.failed(endpoint, "unfinished", f"no answer {grace:g} s after the end of the run")
        tally.samples_ms[endpoint].append((now - scheduled) * 1000)
        if tally.events is not None:
            tally.events.append([endpoint, scheduled, scheduled, now, "unfinished"])
    await asyncio.gather(*in_flight, return_exceptions=True)
    return tally


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (exact on the raw samples)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(
    tally: Tally, *, users: int, seconds: float, rate: float, wall: float, cpu: float
) -> dict[str, Any]:
    """The rows of bench/run.py's table: per endpoint, reads, writes and all."""
    groups: dict[str, tuple[str, ...]] = {name: (name,) for name in ENDPOINTS}
    groups.update(reads=READS, writes=WRITES, all=ENDPOINTS)
    rows = []
    for group, names in groups.items():
        values = [value for name in names for value in tally.samples_ms[name]]
        rows.append(
            {
                "endpoint": group,
                "requests": len(values),
                "rps": round(len(values) / seconds, 1),
                "p50_ms": round(percentile(values, 0.50), 1),
                "p95_ms": round(percentile(values, 0.95), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "mean_ms": round(statistics.fmean(values), 1) if values else None,
                "errors": sum(tally.errors[name] for name in names),
            }
        )
    return {
        "generator": "bench/paced.py",
        "users": users,
        "rate": rate,
        "seconds": seconds,
        "wall_seconds": round(wall, 1),
        "late_ms": round(percentile(tally.late_ms, 0.99), 2),
        "late_p50_ms": round(percentile(tally.late_ms, 0.50), 2),
        "late_max_ms": round(max(tally.late_ms, default=float("nan")), 2),
        "cpu_seconds": round(cpu, 2),
        "rows": rows,
        "error_kinds": dict(tally.kinds),
        "failure_examples": tally.examples,
    }


def run_load(
    base: str,
    tokens: Path,
    *,
    users: int = 100,
    seconds: float = 60,
    rate: float = 1.0,
    seed: int = 1,
    marker: str = "",
    start_at: float | None = None,
    events: Path | None = None,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The summary and the raw latencies (ms per endpoint) of one run; with `events`, one JSON
    line per request written there."""
    members = read_members(tokens, urlsplit(base).netloc, users, marker)
    wall, cpu = time.monotonic(), time.process_time()
    tally = asyncio.run(
        drive(
            base,
            members,
            seconds=seconds,
            rate=rate,
            seed=seed,
            start_at=start_at,
            record=events is not None,
        )
    )
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    summary = summarize(tally, users=users, seconds=seconds, rate=rate, wall=wall, cpu=cpu)
    if events is not None:
        events.write_text("".join(json.dumps(event) + "\n" for event in tally.events or ()))
    return summary, tally.samples_ms


def main() -> int:
    """Run once and write {"summary": ..., "samples_ms": ...} to --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--tokens", type=Path, required=True, help="the bench tokens file")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--users", type=int, default=100, help="simulated users (100)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the run (60)")
    parser.add_argument("--rate", type=float, default=1.0, help="requests/s per user (1)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed: phases and the mix (1)")
    parser.add_argument("--marker", default="", help="makes created titles unique to this run")
    parser.add_argument(
        "--start-at", type=float, help="when to start, on the monotonic clock (default: now)"
    )
    parser.add_argument("--events", type=Path, help="write one JSON line per request here")
    args = parser.parse_args()
    if args.users < 1 or args.seconds <= 0 or args.rate <= 0:
        parser.error("--users, --seconds and --rate must be positive")
    summary, samples = run_load(
        args.base,
        args.tokens,
        users=args.users,
        seconds=args.seconds,
        rate=args.rate,
        seed=args.seed,
        marker=args.marker,
        start_at=args.start_at,
        events=args.events,
    )
    args.out.write_text(json.dumps({"summary": summary, "samples_ms": samples}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
