"""Due-time rows on a fake clock: fired once at the right moment, across restarts and crashes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.outbox import enqueue
from bot.services.container import Services
from bot.storage.db import Connection, Row
from bot.timers.engine import TimerRow, cancel, move, register_timer, retry_delay, schedule
from tests.support.people import BotHarness
from tests.test_outbox import person_row

FIRED: list[tuple[str, str, datetime, datetime]] = []
"""(kind, subject, due_at, fired at) for every firing in the current test."""


async def record(services: Services, conn: Connection, timer: TimerRow) -> None:
    FIRED.append((timer.kind, timer.subject, timer.due_at, services.clock.now()))


register_timer("test.reminder", record)


@pytest.fixture(autouse=True)
def clear_fired() -> None:
    FIRED.clear()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path) as harness:
        yield harness


async def at(bot: BotHarness, subject: str, delay: timedelta, kind: str = "test.reminder") -> int:
    async with bot.services.db.transaction() as conn:
        return await schedule(conn, kind=kind, subject=subject, due_at=bot.clock.now() + delay,
                              payload={"note": subject})


async def state(bot: BotHarness, timer_id: int) -> Row:
    found = await bot.services.db.fetch_one("SELECT * FROM timers WHERE id = ?", (timer_id,))
    assert found is not None
    return found


async def test_a_due_row_fires_once_at_its_moment(bot: BotHarness) -> None:
    start = bot.clock.now()
    timer_id = await at(bot, "meeting:1", timedelta(hours=2))
    await bot.advance(hours=1, minutes=59)
    assert FIRED == []
    await bot.advance(minutes=1)
    assert FIRED == [("test.reminder", "meeting:1", start + timedelta(hours=2), start + timedelta(hours=2))]
    await bot.advance(days=1, step=timedelta(hours=1))
    assert len(FIRED) == 1
    fired = await state(bot, timer_id)
    assert fired["state"] == "fired" and fired["attempts"] == 1


async def test_a_restart_loses_nothing_and_fires_nothing_twice(bot: BotHarness) -> None:
    await at(bot, "a", timedelta(minutes=10))
    await at(bot, "b", timedelta(hours=1))
    await bot.restart()
    await bot.advance(minutes=30)
    assert [subject for _, subject, _, _ in FIRED] == ["a"]
    await bot.restart()
    await bot.advance(minutes=30)
    await bot.restart()
    await bot.advance(hours=5)
    assert [subject for _, subject, _, _ in FIRED] == ["a", "b"]


async def test_a_crash_before_commit_fires_the_row_again_with_its_writes_once(bot: BotHarness) -> None:
    """The process dies after the handler wrote but before the commit: neither survives."""

    class Crash(BaseException):
        """Stands for the process being killed mid-transaction."""

    alice_id = await person_row(bot, bot.person("Alice"))
    crashes = [Crash()]

    async def remind(services: Services, conn: Connection, timer: TimerRow) -> None:
        await enqueue(conn, now=services.clock.now(), recipients=[alice_id], template="Reminder")
        if crashes:
            raise crashes.pop()

    register_timer("test.crashing", remind)
    timer_id = await at(bot, "1", timedelta(minutes=5), kind="test.crashing")
    bot.clock.advance(timedelta(minutes=5))
    with pytest.raises(Crash):
        await bot.settle()
    assert (await state(bot, timer_id))["state"] == "pending"
    assert await bot.services.db.fetch_value("SELECT COUNT(*) FROM outbox") == 0

    await bot.restart()
    await bot.settle()
    assert (await state(bot, timer_id))["state"] == "fired"
    assert await bot.services.db.fetch_value("SELECT COUNT(*) FROM outbox WHERE state = 'sent'") == 1


async def test_a_failing_handler_is_retried_with_backoff_and_blocks_no_one(bot: BotHarness) -> None:
    broken = [True]

    async def flaky(services: Services, conn: Connection, timer: TimerRow) -> None:
        await conn.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        await conn.execute("INSERT INTO scratch VALUES (1)")
        if broken[0]:
            raise ValueError("report 9 has no grid")

    register_timer("test.flaky", flaky)
    flaky_id = await at(bot, "9", timedelta(minutes=1), kind="test.flaky")
    await at(bot, "after", timedelta(minutes=2))
    await bot.advance(minutes=2)
    assert [subject for _, subject, _, _ in FIRED] == ["after"]
    failed = await state(bot, flaky_id)
    assert failed["state"] == "pending" and failed["attempts"] == 1
    assert failed["last_error"] == "ValueError: report 9 has no grid"
    assert await bot.services.db.fetch_value("SELECT COUNT(*) FROM sqlite_master WHERE name = 'scratch'") == 0

    await bot.advance(seconds=29)
    assert (await state(bot, flaky_id))["attempts"] == 1  # waits its backoff
    await bot.advance(seconds=1)
    assert (await state(bot, flaky_id))["attempts"] == 2
    broken[0] = False
    await bot.advance(seconds=retry_delay(2).total_seconds())
    assert (await state(bot, flaky_id))["state"] == "fired"


async def test_an_unknown_kind_waits_for_its_handler(bot: BotHarness) -> None:
    timer_id = await at(bot, "1", timedelta(0), kind="test.not-loaded")
    await bot.settle()
    waiting = await state(bot, timer_id)
    assert waiting["state"] == "pending" and "no handler" in waiting["last_error"]


async def test_a_moved_row_fires_once_at_the_new_time_and_not_at_the_old(bot: BotHarness) -> None:
    start = bot.clock.now()
    await at(bot, "meeting:7", timedelta(hours=1))
    async with bot.services.db.transaction() as conn:
        assert await move(conn, kind="test.reminder", subject="meeting:7", due_at=start + timedelta(hours=3)) == 1
    await bot.advance(hours=2)
    assert FIRED == []
    await bot.advance(hours=1)
    assert [(subject, due) for _, subject, due, _ in FIRED] == [("meeting:7", start + timedelta(hours=3))]
    await bot.advance(hours=5)
    assert len(FIRED) == 1
    async with bot.services.db.transaction() as conn:
        assert await move(conn, kind="test.reminder", subject="meeting:7", due_at=start) == 0


async def test_scheduling_again_replaces_and_cancel_stops(bot: BotHarness) -> None:
    first = await at(bot, "vote:3", timedelta(hours=1))
    second = await at(bot, "vote:3", timedelta(hours=2))
    assert first == second
    await at(bot, "vote:4", timedelta(hours=1))
    async with bot.services.db.transaction() as conn:
        assert await cancel(conn, kind="test.reminder", subject="vote:4") == 1
        assert await cancel(conn, kind="test.reminder", subject="vote:4") == 0
    await bot.advance(hours=3)
    assert [subject for _, subject, _, _ in FIRED] == ["vote:3"]
    # Once fired, the same subject can be scheduled anew.
    assert await at(bot, "vote:3", timedelta(hours=1)) != first


async def test_a_timer_handler_pushes_through_the_outbox(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)

    async def overdue(services: Services, conn: Connection, timer: TimerRow) -> None:
        await enqueue(conn, now=services.clock.now(), recipients=[alice_id],
                      template="Task {number} is overdue", params={"number": timer.payload["note"]})

    register_timer("test.overdue", overdue)
    await at(bot, "R-12", timedelta(hours=4), kind="test.overdue")
    await bot.advance(hours=4)
    assert [m.text for m in alice.inbox] == ["Task R-12 is overdue"]
