"""The soak test: `make soak`, the realistic mix at a steady rate for 10 minutes.

    .venv/bin/python -m bench.soak                           # 10 min at 25 req/s, 100 users
    .venv/bin/python -m bench.soak --minutes 2 --rate 40     # SOAK_ARGS="..." through make

Built from bench/run.py's pieces: the 1M-task bench database (load_data, loaded once and
reused), gunicorn with the production settings, 100 users logged in through the API, and
bench/paced.py's mix (60% list, 20% get, 10% create, 5% update, 5% complete) on a fixed
schedule: each user sends one request every users/rate seconds, starting at a random point of
its first period, so the offered load is even rather than in bursts, and whether or not its
previous request was answered (open loop). A 30 s warm-up comes first, then --minutes of the
same load. Every worker's RSS is sampled every 10 s.

Prints duration, requests, failures, p50/p95/p99 and, per worker, the RSS at the start (after
the warm-up), at the end and the max; writes bench/results/soak-latest.json (git-ignored) and
bench/SOAK.md (committed: the latest result). Exits 1 on any failed request, any ERROR or
CRITICAL line in the server log, a worker replaced during the run, or a worker whose RSS grew by
--max-growth-mb or more between the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.load_data import Dataset, email_of, ensure_loaded
from bench.run import (
    DATA,
    FULL_URL,
    RESULTS,
    MemorySampler,
    Settings,
    bench_users,
    git_commit,
    gunicorn,
    log_in,
    preflight,
    remove_created_tasks,
    run_paced,
    wait_for_workers,
    write_tokens,
)

BENCH = Path(__file__).resolve().parent
SOAK_MD = BENCH / "SOAK.md"
MB = 2**20


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def other_bench_running() -> bool:
    """Whether a bench/run.py (make bench) shares the machine: the figures are then noisy, and
    its start deletes the login sessions this run's tokens rely on."""
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(part.endswith("bench/run.py") for part in process.info["cmdline"] or ()):
                return True
        except psutil.Error:
            continue
    return False


def wait_for_other_bench(minutes: float) -> float:
    """Start only once no bench/run.py runs: both delete the login sessions (so each other's
    tokens) when they start. Returns the seconds waited; gives up after `minutes`."""
    began = time.monotonic()
    deadline = began + minutes * 60
    if other_bench_running():
        log(f"bench/run.py is running: waiting for it to finish (up to {minutes:g} min)")
    while other_bench_running():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench/run.py still running after {minutes:g} min: not starting")
        time.sleep(10)
    return round(time.monotonic() - began, 1)


def machine(url: str, workers: int) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "unknown"
    except psycopg.Error:
        postgres = "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "gunicorn_workers": workers,
    }


def memory_report(
    series: list[tuple[float, dict[int, int]]], start_at: float, end_at: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per worker: RSS at the first sample from `start_at` (the warm-up's end), at the last one
    up to `end_at` (the load's end), and the max over the whole run; plus what went wrong."""
    problems: list[str] = []
    inside = [(t, snap) for t, snap in series if start_at <= t <= end_at and snap]
    if len(inside) < 2:
        return [], [f"only {len(inside)} RSS samples between the warm-up and the end"]
    (_, start), (_, end) = inside[0], inside[-1]
    if set(start) != set(end):
        gone = sorted(set(start) - set(end))
        new = sorted(set(end) - set(start))
        problems.append(f"workers replaced during the run: gone {gone}, new {new}")
    rows = []
    for pid in sorted(start):
        if pid not in end:
            continue
        peak = max(snap.get(pid, 0) for _, snap in series)
        rows.append(
            {
                "pid": pid,
                "start_mb": round(start[pid] / MB, 1),
                "end_mb": round(end[pid] / MB, 1),
                "growth_mb": round((end[pid] - start[pid]) / MB, 1),
                "max_mb": round(peak / MB, 1),
            }
        )
    return rows, problems


def timeline(
    series: list[tuple[float, dict[int, int]]], start_at: float, end_at: float, step: float = 60
) -> list[dict[str, Any]]:
    """One sample a minute (nearest to each mark) from the warm-up's end to the load's end."""
    inside = [(t, snap) for t, snap in series if start_at <= t <= end_at and snap]
    marks: list[tuple[float, dict[int, int]]] = []
    mark = start_at
    while inside and mark <= end_at + step / 2:
        t, snap = min(inside, key=lambda item: abs(item[0] - mark))
        if not marks or marks[-1][0] != t:
            marks.append((t, snap))
        mark += step
    if inside and marks[-1][0] != inside[-1][0]:
        marks.append(inside[-1])
    return [
        {
            "minute": round((t - start_at) / 60, 1),
            "rss_mb": {str(pid): round(rss / MB, 1) for pid, rss in sorted(snap.items())},
        }
        for t, snap in marks
    ]


def summary_lines(report: dict[str, Any]) -> list[str]:
    s, lat, gen = report["settings"], report["latency"], report["generator"]
    lines = [
        f"Task API soak {report['date']}, commit {report['git_commit'][:12]}, "
        f"{report['machine']['cores']} cores, {report['machine']['gunicorn_workers']} workers",
        f"load: {s['users']} simulated users (bench/paced.py) x 1 request every "
        f"{s['users'] / s['rate']:.0f} s = {s['rate']:g} req/s offered, the bench mix; "
        f"{s['warmup_seconds']} s warm-up + {s['minutes']:g} min",
        f"duration   {report['duration_seconds']:.0f} s of load "
        f"({report['wall_seconds']:.0f} s wall, with data check, start and logins)",
        f"machine    1-min load average each minute: {report['load_average_per_minute']}",
        f"requests   {report['requests']:,} ({report['achieved_rps']:.1f} req/s achieved)",
        f"failures   {report['failures']} failed requests, "
        f"{report['server_error_lines']} server ERROR/CRITICAL log lines",
        f"latency    p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, "
        f"p99 {lat['p99_ms']:.1f} ms (every request, warm-up included)",
        f"generator  sends late by p99 {gen['late_ms']:.1f} ms (max {gen['late_max_ms']:.1f} ms), "
        f"{gen['cpu_seconds']:.1f} CPU s",
    ]
    for row in report["memory"]:
        lines.append(
            f"worker {row['pid']:<7} RSS start {row['start_mb']:.1f} MB, end {row['end_mb']:.1f} "
            f"MB ({row['growth_mb']:+.1f} MB), max {row['max_mb']:.1f} MB"
        )
    lines.extend(f"PROBLEM    {problem}" for problem in report["problems"])
    lines.append(f"verdict    {report['verdict']}")
    return lines


def write_markdown(report: dict[str, Any]) -> None:
    s, m = report["settings"], report["machine"]
    lat, gen = report["latency"], report["generator"]
    out = [
        "# Soak test: latest result",
        "",
        "Written by `make soak` (`bench/soak.py`); rerun it to refresh this page. The realistic "
        "mix of `make bench` (60% list, 20% get, 10% create, 5% update, 5% complete) at a "
        "steady rate against gunicorn with the production settings on the 1M-task bench "
        "database, sent by `bench/paced.py` on a fixed schedule (open loop: latency counts "
        "from each request's scheduled send time); every worker's RSS sampled every "
        f"{s['sample_every']:g} s. It fails on any failed request, any server ERROR line, a "
        f"replaced worker, or a worker growing by {s['max_growth_mb']:g} MB or more from the "
        "end of the warm-up to the end.",
        "",
        f"**{report['verdict']}**",
        "",
        "| | |",
        "|---|---|",
        f"| date | {report['date']} |",
        f"| commit | `{report['git_commit']}` |",
        f"| machine | {m['cpu']}, {m['cores']} cores, {m['memory_gb']:g} GB; Linux "
        f"{m['kernel']}; Python {m['python']}; PostgreSQL {m['postgresql']} |",
        f"| server | gunicorn.conf.py, {m['gunicorn_workers']} sync workers, APP_ENV=production, "
        "rate limits off, LOG_LEVEL=WARNING |",
        f"| load | {s['users']} simulated users (`bench/paced.py`, open loop), each 1 request "
        f"every {s['users'] / s['rate']:.0f} s = **{s['rate']:g} req/s** offered; "
        f"{s['warmup_seconds']} s warm-up + {s['minutes']:g} min |",
        f"| duration | {report['duration_seconds']:.0f} s of load |",
        "| load average | "
        + (", ".join(f"{x:.2f}" for x in report["load_average_per_minute"]) or "-")
        + " (1-minute, each minute; the soak alone keeps it around 1) |",
        f"| requests | {report['requests']:,} ({report['achieved_rps']:.1f} req/s achieved) |",
        f"| failures | **{report['failures']}** failed requests; {report['server_error_lines']} "
        "server ERROR/CRITICAL log lines |",
        f"| latency, all requests | p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, "
        f"p99 {lat['p99_ms']:.1f} ms, from each request's scheduled send time |",
        f"| generator | sends late by p99 {gen['late_ms']:.1f} ms (max {gen['late_max_ms']:.1f} "
        f"ms); {gen['cpu_seconds']:.1f} CPU seconds |",
        "",
        "| endpoint | requests | p50 ms | p95 ms | p99 ms | errors |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for row in report["endpoints"]:
        out.append(
            f"| {row['endpoint']} | {row['requests']:,} | {row['p50_ms']:.1f} | "
            f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} |"
        )
    out += [
        "",
        "Worker RSS (start = after the warm-up; max = over the whole run):",
        "",
        "| worker pid | start MB | end MB | growth MB | max MB |",
        "|---|--:|--:|--:|--:|",
    ]
    for row in report["memory"]:
        out.append(
            f"| {row['pid']} | {row['start_mb']:.1f} | {row['end_mb']:.1f} | "
            f"{row['growth_mb']:+.1f} | {row['max_mb']:.1f} |"
        )
    pids = [str(row["pid"]) for row in report["memory"]]
    if report["timeline"] and pids:
        out += [
            "",
            "RSS over time, MB (one sample a minute after the warm-up):",
            "",
            "| minute | " + " | ".join(pids) + " |",
            "|--:|" + "--:|" * len(pids),
        ]
        for point in report["timeline"]:
            cells = [f"{point['rss_mb'].get(pid, float('nan')):.1f}" for pid in pids]
            out.append(f"| {point['minute']:g} | " + " | ".join(cells) + " |")
    if report["problems"]:
        out += ["", "Problems:", ""] + [f"- {problem}" for problem in report["problems"]]
    SOAK_MD.write_text("\n".join(out) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="after the warm-up (10)")
    parser.add_argument("--rate", type=float, default=25, help="offered requests/s, total (25)")
    parser.add_argument(
        "--users", type=int, default=100, help="simulated users, 1 token each (100)"
    )
    parser.add_argument("--warmup", type=int, default=30, help="seconds before the start RSS (30)")
    parser.add_argument("--sample-every", type=float, default=10, help="RSS sampling period (10)")
    parser.add_argument(
        "--max-growth-mb",
        type=float,
        default=5,
        help="fail when a worker's RSS grows this much from start to end (5)",
    )
    parser.add_argument("--database-url", help="default: $BENCH_DATABASE_URL or taskapi_bench")
    parser.add_argument(
        "--wait-for-bench",
        type=float,
        default=15,
        metavar="MIN",
        help="wait up to MIN minutes for a running bench/run.py to finish (15)",
    )
    args = parser.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or not 1 <= args.users <= 1_000:
        parser.error("--minutes and --rate must be positive, --users 1 to 1000")
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or FULL_URL
    load_seconds = args.warmup + round(args.minutes * 60)
    settings = Settings(
        quick=False,
        database_url=url,
        users=1_000,
        tasks_per_user=1_000,
        saturation_seconds=0,
        realistic_seconds=load_seconds,
        growth_seconds=0,
        connections=0,
        threads=0,
        realistic_users=args.users,
        profile_seconds=0,
        strict=False,
    )
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    wait_for_other_bench(args.wait_for_bench)
    began = time.monotonic()
    ensure_loaded(url, Dataset(settings.users, settings.tasks_per_user))
    removed = remove_created_tasks(url)
    if removed:
        log(f"removed {removed:,} tasks created by earlier runs")
    log_path = DATA / "gunicorn-soak.log"
    # Access tokens must outlive the run (the bench's 120 minutes, or more for a longer soak).
    token_minutes = max(120, round(load_seconds / 60) + 30)
    overlap = False
    with gunicorn(settings, log_path, {"JWT_ACCESS_TOKEN_MINUTES": str(token_minutes)}) as (
        base,
        process,
    ):
        workers = wait_for_workers(process.pid)
        log(f"gunicorn ready at {base} with {workers} workers")
        emails = [email_of(i) for i in range(1, min(args.users, settings.users) + 1)]
        logged = log_in(base, emails)
        users = bench_users(url, logged, emails)
        tokens = DATA / "tokens-soak.txt"
        write_tokens(tokens, users)
        preflight(base, users[0])
        log(f"logged {len(logged)} users in; machine: {machine(url, workers)}")

        sampler = MemorySampler(process.pid, every=args.sample_every)
        sampler.start()
        per_user = args.rate / args.users
        log(
            f"load: {args.users} users x {per_user:g} req/s = {args.rate:g} req/s for "
            f"{args.warmup} s warm-up + {args.minutes:g} min"
        )
        outcome: dict[str, Any] = {}

        def load() -> None:
            try:
                outcome["realistic"] = run_paced(
                    base, tokens, settings, rate=per_user, name="paced-soak"
                )
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                outcome["error"] = error

        load_started = time.monotonic() - sampler.began
        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        # run_paced has its own timeout (the run + 60 s); this bound is only a backstop.
        deadline = time.monotonic() + load_seconds + 180
        next_report = time.monotonic() + 60
        # The machine's 1-minute load average each minute: this run alone keeps it around 1;
        # much more means something else (tests, another bench, CI) shared the 2 cores.
        loads: list[float] = []
        while worker.is_alive() and time.monotonic() < deadline:
            worker.join(timeout=5)
            if time.monotonic() >= next_report:
                next_report += 60
                overlap = overlap or other_bench_running()
                loads.append(round(os.getloadavg()[0], 2))
                latest = sampler.series[-1][1] if sampler.series else {}
                rss = ", ".join(f"{pid}: {v / MB:.1f}" for pid, v in sorted(latest.items()))
                elapsed = time.monotonic() - sampler.began - load_started
                log(
                    f"{elapsed:4.0f}/{load_seconds} s; load average {loads[-1]:.2f}; "
                    f"worker RSS MB {rss}"
                )
        load_ended = time.monotonic() - sampler.began
        sampler.stop()
        if worker.is_alive():
            raise SystemExit("bench/paced.py did not finish in time")
        if "error" in outcome:
            raise outcome["error"]
        realistic = outcome["realistic"]

    start_at = load_started + args.warmup
    memory, problems = memory_report(sampler.series, start_at, load_ended)
    over = [row for row in memory if row["growth_mb"] >= args.max_growth_mb]
    for row in over:
        problems.append(
            f"worker {row['pid']} grew {row['growth_mb']:+.1f} MB (limit {args.max_growth_mb:g})"
        )
    rows = {row["endpoint"]: row for row in realistic["rows"]}
    everything = rows["all"]
    failures = everything["errors"]
    if failures:
        problems.append(f"{failures} failed requests: {realistic['failure_examples'][:3]}")
    errors = [
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if "ERROR" in line or "CRITICAL" in line
    ]
    if errors:
        problems.append(f"{len(errors)} server ERROR/CRITICAL lines, first: {errors[0][:200]}")
    if overlap:
        problems.append(
            "bench/run.py ran during the soak: figures are noisy, and its start revokes this "
            "run's tokens (401s) (not a failure)"
        )
    fatal = [p for p in problems if not p.endswith("(not a failure)")]
    flat = bool(memory) and not over and not any("replaced" in p for p in problems)
    verdict = ("memory flat" if flat else "memory NOT flat") + (
        ", no errors" if not failures and not errors else ", ERRORS"
    )
    verdict = ("PASS: " if not fatal else "FAIL: ") + verdict
    report: dict[str, Any] = {
        "mode": "soak",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine(url, workers),
        "settings": {
            "minutes": args.minutes,
            "warmup_seconds": args.warmup,
            "rate": args.rate,
            "users": args.users,
            "per_user_rate": per_user,
            "sample_every": args.sample_every,
            "max_growth_mb": args.max_growth_mb,
            "database": url.rsplit("/", 1)[-1],
        },
        "duration_seconds": realistic["seconds"],
        "wall_seconds": round(time.monotonic() - began, 1),
        "requests": everything["requests"],
        "achieved_rps": round(everything["requests"] / realistic["seconds"], 1),
        "failures": failures,
        "failure_examples": realistic["failure_examples"],
        "server_error_lines": len(errors),
        "server_error_examples": errors[:5],
        "latency": {key: everything[key] for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")},
        "generator": {
            key: realistic[key] for key in ("late_ms", "late_max_ms", "cpu_seconds", "error_kinds")
        },
        "endpoints": realistic["rows"],
        "memory": memory,
        "timeline": timeline(sampler.series, start_at, load_ended),
        "rss_series": [
            {
                "t": round(t - load_started, 1),
                "rss_mb": {str(p): round(v / MB, 1) for p, v in s.items()},
            }
            for t, s in sampler.series
        ],
        "load_average_per_minute": loads,
        "problems": problems,
        "verdict": verdict,
        "passed": not fatal,
    }
    print()
    print("\n".join(summary_lines(report)))
    (RESULTS / "soak-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report)
    print(f"wrote {RESULTS / 'soak-latest.json'} and {SOAK_MD}")
    return 0 if not fatal else 1


if __name__ == "__main__":
    sys.exit(main())
