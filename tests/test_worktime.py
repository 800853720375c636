"""Working-time arithmetic for SLA clocks, quiet hours, the holiday file and how times are shown."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.domain.worktime import (
    HolidayFileError,
    QuietHours,
    WorkCalendar,
    calendar_from_settings,
    load_holidays,
    parse_holidays,
)
from bot.ui.timefmt import format_moment, format_relative

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar(SHANGHAI, time(9, 0), time(17, 30), load_holidays(None))


def test_deadline_runs_over_the_weekend(calendar: WorkCalendar) -> None:
    # Friday 16:00 + 4 working hours: 1.5 h on Friday, 2.5 h on Monday.
    assert calendar.add_working_hours(at(2026, 3, 6, 16), 4) == at(2026, 3, 9, 11, 30)


def test_deadline_skips_the_national_day_week(calendar: WorkCalendar) -> None:
    # Wednesday 30 September 15:00 + 4 h: 2.5 h that day, 1–7 October off, 1.5 h on Thursday 8th.
    assert calendar.add_working_hours(at(2026, 9, 30, 15), 4) == at(2026, 10, 8, 10, 30)


def test_make_up_working_days_count(calendar: WorkCalendar) -> None:
    # Saturday 10 October and Sunday 20 September 2026 are worked (调休).
    assert calendar.add_working_hours(at(2026, 10, 9, 16, 30), 3) == at(2026, 10, 10, 11)
    assert calendar.add_working_hours(at(2026, 9, 18, 17), 1) == at(2026, 9, 20, 9, 30)
    # Saturday 14 February, the day before the Spring Festival break, is worked too.
    assert calendar.add_working_hours(at(2026, 2, 13, 17), 1) == at(2026, 2, 14, 9, 30)
    assert calendar.is_working_day(date(2026, 2, 14))
    assert not calendar.is_working_day(date(2026, 2, 16))


def test_clock_stops_outside_the_working_day(calendar: WorkCalendar) -> None:
    # Reported at night: the clock starts at 9:00.
    assert calendar.add_working_hours(at(2026, 3, 10, 2), 2) == at(2026, 3, 10, 11)
    # Reported after hours: tomorrow morning.
    assert calendar.add_working_hours(at(2026, 3, 10, 20), 2) == at(2026, 3, 11, 11)
    # A deadline landing on the end of the day stays there.
    assert calendar.add_working_hours(at(2026, 3, 10, 9), 8.5) == at(2026, 3, 10, 17, 30)
    # Several working days.
    assert calendar.add_working_hours(at(2026, 3, 10, 9), 8.5 * 3) == at(2026, 3, 12, 17, 30)


def test_urgent_clocks_run_round_the_clock(calendar: WorkCalendar) -> None:
    assert calendar.add_working_hours(at(2026, 3, 6, 16), 4, urgent=True) == at(2026, 3, 6, 20)
    assert calendar.add_working_hours(at(2026, 10, 1, 23), 2, urgent=True) == at(2026, 10, 2, 1)


def test_working_time_and_next_start(calendar: WorkCalendar) -> None:
    assert calendar.is_working_time(at(2026, 3, 10, 9))
    assert not calendar.is_working_time(at(2026, 3, 10, 17, 30))
    assert not calendar.is_working_time(at(2026, 10, 2, 10))
    assert calendar.next_working_start(at(2026, 3, 10, 10)) == at(2026, 3, 10, 10)
    assert calendar.next_working_start(at(2026, 3, 6, 18)) == at(2026, 3, 9, 9)
    assert calendar.next_working_start(at(2026, 9, 30, 18)) == at(2026, 10, 8, 9)


def test_results_are_utc(calendar: WorkCalendar) -> None:
    result = calendar.add_working_hours(at(2026, 3, 6, 16), 1)
    assert result.utcoffset() == timedelta(0)


def test_quiet_hours_hold_until_morning() -> None:
    quiet = QuietHours(time(22), time(7), SHANGHAI)
    assert quiet.release_time(at(2026, 3, 10, 23)) == at(2026, 3, 11, 7)
    assert quiet.release_time(at(2026, 3, 10, 22)) == at(2026, 3, 11, 7)
    assert quiet.release_time(at(2026, 3, 11, 6, 59)) == at(2026, 3, 11, 7)
    assert quiet.release_time(at(2026, 3, 11, 7)) == at(2026, 3, 11, 7)
    assert quiet.release_time(at(2026, 3, 10, 21, 59)) == at(2026, 3, 10, 21, 59)


def test_quiet_hours_within_one_day_and_none() -> None:
    siesta = QuietHours(time(12), time(14), SHANGHAI)
    assert siesta.release_time(at(2026, 3, 10, 13)) == at(2026, 3, 10, 14)
    assert siesta.release_time(at(2026, 3, 10, 15)) == at(2026, 3, 10, 15)
    never = QuietHours(time(0), time(0), SHANGHAI)
    assert never.release_time(at(2026, 3, 10, 3)) == at(2026, 3, 10, 3)


def test_a_street_can_bring_its_own_holiday_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.csv"
    path.write_text(
        "# our street\ndate,kind,name\n2026-03-10,holiday,street day\n2026-03-14,workday,make-up\n",
        encoding="utf-8",
    )
    calendar = calendar_from_settings(Settings(_env_file=None, holidays_file=path))  # type: ignore[call-arg]
    assert not calendar.is_working_day(date(2026, 3, 10))
    assert calendar.is_working_day(date(2026, 3, 14))
    assert calendar.is_working_day(date(2026, 10, 1))  # the bundled file is not read


@pytest.mark.parametrize(
    "text",
    [
        "date,kind,name\n2026-03-10,day off,x\n",
        "date,kind,name\n2026-13-10,holiday,x\n",
        "2026-03-10,holiday,x\n",
        "date,kind,name\n2026-03-10\n",
    ],
)
def test_a_bad_holiday_file_is_refused(text: str) -> None:
    with pytest.raises(HolidayFileError):
        parse_holidays(text)


def test_moments_are_shown_in_each_language() -> None:
    moment = at(2026, 11, 27, 17, 30)
    assert format_moment(moment, "zh_Hans", SHANGHAI) == "11月27日 周五 17:30"
    assert format_moment(moment, "zh_Hant", SHANGHAI) == "11月27日 週五 17:30"
    assert format_moment(moment, "en", SHANGHAI) == "Fri 27 Nov 17:30"


def test_deadlines_are_shown_relative_to_now() -> None:
    now = at(2026, 11, 27, 9)
    assert format_relative(now + timedelta(hours=2), now, "en") == "in 2 hours"
    assert format_relative(now - timedelta(hours=2), now, "en") == "2 hours overdue"
    assert format_relative(now + timedelta(minutes=1), now, "en") == "in 1 minute"
    assert format_relative(now + timedelta(days=3), now, "en") == "in 3 days"
    assert format_relative(now + timedelta(seconds=20), now, "en") == "due now"
    assert format_relative(now + timedelta(hours=2), now, "zh_Hans") == "2小时后"
    assert format_relative(now - timedelta(minutes=30), now, "zh_Hans") == "已超时30分钟"
