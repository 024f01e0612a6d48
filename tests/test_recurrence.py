"""app.tasks.recurrence: RRULE checks, successors on a zone's wall clock, DST, COUNT, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import DAILY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.tasks import recurrence
from app.tasks.recurrence import (
    RecurrenceError,
    Successor,
    next_occurrence,
    shifted,
    validate,
    validate_time_zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def chain(rule: str, due_at: datetime, time_zone: str = "UTC", steps: int = 3) -> list[datetime]:
    """Due dates of the successors made by completing each task the moment it is due."""
    dues: list[datetime] = []
    wall_clock = None
    for _ in range(steps):
        successor = next_occurrence(
            rule, due_at=due_at, time_zone=time_zone, now=due_at, wall_clock=wall_clock
        )
        assert successor is not None
        dues.append(successor.due_at)
        due_at, wall_clock, rule = successor.due_at, successor.wall_clock, successor.recurrence
    return dues


def rule_error(rule: str, due_at: datetime | None = None, time_zone: str = "UTC") -> str:
    with pytest.raises(RecurrenceError) as raised:
        validate(rule, due_at=due_at or utc(2027, 1, 4, 9), time_zone=time_zone)
    assert set(raised.value.errors) == {"recurrence"}
    return raised.value.errors["recurrence"]


# Daylight saving: the wall clock holds, UTC moves.


def test_daily_0900_berlin_across_the_march_2027_change_stays_0900_berlin() -> None:
    dues = chain("FREQ=DAILY", utc(2027, 3, 26, 8), "Europe/Berlin")  # 09:00 CET
    assert dues == [utc(2027, 3, 27, 8), utc(2027, 3, 28, 7), utc(2027, 3, 29, 7)]
    assert {due.astimezone(BERLIN).strftime("%H:%M") for due in dues} == {"09:00"}


def test_daily_0900_berlin_across_the_october_2027_change_stays_0900_berlin() -> None:
    dues = chain("FREQ=DAILY", utc(2027, 10, 29, 7), "Europe/Berlin")  # 09:00 CEST
    assert dues == [utc(2027, 10, 30, 7), utc(2027, 10, 31, 8), utc(2027, 11, 1, 8)]
    assert {due.astimezone(BERLIN).strftime("%H:%M") for due in dues} == {"09:00"}


def test_a_skipped_0230_in_berlin_moves_forward_by_the_gap_for_that_night_only() -> None:
    # 2027-03-28: clocks spring from 02:00 to 03:00, so 02:30 becomes 03:30 CEST.
    dues = chain("FREQ=DAILY", utc(2027, 3, 27, 1, 30), "Europe/Berlin")  # 02:30 CET
    assert dues == [utc(2027, 3, 28, 1, 30), utc(2027, 3, 29, 0, 30), utc(2027, 3, 30, 0, 30)]
    local = [due.astimezone(BERLIN).strftime("%d %H:%M") for due in dues]
    assert local == ["28 03:30", "29 02:30", "30 02:30"]


def test_a_skipped_0230_in_new_york_moves_forward_by_the_gap_for_that_night_only() -> None:
    # 2027-03-14: clocks spring from 02:00 EST to 03:00 EDT.
    dues = chain("FREQ=DAILY", utc(2027, 3, 13, 7, 30), "America/New_York")  # 02:30 EST
    assert dues == [utc(2027, 3, 14, 7, 30), utc(2027, 3, 15, 6, 30), utc(2027, 3, 16, 6, 30)]
    local = [due.astimezone(NEW_YORK).strftime("%d %H:%M") for due in dues]
    assert local == ["14 03:30", "15 02:30", "16 02:30"]


def test_the_shifted_task_remembers_the_wall_clock_time_it_stands_for() -> None:
    successor = next_occurrence(
        "FREQ=DAILY",
        due_at=utc(2027, 3, 27, 1, 30),
        time_zone="Europe/Berlin",
        now=utc(2027, 3, 27),
    )
    assert successor == Successor(
        due_at=utc(2027, 3, 28, 1, 30),
        recurrence="FREQ=DAILY",
        wall_clock=datetime(2027, 3, 28, 2, 30),
        shift=timedelta(days=1),
    )


def test_without_its_wall_clock_a_shifted_task_would_keep_the_shifted_time() -> None:
    # Why the caller stores Successor.wall_clock: due_at alone says 03:30.
    successor = next_occurrence(
        "FREQ=DAILY",
        due_at=utc(2027, 3, 28, 1, 30),
        time_zone="Europe/Berlin",
        now=utc(2027, 3, 28),
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 3, 29, 1, 30)  # 03:30 CEST


def test_a_wall_clock_that_no_longer_maps_to_due_at_is_ignored() -> None:
    # The user moved the task to 10:00 CET after the server stored 02:30 for it.
    successor = next_occurrence(
        "FREQ=DAILY",
        due_at=utc(2027, 3, 1, 9),
        time_zone="Europe/Berlin",
        now=utc(2027, 3, 1, 9),
        wall_clock=datetime(2027, 3, 1, 2, 30),
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 3, 2, 9)


def test_a_repeated_0230_in_berlin_is_the_first_of_the_two() -> None:
    # 2027-10-31: clocks fall back from 03:00 CEST to 02:00 CET, so 02:30 happens twice.
    dues = chain("FREQ=DAILY", utc(2027, 10, 30, 0, 30), "Europe/Berlin")  # 02:30 CEST
    assert dues == [utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30), utc(2027, 11, 2, 1, 30)]


def test_a_task_due_at_the_second_of_two_0230s_is_followed_by_0230_the_next_day() -> None:
    dues = chain("FREQ=DAILY", utc(2027, 10, 31, 1, 30), "Europe/Berlin", steps=1)  # 02:30 CET
    assert dues == [utc(2027, 11, 1, 1, 30)]


def test_a_whole_skipped_day_samoa_2011_moves_one_task_and_no_other() -> None:
    # Pacific/Apia skipped 2011-12-30: its 09:00 is 2011-12-31 09:00, which is also the next
    # day's occurrence; that one is not created twice.
    dues = chain("FREQ=DAILY", utc(2011, 12, 29, 19), "Pacific/Apia")  # 09:00 -10:00
    assert dues == [utc(2011, 12, 30, 19), utc(2011, 12, 31, 19), utc(2012, 1, 1, 19)]


def test_remind_at_moves_by_the_same_amount_as_due_at() -> None:
    successor = next_occurrence(
        "FREQ=DAILY", due_at=utc(2027, 3, 27, 8), time_zone="Europe/Berlin", now=utc(2027, 3, 27, 8)
    )
    assert successor is not None
    assert shifted(utc(2027, 3, 27, 7, 45), successor) == utc(2027, 3, 28, 6, 45)  # 08:45 CEST


def test_no_remind_at_stays_none() -> None:
    successor = next_occurrence(
        "FREQ=DAILY", due_at=utc(2027, 1, 1, 9), time_zone="UTC", now=utc(2027, 1, 1)
    )
    assert successor is not None
    assert shifted(None, successor) is None


# Calendar rules with exact dates.


def test_bymonthday_minus_1_is_the_last_day_of_each_month() -> None:
    dues = chain("FREQ=MONTHLY;BYMONTHDAY=-1", utc(2027, 1, 31, 12))
    assert dues == [utc(2027, 2, 28, 12), utc(2027, 3, 31, 12), utc(2027, 4, 30, 12)]


def test_bymonthday_minus_1_is_february_29_in_a_leap_year() -> None:
    dues = chain("FREQ=MONTHLY;BYMONTHDAY=-1", utc(2028, 1, 31, 12), steps=2)
    assert dues == [utc(2028, 2, 29, 12), utc(2028, 3, 31, 12)]


def test_monthly_from_the_31st_skips_months_without_one() -> None:
    dues = chain("FREQ=MONTHLY", utc(2027, 1, 31, 12))
    assert dues == [utc(2027, 3, 31, 12), utc(2027, 5, 31, 12), utc(2027, 7, 31, 12)]


def test_yearly_from_february_29_waits_for_the_next_leap_year() -> None:
    assert chain("FREQ=YEARLY", utc(2028, 2, 29, 12), steps=1) == [utc(2032, 2, 29, 12)]


def test_byday_minus_1fr_is_the_last_friday_of_each_month() -> None:
    dues = chain("FREQ=MONTHLY;BYDAY=-1FR", utc(2027, 1, 29, 12))
    assert dues == [utc(2027, 2, 26, 12), utc(2027, 3, 26, 12), utc(2027, 4, 30, 12)]


def test_byday_2mo_is_the_second_monday_of_each_month() -> None:
    dues = chain("FREQ=MONTHLY;BYDAY=2MO", utc(2027, 1, 11, 12))
    assert dues == [utc(2027, 2, 8, 12), utc(2027, 3, 8, 12), utc(2027, 4, 12, 12)]


def test_interval_2_weekly_is_every_other_week() -> None:
    dues = chain("FREQ=WEEKLY;INTERVAL=2", utc(2027, 1, 4, 12))
    assert dues == [utc(2027, 1, 18, 12), utc(2027, 2, 1, 12), utc(2027, 2, 15, 12)]


def test_interval_3_daily_is_every_third_day() -> None:
    dues = chain("FREQ=DAILY;INTERVAL=3", utc(2027, 2, 25, 12))
    assert dues == [utc(2027, 2, 28, 12), utc(2027, 3, 3, 12), utc(2027, 3, 6, 12)]


def test_interval_3_monthly_is_every_quarter() -> None:
    dues = chain("FREQ=MONTHLY;INTERVAL=3", utc(2027, 1, 15, 12))
    assert dues == [utc(2027, 4, 15, 12), utc(2027, 7, 15, 12), utc(2027, 10, 15, 12)]


def test_weekly_byday_mo_th_alternates_monday_and_thursday() -> None:
    dues = chain("FREQ=WEEKLY;BYDAY=MO,TH", utc(2027, 1, 4, 12), steps=4)
    assert dues == [
        utc(2027, 1, 7, 12),
        utc(2027, 1, 11, 12),
        utc(2027, 1, 14, 12),
        utc(2027, 1, 18, 12),
    ]


def test_yearly_bymonth_bysetpos_is_the_last_weekday_of_march_and_september() -> None:
    rule = "FREQ=YEARLY;BYMONTH=3,9;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    assert chain(rule, utc(2027, 1, 4, 12), steps=2) == [utc(2027, 9, 30, 12), utc(2028, 9, 29, 12)]


def test_weekly_bysetpos_counts_from_the_start_of_the_week_not_from_due_at() -> None:
    # dateutil issue 1398: from Sunday 2024-11-10 with WKST=WE, the first of MO,TU,WE in the
    # week Wed 6 - Tue 12 is Wed 6, before due_at; so the next one is Wed 13, not Mon 11.
    dues = chain("FREQ=WEEKLY;WKST=WE;BYDAY=MO,TU,WE;BYSETPOS=1", utc(2024, 11, 10, 9), steps=2)
    assert dues == [utc(2024, 11, 13, 9), utc(2024, 11, 20, 9)]


def test_the_first_occurrence_need_not_be_due_at() -> None:
    # A Wednesday task on a Monday-only rule: its successor is the next Monday.
    assert chain("FREQ=WEEKLY;BYDAY=MO", utc(2027, 1, 6, 12), steps=1) == [utc(2027, 1, 11, 12)]


# COUNT, UNTIL, overdue tasks.


def test_count_3_makes_three_tasks_in_all() -> None:
    first = next_occurrence(
        "FREQ=DAILY;COUNT=3", due_at=utc(2027, 1, 1, 9), time_zone="UTC", now=utc(2027, 1, 1, 9)
    )
    assert first is not None
    assert (first.due_at, first.recurrence) == (utc(2027, 1, 2, 9), "FREQ=DAILY;COUNT=2")
    second = next_occurrence(
        first.recurrence, due_at=first.due_at, time_zone="UTC", now=first.due_at
    )
    assert second is not None
    assert (second.due_at, second.recurrence) == (utc(2027, 1, 3, 9), "FREQ=DAILY;COUNT=1")
    third = next_occurrence(
        second.recurrence, due_at=second.due_at, time_zone="UTC", now=second.due_at
    )
    assert third is None


def test_count_1_has_no_successor() -> None:
    assert (
        next_occurrence(
            "FREQ=WEEKLY;COUNT=1", due_at=utc(2027, 1, 1), time_zone="UTC", now=utc(2027, 1, 1)
        )
        is None
    )


def test_an_overdue_count_task_consumes_the_occurrences_it_skips() -> None:
    # Occurrences Jan 1 (the task), 2, 3, 4, 5: completed on Jan 3 at noon, the successor is
    # Jan 4, the 4th of 5, so two tasks remain.
    successor = next_occurrence(
        "FREQ=DAILY;COUNT=5", due_at=utc(2027, 1, 1, 9), time_zone="UTC", now=utc(2027, 1, 3, 12)
    )
    assert successor is not None
    assert (successor.due_at, successor.recurrence) == (utc(2027, 1, 4, 9), "FREQ=DAILY;COUNT=2")


def test_an_overdue_count_task_after_its_last_occurrence_has_no_successor() -> None:
    assert (
        next_occurrence(
            "FREQ=DAILY;COUNT=5", due_at=utc(2027, 1, 1, 9), time_zone="UTC", now=utc(2027, 1, 5, 9)
        )
        is None
    )


def test_count_stays_where_the_client_put_it_in_the_successor_rule() -> None:
    successor = next_occurrence(
        "COUNT=4;freq=weekly;byday=mo",
        due_at=utc(2027, 1, 4, 9),
        time_zone="UTC",
        now=utc(2027, 1, 4, 9),
    )
    assert successor is not None
    assert successor.recurrence == "FREQ=WEEKLY;COUNT=3;BYDAY=MO"


def test_until_date_includes_its_whole_local_day() -> None:
    rule = "FREQ=DAILY;UNTIL=20270105"
    # 23:30 Berlin on Jan 4 is 22:30 UTC; Jan 5 23:30 Berlin is still on the UNTIL date.
    dues = chain(rule, utc(2027, 1, 4, 22, 30), "Europe/Berlin", steps=1)
    assert dues == [utc(2027, 1, 5, 22, 30)]


def test_until_date_passed_has_no_successor() -> None:
    assert (
        next_occurrence(
            "FREQ=DAILY;UNTIL=20270105",
            due_at=utc(2027, 1, 5, 9),
            time_zone="UTC",
            now=utc(2027, 1, 5, 9),
        )
        is None
    )


def test_until_utc_time_is_inclusive() -> None:
    rule = "FREQ=DAILY;UNTIL=20270105T090000Z"
    assert chain(rule, utc(2027, 1, 4, 9), steps=1) == [utc(2027, 1, 5, 9)]


def test_until_utc_time_a_second_early_ends_the_series() -> None:
    rule = "FREQ=DAILY;UNTIL=20270105T085959Z"
    assert (
        next_occurrence(rule, due_at=utc(2027, 1, 4, 9), time_zone="UTC", now=utc(2027, 1, 4, 9))
        is None
    )


def test_an_overdue_daily_task_skips_to_the_first_day_after_completion() -> None:
    successor = next_occurrence(
        "FREQ=DAILY", due_at=utc(2027, 1, 1, 9), time_zone="UTC", now=utc(2027, 1, 10, 12)
    )
    assert successor is not None
    assert (successor.due_at, successor.shift) == (utc(2027, 1, 11, 9), timedelta(days=10))


def test_completion_exactly_at_an_occurrence_takes_the_one_after() -> None:
    successor = next_occurrence(
        "FREQ=DAILY", due_at=utc(2027, 1, 1, 9), time_zone="UTC", now=utc(2027, 1, 10, 9)
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 1, 11, 9)


def test_an_early_completion_still_takes_the_occurrence_after_due_at() -> None:
    successor = next_occurrence(
        "FREQ=WEEKLY", due_at=utc(2027, 1, 8, 9), time_zone="UTC", now=utc(2027, 1, 2, 9)
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 1, 15, 9)


def test_a_daily_task_due_in_the_year_1_completed_in_2026_is_due_the_next_day() -> None:
    successor = next_occurrence(
        "FREQ=DAILY", due_at=utc(1, 1, 1, 9), time_zone="UTC", now=utc(2026, 5, 5, 12)
    )
    assert successor is not None
    assert successor.due_at == utc(2026, 5, 6, 9)


def test_an_overdue_interval_rule_stays_on_its_own_grid() -> None:
    # Every 3rd day from 2027-01-01: Jan 1, 4, 7, ..., Feb 27 (day 57), Mar 2 (day 60).
    successor = next_occurrence(
        "FREQ=DAILY;INTERVAL=3",
        due_at=utc(2027, 1, 1, 9),
        time_zone="UTC",
        now=utc(2027, 2, 28, 12),
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 3, 2, 9)


def test_an_overdue_monthly_rule_from_the_31st_keeps_its_day() -> None:
    successor = next_occurrence(
        "FREQ=MONTHLY", due_at=utc(2019, 1, 31, 9), time_zone="UTC", now=utc(2027, 2, 1)
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 3, 31, 9)


def test_an_overdue_yearly_rule_with_interval_keeps_its_years() -> None:
    successor = next_occurrence(
        "FREQ=YEARLY;INTERVAL=4", due_at=utc(1904, 7, 4, 9), time_zone="UTC", now=utc(2026, 1, 1)
    )
    assert successor is not None
    assert successor.due_at == utc(2028, 7, 4, 9)


def test_an_overdue_weekly_interval_rule_keeps_its_weeks() -> None:
    # Every other Monday from 2000-01-03; 2027-01-04 is 1409 weeks later (odd), so not it.
    successor = next_occurrence(
        "FREQ=WEEKLY;INTERVAL=2", due_at=utc(2000, 1, 3, 9), time_zone="UTC", now=utc(2027, 1, 1)
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 1, 11, 9)


def test_an_occurrence_more_than_ten_years_ahead_ends_the_series() -> None:
    # February 29 in a year divisible by 10: after 2040, the next is 2080.
    assert (
        next_occurrence(
            "FREQ=YEARLY;INTERVAL=10;BYMONTH=2;BYMONTHDAY=29",
            due_at=utc(2040, 2, 29, 9),
            time_zone="UTC",
            now=utc(2040, 2, 29, 9),
        )
        is None
    )


def test_an_occurrence_exactly_ten_years_ahead_is_found() -> None:
    assert chain("FREQ=YEARLY;INTERVAL=10", utc(2027, 1, 1, 9), steps=1) == [utc(2037, 1, 1, 9)]


def test_a_count_task_completed_more_than_ten_years_late_ends_its_series() -> None:
    assert (
        next_occurrence(
            "FREQ=YEARLY;COUNT=50", due_at=utc(2010, 6, 1, 9), time_zone="UTC", now=utc(2020, 6, 2)
        )
        is None
    )


def test_occurrences_are_on_whole_seconds() -> None:
    successor = next_occurrence(
        "FREQ=DAILY",
        due_at=datetime(2027, 1, 1, 9, 0, 0, 250_000, tzinfo=UTC),
        time_zone="UTC",
        now=utc(2027, 1, 1),
    )
    assert successor is not None
    assert successor.due_at == utc(2027, 1, 2, 9)


def test_next_occurrence_rejects_what_validate_rejects() -> None:
    with pytest.raises(RecurrenceError) as raised:
        next_occurrence("FREQ=HOURLY", due_at=utc(2027, 1, 1), time_zone="UTC", now=utc(2027, 1, 1))
    assert set(raised.value.errors) == {"recurrence"}


def test_next_occurrence_rejects_an_unknown_zone() -> None:
    with pytest.raises(RecurrenceError) as raised:
        next_occurrence(
            "FREQ=DAILY", due_at=utc(2027, 1, 1), time_zone="Mars/Base", now=utc(2027, 1, 1)
        )
    assert raised.value.errors == {"time_zone": "Unknown IANA time zone: 'Mars/Base'."}


def test_naive_datetimes_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_occurrence(
            "FREQ=DAILY", due_at=datetime(2027, 1, 1), time_zone="UTC", now=utc(2027, 1, 1)
        )


def test_the_end_of_the_calendar_has_no_successor() -> None:
    assert (
        next_occurrence(
            "FREQ=YEARLY",
            due_at=utc(9999, 6, 1),
            time_zone="Pacific/Kiritimati",
            now=utc(9999, 6, 1),
        )
        is None
    )


# Validation: what is accepted, and how it is written back.


@pytest.mark.parametrize(
    ("rule", "normalised"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=WEEKLY;BYDAY=MO,TH"),
        ("freq=monthly;byday=+2mo", "FREQ=MONTHLY;BYDAY=2MO"),
        ("INTERVAL=02;FREQ=DAILY", "FREQ=DAILY;INTERVAL=2"),
        ("FREQ=MONTHLY;BYMONTHDAY=+05,-1", "FREQ=MONTHLY;BYMONTHDAY=5,-1"),
        ("FREQ=YEARLY;BYMONTH=2;BYDAY=-1SU", "FREQ=YEARLY;BYMONTH=2;BYDAY=-1SU"),
        ("FREQ=YEARLY;BYDAY=20MO", "FREQ=YEARLY;BYDAY=20MO"),
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        ),
        ("FREQ=DAILY;COUNT=1", "FREQ=DAILY;COUNT=1"),
        ("FREQ=DAILY;UNTIL=20271231t235959z", "FREQ=DAILY;UNTIL=20271231T235959Z"),
        ("FREQ=WEEKLY;WKST=SU;BYDAY=SA", "FREQ=WEEKLY;WKST=SU;BYDAY=SA"),
        ("  FREQ=DAILY  ", "FREQ=DAILY"),
        ("FREQ=DAILY;INTERVAL=3652", "FREQ=DAILY;INTERVAL=3652"),
        ("FREQ=WEEKLY;INTERVAL=521", "FREQ=WEEKLY;INTERVAL=521"),
        ("FREQ=MONTHLY;INTERVAL=120", "FREQ=MONTHLY;INTERVAL=120"),
        ("FREQ=YEARLY;INTERVAL=10", "FREQ=YEARLY;INTERVAL=10"),
        ("FREQ=DAILY;COUNT=1000", "FREQ=DAILY;COUNT=1000"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"),
    ],
)
def test_validate_accepts_and_normalises(rule: str, normalised: str) -> None:
    assert validate(rule, due_at=utc(2027, 1, 4, 9), time_zone="Europe/Berlin") == normalised


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=HOURLY", "FREQ=HOURLY is not supported: the shortest frequency is DAILY."),
        ("FREQ=MINUTELY", "FREQ=MINUTELY is not supported: the shortest frequency is DAILY."),
        ("FREQ=SECONDLY", "FREQ=SECONDLY is not supported: the shortest frequency is DAILY."),
        ("FREQ=FORTNIGHTLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY."),
        ("INTERVAL=2", "The rule needs a FREQ."),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given more than once."),
        (
            "FREQ=DAILY;BYHOUR=9",
            "BYHOUR is not supported: the time of day comes from due_at, and the shortest FREQ "
            "is DAILY.",
        ),
        (
            "FREQ=DAILY;BYMINUTE=30",
            "BYMINUTE is not supported: the time of day comes from due_at, and the shortest FREQ "
            "is DAILY.",
        ),
        (
            "FREQ=DAILY;BYSECOND=0",
            "BYSECOND is not supported: the time of day comes from due_at, and the shortest FREQ "
            "is DAILY.",
        ),
        ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY is not supported: use BYMONTH with BYMONTHDAY."),
        (
            "FREQ=YEARLY;BYWEEKNO=20",
            "BYWEEKNO is not supported: use BYMONTH, BYMONTHDAY, BYDAY or BYSETPOS.",
        ),
        (
            "FREQ=DAILY;DTSTART=20270101",
            "DTSTART is not part of the rule: the rule starts at due_at.",
        ),
        ("FREQ=DAILY;EXDATE=20270101", "EXDATE is not supported: only an RRULE value is accepted."),
        ("FREQ=DAILY;RDATE=20270101", "RDATE is not supported: only an RRULE value is accepted."),
        ("FREQ=DAILY;EXRULE=FREQ", "EXRULE is not supported: only an RRULE value is accepted."),
        ("FREQ=YEARLY;BYEASTER=0", "Unknown rule part BYEASTER."),
        ("FREQ=DAILY;X-FOO=1", "Unknown rule part X-FOO."),
        ("RRULE:FREQ=DAILY", "Give the RRULE value without the 'RRULE:' prefix."),
        (
            "DTSTART:20270101T090000Z\nRRULE:FREQ=DAILY",
            "Only an RRULE value is accepted (no DTSTART, RDATE or EXDATE lines).",
        ),
        ("", "The rule is empty."),
        ("   ", "The rule is empty."),
        ("FREQ=DAILY;", "'' is not a NAME=VALUE rule part."),
        ("FREQ=DAILY; INTERVAL=2", "' INTERVAL=2' is not a NAME=VALUE rule part."),
        ("FREQ", "'FREQ' is not a NAME=VALUE rule part."),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number of at least 1."),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL must be a whole number of at least 1."),
        ("FREQ=DAILY;INTERVAL=1_0", "INTERVAL must be a whole number of at least 1."),
        ("FREQ=DAILY;INTERVAL=\u0663", "INTERVAL must be a whole number of at least 1."),
        ("FREQ=DAILY;INTERVAL=9999999", "INTERVAL must be a whole number of at least 1."),
        (
            "FREQ=DAILY;INTERVAL=3653",
            "INTERVAL=3653 with FREQ=DAILY repeats less often than once in 10 years "
            "(at most 3652).",
        ),
        (
            "FREQ=WEEKLY;INTERVAL=522",
            "INTERVAL=522 with FREQ=WEEKLY repeats less often than once in 10 years (at most 521).",
        ),
        (
            "FREQ=MONTHLY;INTERVAL=121",
            "INTERVAL=121 with FREQ=MONTHLY repeats less often than once in 10 years "
            "(at most 120).",
        ),
        (
            "FREQ=YEARLY;INTERVAL=11",
            "INTERVAL=11 with FREQ=YEARLY repeats less often than once in 10 years (at most 10).",
        ),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number of at least 1."),
        ("FREQ=DAILY;COUNT=1001", "COUNT must be at most 1000."),
        ("FREQ=DAILY;COUNT=1000000000", "COUNT must be a whole number of at least 1."),
        ("FREQ=DAILY;COUNT=3;UNTIL=20271231", "COUNT and UNTIL cannot both be given."),
        (
            "FREQ=DAILY;UNTIL=2027-12-31",
            "UNTIL must be a date (20271231) or a UTC time (20271231T235959Z).",
        ),
        (
            "FREQ=DAILY;UNTIL=20270230",
            "UNTIL must be a date (20271231) or a UTC time (20271231T235959Z).",
        ),
        (
            "FREQ=DAILY;UNTIL=20271231T235959",
            "UNTIL must be a date (20271231) or a UTC time (20271231T235959Z).",
        ),
        ("FREQ=WEEKLY;WKST=XX", "WKST must be one of MO, TU, WE, TH, FR, SA, SU."),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH values must be whole numbers from 1 to 12."),
        ("FREQ=YEARLY;BYMONTH=0", "BYMONTH values must be whole numbers from 1 to 12."),
        ("FREQ=YEARLY;BYMONTH=-1", "BYMONTH values must be whole numbers from 1 to 12."),
        ("FREQ=YEARLY;BYMONTH=", "BYMONTH values must be whole numbers from 1 to 12."),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY values must be whole numbers from -1 to 31."),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY values must be whole numbers from -1 to 31."),
        ("FREQ=MONTHLY;BYMONTHDAY=1,,2", "BYMONTHDAY values must be whole numbers from -1 to 31."),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY values look like MO, 2FR or -1SU, not 'XX'."),
        ("FREQ=WEEKLY;BYDAY=MO(+1)", "BYDAY values look like MO, 2FR or -1SU, not 'MO(+1)'."),
        ("FREQ=YEARLY;BYDAY=0MO", "BYDAY ordinals must be from 1 to 53 or -1 to -53."),
        ("FREQ=YEARLY;BYDAY=54MO", "BYDAY ordinals must be from 1 to 53 or -1 to -53."),
        ("FREQ=DAILY;BYDAY=2MO", "BYDAY ordinals (2MO, -1FR) need FREQ=MONTHLY or FREQ=YEARLY."),
        ("FREQ=WEEKLY;BYDAY=-1FR", "BYDAY ordinals (2MO, -1FR) need FREQ=MONTHLY or FREQ=YEARLY."),
        (
            "FREQ=MONTHLY;BYDAY=6MO",
            "BYDAY ordinals within a month must be from 1 to 5 or -1 to -5.",
        ),
        (
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-6MO",
            "BYDAY ordinals within a month must be from 1 to 5 or -1 to -5.",
        ),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY."),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs BYMONTH, BYMONTHDAY or BYDAY to choose from."),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
            "BYSETPOS values must be whole numbers from -1 to 366.",
        ),
        (
            "FREQ=YEARLY;BYDAY=MO;BYSETPOS=367",
            "BYSETPOS values must be whole numbers from -1 to 366.",
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,2,3,4,5,-1,-2,-3,-4,-5,6",
            "BYSETPOS has more than 10 values.",
        ),
        ("FREQ=MONTHLY;BYMONTHDAY=" + ",".join(["1"] * 32), "BYMONTHDAY has more than 31 values."),
        ("FREQ=WEEKLY;BYDAY=MO,TU,MO", "BYDAY names a value more than once."),
        ("FREQ=MONTHLY;BYMONTHDAY=1,+1", "BYMONTHDAY names a value more than once."),
        ("FREQ=DAILY;" + "BYMONTH=1;" * 60 + "COUNT=1", "The rule is longer than 500 characters."),
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "The rule yields no occurrence in the 10 years starting at due_at.",
        ),
        (
            "FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31",
            "The rule yields no occurrence in the 10 years starting at due_at.",
        ),
        (
            "FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1",
            "The rule yields no occurrence in the 10 years starting at due_at.",
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
            "The rule yields no occurrence in the 10 years starting at due_at.",
        ),
        (
            "FREQ=DAILY;UNTIL=20270103",
            "The rule yields no occurrence in the 10 years starting at due_at.",
        ),
        (
            "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
            "The rule yields no occurrence in the 10 years starting at due_at.",
        ),
    ],
)
def test_validate_rejects_naming_recurrence(rule: str, message: str) -> None:
    # due_at is Monday 2027-01-04 09:00 UTC.
    assert rule_error(rule) == message


def test_a_rule_whose_first_occurrence_is_more_than_ten_years_away_is_rejected() -> None:
    # Friday February 29: after 2036, the next is 2064.
    assert (
        rule_error("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=FR", due_at=utc(2036, 3, 1))
        == "The rule yields no occurrence in the 10 years starting at due_at."
    )


def test_a_rule_whose_only_occurrence_in_ten_years_is_at_the_end_is_accepted() -> None:
    assert (
        validate(
            "FREQ=YEARLY;INTERVAL=10;BYMONTH=1;BYMONTHDAY=3",
            due_at=utc(2027, 1, 4),
            time_zone="UTC",
        )
        == "FREQ=YEARLY;INTERVAL=10;BYMONTH=1;BYMONTHDAY=3"
    )


def test_a_recurrence_needs_a_due_at() -> None:
    with pytest.raises(RecurrenceError) as raised:
        validate("FREQ=DAILY", due_at=None, time_zone="UTC")
    assert raised.value.errors == {"recurrence": "A task with a recurrence needs a due_at."}


def test_a_rule_that_is_not_a_string_is_rejected() -> None:
    with pytest.raises(RecurrenceError) as raised:
        validate(7, due_at=utc(2027, 1, 1), time_zone="UTC")  # type: ignore[arg-type]
    assert raised.value.errors == {"recurrence": "The rule must be a string."}


def test_a_bad_zone_and_a_bad_rule_are_both_named() -> None:
    with pytest.raises(RecurrenceError) as raised:
        validate("FREQ=HOURLY", due_at=utc(2027, 1, 1), time_zone="Mars/Base")
    assert raised.value.errors == {
        "time_zone": "Unknown IANA time zone: 'Mars/Base'.",
        "recurrence": "FREQ=HOURLY is not supported: the shortest frequency is DAILY.",
    }


def test_a_bad_zone_alone_is_named_alone() -> None:
    with pytest.raises(RecurrenceError) as raised:
        validate("FREQ=DAILY", due_at=utc(2027, 1, 1), time_zone="Europe/Atlantis")
    assert raised.value.errors == {"time_zone": "Unknown IANA time zone: 'Europe/Atlantis'."}


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "UTC", "America/New_York", "Pacific/Apia", "US/Eastern", "Etc/GMT+5"]
)
def test_iana_zones_are_accepted(name: str) -> None:
    assert validate_time_zone(name) == name


@pytest.mark.parametrize(
    "name", ["europe/berlin", "Europe", "localtime", "posixrules", "../etc/passwd", "", "Mars/Base"]
)
def test_names_that_are_not_iana_zones_are_rejected(name: str) -> None:
    with pytest.raises(RecurrenceError) as raised:
        validate_time_zone(name)
    assert raised.value.errors == {"time_zone": f"Unknown IANA time zone: {name!r}."}


# The bound on dateutil's work.


def test_an_empty_rule_stops_when_its_rebuild_budget_is_spent() -> None:
    # Without the budget dateutil walks an empty rule to the year 9999 (seconds of work).
    rule = recurrence._BudgetedRule(
        freq=DAILY, dtstart=datetime(2027, 1, 1), bymonth=(2,), bymonthday=(30,)
    )
    rule._rebuilds_left = 5
    with pytest.raises(recurrence._BudgetSpent):
        next(iter(rule))


# Properties.

PART_TOKENS = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY",
        "FREQ=MONTHLY",
        "FREQ=YEARLY",
        "FREQ=HOURLY",
        "INTERVAL=2",
        "INTERVAL=0",
        "INTERVAL=400",
        "COUNT=3",
        "COUNT=1",
        "COUNT=5000",
        "UNTIL=20280101",
        "UNTIL=20260101T000000Z",
        "UNTIL=2028",
        "WKST=SU",
        "WKST=XX",
        "BYMONTH=2",
        "BYMONTH=2,8",
        "BYMONTH=13",
        "BYMONTHDAY=-1",
        "BYMONTHDAY=29,30,31",
        "BYMONTHDAY=0",
        "BYDAY=MO,TH",
        "BYDAY=2MO",
        "BYDAY=-1FR",
        "BYDAY=5SU",
        "BYDAY=53MO",
        "BYDAY=+1SA",
        "BYSETPOS=-1",
        "BYSETPOS=1,3",
        "BYSETPOS=400",
        "BYHOUR=3",
        "BYYEARDAY=1",
        "DTSTART=20270101",
        "X=1",
        "",
        "=",
        ";",
        ",",
        "FREQ",
        "RRULE:",
        "\n",
    ]
)
RULE_TEXT = st.one_of(
    st.lists(PART_TOKENS, max_size=6).map(";".join),
    st.text(alphabet="FREQ=DAILYWKMONTHBYSP;,-+0123456789:\n \u0663", max_size=60),
    st.text(max_size=40),
)
OPTIONAL_PARTS = {
    "INTERVAL": ["2", "3", "5"],
    "COUNT": ["1", "4", "1000"],
    "UNTIL": ["20300101", "20350101T120000Z"],
    "WKST": ["SU", "WE"],
    "BYMONTH": ["3,10", "2"],
    "BYMONTHDAY": ["-1", "1,15", "29"],
    "BYDAY": ["MO,FR", "SU", "2MO", "-1FR", "MO,TU,WE,TH,FR"],
    "BYSETPOS": ["1,-1", "2", "-1"],
}
# Rules built from the allowed parts, at most once each; some combinations are still refused
# (COUNT with UNTIL, an ordinal with DAILY, ...), which the properties allow for.
PLAUSIBLE_RULES = st.builds(
    lambda freq, parts: ";".join([f"FREQ={freq}", *(f"{n}={v}" for n, v in parts.items())]),
    st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
    st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(values) for name, values in OPTIONAL_PARTS.items()}
    ),
)


def accepted(rule: str) -> bool:
    try:
        recurrence._parse(rule)
    except RecurrenceError:
        return False
    return True


VALID_RULES = PLAUSIBLE_RULES.filter(accepted)
ZONES = st.sampled_from(
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Pacific/Apia",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "America/St_Johns",
    ]
)
MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
RECENT = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(rule=RULE_TEXT, due_at=MOMENTS, zone=ZONES)
def test_any_rule_text_validates_or_raises_the_modules_error(
    rule: str, due_at: datetime, zone: str
) -> None:
    try:
        normalised = validate(rule, due_at=due_at, time_zone=zone)
    except RecurrenceError as error:
        assert set(error.errors) == {"recurrence"}
    else:
        assert validate(normalised, due_at=due_at, time_zone=zone) == normalised


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.one_of(PLAUSIBLE_RULES, RULE_TEXT), due_at=MOMENTS, now=MOMENTS, zone=ZONES)
def test_a_successor_is_later_than_both_due_at_and_now(
    rule: str, due_at: datetime, now: datetime, zone: str
) -> None:
    try:
        successor = next_occurrence(rule, due_at=due_at, time_zone=zone, now=now)
    except RecurrenceError as error:
        assert set(error.errors) == {"recurrence"}
        return
    if successor is not None:
        assert successor.due_at > due_at
        assert successor.due_at > now
        assert successor.shift == successor.due_at - due_at


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=VALID_RULES.filter(lambda rule: "COUNT" not in rule),
    due_at=RECENT,
    late=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3 * 366)),
    zone=ZONES,
)
def test_jumping_ahead_finds_what_walking_from_due_at_finds(
    rule: str, due_at: datetime, late: timedelta, zone: str
) -> None:
    now = due_at + late
    assert next_occurrence(rule, due_at=due_at, time_zone=zone, now=now) == walked(
        rule, due_at, zone, now
    )


def walked(rule: str, due_at: datetime, zone_name: str, now: datetime) -> Successor | None:
    """The successor found by walking every occurrence from the task's own due_at."""
    parsed = recurrence._parse(rule)
    zone = ZoneInfo(zone_name)
    anchor = due_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
    threshold = max(due_at, now)
    limit = recurrence._plus_horizon(threshold.astimezone(zone).replace(tzinfo=None))
    for naive in recurrence._search(parsed, anchor, anchor, limit):
        instant = naive.replace(tzinfo=zone).astimezone(UTC)
        if naive <= anchor:
            continue
        if not recurrence._before_until(parsed, naive, instant):
            return None
        if instant > threshold:
            local = instant.astimezone(zone).replace(tzinfo=None)
            return Successor(
                due_at=instant,
                recurrence=parsed.text,
                wall_clock=None if local == naive else naive,
                shift=instant - due_at,
            )
    return None


def test_a_task_due_at_the_start_of_the_calendar_has_a_successor() -> None:
    successor = next_occurrence(
        "FREQ=DAILY", due_at=utc(1, 1, 1, 9), time_zone="UTC", now=utc(1, 1, 2, 12)
    )
    assert successor is not None
    assert successor.due_at == utc(1, 1, 3, 9)


def test_a_weekly_rule_whose_first_week_began_before_the_year_1_still_steps() -> None:
    # 0001-01-01 is a Monday; with WKST=SU its week would begin on a day that never was.
    successor = next_occurrence(
        "FREQ=WEEKLY;WKST=SU", due_at=utc(1, 1, 1, 9), time_zone="UTC", now=utc(1, 1, 1, 9)
    )
    assert successor is not None
    assert successor.due_at == utc(1, 1, 8, 9)
