"""bench/cluster's verdict: which failures a kill excuses, and latency per phase."""

from __future__ import annotations

from bench.cluster.analysis import OUTSIDE, Phase, Window, classify, latency_by_phase


def event(started: float, ended: float, outcome: str = "HTTP 502", endpoint: str = "create"):
    """A bench/paced.py --events line, scheduled when it started."""
    return [endpoint, started, started, ended, outcome]


class TestKillWindow:
    kill = Window("instance-2 SIGKILL", at=10.0)

    def test_excuses_a_request_in_flight_at_the_kill(self):
        assert self.kill.excuses(9.9, 10.2)

    def test_does_not_excuse_a_request_sent_after_the_kill(self):
        assert not self.kill.excuses(10.5, 10.6)

    def test_does_not_excuse_a_request_answered_before_the_kill(self):
        assert not self.kill.excuses(9.0, 9.5)


class TestRestartWindow:
    restart = Window("PgBouncer restart", at=20.0, until=20.3)

    def test_excuses_a_request_sent_during_the_restart(self):
        assert self.restart.excuses(20.1, 20.15)

    def test_excuses_a_request_in_flight_when_it_began(self):
        assert self.restart.excuses(19.9, 20.05)

    def test_does_not_excuse_a_request_sent_once_it_accepts_again(self):
        assert not self.restart.excuses(20.5, 20.52)


def test_a_failure_outside_every_window_is_counted_as_such():
    windows = [Window("kill", at=10.0), Window("restart", at=20.0, until=20.3)]
    events = [
        event(9.9, 10.1),
        event(20.1, 20.2, "HTTP 503"),
        event(15.0, 15.1, "HTTP 503", "list"),
        event(15.0, 15.1, "HTTP 201"),
    ]
    result = classify(events, windows)
    assert result["by_cause"] == {"kill": 1, "restart": 1, OUTSIDE: 1}
    assert result["by_cause_and_answer"][OUTSIDE] == {"list HTTP 503": 1}


PHASES = [Phase("instance down", 10.0, 20.0)]
EVENTS = [event(5.0, 5.010, "HTTP 200"), event(12.0, 12.100), event(25.0, 25.020, "HTTP 200")]


def test_requests_count_in_the_phase_they_were_scheduled_in():
    rows = latency_by_phase(EVENTS, PHASES, load_seconds=30.0)
    counts = {row["phase"]: (row["seconds"], row["requests"], row["failed"]) for row in rows}
    assert counts == {"steady": (20.0, 2, 0), "instance down": (10.0, 1, 1)}


def test_latency_runs_from_the_scheduled_send_to_the_answer():
    rows = {row["phase"]: row for row in latency_by_phase(EVENTS, PHASES, load_seconds=30.0)}
    assert (rows["steady"]["p50_ms"], rows["steady"]["p99_ms"]) == (10.0, 20.0)
