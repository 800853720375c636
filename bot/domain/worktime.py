"""Working time and quiet hours: the arithmetic behind every SLA clock and every held push.

A grid worker's "accept within 4 hours" means 4 working hours: the clock stops at the end of the
working day, over weekends and public holidays, and runs on make-up working days (调休), when a
Saturday or Sunday is worked in exchange for a longer holiday. Urgent reports count round the clock.

The holiday file is CSV, UTF-8, one date per line:

    date,kind,name
    2026-10-01,holiday,国庆节
    2026-10-10,workday,国庆节调休上班

`date` is ISO (YYYY-MM-DD) in the street's timezone; `kind` is `holiday` (a weekday with no work) or
`workday` (a weekend day that is worked); `name` is free text for people reading the file. Blank lines
and lines starting with `#` are ignored. Dates not listed follow the week: Monday to Friday work.
The bundled file (bot/data/holidays.csv) holds mainland China's public holidays; a street that keeps
its own sets HOLIDAYS_FILE.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings

# A calendar with no working day in ten years is a broken file, not a long holiday.
_MAX_DAYS_SEARCHED = 3660
_KINDS = {"holiday": False, "workday": True}


class HolidayFileError(ValueError):
    """A line of the holiday file cannot be read; the message names the line."""


class WorkCalendar:
    """Working days and hours in the street's timezone; all results are aware UTC datetimes."""

    def __init__(self, tz: ZoneInfo, day_start: time, day_end: time, holidays: dict[date, bool]) -> None:
        if day_start >= day_end:
            raise ValueError("the working day must start before it ends")
        self.tz = tz
        self.day_start = day_start
        self.day_end = day_end
        self.holidays = holidays

    def is_working_day(self, day: date) -> bool:
        """Listed dates decide (holiday or make-up working day); others follow Monday to Friday."""
        if day in self.holidays:
            return self.holidays[day]
        return day.weekday() < 5

    def is_working_time(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return self.is_working_day(local.date()) and self.day_start <= local.time() < self.day_end

    def next_working_start(self, moment: datetime) -> datetime:
        """The moment itself when it is working time, else the start of the next working period."""
        local = moment.astimezone(self.tz)
        day = local.date()
        if self.is_working_day(day):
            if local.time() < self.day_start:
                return self._at(day, self.day_start)
            if local.time() < self.day_end:
                return moment.astimezone(UTC)
        return self._at(self._next_working_day(day), self.day_start)

    def add_working_hours(self, moment: datetime, hours: float, *, urgent: bool = False) -> datetime:
        """The earliest moment by which `hours` of working time have passed since `moment`.

        Urgent clocks run round the clock: plain addition. A deadline that lands exactly on the end of
        a working day stays there rather than moving to the next morning.
        """
        remaining = timedelta(hours=hours)
        if urgent or remaining <= timedelta(0):
            return (moment + remaining).astimezone(UTC)
        cursor = self.next_working_start(moment).astimezone(self.tz)
        while True:
            left_today = datetime.combine(cursor.date(), self.day_end, tzinfo=self.tz) - cursor
            if remaining <= left_today:
                return (cursor + remaining).astimezone(UTC)
            remaining -= left_today
            cursor = self._at(self._next_working_day(cursor.date()), self.day_start).astimezone(self.tz)

    def _next_working_day(self, day: date) -> date:
        for offset in range(1, _MAX_DAYS_SEARCHED):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError("the holiday calendar has no working day in ten years")

    def _at(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz).astimezone(UTC)


class QuietHours:
    """Hours (default 22:00–07:00, street time) when non-urgent pushes wait for the morning."""

    def __init__(self, start: time, end: time, tz: ZoneInfo) -> None:
        self.start = start
        self.end = end
        self.tz = tz

    def release_time(self, moment: datetime) -> datetime:
        """`moment` itself outside quiet hours, else the end of the quiet period it falls in."""
        local = moment.astimezone(self.tz)
        at = local.time()
        if self.start == self.end:
            return moment
        if self.start < self.end:
            quiet = self.start <= at < self.end
            release_day = local.date()
        else:
            quiet = at >= self.start or at < self.end
            release_day = local.date() + timedelta(days=1) if at >= self.start else local.date()
        if not quiet:
            return moment
        return datetime.combine(release_day, self.end, tzinfo=self.tz).astimezone(UTC)


def parse_holidays(text: str, source: str = "holidays") -> dict[date, bool]:
    """Read the holiday file format described above; a bad row stops start-up and is named."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if reader.fieldnames != ["date", "kind", "name"]:
        raise HolidayFileError(f"{source}: the first line must be 'date,kind,name'")
    holidays: dict[date, bool] = {}
    for number, row in enumerate(reader, start=1):
        try:
            holidays[date.fromisoformat(row["date"].strip())] = _KINDS[row["kind"].strip()]
        except (AttributeError, ValueError, KeyError):
            raise HolidayFileError(
                f"{source}: row {number} is not 'YYYY-MM-DD,holiday|workday,name': {row}"
            ) from None
    return holidays


def load_holidays(path: Path | None) -> dict[date, bool]:
    """The street's own file when set, else the bundled mainland China calendar."""
    if path is not None:
        return parse_holidays(path.read_text(encoding="utf-8"), str(path))
    bundled = resources.files("bot") / "data" / "holidays.csv"
    return parse_holidays(bundled.read_text(encoding="utf-8"), "bot/data/holidays.csv")


def calendar_from_settings(settings: Settings) -> WorkCalendar:
    return WorkCalendar(
        settings.tz, settings.work_day_start, settings.work_day_end, load_holidays(settings.holidays_file)
    )


def quiet_hours_from_settings(settings: Settings) -> QuietHours:
    return QuietHours(settings.quiet_hours_start, settings.quiet_hours_end, settings.tz)
