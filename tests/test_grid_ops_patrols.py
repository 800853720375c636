"""Recurring patrols: a team lead defines a check; it arrives on schedule as a task, survives restarts,
escalates when missed, moves when edited, and stops when paused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.people import Role
from bot.domain.reports import ReportState
from bot.services import patrols as patrol_service
from bot.services.reports import Refused
from tests.grid_ops_team import Team, local, team_of, texts
from tests.reports_street import add_person
from tests.support.people import BotHarness, Person


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    async with BotHarness(tmp_path) as h:
        yield await team_of(h)


def patrol_tasks(person: Person) -> list[str]:
    """Patrol tasks pushed to `person` that are still shown as pushed (accepting one edits it in place)."""
    return [m.text for m in person.inbox if m.text.startswith("🆕 Task") and "· Patrol" in m.text]


async def filed(team: Team) -> int:
    """How many patrol occurrences became tasks."""
    return int(await team.h.services.db.fetch_value("SELECT COUNT(*) FROM reports WHERE category = 'patrol'"))


async def define_fire_exit_patrol(team: Team, schedule: str = "mon 10:00") -> None:
    chen = team.chen
    await chen.send("/patrols")
    assert chen.last_message.text.startswith("Patrols (0)")
    await chen.press("➕ New patrol")
    await chen.press("A · Building A")
    await chen.send("Fire exits & <extinguishers>")
    await chen.send(schedule)
    await chen.press("🕘 in working time (holidays skipped)")
    assert "Check the patrol" in chen.last_message.text
    await chen.press("✅ Save")


async def test_patrol_fires_on_schedule_across_a_restart_and_is_closed_with_a_note_and_photo(team: Team) -> None:
    await define_fire_exit_patrol(team)
    assert "Saved. Next: Mon 3 Mar 10:00." in texts(team.chen)
    await team.h.restart()
    await team.advance_to(local(2025, 3, 3, 9, 59))
    assert patrol_tasks(team.wang) == []
    await team.h.advance(minutes=1)
    (task,) = patrol_tasks(team.wang)
    assert "Fire exits & <extinguishers>" in task and "📍 Building A" in task and "👤 Chen" in task

    wang = team.wang
    await wang.press("✅ Accept")
    await wang.press("✔️ Mark fixed")
    await wang.send("All exits clear, extinguishers in date")
    assert "photo" in wang.last_message.text
    await wang.send_photo()
    number = task.split()[2]
    assert f"Marked {number} done and closed." in wang.last_message.text
    report = await team.h.services.db.fetch_one("SELECT id, state, resolution_note FROM reports WHERE number = ?",
                                                (number,))
    assert report is not None and report["state"] == ReportState.CLOSED.value
    assert report["resolution_note"] == "All exits clear, extinguishers in date"
    media = await team.h.services.db.fetch_value(
        "SELECT COUNT(*) FROM report_media WHERE report_id = ? AND purpose = 'after'", (report["id"],)
    )
    assert media == 1
    # The next Monday's occurrence is armed; nothing fires twice.
    await team.advance_to(local(2025, 3, 10, 9, 0), step=timedelta(hours=12))
    assert await filed(team) == 1
    await team.chen.send("/patrols")
    assert "Mon 10 Mar 10:00" in team.chen.last_message.buttons[0]


async def test_a_missed_patrol_escalates_to_the_team_lead_like_any_task(team: Team) -> None:
    await define_fire_exit_patrol(team)
    await team.advance_to(local(2025, 3, 3, 10, 0))
    (task,) = patrol_tasks(team.wang)
    number = task.split()[2]
    await team.advance_to(local(2025, 3, 3, 12, 1), step=timedelta(minutes=30))  # two working hours to accept
    assert f"⚠️ Overdue notice: report {number} (Patrol) was not accepted in time" in texts(team.chen)


async def test_editing_a_patrol_moves_its_next_occurrence(team: Team) -> None:
    await define_fire_exit_patrol(team)
    chen = team.chen
    await chen.send("/patrols")
    await chen.press(chen.last_message.buttons[0])
    assert "🗓 mon 10:00" in chen.last_message.text
    await chen.press("✏️ Change schedule")
    await chen.send("wed 15:00")
    await chen.press("🕘 in working time (holidays skipped)")
    await chen.press("✅ Save")
    assert "Saved. Next: Wed 5 Mar 15:00." in texts(chen)
    await team.advance_to(local(2025, 3, 5, 14, 59), step=timedelta(hours=6))
    assert patrol_tasks(team.wang) == []  # Monday 10:00 no longer fires
    await team.h.advance(minutes=1)
    assert len(patrol_tasks(team.wang)) == 1


async def test_paused_patrols_do_not_fire_and_resume_from_now(team: Team) -> None:
    await define_fire_exit_patrol(team)
    chen = team.chen
    await chen.send("/patrols")
    await chen.press(chen.last_message.buttons[0])
    await chen.press("⏸ Pause")
    assert "Next: paused" in chen.last_message.text
    await team.advance_to(local(2025, 3, 11, 9, 0), step=timedelta(hours=12))
    assert patrol_tasks(team.wang) == []
    await chen.press("▶️ Resume")
    assert "Next: Mon 17 Mar 10:00" in chen.last_message.text
    await team.advance_to(local(2025, 3, 17, 10, 0), step=timedelta(hours=12))
    assert len(patrol_tasks(team.wang)) == 1


async def test_a_round_the_clock_night_patrol_reaches_the_worker_at_night(team: Team) -> None:
    chen = await team.profile("chen")
    patrol = await patrol_service.create(
        team.h.services, chen, team.street.building_b, "Night round of the car park", "daily 23:00", False
    )
    assert patrol.next_at == local(2025, 3, 3, 23, 0)
    await team.advance_to(local(2025, 3, 3, 23, 0), step=timedelta(hours=4))
    (task,) = patrol_tasks(team.wang)
    assert "⚠️ urgent" in task and "Night round of the car park" in task
    with pytest.raises(Refused):  # "in working time" a night round never falls due
        await patrol_service.edit_schedule(team.h.services, chen, patrol.id, "daily 23:00", True)


async def test_stopping_a_patrol_keeps_its_tasks_and_fires_no_more(team: Team) -> None:
    await define_fire_exit_patrol(team)
    await team.advance_to(local(2025, 3, 3, 10, 0))
    chen = team.chen
    await chen.send("/patrols")
    await chen.press(chen.last_message.buttons[0])
    assert "Latest tasks" in chen.last_message.text
    await chen.press("🗑 Stop for good")
    await chen.press("🗑 Yes, stop it")
    assert chen.last_message.text.startswith("Patrols (0)")
    await team.advance_to(local(2025, 3, 10, 11, 0), step=timedelta(hours=12))
    assert len(patrol_tasks(team.wang)) == 1


async def test_bad_schedules_are_explained_and_the_flow_goes_on(team: Team) -> None:
    chen = team.chen
    await chen.send("/patrols")
    await chen.press("➕ New patrol")
    await chen.press("B · Building B")
    await chen.send_sticker()
    assert "Please use the buttons" in texts(chen) or "one line" in chen.last_message.text
    await chen.send("x" * 5000)
    assert "one line of up to 200 characters" in chen.last_message.text
    await chen.send("Roof access door")
    await chen.send("someday at noon")
    assert "I could not read that schedule" in chen.last_message.text
    await chen.send("daily 22:00")
    await chen.press("🕘 in working time (holidays skipped)")
    assert "never falls due" in (chen.last_callback_answer.text if chen.last_callback_answer else "")
    await chen.send("daily 22:00")
    await chen.press("🌙 round the clock")
    review = chen.last_message
    for _tap in range(2):  # a double tap saves once
        await chen.press_data(review.callback_data["✅ Save"], message_id=review.message_id)
    assert await team.h.services.db.fetch_value("SELECT COUNT(*) FROM patrols") == 1


async def test_patrols_are_managed_only_in_ones_own_grids(team: Team) -> None:
    await define_fire_exit_patrol(team)
    patrol_id = await team.h.services.db.fetch_value("SELECT id FROM patrols")
    ma = team.h.person("Ma", "en")
    await add_person(team.h.services.db, team.h.clock.now(), telegram_id=ma.id, name="Ma", role=Role.SECRETARY,
                     scope_id=team.street.south)
    await ma.send("/patrols")
    assert ma.last_message.text.startswith("Patrols (0)")
    await ma.press_data(f"pt:p:{patrol_id}")
    assert ma.last_callback_answer is not None and "not in your grids" in ma.last_callback_answer.text
    await team.wang.send("/patrols")
    assert "for staff" in team.wang.last_message.text
    await team.wang.press_data(f"pt:p:{patrol_id}")
    assert team.wang.last_callback_answer is not None and "expired" in team.wang.last_callback_answer.text
    paused = await team.h.services.db.fetch_value("SELECT paused_at FROM patrols WHERE id = ?", (patrol_id,))
    assert paused is None
