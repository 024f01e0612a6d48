"""The change feed and batch measurements of `make bench` (bench/run.py calls them).

- since_tokens: each bench user's latest sync token (its snapshot paged to the end), for the
  wrk scenario `sync_empty` (a sync with nothing new).
- incremental: 100 changes by one user, then the sync page that reports them, timed.
- snapshot: a full snapshot of the 10,000-task user in pages of 500, timed, with the growth of
  the workers' RSS while it runs.
- batch: POST /tasks/batch with 100 creates, timed one after the other.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import psutil

PAGE = 500


def _sync(client: httpx.Client, user_id: str, since: str | None, limit: int = PAGE) -> dict:
    params: dict[str, Any] = {"limit": limit}
    if since:
        params["since"] = since
    answer = client.get(f"/api/{user_id}/changes", params=params)
    answer.raise_for_status()
    return answer.json()


def latest_token(client: httpx.Client, user_id: str) -> tuple[str, int]:
    """The token after the user's whole snapshot, and how many objects it had."""
    since, objects = None, 0
    while True:
        page = _sync(client, user_id, since, limit=1000)
        objects += len(page["data"])
        since = page["meta"]["next_since"]
        if not page["meta"]["has_more"]:
            return since, objects


def since_tokens(base: str, users: list[tuple[str, str]]) -> dict[str, str]:
    """{user id: the latest sync token} for (user id, access token) pairs."""
    tokens = {}
    for user_id, token in users:
        with httpx.Client(base_url=base, timeout=30, headers=_auth(token)) as client:
            tokens[user_id] = latest_token(client, user_id)[0]
    return tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "runs": len(ordered),
    }


def incremental(base: str, user_id: str, token: str, *, rounds: int) -> dict[str, Any]:
    """Each round: 100 writes (50 creates, 50 updates of them), then one sync page from the
    token before them, timed; the page must report exactly the 50 tasks."""
    samples = []
    with httpx.Client(base_url=base, timeout=30, headers=_auth(token)) as client:
        since, _ = latest_token(client, user_id)
        for round_ in range(rounds):
            made = []
            for i in range(50):
                answer = client.post(
                    f"/api/{user_id}/tasks", json={"title": f"Bench new task sync {round_}-{i}"}
                )
                answer.raise_for_status()
                made.append(answer.json()["data"]["id"])
            for task_id in made:
                client.patch(f"/api/{user_id}/tasks/{task_id}", json={"priority": "high"})
            started = time.perf_counter()
            page = _sync(client, user_id, since)
            samples.append(time.perf_counter() - started)
            reported = {change["id"] for change in page["data"]}
            if reported != set(made) or page["meta"]["has_more"]:
                raise SystemExit(f"incremental sync reported {len(reported)} of 50 tasks")
            since = page["meta"]["next_since"]
    return {"changes": 100, "objects": 50, **_ms(samples)}


def _worker_rss(master_pid: int) -> dict[int, int]:
    return {child.pid: child.memory_info().rss for child in psutil.Process(master_pid).children()}


def snapshot(base: str, user_id: str, token: str, master_pid: int, *, rounds: int) -> dict:
    """Full snapshots in pages of PAGE, timed; the largest growth of any worker's RSS from
    before the first to its peak during them."""
    before = _worker_rss(master_pid)
    peak = dict(before)
    samples, pages, objects = [], 0, 0
    with httpx.Client(base_url=base, timeout=60, headers=_auth(token)) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            since, pages, objects = None, 0, 0
            while True:
                page = _sync(client, user_id, since)
                pages += 1
                objects += len(page["data"])
                for pid, rss in _worker_rss(master_pid).items():
                    peak[pid] = max(peak.get(pid, 0), rss)
                since = page["meta"]["next_since"]
                if not page["meta"]["has_more"]:
                    break
            samples.append(time.perf_counter() - started)
    growth = max(peak[pid] - before.get(pid, peak[pid]) for pid in peak)
    return {
        "objects": objects,
        "pages": pages,
        "rss_growth_mb": round(growth / 2**20, 1),
        **_ms(samples),
    }


def batch(base: str, user_id: str, token: str, *, rounds: int) -> dict[str, Any]:
    """POST /tasks/batch with 100 creates, one after the other, timed."""
    samples = []
    with httpx.Client(base_url=base, timeout=30, headers=_auth(token)) as client:
        for round_ in range(rounds):
            operations = [
                {"op": "create", "data": {"title": f"Bench new task batch {round_}-{i}"}}
                for i in range(100)
            ]
            started = time.perf_counter()
            answer = client.post(f"/api/{user_id}/tasks/batch", json={"operations": operations})
            samples.append(time.perf_counter() - started)
            answer.raise_for_status()
    return {"operations": 100, **_ms(samples)}
