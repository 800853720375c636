"""A resident's voice note reaches the grid worker as a voice message, through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.sandbox.fake_telegram import tiny_png
from tests.support.people import BotHarness, Person
from tests.test_reports_scenarios import TZ, Cast, cast_of, file_light_report

VOICE = b"OggS" + b"the stair light is out again" + bytes(20)
NIGHT = datetime(2025, 3, 3, 23, 0, tzinfo=TZ)


@pytest.fixture
async def cast(tmp_path: Path) -> AsyncIterator[Cast]:
    async with BotHarness(tmp_path) as h:
        yield await cast_of(h)


@pytest.fixture
async def night(tmp_path: Path) -> AsyncIterator[Cast]:
    """At 23:00, when pushes that are not urgent wait for the morning."""
    async with BotHarness(tmp_path, start=NIGHT) as h:
        yield await cast_of(h)


async def file_voice_report(person: Person, *, photos: int = 0) -> None:
    """A lighting report told by voice note instead of typed, with `photos` photos, confirmed."""
    await person.send("/report")
    await person.press("Lighting")
    await person.send_voice(VOICE)
    for shade in range(photos):
        await person.send_photo(tiny_png(rgb=(200, shade * 40, 0)))
    await person.press("Done" if photos else "Skip")
    await person.press("🏠 My building")
    await person.press("👤 Show my name")
    await person.press("✅ Confirm")


async def test_resident_reporting_by_voice_note_gets_it_to_the_grid_worker_as_a_voice_message(
    cast: Cast,
) -> None:
    await file_voice_report(cast.alice)
    assert "R-2025-000001 received" in cast.alice.last_message.text
    task, voice = cast.wang.inbox
    assert "Task R-2025-000001" in task.text and "(voice note)" in task.text and task.voice is None
    assert "✅ Accept" in task.buttons
    assert voice.voice == VOICE and voice.text == "🎤 Voice note for task R-2025-000001"
    await cast.wang.press("✅ Accept")
    assert "accepted" in cast.alice.last_message.text


async def test_resident_reporting_with_photos_and_a_voice_note_gets_the_task_its_voice_then_its_photos(
    cast: Cast,
) -> None:
    await file_voice_report(cast.alice, photos=2)
    task, voice, first, second = cast.wang.inbox
    assert "Task R-2025-000001" in task.text
    assert voice.voice == VOICE and voice.text == "🎤 Voice note for task R-2025-000001"
    assert (first.text, second.text) == ("📷 R-2025-000001: photo 1 of 2", "📷 R-2025-000001: photo 2 of 2")
    assert first.photo == tiny_png(rgb=(200, 0, 0)) and second.photo == tiny_png(rgb=(200, 40, 0))


async def test_resident_adds_a_voice_note_later_and_the_worker_hears_it(cast: Cast) -> None:
    alice, wang = cast.alice, cast.wang
    await file_light_report(alice)
    await alice.press("✅ Confirm")
    await alice.send("/myreports")
    await alice.press(alice.last_message.buttons[0])
    await alice.press("➕ Add information")
    await alice.send_voice(VOICE)
    assert "Added to R-2025-000001" in alice.last_message.text
    added = wang.last_message
    assert added.voice == VOICE
    assert added.text == "ℹ️ New information on task R-2025-000001: a voice note"
    assert added.buttons == ["📋 Open task"]


async def test_a_voice_report_withdrawn_overnight_never_reaches_the_worker(night: Cast) -> None:
    await file_voice_report(night.alice)
    await night.alice.send("/myreports")
    await night.alice.press(night.alice.last_message.buttons[0])
    await night.alice.press("↩️ Withdraw")
    await night.alice.press("Yes, withdraw")
    await night.h.advance(hours=8, step=timedelta(hours=1))
    (notice,) = night.wang.inbox
    assert "withdrawn" in notice.text and notice.voice is None


async def test_a_reporter_who_erases_their_data_overnight_has_their_voice_and_photos_held_back(
    night: Cast,
) -> None:
    await file_voice_report(night.alice, photos=1)
    assert night.wang.inbox == []
    await night.alice.send("/deleteme")
    await night.alice.press("Yes, erase my data")
    await night.h.advance(hours=8, step=timedelta(hours=1))
    (task,) = night.wang.inbox
    assert "Task R-2025-000001" in task.text and "(voice note)" not in task.text
    assert "(removed at the reporter's request)" in task.text
    held = await night.h.services.db.fetch_all(
        "SELECT state, voice, photo FROM outbox WHERE last_error = 'the person who sent it erased their data'"
    )
    assert [tuple(row) for row in held] == [("dropped", None, None)] * 2  # nor do they keep the file ids
