"""Residents report problems and grid workers see them through to "fixed", through the offline Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.people import Role
from bot.domain.reports import ReportState
from bot.services import reports as report_service
from tests.reports_street import NORTH_A, Street, add_person, seed_street
from tests.support.people import BotHarness, Person

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Cast:
    h: BotHarness
    street: Street
    alice: Person  # resident of building A
    bob: Person  # resident of building A
    wang: Person  # full-time grid worker, North
    chen: Person  # team lead, North
    liu: Person  # organizer of the community
    sun: Person  # street admin
    ids: dict[str, int]


async def cast_of(h: BotHarness) -> Cast:
    now = h.clock.now()
    db = h.services.db
    street = await seed_street(db, now)
    alice, bob, wang, chen, liu, sun = (
        h.person(n, "en") for n in ("Alice", "Bob", "Wang", "Chen", "Liu", "Sun")
    )
    ids = {
        "alice": await add_person(
            db, now, telegram_id=alice.id, name="Alice Ng", building_id=street.building_a, phone="13800000001"
        ),
        "bob": await add_person(
            db, now, telegram_id=bob.id, name="Bob Wu", building_id=street.building_a, phone="13800000002"
        ),
        "wang": await add_person(
            db, now, telegram_id=wang.id, name="Wang", role=Role.GRID_WORKER, scope_id=street.north
        ),
        "chen": await add_person(
            db, now, telegram_id=chen.id, name="Chen", role=Role.SECRETARY, scope_id=street.north
        ),
        "liu": await add_person(
            db, now, telegram_id=liu.id, name="Liu", role=Role.ORGANIZER, scope_id=street.community
        ),
        "sun": await add_person(db, now, telegram_id=sun.id, name="Sun", role=Role.ADMIN),
    }
    return Cast(h, street, alice, bob, wang, chen, liu, sun, ids)


@pytest.fixture
async def cast(tmp_path: Path) -> AsyncIterator[Cast]:
    async with BotHarness(tmp_path) as h:
        yield await cast_of(h)


def texts(person: Person) -> str:
    return "\n---\n".join(m.text for m in person.inbox)


async def file_light_report(
    person: Person, *, anonymous: bool = False, description: str = "Stair light out"
) -> None:
    await person.send("/report")
    await person.press("Lighting")
    await person.send(description)
    await person.press("Skip")
    await person.press("🏠 My building")
    await person.press("🙈 Anonymous" if anonymous else "👤 Show my name")


async def mark_fixed(worker: Person, note: str) -> None:
    """The worker's ✔️ Mark fixed on the pushed task: the note, then the after-photo lighting asks for."""
    await worker.press("✔️ Mark fixed")
    await worker.send(note)
    await worker.send_photo()


async def latest_report(cast: Cast) -> report_service.Report:
    report_id = await cast.h.services.db.fetch_value("SELECT MAX(id) FROM reports")
    report = await report_service.get(cast.h.services, report_id)
    assert report is not None
    return report


async def test_resident_reports_broken_light_and_worker_fixes_it(cast: Cast) -> None:
    alice, wang = cast.alice, cast.wang
    await alice.press("📝 Report a problem") if "📝 Report a problem" in alice._visible(alice.id) else None
    await file_light_report(alice)
    assert "Your report" in alice.last_message.text and "Stair light out" in alice.last_message.text
    await alice.press("✅ Confirm")
    ack = alice.last_message.text
    assert "R-2025-000001 received" in ack and "accepted by" in ack and "fixed by" in ack
    task = wang.last_message
    assert "Task R-2025-000001" in task.text and "Alice Ng" in task.text and "13800000001" in task.text
    await wang.press("✅ Accept")
    assert "accepted" in alice.last_message.text
    await mark_fixed(wang, "Replaced the bulb")
    question = alice.last_message
    assert "Is it fixed?" in question.text and question.photo is not None
    await alice.press("✅ Yes")
    assert "How did we do?" in alice.last_message.text
    await alice.press("⭐⭐⭐⭐⭐")
    await alice.send("Fast and friendly")
    report = await latest_report(cast)
    assert report.state is ReportState.CLOSED
    assert await report_service.rating(cast.h.services, report.id) == (5, "Fast and friendly")
    assert "confirmed it is fixed" in wang.last_message.text or "confirmed" in wang.last_message.text


async def test_double_tapped_confirm_files_one_report(cast: Cast) -> None:
    await file_light_report(cast.alice)
    summary = cast.alice.last_message
    data = summary.callback_data["✅ Confirm"]
    await cast.alice.press_data(data, message_id=summary.message_id)
    await cast.alice.press_data(data, message_id=summary.message_id)
    assert await cast.h.services.db.fetch_value("SELECT COUNT(*) FROM reports") == 1
    answer = cast.alice.last_callback_answer
    assert answer is not None and answer.show_alert and "expired" in (answer.text or "")


async def test_restart_in_the_middle_of_a_report_keeps_the_draft(cast: Cast) -> None:
    await cast.alice.send("/report")
    await cast.alice.press("Lighting")
    await cast.alice.send("Corridor light flickers")
    await cast.h.restart()
    await cast.alice.press("Skip")
    await cast.alice.press("🏠 My building")
    await cast.alice.press("👤 Show my name")
    assert "Corridor light flickers" in cast.alice.last_message.text
    await cast.alice.press("✅ Confirm")
    assert "received" in cast.alice.last_message.text


async def test_hostile_inputs_get_clear_answers_and_no_half_made_report(cast: Cast) -> None:
    alice = cast.alice
    await alice.send("/report")
    await alice.press("Lighting")
    await alice.send_sticker()
    assert "Stickers can't be passed on" in alice.last_message.text
    await alice.send("x" * 5000)
    assert "5000 characters" in alice.last_message.text
    await alice.send("<b>bold</b> _*[<>& light")
    await alice.press("Skip")
    await alice.press("🏠 My building")
    await alice.press("👤 Show my name")
    assert "<b>bold</b> _*[<>& light" in alice.last_message.text
    await alice.send("/cancel")
    assert any("Cancelled" in m.text for m in alice.inbox[-2:])
    assert await cast.h.services.db.fetch_value("SELECT COUNT(*) FROM reports") == 0
    await alice.press_data("f:999:confirm")
    assert await cast.h.services.db.fetch_value("SELECT COUNT(*) FROM reports") == 0


async def test_location_pin_finds_the_nearest_building_or_asks(cast: Cast) -> None:
    alice = cast.alice
    await alice.send("/report")
    await alice.press("Lighting")
    await alice.send("Lamp post broken")
    await alice.press("Skip")
    await alice.share_location(40.0, 116.0)
    assert "outside our street" in texts(alice)
    await alice.share_location(NORTH_A[0] + 0.0002, NORTH_A[1])
    await alice.press("👤 Show my name")
    assert "Building A" in alice.last_message.text


async def test_too_many_reports_in_an_hour_are_refused(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, reports_per_hour=1) as h:
        cast = await cast_of(h)
        await file_light_report(cast.alice)
        await cast.alice.press("✅ Confirm")
        await cast.alice.send("/report")
        assert "1 reports in the last hour" in cast.alice.last_message.text


async def test_task_routes_to_the_organizer_when_the_grid_has_nobody(cast: Cast) -> None:
    async with cast.h.services.db.transaction() as conn:
        await conn.execute(
            "UPDATE people SET building_id = ? WHERE id = ?", (cast.street.building_s, cast.ids["bob"])
        )
    await file_light_report(cast.bob)
    await cast.bob.press("✅ Confirm")
    assert "Task R-" in cast.liu.last_message.text
    assert not any("Task R-" in m.text for m in cast.wang.inbox)


async def test_worker_says_not_mine_and_the_lead_reassigns(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.wang.press("↩️ Not mine")
    await cast.wang.send("This is building B's light")
    assert "handed back" in cast.chen.last_message.text and "building B" in cast.chen.last_message.text
    await cast.chen.press("👥 Reassign")
    await cast.chen.press("Chen · grid team lead")
    report = await latest_report(cast)
    assert report.assignee_id == cast.ids["chen"] and report.state is ReportState.ASSIGNED


async def test_forged_callback_for_someone_elses_task_is_refused(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    report = await latest_report(cast)
    await cast.bob.send("/myreports")
    for data in (
        f"tk:a:{report.id}",
        f"tk:c:{report.id}",
        f"rs:ra:{report.id}:{cast.ids['bob']}",
        f"mr:o:{report.id}",
        f"mr:w:{report.id}",
    ):
        await cast.bob.press_data(data)
        answer = cast.bob.last_callback_answer
        assert answer is not None and answer.show_alert, data
    report = await latest_report(cast)
    assert report.state is ReportState.ASSIGNED and report.accepted_at is None


async def test_duplicate_follow_and_both_told_on_close(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await file_light_report(cast.bob, description="Light on floor 3 is out")
    assert "look like yours" in cast.bob.last_message.text
    await cast.bob.press("Follow R-2025-000001")
    assert "You now follow R-2025-000001" in cast.bob.last_message.text
    report = await latest_report(cast)
    assert report.affected_count == 2
    await cast.wang.press("✅ Accept")
    await mark_fixed(cast.wang, "New bulb")
    assert "resolved" in cast.bob.last_message.text and "Alice" not in texts(cast.bob)
    await cast.alice.press("✅ Yes")
    assert "closed" in cast.bob.last_message.text
    await cast.bob.send("/myreports")
    await cast.bob.press(cast.bob.last_message.buttons[0])
    assert (
        "You follow this report" in cast.bob.last_message.text and "Alice" not in cast.bob.last_message.text
    )


async def test_not_fixed_reopens_then_fixed_closes_with_rating(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.wang.press("✅ Accept")
    await mark_fixed(cast.wang, "Bulb")
    await cast.alice.press("❌ No")
    assert "reopened" in cast.alice.last_message.text
    assert "reopened" in cast.wang.last_message.text and "reopened" in cast.chen.last_message.text
    await cast.wang.press("📋 Open task")
    await mark_fixed(cast.wang, "Replaced the wiring")
    await cast.alice.press("✅ Yes")
    await cast.alice.press("⭐⭐⭐")
    await cast.alice.press("Skip")
    report = await latest_report(cast)
    assert report.state is ReportState.CLOSED and report.reopen_count == 1
    assert await report_service.rating(cast.h.services, report.id) == (3, None)


async def test_silence_for_72_hours_after_delivery_closes_unverified(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.wang.press("✅ Accept")
    await mark_fixed(cast.wang, "Bulb")
    await cast.h.advance(hours=71)
    assert (await latest_report(cast)).state is ReportState.RESOLVED
    await cast.h.advance(hours=1, minutes=1)
    assert (await latest_report(cast)).state is ReportState.CLOSED_UNVERIFIED
    assert "How did we do?" in cast.alice.last_message.text
    await cast.alice.press("⭐⭐")
    assert await report_service.rating(cast.h.services, (await latest_report(cast)).id) == (2, None)


async def test_sla_reminder_overdue_and_supervision_in_working_time(tmp_path: Path) -> None:
    friday_evening = datetime(2025, 3, 7, 17, 50, tzinfo=TZ)
    async with BotHarness(tmp_path, start=friday_evening) as h:
        cast = await cast_of(h)
        await file_light_report(cast.alice)
        await cast.alice.press("✅ Confirm")
        await h.advance(hours=24, step=timedelta(hours=1))  # Saturday evening
        assert not any("waiting for you to accept" in m.text for m in cast.wang.inbox)
        assert not any("Overdue" in m.text for m in cast.chen.inbox)
        await h.advance(hours=41, step=timedelta(hours=1))  # Monday 10:50
        assert not any("waiting for you to accept" in m.text for m in cast.wang.inbox)
        await h.advance(minutes=20)  # Monday 11:10: half of 4 working hours
        assert "waiting for you to accept" in cast.wang.last_message.text
        await h.advance(hours=2)  # Monday 13:10: the sign-for deadline has passed
        assert "Overdue notice" in cast.chen.last_message.text


async def test_accepting_cancels_the_reminder_and_the_supervision(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.wang.press("✅ Accept")
    await cast.h.advance(hours=5)
    assert not any("waiting for you to accept" in m.text for m in cast.wang.inbox)
    assert not any("Overdue" in m.text for m in cast.chen.inbox)


async def test_anonymous_report_hides_the_reporter_and_the_relay_works(cast: Cast) -> None:
    await file_light_report(cast.alice, anonymous=True)
    await cast.alice.press("✅ Confirm")
    task = cast.wang.last_message
    assert "Alice" not in task.text and "13800000001" not in task.text and "anonymous" in task.text
    await cast.wang.press("📋 Open task")
    card = cast.wang.last_message
    assert "Alice" not in card.text and "📞 Reporter's contact" not in card.buttons
    await cast.wang.press("❓ Ask the reporter")
    await cast.wang.send("Which floor exactly?")
    assert (
        "Which floor exactly?" in cast.alice.last_message.text and "Wang" not in cast.alice.last_message.text
    )
    await cast.alice.press("💬 Reply")
    await cast.alice.send("Third floor, by the lift")
    assert "Third floor, by the lift" in cast.wang.last_message.text
    assert "Alice" not in texts(cast.wang)


async def test_street_admin_reveals_an_anonymous_reporter_with_a_logged_reason(cast: Cast) -> None:
    await file_light_report(cast.alice, anonymous=True)
    await cast.alice.press("✅ Confirm")
    report = await latest_report(cast)
    await cast.sun.send("/gridreports")
    await cast.sun.press_data(f"rs:rv:{report.id}")
    await cast.sun.send("Threat reported to police, case 42")
    assert "Alice Ng" in cast.sun.last_message.text
    reason = await cast.h.services.db.fetch_value(
        "SELECT detail FROM audit_log WHERE action = 'report.identity_reveal'"
    )
    assert reason == "Threat reported to police, case 42"


async def test_resident_withdraws_and_adds_information(cast: Cast) -> None:
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.alice.send("/myreports")
    assert "1 of" not in cast.alice.last_message.text
    await cast.alice.press(cast.alice.last_message.buttons[0])
    await cast.alice.press("➕ Add information")
    await cast.alice.send_photo()
    assert "New information on task" in cast.wang.last_message.text
    await cast.alice.send("/myreports")
    await cast.alice.press(cast.alice.last_message.buttons[0])
    await cast.alice.press("↩️ Withdraw")
    await cast.alice.press("Yes, withdraw")
    assert "withdrawn" in cast.wang.last_message.text
    assert (await latest_report(cast)).state is ReportState.WITHDRAWN


async def test_lead_files_a_hotline_report_for_a_resident(cast: Cast) -> None:
    chen = cast.chen
    await chen.send("/file")
    await chen.press("12345 hotline")
    await chen.press("Water leak")
    await chen.send("Pipe burst in the basement")
    await chen.press("Skip")
    await chen.press("🏢 Pick a building")
    await chen.press("Building B")
    await chen.press("⚠️ Urgent")
    await chen.send("Mrs Zhou, 139 1234 5678")
    assert "12345 hotline" in chen.last_message.text
    await chen.press("✅ Confirm")
    report = await latest_report(cast)
    assert report.channel.value == "hotline_12345" and report.urgent and report.contact_phone == "13912345678"
    assert "Mrs Zhou" in cast.wang.last_message.text


async def test_task_list_is_paged_and_says_which_page(cast: Cast) -> None:
    for n in range(7):
        await file_light_report(cast.alice, description=f"Light {n}")
        await cast.alice.press("It's a different problem") if n else None
        await cast.alice.press("✅ Confirm")
    await cast.wang.send("/tasks")
    assert "1 of 2" in cast.wang.last_message.buttons
    await cast.wang.press("›")
    assert "2 of 2" in cast.wang.last_message.buttons
