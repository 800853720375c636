"""A resident who erases their data (/deleteme) has nothing of theirs sent afterwards — not their name,
phone or home, nor their words — while what they reported still reaches the grid worker to be fixed.

Pushes held by quiet hours (22:00–07:00) are where it shows: queued at night, sent in the morning.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.outbox import ERASED
from bot.services.deliberation import admin_data
from tests.support.people import BotHarness, Person
from tests.test_deliberation_scenarios import street_of, topic_for
from tests.test_reports_scenarios import TZ, Cast, cast_of, file_light_report, mark_fixed

NIGHT = datetime(2025, 3, 3, 23, 0, tzinfo=TZ)
DESCRIPTION = "Stair light out by flat 302, that's mine"


@pytest.fixture
async def night(tmp_path: Path) -> AsyncIterator[Cast]:
    """At 23:00, when pushes that are not urgent wait for the morning."""
    async with BotHarness(tmp_path, start=NIGHT) as h:
        yield await cast_of(h)


async def erase(person: Person) -> None:
    await person.send("/deleteme")
    await person.press("Yes, erase my data")


async def test_a_reporter_who_erases_their_data_overnight_never_has_their_name_or_words_sent_to_the_worker(
    night: Cast,
) -> None:
    await file_light_report(night.alice, description=DESCRIPTION)
    await night.alice.press("✅ Confirm")
    assert night.wang.inbox == []
    await erase(night.alice)
    await night.h.advance(hours=8, step=timedelta(hours=1))
    (task,) = night.wang.inbox
    assert "Task R-2025-000001" in task.text and "✅ Accept" in task.buttons
    for trace in ("Alice", "13800000001", "1-101", "flat 302", "(voice note)"):
        assert trace not in task.text
    assert "anonymous — use “Ask the reporter”" in task.text
    assert "(removed at the reporter's request)" in task.text
    queued = await night.h.services.db.fetch_value("SELECT group_concat(params, ' ') FROM outbox")
    assert "13800000001" not in queued and "flat 302" not in queued
    await night.wang.press("✅ Accept")
    assert "accepted" in night.wang.last_message.text.lower()


async def test_a_reporter_who_keeps_their_data_overnight_is_named_to_the_worker_in_the_morning(
    night: Cast,
) -> None:
    await file_light_report(night.alice, description=DESCRIPTION)
    await night.alice.press("✅ Confirm")
    await night.h.advance(hours=8, step=timedelta(hours=1))
    (task,) = night.wang.inbox
    assert "Alice Ng · 13800000001" in task.text and DESCRIPTION in task.text


@pytest.fixture
async def evening(tmp_path: Path) -> AsyncIterator[Cast]:
    """At 21:00: what is said now arrives now, what is said after 22:00 waits for the morning."""
    async with BotHarness(tmp_path, start=NIGHT - timedelta(hours=2)) as h:
        yield await cast_of(h)


async def asked_by_the_worker(cast: Cast, question: str) -> None:
    """Alice reports a light out and the grid worker asks her a question through the bot."""
    await file_light_report(cast.alice)
    await cast.alice.press("✅ Confirm")
    await cast.wang.press("📋 Open task")
    await cast.wang.press("❓ Ask the reporter")
    await cast.wang.send(question)
    assert question in cast.alice.last_message.text


async def test_a_reporter_who_erases_their_data_overnight_never_has_their_later_words_sent_to_the_worker(
    evening: Cast,
) -> None:
    alice, wang, h = evening.alice, evening.wang, evening.h
    await asked_by_the_worker(evening, "Which floor exactly?")
    await h.advance(minutes=90)  # 22:30: quiet hours
    await alice.press("💬 Reply")
    await alice.send("Third floor, by flat 302")
    await alice.send("/myreports")
    await alice.press(alice.last_message.buttons[0])
    await alice.press("➕ Add information")
    await alice.send("Mrs Li in 302 has the key")
    await erase(alice)
    await h.advance(hours=9, step=timedelta(hours=1))
    said = "\n".join(m.text for m in wang.inbox)
    assert "Third floor" not in said and "Mrs Li" not in said
    held = await h.services.db.fetch_all(
        "SELECT template, state FROM outbox "
        "WHERE template LIKE '%answered%' OR template LIKE '%New information%'"
    )
    assert sorted(row["state"] for row in held) == ["dropped", "dropped"]
    timeline = await h.services.db.fetch_all(
        "SELECT detail FROM report_events WHERE kind IN ('answer', 'information')"
    )
    assert [row["detail"] for row in timeline] == ["", ""]


async def test_a_resident_who_erases_their_data_leaves_no_message_content_or_chat_id_in_the_outbox(
    evening: Cast,
) -> None:
    alice, wang, h = evening.alice, evening.wang, evening.h
    await asked_by_the_worker(evening, "Which floor exactly? Ring me on 13912345678")  # with a Reply button
    await h.advance(minutes=90)  # 22:30: what Wang does now reaches her in the morning
    await wang.send("/tasks")
    await wang.press("R-2025-000001 · Lighting")
    await wang.press("✅ Accept")
    await mark_fixed(wang, "Replaced the bulb")
    await alice.send("/mydata")
    queued = json.loads(alice.last_message.document.content)["queued_messages"]  # type: ignore[union-attr]
    assert {row["state"] for row in queued} == {"pending"}
    assert any("Is it fixed?" in row["template"] for row in queued)
    assert {key for row in queued for key in row} == {"created_at", "due_at", "state", "template"}
    alice_id = evening.ids["alice"]
    to_alice = "FROM outbox WHERE person_id = ?"
    before = await h.services.db.fetch_all(f"SELECT state, telegram_chat_id {to_alice}", (alice_id,))
    assert {row["state"] for row in before} == {"sent", "pending"}
    assert {row["telegram_chat_id"] for row in before if row["state"] == "sent"} == {alice.id}

    await erase(alice)
    seen = len(alice.inbox)
    rows = await h.services.db.fetch_all(
        f"SELECT state, last_error, params, buttons, photo, document, voice, telegram_chat_id {to_alice}",
        (alice_id,),
    )
    assert len(rows) == len(before)
    for row in rows:
        content = (row["params"], row["buttons"], row["photo"], row["document"], row["voice"])
        assert content == ("{}", None, None, None, None) and row["telegram_chat_id"] is None
    assert {(row["state"], row["last_error"]) for row in rows if row["state"] != "sent"} == {("dropped", ERASED)}
    kept = await h.services.db.fetch_value("SELECT group_concat(params, ' ') FROM outbox")
    assert "13912345678" not in kept  # Wang's words to her are gone with her
    await h.advance(hours=9, step=timedelta(hours=1))
    assert len(alice.inbox) == seen  # nothing more reaches her chat


async def test_residents_who_erase_their_data_overnight_never_have_their_proposal_or_question_sent(
    tmp_path: Path,
) -> None:
    async with BotHarness(tmp_path, start=NIGHT) as h:
        street = await street_of(h)
        topic = await topic_for(street)
        rita, sam, tom = street.residents[:3]
        olga = street.olga
        await rita.send("/propose")
        await rita.send("A bench by flat 1-101")
        await rita.send("My knees need a rest on the way up.")
        await rita.press("📨 Send")
        for person, question in ((rita, "Who pays? Ring me at 1-101"), (sam, "Is the paint safe for my baby?")):
            await person.send("/topics")  # the topic's notice waits for the morning
            await person.press_data(f"dv:o:{topic.id}")
            await person.press("❓ Ask a question")
            await person.send(question)
        sams = await h.services.db.fetch_value("SELECT MAX(id) FROM deliberation_questions")
        await olga.send("/topics")  # the question's notice waits for the morning too
        await olga.press_data(admin_data("qa", sams))
        await olga.send("Yes: it is water-based.")
        for person in (rita, sam):
            await erase(person)
        seen = len(olga.inbox)
        await h.advance(hours=8, step=timedelta(hours=1))
        told = "\n".join(m.text for m in olga.inbox[seen:])
        assert "Who pays" not in told and "bench" not in told and "baby" not in told
        (answer,) = [m.text for m in tom.inbox if "Questions and answers" in m.text]
        assert "Yes: it is water-based." in answer and "(removed at the asker's request)" in answer
        assert "baby" not in answer
