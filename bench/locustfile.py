"""Realistic load for bench/run.py: each simulated user sends about one request a second.

    BENCH_TOKENS=bench/.data/tokens.txt BENCH_LOCUST_OUT=out.json \\
        locust -f bench/locustfile.py --headless -u 100 -r 100 -t 60s -H http://127.0.0.1:PORT

Pacing is constant_throughput(1): a user waits what is left of its second after each answer, so
the offered load stays near 100 requests/s however fast the server is (unless it falls behind).
BENCH_LOCUST_RATE sets another pace per user, and BENCH_LOCUST_STAGGER=1 starts each user at a
random point of its first period, so that the users' requests arrive evenly instead of together
(bench/soak.py sets both; locust starts users in whole-second batches, which pacing keeps).
The mix is the saturation mix's: 60% list (the same five variants as bench/wrk.lua), 20% get,
10% create, 5% update, 5% complete. Simulated user i uses bench user i's token (round-robin when
there are fewer bench users). Every response time is written to BENCH_LOCUST_OUT at the end, so
bench/run.py computes exact percentiles per endpoint and for reads and writes together.
"""

from __future__ import annotations

import itertools
import json
import os
import random

import gevent
from locust import FastHttpUser, constant_throughput, events, task

LIST_VARIANTS = (
    "",
    "?status=pending&sort=due_at",
    "?q=report",
    "?tag=work",
    "?priority=high&sort=-updated_at",
)
PRIORITIES = ("none", "low", "medium", "high")


def _read_users(path: str) -> list[tuple[str, str, list[str]]]:
    users = []
    with open(path) as lines:
        for line in lines:
            user_id, token, *tasks = line.split()
            users.append((user_id, token, tasks))
    return users


USERS = _read_users(os.environ["BENCH_TOKENS"])
RATE = float(os.environ.get("BENCH_LOCUST_RATE", "1"))
STAGGER = os.environ.get("BENCH_LOCUST_STAGGER") == "1"
_next_user = itertools.count()
_samples: dict[str, list[float]] = {}
_failures: dict[str, int] = {}
_failure_examples: list[str] = []


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs):
    _samples.setdefault(name, []).append(response_time)
    if exception is not None:
        _failures[name] = _failures.get(name, 0) + 1
        if len(_failure_examples) < 10:
            _failure_examples.append(f"{name}: {exception!r}"[:300])


@events.quitting.add_listener
def _write(environment, **kwargs):
    with open(os.environ["BENCH_LOCUST_OUT"], "w") as out:
        json.dump(
            {"samples_ms": _samples, "failures": _failures, "examples": _failure_examples}, out
        )


class Member(FastHttpUser):
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        self.user_id, token, self.task_ids = USERS[next(_next_user) % len(USERS)]
        self.auth = {"Authorization": f"Bearer {token}"}
        self.base = f"/api/{self.user_id}/tasks"
        self.created = 0
        if STAGGER:
            gevent.sleep(random.uniform(0, 1 / RATE))

    @task(60)
    def list(self) -> None:
        self.client.get(self.base + random.choice(LIST_VARIANTS), headers=self.auth, name="list")

    @task(20)
    def get(self) -> None:
        self.client.get(
            f"{self.base}/{random.choice(self.task_ids)}", headers=self.auth, name="get"
        )

    @task(10)
    def create(self) -> None:
        self.created += 1
        body = {
            "title": f"Bench new task {self.user_id[:8]}-{self.created}",
            "priority": random.choice(PRIORITIES),
            "tags": random.choice(([], ["work"], ["home", "urgent"])),
        }
        self.client.post(self.base, json=body, headers=self.auth, name="create")

    @task(5)
    def update(self) -> None:
        path = f"{self.base}/{random.choice(self.task_ids)}"
        body = {"priority": random.choice(PRIORITIES)}
        self.client.patch(path, json=body, headers=self.auth, name="update")

    @task(5)
    def complete(self) -> None:
        path = f"{self.base}/{random.choice(self.task_ids)}/complete"
        self.client.patch(path, json={}, headers=self.auth, name="complete")
