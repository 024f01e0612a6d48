"""Recurring tasks: RFC 5545 RRULE values checked, normalised and stepped on a zone's wall clock.

Pure: plain values in, plain values out (no Flask, no database). dateutil's ``rrule`` does the
calendar arithmetic and ``zoneinfo`` the zones; this module adds the contract's rules around them.

API
- ``validate(rule, due_at=, time_zone=)`` -> the rule's normalised text, or ``RecurrenceError``
  whose ``errors`` maps ``"recurrence"`` and/or ``"time_zone"`` to a message for the 422.
  Call it whenever a task's ``recurrence``, ``due_at`` or ``time_zone`` is written.
- ``validate_time_zone(name)`` -> the IANA name, or ``RecurrenceError`` naming ``time_zone``.
- ``next_occurrence(rule, due_at=, time_zone=, now=, wall_clock=None)`` -> ``Successor`` or
  ``None``: what to create when the task is completed at ``now``.
- ``shifted(moment, successor)`` -> ``moment`` moved by the successor's shift (for
  ``remind_at``), ``None`` when there is none or it would leave the calendar.

Wall clock. The rule runs on naive local times of ``time_zone``; an occurrence becomes an instant
with PEP 495's ``fold=0``, which is the contract's DST rule for free: a skipped time moves
forward by the gap (02:30 -> 03:30 on the spring-forward night), a repeated time is the first.
A series keeps the wall-clock time of its first task, so a successor that the gap moved must
remember the time it stands for. ``Successor.wall_clock`` is that naive local time when (and only
when) it differs from the successor's local ``due_at``; the caller stores it with the new task
(a nullable ``timestamp without time zone``) and passes it back on that task's completion. A
stored value that no longer maps to the task's ``due_at`` in its ``time_zone`` (the user moved
the task) is ignored, so it can never carry a stale time forward.

COUNT. The task itself is its series' first occurrence (``COUNT=3`` makes three tasks in all),
whether or not ``due_at`` matches the rule (RFC 5545: DTSTART always counts). Occurrences that an
overdue task skips are consumed too: the successor's ``COUNT`` is lowered by the number of
occurrences from the task up to the one before the successor, so it is exactly "lowered by one"
when nothing was skipped, and an overdue completion never extends a series past the last date
its rule named (as with UNTIL, skipped dates are dropped, not postponed).

Caps, each so that one evaluation costs a few milliseconds whatever the input:
- at most ``MAX_RULE_LENGTH`` characters, ``MAX_LIST_VALUES`` values per list part and
  ``MAX_SETPOS_VALUES`` BYSETPOS values (dateutil walks a period once per position);
- ``COUNT`` at most ``MAX_COUNT`` (counting skipped occurrences walks the series);
- ``INTERVAL`` at most one repetition per ``HORIZON_YEARS`` (3652 days, 521 weeks, 120 months,
  10 years): a rarer rule could never have a successor within the horizon below;
- every search looks ``HORIZON_YEARS`` ahead, no further: validation wants an occurrence in
  the ten years starting at ``due_at`` (the contract), and a completion whose next occurrence
  is more than ten years after the later of ``due_at`` and ``now`` ends the series;
- a rule with ``COUNT`` is walked from the task's own ``due_at`` (skipped occurrences count),
  so its successor must come within ``HORIZON_YEARS`` of that ``due_at``; a rule without
  ``COUNT`` starts from a point on its own period grid just before the later of ``due_at`` and
  ``now`` instead, so an overdue task from the year 1 costs no more than one due today.
dateutil checks COUNT and UNTIL only on instances it produces, so a rule that matches nothing
(``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) would run to the year 9999 (3 s, measured). Every
search here is given a budget of calendar rebuilds (dateutil rebuilds its masks once per month
or period) that covers exactly the span searched, and stops when it is spent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

MAX_RULE_LENGTH = 500
MAX_LIST_VALUES = 31
MAX_SETPOS_VALUES = 10
MAX_COUNT = 1000
HORIZON_YEARS = 10
MAX_INTERVAL = {"DAILY": 3652, "WEEKLY": 521, "MONTHLY": 120, "YEARLY": 10}

_FREQUENCIES = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The shortest span one step of each frequency covers, for the rebuild budget.
_UNIT_DAYS = {DAILY: 1, WEEKLY: 7, MONTHLY: 28, YEARLY: 365}
_HORIZON = relativedelta(years=HORIZON_YEARS)

_PART = re.compile(r"([A-Z][A-Z-]*)=(.*)", re.ASCII)
_NUMBER = re.compile(r"[0-9]{1,6}", re.ASCII)
_SIGNED = re.compile(r"([+-]?)([0-9]{1,3})", re.ASCII)
_BYDAY = re.compile(r"(?:([+-]?)([0-9]{1,2}))?(MO|TU|WE|TH|FR|SA|SU)", re.ASCII)
_UNTIL_DATE = re.compile(r"[0-9]{8}", re.ASCII)
_UNTIL_UTC = re.compile(r"[0-9]{8}T[0-9]{6}Z", re.ASCII)

_SUB_DAY = "is not supported: the time of day comes from due_at, and the shortest FREQ is DAILY"
_UNSUPPORTED = {
    "BYHOUR": _SUB_DAY,
    "BYMINUTE": _SUB_DAY,
    "BYSECOND": _SUB_DAY,
    "BYYEARDAY": "is not supported: use BYMONTH with BYMONTHDAY",
    "BYWEEKNO": "is not supported: use BYMONTH, BYMONTHDAY, BYDAY or BYSETPOS",
    "DTSTART": "is not part of the rule: the rule starts at due_at",
    "RDATE": "is not supported: only an RRULE value is accepted",
    "EXDATE": "is not supported: only an RRULE value is accepted",
    "EXRULE": "is not supported: only an RRULE value is accepted",
}


class RecurrenceError(ValueError):
    """A rule or time zone the contract rejects; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Successor:
    """The next task of a series: when it is due, its rule, and what to store with it."""

    due_at: datetime  # aware, UTC
    recurrence: str  # the rule with COUNT lowered (unchanged without COUNT)
    wall_clock: datetime | None  # naive local time the gap moved due_at off, else None
    shift: timedelta  # due_at minus the completed task's due_at (for remind_at)


@dataclass(frozen=True)
class _Rule:
    """A parsed rule: its normalised parts and dateutil's view of them."""

    parts: tuple[tuple[str, str], ...]
    freq: int
    interval: int
    count: int | None
    until: datetime | date | None  # aware UTC instant, or a local date (inclusive)
    wkst: int
    bymonth: tuple[int, ...] | None
    bymonthday: tuple[int, ...] | None
    byday: tuple[tuple[int, int | None], ...] | None
    bysetpos: tuple[int, ...] | None

    @property
    def text(self) -> str:
        return ";".join(f"{name}={value}" for name, value in self.parts)

    def with_count(self, count: int) -> str:
        return ";".join(
            f"{name}={count if name == 'COUNT' else value}" for name, value in self.parts
        )


class _BudgetSpent(Exception):
    """A search covered the span it was given without finding what it looked for."""


class _BudgetedRule(rrule):
    """dateutil's rrule, stopped after a set number of calendar rebuilds.

    ``_iterinfo.rebuild`` reads ``_byeaster`` once per call (once per month for DAILY and
    WEEKLY, once per period for MONTHLY and YEARLY), and ``_iter`` once when it starts; this
    project never sets BYEASTER, so the property only counts. tests/test_recurrence.py proves
    the hook still bounds an empty rule on the pinned dateutil.
    """

    _rebuilds_left = 0

    @property
    def _byeaster(self) -> None:
        self._rebuilds_left -= 1
        if self._rebuilds_left < 0:
            raise _BudgetSpent
        return None

    @_byeaster.setter
    def _byeaster(self, value: object) -> None:
        if value is not None:
            raise ValueError("BYEASTER is not supported")


def validate_time_zone(name: str) -> str:
    """Return the IANA zone name if the contract accepts it, else raise naming time_zone."""
    if not isinstance(name, str) or name not in _zone_names():
        raise RecurrenceError({"time_zone": f"Unknown IANA time zone: {name!r}."})
    return name


def validate(rule: str, *, due_at: datetime | None, time_zone: str) -> str:
    """Return the rule's normalised text, or raise RecurrenceError naming every bad field."""
    errors: dict[str, str] = {}
    zone = ZoneInfo("UTC")
    try:
        zone = ZoneInfo(validate_time_zone(time_zone))
    except RecurrenceError as error:
        errors.update(error.errors)
    try:
        parsed = _parse(rule)
        if due_at is None:
            raise _rule_error("A task with a recurrence needs a due_at.")
        if not _has_occurrence(parsed, _utc(due_at), zone):
            raise _rule_error(
                f"The rule yields no occurrence in the {HORIZON_YEARS} years starting at due_at."
            )
    except RecurrenceError as error:
        errors.update(error.errors)
    if errors:
        raise RecurrenceError(errors)
    return parsed.text


def next_occurrence(
    rule: str,
    *,
    due_at: datetime,
    time_zone: str,
    now: datetime,
    wall_clock: datetime | None = None,
) -> Successor | None:
    """Return the task to create when this recurring task is completed at ``now``, or None.

    The successor is due at the rule's first occurrence later than both ``due_at`` and
    ``now``; None when COUNT or UNTIL end the series first, or when none comes within the
    horizon. Raises RecurrenceError for a rule or zone that ``validate`` rejects.
    """
    parsed = _parse(rule)
    zone = ZoneInfo(validate_time_zone(time_zone))
    due, threshold = _utc(due_at), max(_utc(due_at), _utc(now))
    try:
        anchor = _anchor(due, zone, wall_clock)
        target = _local(threshold, zone)
    except OverflowError:
        return None
    if parsed.count is None:
        start, limit = _jump(parsed, anchor, target), _plus_horizon(target)
    else:
        # Skipped occurrences count, so a COUNT series is walked from its task: for the
        # horizon after it, no further.
        start, limit = anchor, _plus_horizon(anchor)
    position = 1  # the task itself is its series' first occurrence
    for naive in _search(parsed, anchor, start, limit):
        if naive <= anchor:
            continue
        instant = _instant(naive, zone)
        if instant is None or not _before_until(parsed, naive, instant):
            return None
        position += 1
        if parsed.count is not None and position > parsed.count:
            return None
        if instant > threshold:
            try:
                local: datetime | None = _local(instant, zone)
            except OverflowError:  # a gap at the calendar's very end
                local = None
            return Successor(
                due_at=instant,
                recurrence=parsed.text
                if parsed.count is None
                else parsed.with_count(parsed.count - position + 1),
                wall_clock=None if local == naive else naive,
                shift=instant - due,
            )
    return None


def shifted(moment: datetime | None, successor: Successor) -> datetime | None:
    """Move ``moment`` (a remind_at) by the successor's shift; None if absent or out of range."""
    if moment is None:
        return None
    try:
        return _utc(moment) + successor.shift
    except OverflowError:
        return None


def _rule_error(message: str) -> RecurrenceError:
    return RecurrenceError({"recurrence": message})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # The tzdata package's list, not the machine's /usr/share/zoneinfo: the same names are
    # accepted everywhere, and no file name like "localtime" or "../etc" gets through.
    with resources.files("tzdata").joinpath("zones").open(encoding="utf-8") as zones:
        return frozenset(line.strip() for line in zones if line.strip())


def _parse(rule: str) -> _Rule:
    """Parse and check an RRULE value against the contract; every failure is a RecurrenceError."""
    if not isinstance(rule, str):
        raise _rule_error("The rule must be a string.")
    text = rule.strip().upper()
    if not text:
        raise _rule_error("The rule is empty.")
    if len(text) > MAX_RULE_LENGTH:
        raise _rule_error(f"The rule is longer than {MAX_RULE_LENGTH} characters.")
    if text.startswith("RRULE:"):
        raise _rule_error("Give the RRULE value without the 'RRULE:' prefix.")
    if ":" in text or "\n" in text or "\r" in text:
        raise _rule_error("Only an RRULE value is accepted (no DTSTART, RDATE or EXDATE lines).")
    values: dict[str, str] = {}
    order: list[str] = []
    for part in text.split(";"):
        match = _PART.fullmatch(part)
        if match is None:
            raise _rule_error(f"{part!r} is not a NAME=VALUE rule part.")
        name, value = match.groups()
        if name in _UNSUPPORTED:
            raise _rule_error(f"{name} {_UNSUPPORTED[name]}.")
        if name not in _PARSERS:
            raise _rule_error(f"Unknown rule part {name}.")
        if name in values:
            raise _rule_error(f"{name} is given more than once.")
        values[name] = value
        order.append(name)
    if "FREQ" not in values:
        raise _rule_error("The rule needs a FREQ.")
    parsed = {name: _PARSERS[name](name, values[name]) for name in order}
    return _check(parsed, values, order)


def _parse_freq(name: str, value: str) -> str:
    if value in ("HOURLY", "MINUTELY", "SECONDLY"):
        raise _rule_error(f"FREQ={value} is not supported: the shortest frequency is DAILY.")
    if value not in _FREQUENCIES:
        raise _rule_error("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.")
    return value


def _parse_positive(name: str, value: str) -> int:
    if _NUMBER.fullmatch(value) is None or int(value) < 1:
        raise _rule_error(f"{name} must be a whole number of at least 1.")
    return int(value)


def _parse_until(name: str, value: str) -> datetime | date:
    try:
        if _UNTIL_DATE.fullmatch(value):
            return datetime.strptime(value, "%Y%m%d").date()
        if _UNTIL_UTC.fullmatch(value):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        pass
    raise _rule_error("UNTIL must be a date (20271231) or a UTC time (20271231T235959Z).")


def _parse_wkst(name: str, value: str) -> int:
    if value not in _WEEKDAYS:
        raise _rule_error("WKST must be one of MO, TU, WE, TH, FR, SA, SU.")
    return _WEEKDAYS.index(value)


def _split(name: str, value: str) -> list[str]:
    items = value.split(",")
    if len(items) > MAX_LIST_VALUES:
        raise _rule_error(f"{name} has more than {MAX_LIST_VALUES} values.")
    return items


def _unique(name: str, items: list[Any]) -> tuple[Any, ...]:
    if len(set(items)) != len(items):
        raise _rule_error(f"{name} names a value more than once.")
    return tuple(items)


def _parse_numbers(name: str, value: str, low: int, high: int, signed: bool) -> tuple[int, ...]:
    numbers = []
    for item in _split(name, value):
        match = _SIGNED.fullmatch(item)
        if match is None or (match.group(1) == "-" and not signed):
            number = None
        else:
            number = int(match.group(2)) * (-1 if match.group(1) == "-" else 1)
        if number is None or not low <= abs(number) <= high:
            sign = "-" if signed else ""
            raise _rule_error(f"{name} values must be whole numbers from {sign}{low} to {high}.")
        numbers.append(number)
    return _unique(name, numbers)


def _parse_bymonth(name: str, value: str) -> tuple[int, ...]:
    return _parse_numbers(name, value, 1, 12, signed=False)


def _parse_bymonthday(name: str, value: str) -> tuple[int, ...]:
    return _parse_numbers(name, value, 1, 31, signed=True)


def _parse_bysetpos(name: str, value: str) -> tuple[int, ...]:
    # dateutil lists a period's days once per position: each one costs a pass over the period.
    if value.count(",") >= MAX_SETPOS_VALUES:
        raise _rule_error(f"BYSETPOS has more than {MAX_SETPOS_VALUES} values.")
    return _parse_numbers(name, value, 1, 366, signed=True)


def _parse_byday(name: str, value: str) -> tuple[tuple[int, int | None], ...]:
    days: list[tuple[int, int | None]] = []
    for item in _split(name, value):
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise _rule_error(f"BYDAY values look like MO, 2FR or -1SU, not {item!r}.")
        sign, digits, day = match.groups()
        ordinal = None if digits is None else int(digits) * (-1 if sign == "-" else 1)
        if ordinal is not None and not 1 <= abs(ordinal) <= 53:
            raise _rule_error("BYDAY ordinals must be from 1 to 53 or -1 to -53.")
        days.append((_WEEKDAYS.index(day), ordinal))
    return _unique(name, days)


_PARSERS: dict[str, Any] = {
    "FREQ": _parse_freq,
    "INTERVAL": _parse_positive,
    "COUNT": _parse_positive,
    "UNTIL": _parse_until,
    "WKST": _parse_wkst,
    "BYMONTH": _parse_bymonth,
    "BYMONTHDAY": _parse_bymonthday,
    "BYDAY": _parse_byday,
    "BYSETPOS": _parse_bysetpos,
}


def _format(name: str, value: Any, raw: str) -> str:
    """The normalised text of one part: upper case, numbers without signs or leading zeros."""
    if name in ("BYMONTH", "BYMONTHDAY", "BYSETPOS"):
        return ",".join(str(number) for number in value)
    if name == "BYDAY":
        return ",".join(f"{'' if n is None else n}{_WEEKDAYS[day]}" for day, n in value)
    if name in ("INTERVAL", "COUNT"):
        return str(value)
    return raw


def _check(parsed: dict[str, Any], raw: dict[str, str], order: list[str]) -> _Rule:
    """The rules between parts (RFC 5545 3.3.10 and the caps above)."""
    freq_name = parsed["FREQ"]
    freq = _FREQUENCIES[freq_name]
    if "COUNT" in parsed and "UNTIL" in parsed:
        raise _rule_error("COUNT and UNTIL cannot both be given.")
    count = parsed.get("COUNT")
    if count is not None and count > MAX_COUNT:
        raise _rule_error(f"COUNT must be at most {MAX_COUNT}.")
    interval = parsed.get("INTERVAL", 1)
    if interval > MAX_INTERVAL[freq_name]:
        raise _rule_error(
            f"INTERVAL={interval} with FREQ={freq_name} repeats less often than once in "
            f"{HORIZON_YEARS} years (at most {MAX_INTERVAL[freq_name]})."
        )
    byday = parsed.get("BYDAY")
    ordinals = [n for _, n in byday or () if n is not None]
    if ordinals and freq not in (MONTHLY, YEARLY):
        raise _rule_error("BYDAY ordinals (2MO, -1FR) need FREQ=MONTHLY or FREQ=YEARLY.")
    if ordinals and (freq == MONTHLY or "BYMONTH" in parsed) and max(map(abs, ordinals)) > 5:
        raise _rule_error("BYDAY ordinals within a month must be from 1 to 5 or -1 to -5.")
    if "BYMONTHDAY" in parsed and freq == WEEKLY:
        raise _rule_error("BYMONTHDAY cannot be used with FREQ=WEEKLY.")
    if "BYSETPOS" in parsed and not {"BYMONTH", "BYMONTHDAY", "BYDAY"} & parsed.keys():
        raise _rule_error("BYSETPOS needs BYMONTH, BYMONTHDAY or BYDAY to choose from.")
    # RFC 5545: FREQ first, for older readers; the other parts keep the client's order.
    names = ["FREQ"] + [name for name in order if name != "FREQ"]
    return _Rule(
        parts=tuple((name, _format(name, parsed[name], raw[name])) for name in names),
        freq=freq,
        interval=interval,
        count=count,
        until=parsed.get("UNTIL"),
        wkst=parsed.get("WKST", 0),
        bymonth=parsed.get("BYMONTH"),
        bymonthday=parsed.get("BYMONTHDAY"),
        byday=byday,
        bysetpos=parsed.get("BYSETPOS"),
    )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("recurrence needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time of an instant in a zone (OverflowError past year 1 or 9999)."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _instant(naive: datetime, zone: ZoneInfo) -> datetime | None:
    """A wall-clock time as a UTC instant: fold=0 moves a skipped time forward by the gap and
    takes the first of a repeated one. None past the calendar's ends."""
    try:
        return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    except OverflowError:
        return None


def _plus_horizon(naive: datetime) -> datetime:
    try:
        return naive + _HORIZON
    except (OverflowError, ValueError):
        return datetime.max


def _anchor(due: datetime, zone: ZoneInfo, wall_clock: datetime | None) -> datetime:
    """The wall-clock time the task stands for: the stored one if it still maps to due_at."""
    if wall_clock is not None and wall_clock.tzinfo is None:
        if _instant(wall_clock.replace(microsecond=0), zone) == due:
            return wall_clock.replace(microsecond=0)
    # dateutil drops microseconds from its start, so every occurrence is on a whole second.
    return _local(due, zone).replace(microsecond=0)


def _before_until(rule: _Rule, naive: datetime, instant: datetime) -> bool:
    if rule.until is None:
        return True
    if isinstance(rule.until, datetime):
        return instant <= rule.until
    return naive.date() <= rule.until


def _kwargs(rule: _Rule, anchor: datetime) -> dict[str, Any]:
    """dateutil's arguments, with the defaults it would take from the start made explicit, so
    that a start moved ahead (``_jump``) describes the same occurrences."""
    bymonth, bymonthday = rule.bymonth, rule.bymonthday
    byweekday = None if rule.byday is None else [weekday(d, n) for d, n in rule.byday]
    if bymonthday is None and byweekday is None:
        if rule.freq == YEARLY:
            bymonth = bymonth or (anchor.month,)
            bymonthday = (anchor.day,)
        elif rule.freq == MONTHLY:
            bymonthday = (anchor.day,)
        elif rule.freq == WEEKLY:
            byweekday = [weekday(anchor.weekday())]
    return {
        "freq": rule.freq,
        "interval": rule.interval,
        "wkst": rule.wkst,  # explicit: dateutil's default is calendar.firstweekday(), a global
        "bymonth": bymonth,
        "bymonthday": bymonthday,
        "byweekday": byweekday,
        "bysetpos": rule.bysetpos,
    }


def _jump(rule: _Rule, anchor: datetime, target: datetime) -> datetime:
    """A start on the rule's own period grid, a little before ``target`` (and not before the
    anchor), from which the rule yields the same occurrences as from the anchor: an overdue
    task's successor is then found without walking the years between."""
    # Two days: the widest gap between a wall-clock time and its instant (a zone's offset
    # change, up to a whole skipped day) cannot hide an occurrence after target.
    margin = timedelta(days=2)
    goal = target - margin if target - anchor > margin else anchor  # never before the year 1
    if rule.freq in (DAILY, WEEKLY):
        step = rule.interval * (7 if rule.freq == WEEKLY else 1)
        return anchor + timedelta(days=(goal - anchor).days // step * step)
    if rule.freq == MONTHLY:
        months = (goal.year - anchor.year) * 12 + goal.month - anchor.month - 1
        steps = max(months, 0) // rule.interval * rule.interval
        if steps == 0:
            return anchor
        first = date(anchor.year, anchor.month, 1) + relativedelta(months=steps)
        return datetime.combine(first, anchor.time())
    steps = max(goal.year - anchor.year - 1, 0) // rule.interval * rule.interval
    if steps == 0:
        return anchor
    return datetime.combine(date(anchor.year + steps, 1, 1), anchor.time())


def _search(rule: _Rule, anchor: datetime, start: datetime, limit: datetime) -> Any:
    """The rule's naive occurrences from ``start`` up to ``limit`` (both included); the work is
    bounded by a rebuild budget that covers that span and no more."""
    first = start
    if rule.freq == WEEKLY:
        # RFC 5545: a set of instances starts at the beginning of its interval. dateutil starts
        # the first week at DTSTART's day, so BYSETPOS would count from there (dateutil issue
        # 1398); start at the week's WKST and drop the days before ``start`` here instead.
        try:
            first = start - timedelta(days=(start.weekday() - rule.wkst) % 7)
        except OverflowError:
            pass  # the week began before the year 1: the calendar's first days do
    iterator = _BudgetedRule(dtstart=first, **_kwargs(rule, anchor))
    span_days = (limit - first).days + 1
    unit = _UNIT_DAYS[rule.freq] * rule.interval
    iterator._rebuilds_left = min(span_days // 28, span_days // unit) + 4
    occurrences = iter(iterator)
    while True:
        try:
            naive = next(occurrences)
        except (StopIteration, _BudgetSpent, OverflowError, ValueError):
            # dateutil's own end (year 9999) can overflow the date arithmetic of its last week.
            return
        if naive > limit:
            return
        if naive >= start:
            yield naive


def _has_occurrence(rule: _Rule, due: datetime, zone: ZoneInfo) -> bool:
    """Whether the rule yields an occurrence in the horizon starting at due_at (the contract's
    check; COUNT and UNTIL apply)."""
    try:
        anchor = _local(due, zone).replace(microsecond=0)
    except OverflowError:
        return False
    for naive in _search(rule, anchor, anchor, _plus_horizon(anchor)):
        instant = _instant(naive, zone)
        return instant is not None and _before_until(rule, naive, instant)
    return False
