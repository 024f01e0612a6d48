"""From the load's events and the faults' times: failures by cause (a failure is excused only
inside a kill window) and latency per phase."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.paced import percentile

# The load generator and the fault driver read the same monotonic clock; this covers the
# microseconds between taking a time and acting on it.
SLOP = 0.05
OUTSIDE = "outside any kill window"


@dataclass(frozen=True)
class Window:
    """When failures have an excuse. A kill (`until` None) excuses the requests in flight at
    that instant; a restart excuses every request that overlaps [at, until]."""

    cause: str
    at: float
    until: float | None = None

    def excuses(self, started: float, ended: float) -> bool:
        if self.until is None:
            return started <= self.at + SLOP and ended >= self.at - SLOP
        return started <= self.until and ended >= self.at


@dataclass(frozen=True)
class Phase:
    """A stretch of the run whose latency is reported apart from the steady state."""

    name: str
    at: float
    until: float


def is_ok(outcome: str) -> bool:
    return outcome.startswith("HTTP 2")


def classify(events: list[list[Any]], windows: list[Window]) -> dict[str, Any]:
    """Every failed request, by the first window that excuses it (else OUTSIDE), and by what
    the client saw."""
    causes: Counter[str] = Counter()
    seen: dict[str, Counter[str]] = {}
    examples: list[str] = []
    for endpoint, _, started, ended, outcome, *_ in events:
        if is_ok(outcome):
            continue
        cause = next((w.cause for w in windows if w.excuses(started, ended)), OUTSIDE)
        causes[cause] += 1
        seen.setdefault(cause, Counter())[f"{endpoint} {outcome}"] += 1
        if cause == OUTSIDE and len(examples) < 10:
            examples.append(f"{endpoint} {outcome} at {started:.3f}-{ended:.3f}")
    return {
        "by_cause": dict(causes),
        "by_cause_and_answer": {cause: dict(counter) for cause, counter in seen.items()},
        "outside_examples": examples,
        "outside": causes[OUTSIDE],
    }


def phase_of(scheduled: float, phases: list[Phase]) -> str:
    for phase in phases:
        if phase.at <= scheduled < phase.until:
            return phase.name
    return "steady"


def latency_by_phase(
    events: list[list[Any]], phases: list[Phase], load_seconds: float
) -> list[dict[str, Any]]:
    """Per phase (by each request's scheduled time; "steady" is the rest of the run):
    requests, failures, p50/p95/p99 in ms from the scheduled send to the last byte."""
    samples: dict[str, list[float]] = {"steady": []}
    for phase in phases:
        samples.setdefault(phase.name, [])
    failed: Counter[str] = Counter()
    for _, scheduled, _, ended, outcome, *_ in events:
        name = phase_of(scheduled, phases)
        samples[name].append((ended - scheduled) * 1000)
        if not is_ok(outcome):
            failed[name] += 1
    lengths = {phase.name: phase.until - phase.at for phase in phases}
    lengths["steady"] = load_seconds - sum(lengths.values())
    rows = []
    for name, values in samples.items():
        seconds = max(lengths.get(name, 0.0), 1e-9)
        rows.append(
            {
                "phase": name,
                "seconds": round(lengths.get(name, 0.0), 1),
                "requests": len(values),
                "rps": round(len(values) / seconds, 1),
                "failed": failed[name],
                "p50_ms": round(percentile(values, 0.50), 1),
                "p95_ms": round(percentile(values, 0.95), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
            }
        )
    return rows


def answers(events: list[list[Any]]) -> dict[str, int]:
    """How many requests got each answer (HTTP status or error kind)."""
    return dict(Counter(event[4] for event in events).most_common())
