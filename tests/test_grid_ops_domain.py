"""Patrol schedules, duty days and leave windows: the pure arithmetic behind grid team operations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.patrols import (
    PATROL_CATEGORY,
    ScheduleError,
    next_occurrence,
    parse_schedule,
    patrol_category,
    upcoming,
)
from bot.domain.people import Person, Role, RoleGrant, Scope, ScopeKind
from bot.domain.roster import DaysProblem, area_of, days_problem, duty_day, duty_time, leave_window, parse_day
from bot.domain.worktime import WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
# 2026: New Year's Day to the 3rd off, Sunday the 4th worked; Spring Festival 15–23 Feb, Saturday the 14th
# and the 28th worked (as in bot/data/holidays.csv).
HOLIDAYS = {
    date(2026, 1, 1): False, date(2026, 1, 2): False, date(2026, 1, 3): False, date(2026, 1, 4): True,
    date(2026, 2, 14): True, date(2026, 2, 28): True,
    **{date(2026, 2, d): False for d in range(15, 24)},
}
CALENDAR = WorkCalendar(TZ, time(9, 0), time(17, 30), HOLIDAYS)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def shown(moments: list[datetime]) -> list[str]:
    return [m.astimezone(TZ).strftime("%a %Y-%m-%d %H:%M") for m in moments]


@pytest.mark.parametrize(
    "text",
    ["mon 09:00", "Monday 9:00", "every monday 09:00", "每周一 09:00", "周一 09:00", "星期一 9：00", "0 9 * * 1",
     "0 9 * * mon", "0 9 * * MON"],
)
def test_a_monday_morning_check_reads_the_same_in_every_way_of_writing_it(text: str) -> None:
    schedule = parse_schedule(text)
    assert shown(upcoming(schedule, local(2026, 3, 3, 12), CALENDAR, working_time=True, count=2)) == [
        "Mon 2026-03-09 09:00",
        "Mon 2026-03-16 09:00",
    ]


def test_friendly_day_lists_ranges_and_several_times() -> None:
    after = local(2026, 3, 2, 0)  # a Monday
    assert shown(upcoming(parse_schedule("mon,thu 14:30"), after, CALENDAR, working_time=True, count=3)) == [
        "Mon 2026-03-02 14:30", "Thu 2026-03-05 14:30", "Mon 2026-03-09 14:30",
    ]
    assert shown(upcoming(parse_schedule("周一至周三 9:00、15:00"), after, CALENDAR, working_time=False, count=3)) == [
        "Mon 2026-03-02 09:00", "Mon 2026-03-02 15:00", "Tue 2026-03-03 09:00",
    ]
    assert shown(upcoming(parse_schedule("fri-mon 10:00"), after, CALENDAR, working_time=False, count=4)) == [
        "Mon 2026-03-02 10:00", "Fri 2026-03-06 10:00", "Sat 2026-03-07 10:00", "Sun 2026-03-08 10:00",
    ]


def test_workdays_follow_the_holiday_calendar_with_its_make_up_days() -> None:
    schedule = parse_schedule("工作日 09:30")
    moments = upcoming(schedule, local(2026, 2, 12, 12), CALENDAR, working_time=True, count=4)
    # Friday the 13th, make-up Saturday the 14th, then the Spring Festival until the 23rd.
    assert shown(moments) == [
        "Fri 2026-02-13 09:30", "Sat 2026-02-14 09:30", "Tue 2026-02-24 09:30", "Wed 2026-02-25 09:30",
    ]


@pytest.mark.parametrize("text", ["daily 10:00", "every day 10:00", "每天 10:00", "10:00", "0 10 * * *"])
def test_in_working_time_skips_holidays_but_round_the_clock_does_not(text: str) -> None:
    schedule = parse_schedule(text)
    after = local(2025, 12, 31, 12)
    assert shown(upcoming(schedule, after, CALENDAR, working_time=True, count=2)) == [
        "Sun 2026-01-04 10:00", "Mon 2026-01-05 10:00",
    ]
    assert shown(upcoming(schedule, after, CALENDAR, working_time=False, count=2)) == [
        "Thu 2026-01-01 10:00", "Fri 2026-01-02 10:00",
    ]


def test_a_night_patrol_never_falls_in_working_time() -> None:
    schedule = parse_schedule("daily 22:00")
    assert next_occurrence(schedule, local(2026, 3, 2, 0), CALENDAR, working_time=True) is None
    night = next_occurrence(schedule, local(2026, 3, 2, 22, 0), CALENDAR, working_time=False)
    assert night == local(2026, 3, 3, 22, 0)  # strictly after: the 22:00 just past does not count again
    assert night is not None and night.tzinfo is not None


def test_cron_lines_with_steps_ranges_month_and_day_of_month() -> None:
    after = local(2026, 3, 2, 8, 0)
    every_half_hour = parse_schedule("*/30 9-10 * * 1-5")
    assert shown(upcoming(every_half_hour, after, CALENDAR, working_time=True, count=5)) == [
        "Mon 2026-03-02 09:00", "Mon 2026-03-02 09:30", "Mon 2026-03-02 10:00", "Mon 2026-03-02 10:30",
        "Tue 2026-03-03 09:00",
    ]
    first_of_quarter = parse_schedule("0 9 1 jan,apr,jul,oct *")
    assert shown(upcoming(first_of_quarter, after, CALENDAR, working_time=False, count=2)) == [
        "Wed 2026-04-01 09:00", "Wed 2026-07-01 09:00",
    ]
    # Day of month and day of week both given: either matches, as in cron.
    either = parse_schedule("0 9 15 * sun")
    assert shown(upcoming(either, after, CALENDAR, working_time=False, count=3)) == [
        "Sun 2026-03-08 09:00", "Sun 2026-03-15 09:00", "Sun 2026-03-22 09:00",
    ]
    sunday_as_seven = parse_schedule("0 12 * * 7")
    assert shown(upcoming(sunday_as_seven, after, CALENDAR, working_time=False, count=1)) == ["Sun 2026-03-08 12:00"]


def test_a_schedule_that_names_no_day_never_fires() -> None:
    assert next_occurrence(parse_schedule("0 9 31 2 *"), local(2026, 1, 1), CALENDAR, working_time=False) is None


@pytest.mark.parametrize(
    "text",
    ["", "   ", "mon", "09:00 mon", "moonday 09:00", "25:00", "mon 9:60", "60 9 * * *", "0 24 * * *",
     "0 9 0 * *", "0 9 * 13 *", "*/0 9 * * *", "0 9 * * 8", "a b c d e", "mon 09:00, 14:30", "x" * 200,
     "<b>mon</b> 09:00", "mon-tue-wed 09:00", "0 9-8 * * *"],
)
def test_unreadable_schedules_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text)


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=60))
def test_any_text_is_read_or_refused_never_crashes(text: str) -> None:
    try:
        schedule = parse_schedule(text)
    except ScheduleError:
        return
    moment = next_occurrence(schedule, local(2026, 3, 2), CALENDAR, working_time=True)
    assert moment is None or moment > local(2026, 3, 2)


@settings(deadline=None, max_examples=100)
@given(
    st.sampled_from(["mon 09:00", "workdays 10:15", "daily 22:00", "0 */6 * * *", "sat,sun 11:00"]),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
    st.booleans(),
)
def test_occurrences_are_later_than_asked_match_the_schedule_and_skip_nothing(
    text: str, naive: datetime, working_time: bool
) -> None:
    schedule = parse_schedule(text)
    after = naive.replace(tzinfo=UTC)
    found = next_occurrence(schedule, after, CALENDAR, working_time=working_time)
    if found is None:
        return
    assert found > after
    at = found.astimezone(TZ)
    assert at.hour in schedule.hours and at.minute in schedule.minutes
    assert schedule.matches_day(at.date(), CALENDAR)
    if working_time:
        assert CALENDAR.is_working_time(found)
    # Nothing the schedule names lies between: stepping minute by minute from `after` finds `found` first.
    probe = after.astimezone(TZ).replace(second=0, microsecond=0) + timedelta(minutes=1)
    steps = 0
    while probe < at and steps < 3 * 24 * 60:
        assert not (
            probe.hour in schedule.hours and probe.minute in schedule.minutes
            and schedule.matches_day(probe.date(), CALENDAR)
            and (not working_time or CALENDAR.is_working_time(probe))
        )
        probe += timedelta(minutes=1)
        steps += 1


def test_the_patrol_category_asks_for_a_photo() -> None:
    category = patrol_category(2, 8)
    assert category.code == PATROL_CATEGORY and category.needs_after_photo
    assert category.name("zh_Hant") == "巡查" and category.name("en") == "Patrol"


def test_a_duty_day_turns_over_when_working_hours_would_start() -> None:
    assert duty_day(local(2026, 3, 2, 9, 0), CALENDAR) == date(2026, 3, 2)
    assert duty_day(local(2026, 3, 2, 23, 0), CALENDAR) == date(2026, 3, 2)
    assert duty_day(local(2026, 3, 3, 3, 0), CALENDAR) == date(2026, 3, 2)
    assert duty_day(local(2026, 3, 3, 8, 59), CALENDAR) == date(2026, 3, 2)


def test_duty_time_is_outside_working_hours_weekends_and_holidays() -> None:
    assert not duty_time(local(2026, 3, 2, 10), CALENDAR)
    assert duty_time(local(2026, 3, 2, 23), CALENDAR)
    assert duty_time(local(2026, 3, 7, 10), CALENDAR)  # Saturday
    assert duty_time(local(2026, 1, 1, 10), CALENDAR)  # New Year's Day
    assert not duty_time(local(2026, 1, 4, 10), CALENDAR)  # a make-up working Sunday


def test_leave_covers_whole_days_in_the_street_timezone() -> None:
    start, end = leave_window(date(2026, 3, 2), date(2026, 3, 4), TZ)
    assert start == local(2026, 3, 2, 0) and end == local(2026, 3, 5, 0)
    assert start.tzinfo is UTC


def test_days_as_people_type_them() -> None:
    today = date(2026, 3, 2)
    assert parse_day("2026-03-10", today) == date(2026, 3, 10)
    assert parse_day("2026年3月10日", today) == date(2026, 3, 10)
    assert parse_day("3-10", today) == date(2026, 3, 10)
    assert parse_day("3/10", today) == date(2026, 3, 10)
    assert parse_day("3月10日", today) == date(2026, 3, 10)
    assert parse_day("1-5", today) == date(2027, 1, 5)  # passed this year: next year
    assert parse_day("today", today) == today
    assert parse_day("明天", today) == date(2026, 3, 3)
    for bad in ("", "2-30", "13-01", "soon", "2026-02-30", "<script>", "9" * 5000):
        assert parse_day(bad, today) is None


def test_spans_of_days_must_be_in_order_current_and_not_too_long() -> None:
    today = date(2026, 3, 2)
    assert days_problem(date(2026, 3, 5), date(2026, 3, 4), today, 10) is DaysProblem.ORDER
    assert days_problem(date(2026, 2, 1), date(2026, 2, 3), today, 10) is DaysProblem.PAST
    assert days_problem(date(2026, 3, 2), date(2026, 3, 12), today, 10) is DaysProblem.LONG
    assert days_problem(date(2026, 2, 28), date(2026, 3, 2), today, 10) is None


def test_an_area_is_the_union_of_the_scopes_of_the_roles_asked_about() -> None:
    person = Person(id=1, telegram_id=1, name="Chen", roles=[
        RoleGrant(role=Role.SECRETARY, scope=Scope(kind=ScopeKind.GRID, id=3)),
        RoleGrant(role=Role.ORGANIZER, scope=Scope(kind=ScopeKind.COMMUNITY, id=7)),
        RoleGrant(role=Role.RESIDENT, scope=Scope(kind=ScopeKind.STREET)),
    ])
    lead = area_of(person, Role.SECRETARY)
    assert lead.grid_ids == {3} and not lead.community_ids and not lead.street
    assert lead.covers(3, 99) and not lead.covers(4, 7)
    assert area_of(person, Role.SECRETARY, Role.ORGANIZER).covers(4, 7)
    assert area_of(person, Role.ADMIN).empty
    assert area_of(person, Role.RESIDENT).street
