"""The three rates (DESIGN.md), the reopen rate, working-time durations and reporting periods. Pure: no I/O.

Every screen, chart and export computes its figures with these functions, so a rate on /stats, in the
weekly chart and in a spreadsheet is the same number:

- response rate     = reports accepted within their sign-for deadline / reports assigned in the period
                      (by the time of the first assignment; the sign-for deadline is that assignment's);
- resolution rate   = reports the resident confirmed fixed / reports closed in the period, whatever the
                      outcome (closed unverified, not our responsibility, duplicate, withdrawn count in the
                      denominator only);
- satisfaction rate = ratings of 4 or 5 / ratings given in the period;
- reopen rate       = reports closed in the period that were ever reopened / reports closed in the period.

Time to accept runs from the first assignment to the first acceptance, time to resolve from filing to
the worker's last "resolved"; both count working time only (the street's working days and hours).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.domain.reports import Outcome
from bot.domain.worktime import WorkCalendar

SATISFIED_STARS = 4
MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Ratio:
    """`hits` of `total`; no value at all (not 0%) when nothing was counted."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return None if self.total == 0 else self.hits / self.total

    def percent(self) -> str:
        """`90%`, or `—` when there was nothing to count."""
        return "—" if self.total == 0 else f"{round(100 * self.hits / self.total)}%"


def ratio(flags: Iterable[bool]) -> Ratio:
    hits = total = 0
    for flag in flags:
        total += 1
        hits += bool(flag)
    return Ratio(hits, total)


# ------------------------------------------------------------------------------------------ the facts


class Assigned(NamedTuple):
    """A report whose first assignment fell in the period."""

    grid_id: int
    category: str
    assigned_at: datetime
    accept_by: datetime | None
    accepted_at: datetime | None


class Closed(NamedTuple):
    """A report closed in the period."""

    grid_id: int
    category: str
    created_at: datetime
    closed_at: datetime
    outcome: Outcome
    resolved_at: datetime | None
    reopen_count: int


class Rated(NamedTuple):
    """A rating given in the period."""

    grid_id: int
    category: str
    rated_at: datetime
    stars: int


def accepted_within(accept_by: datetime | None, accepted_at: datetime | None) -> bool:
    """Signed for by the sign-for deadline (a report never accepted was not)."""
    return accepted_at is not None and accept_by is not None and accepted_at <= accept_by


def accepted_in_time(item: Assigned) -> bool:
    return accepted_within(item.accept_by, item.accepted_at)


def response_rate(items: Iterable[Assigned]) -> Ratio:
    return ratio(accepted_in_time(item) for item in items)


def resolution_rate(items: Iterable[Closed]) -> Ratio:
    return ratio(item.outcome is Outcome.CONFIRMED_FIXED for item in items)


def satisfaction_rate(items: Iterable[Rated]) -> Ratio:
    return ratio(item.stars >= SATISFIED_STARS for item in items)


def reopen_rate(items: Iterable[Closed]) -> Ratio:
    return ratio(item.reopen_count > 0 for item in items)


@dataclass(frozen=True)
class Rates:
    response: Ratio
    resolution: Ratio
    satisfaction: Ratio


def rates(assigned: Sequence[Assigned], closed: Sequence[Closed], rated: Sequence[Rated]) -> Rates:
    return Rates(response_rate(assigned), resolution_rate(closed), satisfaction_rate(rated))


# ------------------------------------------------------------------------------------- working time


def working_hours_between(calendar: WorkCalendar, start: datetime, end: datetime) -> float:
    """Working hours from `start` to `end`: the inverse of `WorkCalendar.add_working_hours`."""
    if end <= start:
        return 0.0
    tz = calendar.tz
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = timedelta(0)
    day = local_start.date()
    while day <= local_end.date():
        if calendar.is_working_day(day):
            opens = datetime.combine(day, calendar.day_start, tzinfo=tz)
            closes = datetime.combine(day, calendar.day_end, tzinfo=tz)
            low, high = max(opens, local_start), min(closes, local_end)
            if high > low:
                total += high - low
        day += timedelta(days=1)
    return total.total_seconds() / 3600


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th quantile (0–1) with linear interpolation between ranks, as spreadsheets compute it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile of working hours over `count` reports (None when there were none)."""

    count: int
    median: float | None
    p90: float | None


def durations(hours: Sequence[float]) -> Durations:
    if not hours:
        return Durations(0, None, None)
    return Durations(len(hours), percentile(hours, 0.5), percentile(hours, 0.9))


def hours_to_accept(calendar: WorkCalendar, items: Iterable[Assigned]) -> list[float]:
    return [
        working_hours_between(calendar, item.assigned_at, item.accepted_at)
        for item in items
        if item.accepted_at is not None
    ]


def hours_to_resolve(calendar: WorkCalendar, items: Iterable[Closed]) -> list[float]:
    return [
        working_hours_between(calendar, item.created_at, item.resolved_at)
        for item in items
        if item.resolved_at is not None
    ]


# ------------------------------------------------------------------------------------------ periods


class PeriodKind(StrEnum):
    THIS_WEEK = "tw"
    LAST_WEEK = "lw"
    THIS_MONTH = "tm"
    RANGE = "r"


@dataclass(frozen=True)
class Period:
    """Whole days `first`..`last` (inclusive) in the street's timezone; weeks start on Monday."""

    kind: PeriodKind
    first: date
    last: date

    @property
    def code(self) -> str:
        """Short enough for callback data: `tw`, `lw`, `tm`, `r20250301-20250331`."""
        if self.kind is PeriodKind.RANGE:
            return f"r{self.first:%Y%m%d}-{self.last:%Y%m%d}"
        return self.kind.value

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as aware UTC datetimes."""
        return day_start(self.first, tz), day_start(self.last + timedelta(days=1), tz)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week(first: date, kind: PeriodKind = PeriodKind.RANGE) -> Period:
    monday = monday_of(first)
    return Period(kind, monday, monday + timedelta(days=6))


def period_for(kind: PeriodKind, today: date) -> Period:
    """This week, last week or this month as of `today` (a range needs its dates: `date_range`)."""
    if kind is PeriodKind.THIS_WEEK:
        return week(today, kind)
    if kind is PeriodKind.LAST_WEEK:
        return week(today - timedelta(days=7), kind)
    if kind is PeriodKind.THIS_MONTH:
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period(kind, first, following - timedelta(days=1))
    raise ValueError("a date range needs its dates")


class BadRange(ValueError):
    """Dates that make no period: the end before the start, or more than MAX_RANGE_DAYS days."""


def date_range(first: date, last: date) -> Period:
    if last < first or (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadRange(f"{first}..{last}")
    return Period(PeriodKind.RANGE, first, last)


def parse_period(code: str, today: date) -> Period | None:
    """The period a `Period.code` names; None for anything forged or malformed."""
    if code.startswith(PeriodKind.RANGE.value):
        try:
            first_text, last_text = code[1:].split("-")
            first = datetime.strptime(first_text, "%Y%m%d").date()
            last = datetime.strptime(last_text, "%Y%m%d").date()
            return date_range(first, last)
        except ValueError:
            return None
    try:
        return period_for(PeriodKind(code), today)
    except ValueError:
        return None


def weeks_back(last_week: Period, count: int) -> list[Period]:
    """`count` consecutive weeks ending with `last_week`'s week, oldest first."""
    monday = monday_of(last_week.last)
    return [week(monday - timedelta(days=7 * back)) for back in range(count - 1, -1, -1)]
