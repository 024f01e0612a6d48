"""What must hold across the cluster: a per-user rate limit shared by every instance, a logout
that holds everywhere at once, and every acknowledged write in the database exactly once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.common.etags import etag_of
from bench.load_data import PASSWORD

WRITES = ("create", "update", "complete")


def register(base: str) -> dict[str, str]:
    """A fresh user, registered through `base`; its id and access token."""
    email = f"cluster-{uuid.uuid4().hex[:12]}@example.com"
    answer = httpx.post(
        f"{base}/api/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    data = answer.json()["data"]
    return {"id": data["user"]["id"], "token": data["access_token"]}


def shared_rate_limit(haproxy: str, limit: int, extra: int = 15) -> dict[str, Any]:
    """One fresh user sends `limit + extra` requests through HAProxy, round-robin over the
    instances: with counters shared in Redis exactly `limit` pass and the rest are 429, and
    the ones that pass came from every instance (with counters per instance, all would pass).
    """
    user = register(haproxy)
    headers = {"Authorization": f"Bearer {user['token']}"}
    statuses: Counter[int] = Counter()
    passed_by: Counter[str] = Counter()
    with httpx.Client(base_url=haproxy, headers=headers, timeout=10) as client:
        for _ in range(limit + extra):
            answer = client.get("/api/auth/me")
            statuses[answer.status_code] += 1
            if answer.status_code == 200:
                passed_by[answer.headers.get("X-Served-By", "?")] += 1
    holds = statuses == Counter({200: limit, 429: extra}) and len(passed_by) >= 3
    return {
        "limit_per_minute": limit,
        "sent": limit + extra,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "passed_by_instance": dict(sorted(passed_by.items())),
        "holds": holds,
    }


def logout_everywhere(haproxy: str, instances: dict[str, str]) -> dict[str, Any]:
    """A token good on every instance; a logout through the first one; the very next call on
    each of the others is refused (401 token_revoked), with no delay in between."""
    user = register(haproxy)
    headers = {"Authorization": f"Bearer {user['token']}"}
    names = list(instances)
    before = {
        name: httpx.get(f"{base}/api/auth/me", headers=headers, timeout=10).status_code
        for name, base in instances.items()
    }
    first = instances[names[0]]
    logout = httpx.post(f"{first}/api/auth/logout", headers=headers, timeout=10).status_code
    after: dict[str, str] = {}
    for name in names[1:]:
        answer = httpx.get(f"{instances[name]}/api/auth/me", headers=headers, timeout=10)
        code = answer.json().get("code", "") if answer.status_code != 200 else ""
        after[name] = f"{answer.status_code} {code}".strip()
    holds = (
        all(status == 200 for status in before.values())
        and logout == 204
        and all(value == "401 token_revoked" for value in after.values())
    )
    return {
        "before": before,
        "logout_through": names[0],
        "logout_status": logout,
        "after": after,
        "holds": holds,
    }


def read_events(path: Path) -> list[list[Any]]:
    """bench/paced.py's --events lines."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def nothing_lost(events: list[list[Any]], database_url: str, marker: str) -> dict[str, Any]:
    """Every create answered 201 is stored exactly once with the id it was answered with, no
    title of this run is stored twice, and every update or completion answered 200 is in the
    stored task's history: its ETag is that of a version up to the stored one (versions count
    every change of a task, one by one). And every acknowledged write is in the change feed:
    its task has a `changes` row numbered by the write (seq > 0: not the migration's backfill),
    which is what a client's `GET /changes` pages through (an update that changed nothing is
    no change: only tasks whose version moved, and created ones, are expected)."""
    acknowledged: dict[str, str] = {}
    changes: list[tuple[str, str]] = []
    for event in events:
        endpoint, outcome, written = event[0], event[4], event[5:]
        if endpoint not in WRITES or not outcome.startswith("HTTP 2") or len(written) < 3:
            continue
        task_id, title, etag = written[:3]
        if endpoint == "create":
            acknowledged[title] = task_id
        else:
            changes.append((task_id, etag))
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        stored_rows = conn.execute(
            "SELECT title, count(*), min(id::text) FROM tasks WHERE title LIKE %s GROUP BY title",
            (f"Bench new task {marker}%",),
        ).fetchall()
        ids = sorted({task_id for task_id, _ in changes})
        versions = dict(
            conn.execute(
                "SELECT id::text, version FROM tasks WHERE id = ANY(%s::uuid[])", (ids,)
            ).fetchall()
        )
        # A create always changes something; an update or completion that changed nothing
        # (the values it already had) is no change, and its task's version stays at 1.
        changed = {task_id for task_id in ids if versions.get(task_id, 1) > 1}
        written = sorted(changed | set(acknowledged.values()))
        in_feed = {
            row[0]
            for row in conn.execute(
                "SELECT object_id::text FROM changes"
                " WHERE kind = 'task' AND object_id = ANY(%s::uuid[]) AND seq > 0",
                (written,),
            )
        }
    stored = {title: (count, task_id) for title, count, task_id in stored_rows}
    lost = [title for title, task_id in acknowledged.items() if stored.get(title) != (1, task_id)]
    doubled = [title for title, (count, _) in stored.items() if count > 1]
    unanswered = [title for title in stored if title not in acknowledged]
    known: dict[str, set[str]] = {}
    for task_id, version in versions.items():
        known[task_id] = {etag_of(uuid.UUID(task_id), v) for v in range(1, version + 1)}
    lost_changes = [
        (task_id, etag) for task_id, etag in changes if etag not in known.get(task_id, set())
    ]
    missing_from_feed = [task_id for task_id in written if task_id not in in_feed]
    return {
        "creates_acknowledged": len(acknowledged),
        "creates_stored": len(stored),
        "creates_lost": len(lost),
        "creates_stored_twice": len(doubled),
        "creates_stored_but_unanswered": len(unanswered),
        "changes_acknowledged": len(changes),
        "changes_lost": len(lost_changes),
        "tasks_missing_from_the_change_feed": len(missing_from_feed),
        "examples": {
            "lost": lost[:5],
            "doubled": doubled[:5],
            "lost_changes": lost_changes[:5],
            "missing_from_the_change_feed": missing_from_feed[:5],
        },
        "holds": not lost and not doubled and not lost_changes and not missing_from_feed,
    }
