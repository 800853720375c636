"""The daily digest: each worker's open tasks, each team lead's grid troubles, at 08:30 on working days only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.services import digests, tasks
from tests.grid_ops_team import Team, local, team_of
from tests.support.people import BotHarness, Person


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    async with BotHarness(tmp_path) as h:
        yield await team_of(h)


def digests_of(person: Person) -> list[str]:
    return [m.text for m in person.inbox if m.text.startswith("☀️ Daily digest")]


async def test_morning_digest_lists_exactly_each_workers_tasks_and_each_leads_troubles(team: Team) -> None:
    wang = await team.profile("wang")
    late = await team.file("bob", category="sanitation", description="Bins overflowing")  # never accepted
    later = await team.file("alice", description="Stair light out")  # accepted: fix by Wednesday
    today = await team.file("bob", category="sanitation", description="Litter")  # accepted: fix by today
    done = await team.file("alice", category="noise", description="Drilling at night")  # resolved
    south = await team.file("carol", building_id=team.street.building_s)  # to the organizer
    for report in (later, today, done):
        await tasks.accept(team.h.services, wang, report.id)
    await tasks.resolve(team.h.services, wang, done.id, "Spoke to the neighbour", None)
    assert await digests.ensure_digest(team.h.services)

    await team.advance_to(local(2025, 3, 4, 8, 30))

    (own,) = digests_of(team.wang)
    assert own.startswith("☀️ Daily digest · Tue 4 Mar 08:30\n\n🧰 Your open tasks (3):")
    lines = own.splitlines()[3:]
    assert lines[0].startswith(f"⚠️ {late.number} · Sanitation · Building A — ") and "overdue" in lines[0]
    assert lines[1] == f"⏳ {today.number} · Sanitation · Building A — due today 16:30"
    assert lines[2] == f"• {later.number} · Lighting · Building A — Wed 5 Mar 16:00"
    assert done.number not in own and south.number not in own
    assert team.wang.last_message.buttons == ["🧰 My tasks"]

    (lead,) = digests_of(team.chen)
    assert "👥 North: 1 overdue, 1 not accepted yet" in lead
    assert f"⚠️ {late.number} · Sanitation · Building A — " in lead and "· not accepted: Wang" in lead
    assert today.number not in lead and later.number not in lead
    assert team.chen.last_message.buttons == ["🧰 My tasks", "📋 Open reports in your area"]

    (organizer,) = digests_of(team.liu)
    assert f"⚠️ {south.number} · Lighting · Building S" in organizer
    for idle in (team.zhou, team.sun, team.alice, team.bob, team.carol):
        assert digests_of(idle) == []


async def test_digest_skips_weekends_and_holidays_and_counts_make_up_days(tmp_path: Path) -> None:
    holidays = tmp_path / "holidays.csv"
    holidays.write_text(
        "date,kind,name\n2025-03-05,holiday,a holiday on Wednesday\n2025-03-08,workday,make-up Saturday\n",
        encoding="utf-8",
    )
    async with BotHarness(tmp_path, holidays_file=holidays) as h:
        team = await team_of(h)
        await team.file("alice")
        await digests.ensure_digest(h.services)
        for day in range(4, 12):
            await team.advance_to(local(2025, 3, day, 9, 0))
        days = [text.splitlines()[0] for text in digests_of(team.wang)]
        assert days == [
            "☀️ Daily digest · Tue 4 Mar 08:30",
            "☀️ Daily digest · Thu 6 Mar 08:30",
            "☀️ Daily digest · Fri 7 Mar 08:30",
            "☀️ Daily digest · Sat 8 Mar 08:30",
            "☀️ Daily digest · Mon 10 Mar 08:30",
            "☀️ Daily digest · Tue 11 Mar 08:30",
        ]
        pending = await h.services.db.fetch_all(
            "SELECT due_at FROM timers WHERE kind = 'digest.daily' AND state = 'pending'"
        )
        assert len(pending) == 1


async def test_the_digest_row_is_made_once_and_fires_once_across_a_restart(team: Team) -> None:
    await team.file("alice")
    assert await digests.ensure_digest(team.h.services)
    assert not await digests.ensure_digest(team.h.services)
    await team.h.restart()
    assert not await digests.ensure_digest(team.h.services)  # the row is in the database
    await team.advance_to(local(2025, 3, 4, 8, 29))
    assert digests_of(team.wang) == []
    await team.h.advance(minutes=2)
    await team.h.restart()
    await team.h.advance(minutes=30)
    assert len(digests_of(team.wang)) == 1


async def test_a_digest_the_bot_was_down_for_is_not_sent_in_the_afternoon(team: Team) -> None:
    await team.file("alice")
    await digests.ensure_digest(team.h.services)
    team.h.clock.set(local(2025, 3, 4, 14, 0))  # the bot was down all morning
    await team.h.settle()
    assert digests_of(team.wang) == []
    team.h.clock.set(local(2025, 3, 5, 8, 45))
    await team.h.settle()
    assert [t.splitlines()[0] for t in digests_of(team.wang)] == ["☀️ Daily digest · Wed 5 Mar 08:30"]


async def test_digest_command_shows_the_list_now_or_says_there_is_nothing(team: Team) -> None:
    report = await team.file("alice")
    await team.wang.send("/digest")
    assert team.wang.last_message.text.startswith("Your digest right now\n\n🧰 Your open tasks (1):")
    assert report.number in team.wang.last_message.text
    await team.sun.send("/digest")
    assert team.sun.last_message.text.startswith("Nothing to report")
    await team.alice.send("/digest")
    assert "for staff" in team.alice.last_message.text
    await team.h.advance(hours=1, step=timedelta(minutes=30))
