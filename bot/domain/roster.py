"""Duty roster and leave: whose night or holiday it is, and who stands in for whom. Pure: no I/O.

Leave and duty are kept by whole days in the street's timezone. Leave from Monday to Wednesday runs from
Monday 00:00 to Thursday 00:00. A duty day runs from the start of one working day's hours to the same
time the next day, so the person on duty for Monday also covers the small hours of Tuesday, and a
Saturday's duty covers Saturday and the night after it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot.domain.people import Person, Role, ScopeKind
from bot.domain.worktime import WorkCalendar

LEAVE_MAX_DAYS = 366
DUTY_MAX_DAYS = 92
_TODAY = {"today", "今天", "今日"}
_TOMORROW = {"tomorrow", "明天", "明日"}


class Leave(BaseModel):
    id: int
    person_id: int
    first_day: date
    last_day: date
    stand_in_id: int
    starts_at: datetime
    ends_at: datetime

    def current(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


class DutyShift(BaseModel):
    id: int
    scope_kind: ScopeKind
    scope_id: int
    person_id: int
    first_day: date
    last_day: date


def leave_window(first_day: date, last_day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first day 00:00, the day after the last 00:00) in the street's timezone, as aware UTC."""
    start = datetime.combine(first_day, time(0), tzinfo=tz)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def duty_day(moment: datetime, calendar: WorkCalendar) -> date:
    """The roster day a moment belongs to: days turn over when working hours would start."""
    local = moment.astimezone(calendar.tz)
    turnover = timedelta(hours=calendar.day_start.hour, minutes=calendar.day_start.minute)
    return (local - turnover).date()


def duty_time(moment: datetime, calendar: WorkCalendar) -> bool:
    """Outside working hours, on weekends and on holidays: when urgent reports also go to the duty."""
    return not calendar.is_working_time(moment)


def parse_day(text: str, today: date) -> date | None:
    """A day as people type it: `2025-03-10`, `3-10`, `3/10`, `3.10`, `3月10日`, today, tomorrow.

    Without a year the next such day counts (in December, `1-5` is next January)."""
    cleaned = text.strip().lower()
    if cleaned in _TODAY:
        return today
    if cleaned in _TOMORROW:
        return today + timedelta(days=1)
    full = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", cleaned)
    short = re.fullmatch(r"(\d{1,2})[-/.月](\d{1,2})日?", cleaned)
    try:
        if full is not None:
            return date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        if short is not None:
            candidate = date(today.year, int(short.group(1)), int(short.group(2)))
            return candidate if candidate >= today else date(today.year + 1, candidate.month, candidate.day)
    except ValueError:
        return None
    return None


class DaysProblem(StrEnum):
    ORDER = "order"  # the last day comes before the first
    PAST = "past"  # it is over already
    LONG = "long"  # longer than allowed


def days_problem(first_day: date, last_day: date, today: date, longest: int) -> DaysProblem | None:
    """Why a span of days cannot be used, or None when it can."""
    if last_day < first_day:
        return DaysProblem.ORDER
    if last_day < today:
        return DaysProblem.PAST
    if (last_day - first_day).days + 1 > longest:
        return DaysProblem.LONG
    return None


class Area(BaseModel, frozen=True):
    """Where a staff member works through some of their roles: the whole street, or grids and communities."""

    street: bool = False
    grid_ids: frozenset[int] = frozenset()
    community_ids: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.street or self.grid_ids or self.community_ids)

    def covers(self, grid_id: int, community_id: int) -> bool:
        return self.street or grid_id in self.grid_ids or community_id in self.community_ids


def area_of(person: Person, *roles: Role) -> Area:
    """The union of the scopes at which `person` holds any of `roles`."""
    scopes = person.scopes_for(*roles)
    return Area(
        street=any(s.kind is ScopeKind.STREET for s in scopes),
        grid_ids=frozenset(s.id for s in scopes if s.kind is ScopeKind.GRID),
        community_ids=frozenset(s.id for s in scopes if s.kind is ScopeKind.COMMUNITY),
    )
