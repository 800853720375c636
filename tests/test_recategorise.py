"""Staff re-categorise a report and the deadlines that hang on its category follow (offline Telegram).

Lighting gives 4 working hours to accept and 24 to fix, a safety hazard 1 and 8, "Other" 8 and 40; the
working day is 09:00–17:30 and the fake clock starts on Monday 3 March 2025 at 09:00.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import from_db
from bot.domain.reports import ReportState
from bot.services.reports import ACCEPT_DUE, ACCEPT_REMIND, FIX_DUE, FIX_REMIND
from tests.support.people import BotHarness, Person
from tests.test_reports_scenarios import TZ, Cast, cast_of, file_light_report, latest_report, texts


@pytest.fixture
async def cast(tmp_path: Path) -> AsyncIterator[Cast]:
    async with BotHarness(tmp_path) as h:
        yield await cast_of(h)


def monday(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, 3, hour, minute, tzinfo=TZ)


async def recategorise(staff: Person, category: str) -> None:
    """From the staff's list of open reports: open the first, Manage, Change category, pick `category`."""
    await staff.send("/gridreports")
    await staff.press(staff.last_message.buttons[0])
    await staff.press("⚙️ Manage")
    await staff.press("🏷 Change category")
    await staff.press(category)


async def pending_timers(cast: Cast, report_id: int) -> dict[str, datetime]:
    rows = await cast.h.services.db.fetch_all(
        "SELECT kind, due_at FROM timers WHERE subject = ? AND state = 'pending'", (str(report_id),)
    )
    return {row["kind"]: from_db(row["due_at"]) for row in rows}


async def filed_and_accepted(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.wang.press("✅ Accept")


async def test_team_lead_recategorising_a_lamp_as_a_safety_hazard_brings_the_fix_deadline_forward(
    cast: Cast,
) -> None:
    await filed_and_accepted(cast)
    lamp = await latest_report(cast)
    assert lamp.fix_by is not None and lamp.fix_by.astimezone(TZ).day == 5  # Wednesday, for a lamp
    async with cast.h.services.db.transaction() as conn:  # Wang reads the bot in Chinese
        await conn.execute("UPDATE people SET locale = 'zh_Hans' WHERE id = ?", (cast.ids["wang"],))
    await cast.h.advance(hours=1)
    await recategorise(cast.chen, "Safety hazard")
    report = await latest_report(cast)
    assert report.category == "safety" and report.state is ReportState.ACCEPTED
    assert report.fix_by == report.due_at == monday(17)  # 8 working hours from the assignment at 09:00
    assert await pending_timers(cast, report.id) == {FIX_REMIND: monday(13), FIX_DUE: monday(17)}
    assert cast.wang.last_message.text == (
        "🏷 工单 R-2025-000001 的类别已改为“安全隐患”：办结时限 3月3日 周一 17:00。"
    )
    card = cast.chen.last_message.text
    assert "Safety hazard" in card and "🛠 Fix by Mon 3 Mar 17:00" in card
    assert card.splitlines()[-1].endswith(": Lighting → Safety hazard")  # the timeline says what changed
    detail = await cast.h.services.db.fetch_value(
        "SELECT detail FROM report_events WHERE kind = 'category_changed'"
    )
    assert detail.startswith("lighting→safety") and "fix_by→" in detail
    await cast.h.advance(hours=3, minutes=1)  # 13:01: half-way
    assert "⏰" in cast.wang.last_message.text
    assert not any("Overdue" in m.text for m in cast.chen.inbox)
    await cast.h.advance(hours=4)  # 17:01: the hazard's deadline, not Wednesday's
    overdue = cast.chen.last_message.text
    assert "Overdue notice: report R-2025-000001 (Safety hazard) was not fixed in time" in overdue


async def test_organizer_recategorising_a_lamp_past_its_new_deadline_escalates_at_the_next_tick(
    cast: Cast,
) -> None:
    await filed_and_accepted(cast)
    await cast.h.advance(hours=25)  # Tuesday 10:00: a lamp is due on Wednesday, a hazard was due on Monday
    before = len(cast.wang.inbox)
    await recategorise(cast.liu, "Safety hazard")
    report = await latest_report(cast)
    assert report.fix_by == monday(17) and report.overdue(cast.h.clock.now())
    assert FIX_DUE not in await pending_timers(cast, report.id)
    db = cast.h.services.db
    fired = await db.fetch_value(
        "SELECT COUNT(*) FROM timers WHERE kind = ? AND subject = ? AND state = 'fired'",
        (FIX_DUE, str(report.id)),
    )
    assert fired == 1  # the timer fired, as every deadline does
    rows = await db.fetch_all("SELECT kind FROM report_events WHERE report_id = ? ORDER BY id", (report.id,))
    assert [row["kind"] for row in rows][-2:] == ["category_changed", "fix_overdue"]
    assert "report R-2025-000001 (Safety hazard) was not fixed in time" in cast.chen.last_message.text
    told = [m.text for m in cast.wang.inbox[before:]]
    # The new deadline, and no reminder of it sent late.
    assert told == ["🏷 Task R-2025-000001 is now Safety hazard; fix by Mon 3 Mar 17:00."]
    await cast.h.advance(hours=1)
    assert sum("Overdue notice" in m.text for m in cast.chen.inbox) == 1


async def test_team_lead_recategorising_a_task_not_yet_accepted_shortens_the_sign_for_window(
    cast: Cast,
) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.h.advance(minutes=20)
    await recategorise(cast.chen, "Safety hazard")
    report = await latest_report(cast)
    assert report.state is ReportState.ASSIGNED
    assert report.accept_by == report.due_at == monday(10) and report.fix_by == monday(17)
    assert await pending_timers(cast, report.id) == {
        ACCEPT_REMIND: monday(9, 30),
        ACCEPT_DUE: monday(10),
        FIX_REMIND: monday(13),
        FIX_DUE: monday(17),
    }
    assert cast.wang.last_message.text == (
        "🏷 Task R-2025-000001 is now Safety hazard: accept by Mon 3 Mar 10:00, fix by Mon 3 Mar 17:00."
    )
    await cast.h.restart()
    await cast.h.advance(minutes=11)  # 09:31
    assert "waiting for you to accept it" in cast.wang.last_message.text
    await cast.h.advance(minutes=30)  # 10:01
    assert "was not accepted in time" in cast.chen.last_message.text
    await cast.wang.press("✅ Accept")
    assert (await latest_report(cast)).due_at == monday(17)


async def test_team_lead_recategorising_a_lamp_as_other_gives_the_worker_more_time(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.h.advance(hours=1)
    await recategorise(cast.chen, "Other")
    report = await latest_report(cast)
    assert report.accept_by == monday(17) and report.fix_by is not None and report.fix_by > report.accept_by
    await cast.h.advance(hours=2)  # 12:00: past the lamp's reminder at 11:00
    assert not any("waiting for you to accept it" in m.text for m in cast.wang.inbox)
    await cast.h.advance(hours=1, minutes=30)  # 13:30: past the lamp's sign-for deadline of 13:00
    assert not any("Overdue" in m.text for m in cast.chen.inbox)
    assert "waiting for you to accept it" in cast.wang.last_message.text  # half of 8 working hours: 13:00
    await cast.h.advance(hours=3, minutes=31)  # 17:01
    assert "was not accepted in time" in cast.chen.last_message.text


async def test_category_buttons_on_a_closed_report_or_pressed_twice_change_nothing(cast: Cast) -> None:
    await filed_and_accepted(cast)
    report = await latest_report(cast)
    await recategorise(cast.chen, "Safety hazard")
    told = len(cast.wang.inbox)
    await cast.chen.press_data(f"rs:cs:{report.id}:safety")  # the same choice again
    assert len(cast.wang.inbox) == told
    assert await cast.h.services.db.fetch_value(
        "SELECT COUNT(*) FROM report_events WHERE kind = 'category_changed'"
    ) == 1
    await cast.chen.press_data(f"rs:no:{report.id}")
    await cast.chen.send("Gas company's pipe: call 96777")
    await cast.chen.press_data(f"rs:cs:{report.id}:greenery")
    answer = cast.chen.last_callback_answer
    assert answer is not None and answer.show_alert
    closed = await latest_report(cast)
    assert closed.category == "safety" and closed.state is ReportState.NOT_OURS
    assert "Greenery" not in texts(cast.wang)
