"""Recurring patrols: cron-like schedules and when they next fall due. Pure: no I/O.

A team lead writes a schedule the way people say it — `mon 09:00`, `workdays 08:30, 14:30`, `每周一 09:00`,
`周一至周五 9:00` — or as a five-field cron line (`0 9 * * 1`: minute, hour, day of month, month, day of
week). A patrol "in working time" only falls due at moments the working-time calendar counts as working
time (holidays skipped, make-up working days included); a round-the-clock patrol falls due at every moment
its schedule names. Each occurrence becomes a task of the reserved category `patrol`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel

from bot.domain.reports import Category
from bot.domain.worktime import WorkCalendar

PATROL_CATEGORY = "patrol"
TITLE_MAX = 200
SCHEDULE_MAX = 100
# A schedule that names no moment within ten years (31 February, or 20:00 "in working time") never fires.
_DAYS_SEARCHED = 3660

_WEEKDAY_NAMES = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_CHINESE_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_EVERY_DAY = {"daily", "everyday", "every day", "每天", "每日"}
_WORKDAYS = {"workdays", "working days", "workday", "工作日", "每个工作日", "每個工作日"}
_WEEKDAYS = {"weekdays", "周一至周五", "週一至週五"}
_WEEKENDS = {"weekends", "weekend", "周末", "週末"}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")


class ScheduleError(ValueError):
    """The schedule text cannot be read; the message says which part."""


class Schedule(BaseModel, frozen=True):
    """The moments a schedule names, in the street's local time.

    `days` (of the month) and `weekdays` (0 = Monday) are None when unrestricted; when both are
    restricted a day matches either, as in cron. `workdays` asks for the calendar's working days.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None = None
    months: frozenset[int] = frozenset(range(1, 13))
    weekdays: frozenset[int] | None = None
    workdays: bool = False

    def matches_day(self, day: date, calendar: WorkCalendar) -> bool:
        if day.month not in self.months:
            return False
        if self.workdays and not calendar.is_working_day(day):
            return False
        by_day = self.days is not None and day.day in self.days
        by_weekday = self.weekdays is not None and day.weekday() in self.weekdays
        if self.days is not None and self.weekdays is not None:
            return by_day or by_weekday
        if self.days is not None:
            return by_day
        if self.weekdays is not None:
            return by_weekday
        return True

    def times(self) -> list[time]:
        return [time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]


def parse_schedule(text: str) -> Schedule:
    """A friendly `<days> <HH:MM>[, HH:MM…]` schedule or a five-field cron line."""
    cleaned = re.sub(r"\s+", " ", text.strip().lower())
    if not cleaned or len(cleaned) > SCHEDULE_MAX:
        raise ScheduleError("empty or too long")
    fields = cleaned.split(" ")
    if len(fields) == 5 and not any(_TIME.match(f) for f in fields):
        return _parse_cron(fields)
    return _parse_friendly(cleaned)


def _parse_friendly(text: str) -> Schedule:
    found = re.search(
        r"(?:[01]?\d|2[0-3])[:：][0-5]\d(?:\s*[,，、]\s*(?:[01]?\d|2[0-3])[:：][0-5]\d)*\s*$", text
    )
    if found is None:
        raise ScheduleError("a time such as 09:00 is needed")
    days_text = text[: found.start()].strip().strip(",，、").strip()
    moments = [_TIME.match(part.strip()) for part in re.split(r"[,，、]", found.group(0))]
    times = {(int(m.group(1)), int(m.group(2))) for m in moments if m is not None}
    hours = frozenset(h for h, _m in times)
    minutes = frozenset(m for _h, m in times)
    if {(h, m) for h in hours for m in minutes} != times:
        # A schedule is an hours × minutes grid, as in cron: 08:30 and 14:00 together would add 08:00 too.
        raise ScheduleError("several times must share their minutes, e.g. 09:00, 14:00")
    if not days_text or days_text in _EVERY_DAY:
        return Schedule(minutes=minutes, hours=hours)
    if days_text in _WORKDAYS:
        return Schedule(minutes=minutes, hours=hours, workdays=True)
    if days_text in _WEEKDAYS:
        return Schedule(minutes=minutes, hours=hours, weekdays=frozenset(range(5)))
    if days_text in _WEEKENDS:
        return Schedule(minutes=minutes, hours=hours, weekdays=frozenset({5, 6}))
    return Schedule(
        minutes=minutes, hours=hours, weekdays=_weekdays(re.sub(r"^(?:every|each|on)\s+", "", days_text))
    )


def _weekday(word: str) -> int:
    word = word.strip().removeprefix("每")
    if word in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[word]
    chinese = re.fullmatch(r"(?:周|週|星期|礼拜|禮拜)([一二三四五六日天七])", word)
    if chinese is not None:
        return _CHINESE_DAYS[chinese.group(1)]
    raise ScheduleError(f"not a day of the week: {word!r}")


def _weekdays(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in re.split(r"[,，、]|\s+and\s+|\s+", text):
        if not part:
            continue
        ends = re.split(r"-|–|~|至|到", part)
        if len(ends) == 1:
            days.add(_weekday(ends[0]))
        elif len(ends) == 2:
            first, last = _weekday(ends[0]), _weekday(ends[1])
            days.update((first + step) % 7 for step in range((last - first) % 7 + 1))
        else:
            raise ScheduleError(f"not a range of days: {part!r}")
    if not days:
        raise ScheduleError("which days?")
    return frozenset(days)


def _parse_cron(fields: list[str]) -> Schedule:
    minute, hour, day, month, weekday = fields
    weekdays = _cron_field(weekday, 0, 7, _WEEKDAY_CRON)
    return Schedule(
        minutes=frozenset(_cron_field(minute, 0, 59)),
        hours=frozenset(_cron_field(hour, 0, 23)),
        days=None if day == "*" else frozenset(_cron_field(day, 1, 31)),
        months=frozenset(_cron_field(month, 1, 12, _MONTH_NAMES)),
        # cron counts Sunday as 0 (and 7); Python's weekday() counts Monday as 0.
        weekdays=None if weekday == "*" else frozenset((d - 1) % 7 for d in weekdays),
    )


_WEEKDAY_CRON = {name: (number + 1) % 7 for name, number in _WEEKDAY_NAMES.items()}


def _cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _slash, step_text = part.partition("/")
        step = _number(step_text, None) if step_text else 1
        if step < 1:
            raise ScheduleError(f"a step must be at least 1: {part!r}")
        if base == "*":
            first, last = low, high
        else:
            first_text, _dash, last_text = base.partition("-")
            first = _number(first_text, names)
            last = _number(last_text, names) if last_text else (high if step_text else first)
        if not low <= first <= last <= high:
            raise ScheduleError(f"{part!r} is outside {low}–{high}")
        values.update(range(first, last + 1, step))
    return values


def _number(text: str, names: dict[str, int] | None) -> int:
    if names is not None and text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"not a number: {text!r}")
    return int(text)


def next_occurrence(
    schedule: Schedule, after: datetime, calendar: WorkCalendar, *, working_time: bool
) -> datetime | None:
    """The first moment strictly after `after` that the schedule names (and, `working_time`, that the
    calendar counts as working time), as aware UTC; None when there is none within ten years."""
    tz = calendar.tz
    local_after = after.astimezone(tz)
    times = schedule.times()
    day = local_after.date()
    for _ in range(_DAYS_SEARCHED):
        if schedule.matches_day(day, calendar):
            for at in times:
                moment = datetime.combine(day, at, tzinfo=tz)
                if moment > local_after and (not working_time or calendar.is_working_time(moment)):
                    return moment.astimezone(after.tzinfo)
        day += timedelta(days=1)
    return None


def upcoming(
    schedule: Schedule, after: datetime, calendar: WorkCalendar, *, working_time: bool, count: int
) -> list[datetime]:
    """The next `count` occurrences (fewer when the schedule runs out), for showing before saving."""
    found: list[datetime] = []
    cursor = after
    while len(found) < count:
        moment = next_occurrence(schedule, cursor, calendar, working_time=working_time)
        if moment is None:
            break
        found.append(moment)
        cursor = moment
    return found


def patrol_category(accept_by_hours: float, fix_by_hours: float) -> Category:
    """The reserved category of patrol tasks: never offered to residents, closed with a note and a photo."""
    return Category(
        code=PATROL_CATEGORY,
        names={"zh_Hans": "巡查", "zh_Hant": "巡查", "en": "Patrol"},
        accept_by_hours=accept_by_hours,
        fix_by_hours=fix_by_hours,
        allows_urgent=True,
        needs_after_photo=True,
    )


class Patrol(BaseModel):
    """A recurring check: what, where, when; paused patrols keep their schedule but do not fire."""

    id: int
    grid_id: int
    building_id: int
    title: str
    schedule: str
    working_time: bool
    paused: bool
    next_at: datetime | None
    created_by: int | None
