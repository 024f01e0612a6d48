"""Recurring tasks through the API: rules checked on write, the next occurrence made once.

The calendar itself (DST, BYDAY ordinals, month ends, COUNT and UNTIL) is proven with exact
dates in tests/test_recurrence.py; these tests prove what the service does with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.problems import assert_problem

DAILY = "FREQ=DAILY"
BERLIN = "Europe/Berlin"


def complete(tasks, task: dict, **body) -> dict:
    response = tasks.request("PATCH", f"/{task['id']}/complete", json=body or None)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def fetch(tasks, task_id: str) -> dict:
    return tasks.request("GET", f"/{task_id}").get_json()["data"]


def all_tasks(tasks) -> list[dict]:
    return tasks.list("sort=created_at&limit=100")["data"]


def field_errors(response) -> dict:
    return assert_problem(response, 422, "validation_error")["errors"]["json"]


class TestRules:
    def test_a_rule_is_stored_normalised_with_its_zone(self, tasks):
        task = tasks.create(
            recurrence="freq=weekly;byday=mo,th", due_at="2027-01-04T09:00:00Z", time_zone=BERLIN
        )
        assert (task["recurrence"], task["time_zone"]) == ("FREQ=WEEKLY;BYDAY=MO,TH", BERLIN)

    def test_the_zone_defaults_to_utc(self, tasks):
        assert tasks.create()["time_zone"] == "UTC"

    def test_a_rule_needs_a_due_date(self, tasks):
        response = tasks.request("POST", "", json={"title": "t", "recurrence": DAILY})
        assert list(field_errors(response)) == ["recurrence"]

    @pytest.mark.parametrize(
        "rule",
        [
            "FREQ=HOURLY",
            "FREQ=MINUTELY",
            "FREQ=DAILY;BYHOUR=9",
            "nonsense",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "DTSTART:20270101T000000Z",
        ],
    )
    def test_a_rule_the_contract_refuses_is_422_naming_recurrence(self, tasks, rule):
        response = tasks.request(
            "POST", "", json={"title": "t", "recurrence": rule, "due_at": "2027-01-01T09:00:00Z"}
        )
        assert list(field_errors(response)) == ["recurrence"]

    @pytest.mark.parametrize("recurrence", [None, DAILY])
    def test_an_unknown_zone_is_422_naming_time_zone(self, tasks, recurrence):
        response = tasks.request(
            "POST",
            "",
            json={
                "title": "t",
                "recurrence": recurrence,
                "due_at": "2027-01-01T09:00:00Z",
                "time_zone": "Mars/Olympus_Mons",
            },
        )
        assert list(field_errors(response)) == ["time_zone"]

    def test_clearing_the_due_date_of_a_recurring_task_is_422(self, tasks):
        task = tasks.create(recurrence=DAILY, due_at="2027-01-01T09:00:00Z")
        response = tasks.request("PATCH", f"/{task['id']}", json={"due_at": None})
        assert list(field_errors(response)) == ["recurrence"]
        assert fetch(tasks, task["id"])["due_at"] == "2027-01-01T09:00:00Z"


class TestNextOccurrence:
    def test_completing_makes_the_next_one_right_after_it(self, client, user, tasks):
        created = client.post(f"/api/{user.id}/lists", json={"name": "L"}, headers=user.headers)
        list_id = created.get_json()["data"]["id"]
        parent = tasks.create(title="parent", list_id=list_id)
        task = tasks.create(
            title="water plants",
            description="the big ones",
            priority="high",
            tags=["home", "Garden"],
            parent_id=parent["id"],
            recurrence="FREQ=WEEKLY;INTERVAL=2",
            due_at="2027-01-04T08:00:00Z",
            time_zone=BERLIN,
        )
        later_sibling = tasks.create(title="later", parent_id=parent["id"])
        tasks.create(title="sub of the recurring one", parent_id=task["id"])
        done = complete(tasks, task)
        assert done["is_completed"] is True
        following = fetch(tasks, done["next_occurrence_id"])
        copied = ("title", "description", "priority", "tags", "list_id", "parent_id", "time_zone")
        assert {k: following[k] for k in copied} == {k: task[k] for k in copied}
        assert following["due_at"] == "2027-01-18T08:00:00Z"
        assert following["recurrence"] == "FREQ=WEEKLY;INTERVAL=2"
        assert (following["is_completed"], following["next_occurrence_id"]) == (False, None)
        assert task["position"] < following["position"] < later_sibling["position"]
        subtasks = tasks.list(f"parent={following['id']}")["data"]
        assert subtasks == []  # subtasks are not copied

    def test_reopening_and_completing_again_makes_no_second_one(self, tasks):
        task = tasks.create(recurrence=DAILY, due_at="2027-01-01T09:00:00Z")
        first = complete(tasks, task)["next_occurrence_id"]
        complete(tasks, task)  # reopened
        again = complete(tasks, task)
        assert again["next_occurrence_id"] == first
        assert len(all_tasks(tasks)) == 2

    def test_count_three_makes_three_tasks_in_all(self, tasks):
        task = tasks.create(recurrence="FREQ=DAILY;COUNT=3", due_at="2027-01-01T09:00:00Z")
        while task is not None:
            done = complete(tasks, task)
            nxt = done["next_occurrence_id"]
            task = fetch(tasks, nxt) if nxt else None
        rules = [(t["due_at"], t["recurrence"]) for t in all_tasks(tasks)]
        assert rules == [
            ("2027-01-01T09:00:00Z", "FREQ=DAILY;COUNT=3"),
            ("2027-01-02T09:00:00Z", "FREQ=DAILY;COUNT=2"),
            ("2027-01-03T09:00:00Z", "FREQ=DAILY;COUNT=1"),
        ]

    def test_an_exhausted_rule_makes_nothing(self, tasks):
        task = tasks.create(
            recurrence="FREQ=DAILY;UNTIL=20270101T235959Z", due_at="2027-01-01T09:00:00Z"
        )
        assert complete(tasks, task)["next_occurrence_id"] is None
        assert len(all_tasks(tasks)) == 1

    @pytest.mark.parametrize(
        ("due_at", "expected"),
        [
            # 09:00 in Berlin on the days of the March and October 2027 changes.
            ("2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z"),
            ("2027-03-28T07:00:00Z", "2027-03-29T07:00:00Z"),
            ("2027-10-30T07:00:00Z", "2027-10-31T08:00:00Z"),
        ],
    )
    def test_the_wall_clock_of_the_zone_holds_across_dst(self, tasks, due_at, expected):
        task = tasks.create(recurrence=DAILY, due_at=due_at, time_zone=BERLIN)
        following = fetch(tasks, complete(tasks, task)["next_occurrence_id"])
        assert following["due_at"] == expected

    def test_an_overdue_task_skips_to_the_first_occurrence_after_now(self, tasks):
        task = tasks.create(recurrence=DAILY, due_at="2026-01-01T08:00:00Z", time_zone=BERLIN)
        before = datetime.now(UTC)
        following = fetch(tasks, complete(tasks, task)["next_occurrence_id"])
        due = datetime.fromisoformat(following["due_at"])
        assert before < due <= before + timedelta(days=1)
        local = due.astimezone(ZoneInfo(BERLIN))
        assert (local.hour, local.minute) == (9, 0)

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("PATCH", "", {"is_completed": True}),
            ("PUT", "", None),
            ("PATCH", "/complete", None),
        ],
    )
    def test_every_way_of_completing_makes_it(self, tasks, method, path, body):
        fields = {"title": "t", "recurrence": DAILY, "due_at": "2027-01-01T09:00:00Z"}
        task = tasks.create(**fields)
        if body is None and method == "PUT":
            body = {**fields, "is_completed": True}
        response = tasks.request(method, f"/{task['id']}{path}", json=body)
        assert response.get_json()["data"]["next_occurrence_id"] is not None

    def test_completing_a_parent_makes_its_recurring_subtasks_next_ones(self, tasks):
        parent = tasks.create(title="parent")
        sub = tasks.create(
            title="sub", parent_id=parent["id"], recurrence=DAILY, due_at="2027-01-01T09:00:00Z"
        )
        complete(tasks, parent)
        done_sub = fetch(tasks, sub["id"])
        assert done_sub["is_completed"] is True
        following = fetch(tasks, done_sub["next_occurrence_id"])
        assert (following["parent_id"], following["is_completed"]) == (parent["id"], False)

    def test_a_task_created_completed_makes_its_next_one_only_when_completed_again(self, tasks):
        task = tasks.create(recurrence=DAILY, due_at="2027-01-01T09:00:00Z", is_completed=True)
        assert task["next_occurrence_id"] is None
        complete(tasks, task)  # reopened
        assert complete(tasks, task)["next_occurrence_id"] is not None
        assert len(all_tasks(tasks)) == 2
