"""The organizers' dashboard through the offline Telegram: the three rates, scopes, periods, the chart, the
date range flow and the weekly report; and the rates' arithmetic on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.clock import to_db
from bot.domain.people import Person as Member
from bot.domain.people import Role
from bot.domain.rates import (
    PeriodKind,
    Ratio,
    date_range,
    parse_period,
    percentile,
    period_for,
    working_hours_between,
)
from bot.domain.reports import FixedAnswer, ReportState
from bot.domain.worktime import WorkCalendar
from bot.sandbox.fake_telegram import tiny_png
from bot.services import reports as report_service
from bot.services import stats as stats_service
from bot.services import tasks as task_service
from bot.services.reports import ReportInput
from bot.storage import drafts, people
from bot.storage.drafts import Draft
from tests.reports_street import Street, add_person, seed_street
from tests.support.people import BotHarness, Person

TZ = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Week:
    """A community whose North grid took ten reports in the week of Monday 3 March 2025."""

    h: BotHarness
    street: Street
    alice: Person
    bob: Person
    wang: Person
    liu: Person  # organizer of the community
    sun: Person  # street admin
    chen: Person  # team lead of the South grid
    ids: dict[str, int]
    report_ids: list[int]


async def member(h: BotHarness, person_id: int) -> Member:
    found = await people.by_id(h.services.db, person_id)
    assert found is not None
    return found


async def file_report(h: BotHarness, reporter: Member, building_id: int) -> int:
    """What the /report flow's Confirm does, with a draft saved first as the flow leaves it."""
    assert reporter.telegram_id is not None
    async with h.services.db.transaction() as conn:
        saved = await drafts.save(
            conn, Draft(telegram_id=reporter.telegram_id, flow="report", step="summary"), h.clock.now()
        )
    filed = await report_service.submit_report(
        h.services,
        reporter,
        ReportInput(category="lighting", description="Stair light out", building_id=building_id),
        telegram_id=reporter.telegram_id,
        draft_version=saved.version,
    )
    return filed.report.id


async def seed_week(h: BotHarness) -> Week:
    """Ten reports: nine accepted within their sign-for deadline and one late; all ten closed, seven
    confirmed fixed (two closed unverified, one not our responsibility); eight rated, six with 4 or 5."""
    now = h.clock.now()
    db = h.services.db
    street = await seed_street(db, now)
    alice, bob, wang, liu, sun, chen = (
        h.person(n, "en") for n in ("Alice", "Bob", "Wang", "Liu", "Sun", "Chen")
    )
    ids = {
        "alice": await add_person(
            db, now, telegram_id=alice.id, name="Alice Ng", building_id=street.building_a, phone="13800000001"
        ),
        "bob": await add_person(
            db, now, telegram_id=bob.id, name="Bob Wu", building_id=street.building_b, phone="13800000002"
        ),
        "wang": await add_person(
            db, now, telegram_id=wang.id, name="Wang", role=Role.GRID_WORKER, scope_id=street.north
        ),
        "liu": await add_person(
            db, now, telegram_id=liu.id, name="Liu", role=Role.ORGANIZER, scope_id=street.community
        ),
        "sun": await add_person(db, now, telegram_id=sun.id, name="Sun", role=Role.ADMIN),
        "chen": await add_person(
            db, now, telegram_id=chen.id, name="Chen", role=Role.SECRETARY, scope_id=street.south
        ),
    }
    residents = [await member(h, ids["alice"]), await member(h, ids["bob"])]
    worker, organizer = await member(h, ids["wang"]), await member(h, ids["liu"])
    report_ids = []
    for n in range(10):
        reporter = residents[n % 2]
        report_ids.append(await file_report(h, reporter, reporter.building_id or 0))
        await h.advance(minutes=5)
    for report_id in report_ids[:9]:
        await task_service.accept(h.services, worker, report_id)
    await h.advance(hours=5)  # the tenth waits past its four working hours
    await task_service.accept(h.services, worker, report_ids[9])
    await task_service.not_ours(h.services, organizer, report_ids[9], "The water company's lamp")
    photo = h.core.store_photo(tiny_png())[-1]["file_id"]
    for report_id in report_ids[:9]:
        await task_service.resolve(h.services, worker, report_id, "New bulb", photo)
    await h.settle()  # "is it fixed?" reaches the reporters: their windows start
    for report_id in report_ids[:7]:
        reporter = residents[report_ids.index(report_id) % 2]
        await report_service.answer_fixed(h.services, reporter, report_id, FixedAnswer.YES)
    await h.advance(hours=5)  # the last two were never answered: closed unverified
    for report_id, stars in zip(report_ids[:8], (5, 5, 4, 4, 5, 4, 2, 3), strict=True):
        reporter = residents[report_ids.index(report_id) % 2]
        await report_service.rate(h.services, reporter, report_id, stars)
    await h.settle()
    return Week(h, street, alice, bob, wang, liu, sun, chen, ids, report_ids)


@pytest.fixture
async def week(tmp_path: Path) -> AsyncIterator[Week]:
    async with BotHarness(tmp_path, verify_window_hours=4) as h:
        yield await seed_week(h)


async def test_organizer_sees_ninety_seventy_seventy_five_percent_for_the_week(week: Week) -> None:
    states = [row[0] for row in await week.h.services.db.fetch_all("SELECT state FROM reports ORDER BY id")]
    assert states.count(ReportState.CLOSED) == 7 and states.count(ReportState.CLOSED_UNVERIFIED) == 2
    await week.liu.send("/stats")
    text = week.liu.last_message.text
    assert "Riverside" in text and "This week: 2025-03-03 – 2025-03-09" in text
    assert "Reports received: 10" in text
    assert "Response rate: 90% (9 of 10)" in text
    assert "Resolution rate: 70% (7 of 10)" in text
    assert "Satisfaction rate: 75% (6 of 8)" in text
    assert "Reopen rate: 0% (0 of 10)" in text and "Overdue now: 0" in text
    assert "Working time to accept: median" in text and "(10 reports)" in text
    assert "Lighting: 10 received · 90% / 70% / 75%" in text
    assert "North: 10 received · 90% / 70% / 75%" in text


async def test_patrol_rounds_stay_out_of_the_residents_rates(week: Week) -> None:
    """A patrol is the team's own round, not a resident's report: it counts in no rate."""
    async with week.h.services.db.transaction() as conn:
        await conn.execute("UPDATE reports SET category = 'patrol' WHERE id = ?", (week.report_ids[9],))
    await week.liu.send("/stats")
    text = week.liu.last_message.text
    assert "Reports received: 9" in text
    assert "Response rate: 100% (9 of 9)" in text


async def test_definitions_are_one_tap_away_and_back(week: Week) -> None:
    await week.liu.send("/stats")
    await week.liu.press("ℹ️ Definitions")
    text = week.liu.last_message.text
    assert "accepted within their sign-for deadline" in text and "confirmed fixed" in text
    assert week.liu.last_message.edited
    await week.liu.press("‹ Back")
    assert "Response rate: 90%" in week.liu.last_message.text


async def test_organizer_gets_the_chart_as_a_png(week: Week) -> None:
    await week.liu.send("/stats")
    await week.liu.press("📈 Chart")
    chart = week.liu.last_message
    assert chart.photo is not None and chart.photo.startswith(PNG)
    assert "Riverside" in chart.text


async def test_last_week_is_empty_and_says_so_without_inventing_rates(week: Week) -> None:
    await week.liu.send("/stats")
    await week.liu.press("Last week")
    text = week.liu.last_message.text
    assert "Last week: 2025-02-24 – 2025-03-02" in text
    assert "Reports received: 0" in text and "Response rate: — (0 of 0)" in text


async def test_date_range_is_typed_and_bad_dates_are_asked_again(week: Week) -> None:
    liu = week.liu
    await liu.send("/stats")
    await liu.press("📅 Dates…")
    await liu.send_sticker()
    assert "not two dates" in liu.last_message.text
    await liu.send("2025-03-31 2025-03-01")
    assert "not two dates" in liu.last_message.text
    await liu.send("2025-03-01 2025-03-31")
    text = liu.last_message.text
    assert "Dates: 2025-03-01 – 2025-03-31" in text and "Response rate: 90%" in text
    await liu.send("/stats 2025-02-01 2025-02-28")
    assert "Reports received: 0" in liu.last_message.text


async def test_admin_picks_a_grid_among_every_area(week: Week) -> None:
    sun = week.sun
    await sun.send("/stats")
    assert "Whole street" in sun.last_message.text
    await sun.press("🔭 Another area")
    assert {"🏙 Whole street", "🏘 Riverside", "▫️ North", "▫️ South"} <= set(sun.last_message.buttons)
    await sun.press("▫️ South")
    text = sun.last_message.text
    assert "South" in text and "Reports received: 0" in text


async def test_nobody_sees_beyond_their_own_scope(week: Week) -> None:
    liu, chen, alice = week.liu, week.chen, week.alice
    await liu.send("/stats")
    await liu.press_data("st:v:s0:tw")  # the whole street: admins only
    answer = liu.last_callback_answer
    assert answer is not None and answer.show_alert and "your own area" in (answer.text or "")
    await liu.press_data(f"st:v:g{week.street.north}:tw")  # a grid of her community: fine
    assert "North" in liu.last_message.text
    await chen.send("/stats")
    assert "South" in chen.last_message.text
    await chen.press_data(f"st:v:g{week.street.north}:tw")
    assert "your own area" in (chen.last_callback_answer.text or "")  # type: ignore[union-attr]
    for forged in ("st:v:c1:zz", "st:v:x1:tw", "st:v", "st:c:c999:tw", "st:p:c1:tw:-1"):
        await liu.press_data(forged)
    await alice.send("/stats")
    assert "staff with the right role" in alice.last_message.text


async def test_weekly_report_reaches_the_organizer_on_monday_with_its_chart(week: Week) -> None:
    h = week.h
    assert await stats_service.ensure_weekly_report(h.services)
    assert not await stats_service.ensure_weekly_report(h.services)  # idempotent
    due = await h.services.db.fetch_value(
        "SELECT due_at FROM timers WHERE kind = ? AND state = 'pending'", (stats_service.WEEKLY,)
    )
    assert due == to_db(datetime(2025, 3, 10, 9, 0, tzinfo=TZ))
    await h.restart()  # the row is in the database, not in memory
    before = len(week.liu.inbox)
    monday = datetime(2025, 3, 10, 9, 0, tzinfo=TZ).astimezone(UTC)
    await h.advance(seconds=(monday - h.clock.now()).total_seconds() - 60)
    assert len(week.liu.inbox) == before
    await h.advance(minutes=1)
    report = week.liu.last_message
    assert (
        "Weekly report" in report.text
        and "Riverside" in report.text
        and "2025-03-03 – 2025-03-09" in report.text
    )
    assert "Response rate 90% · resolution rate 70% · satisfaction rate 75%" in report.text
    assert report.photo is not None and report.photo.startswith(PNG)
    assert "Whole street" in week.sun.last_message.text  # the admin's report covers the street
    pending = await h.services.db.fetch_all(
        "SELECT due_at FROM timers WHERE kind = ? AND state = 'pending'", (stats_service.WEEKLY,)
    )
    assert [row[0] for row in pending] == [to_db(datetime(2025, 3, 17, 9, 0, tzinfo=TZ))]
    await h.advance(hours=1)
    assert week.liu.inbox[-1].message_id == report.message_id  # once, not again


async def test_weekly_report_missed_while_the_bot_was_down_for_days_is_skipped(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, verify_window_hours=4) as h:
        await seed_week(h)
        await stats_service.ensure_weekly_report(h.services)
        await h.stop()
        h.clock.advance(timedelta(days=14))
        await h.start()
        await h.settle()
        sent = await h.services.db.fetch_value(
            "SELECT COUNT(*) FROM outbox WHERE template = ?", (stats_service.WEEKLY_TEMPLATE,)
        )
        assert sent == 0
        assert (
            await h.services.db.fetch_value(
                "SELECT COUNT(*) FROM timers WHERE kind = ? AND state = 'pending'", (stats_service.WEEKLY,)
            )
            == 1
        )


# ------------------------------------------------------------------------------------ arithmetic

CALENDAR = WorkCalendar(TZ, time(9, 0), time(17, 30), {date(2025, 4, 4): False, date(2025, 4, 27): True})


@settings(deadline=None, max_examples=200)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2025, 12, 31)),
    hours=st.floats(min_value=0.01, max_value=200, allow_nan=False),
)
def test_working_hours_between_undoes_adding_working_hours(start: datetime, hours: float) -> None:
    begin = start.replace(tzinfo=TZ)
    end = CALENDAR.add_working_hours(begin, hours)
    assert working_hours_between(CALENDAR, begin, end) == pytest.approx(hours, abs=1e-6)


def test_working_hours_skip_nights_weekends_and_holidays_but_count_make_up_days() -> None:
    friday_four = datetime(2025, 4, 3, 16, 0, tzinfo=TZ)  # Thursday; Friday 4 April is a holiday
    monday_ten = datetime(2025, 4, 7, 10, 0, tzinfo=TZ)
    assert working_hours_between(CALENDAR, friday_four, monday_ten) == pytest.approx(2.5)
    sunday = datetime(2025, 4, 27, 9, 0, tzinfo=TZ)  # a make-up working Sunday
    assert working_hours_between(CALENDAR, sunday, sunday + timedelta(hours=3)) == pytest.approx(3)
    assert working_hours_between(CALENDAR, monday_ten, friday_four) == 0


def test_percentiles_interpolate_like_a_spreadsheet() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile(list(map(float, range(1, 11))), 0.9) == pytest.approx(9.1)
    assert percentile([7.0], 0.9) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_ratio_without_anything_counted_is_a_dash_not_zero() -> None:
    assert Ratio(0, 0).percent() == "—" and Ratio(0, 0).value is None
    assert Ratio(9, 10).percent() == "90%" and Ratio(2, 3).percent() == "67%"


def test_periods_start_on_monday_and_forged_codes_mean_nothing() -> None:
    wednesday = date(2025, 3, 5)
    assert period_for(PeriodKind.THIS_WEEK, wednesday).first == date(2025, 3, 3)
    assert period_for(PeriodKind.LAST_WEEK, wednesday).last == date(2025, 3, 2)
    month = period_for(PeriodKind.THIS_MONTH, date(2024, 2, 10))
    assert (month.first, month.last) == (date(2024, 2, 1), date(2024, 2, 29))
    ranged = date_range(date(2025, 1, 1), date(2025, 1, 31))
    assert parse_period(ranged.code, wednesday) == ranged
    for forged in ("zz", "r2025-1", "r20250231-20250301", "r20250301-20240301", "r20200101-20251231", ""):
        assert parse_period(forged, wednesday) is None
    start, end = period_for(PeriodKind.THIS_WEEK, wednesday).bounds(TZ)
    assert start == datetime(2025, 3, 2, 16, 0, tzinfo=UTC) and end - start == timedelta(days=7)
