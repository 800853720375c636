"""Meetings through the offline Telegram: create, notice with Going / Maybe / Can't go, places and a
waitlist, the .ics file, reminders that move, cancel, attendance and minutes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.domain.broadcasts import Audience, Footprint
from bot.services import audiences
from bot.services.audiences import AudienceKind, Choice, Reach
from bot.storage.db import Database
from tests.support.people import BotHarness, Person
from tests.support.signup import signed_up
from tests.test_broadcasts import Street, notices, street_of

TZ = ZoneInfo("Asia/Shanghai")
GOING, MAYBE, CANT = "✅ Going", "🤔 Maybe", "❌ Can't go"


@pytest.fixture
async def street(tmp_path: Path) -> AsyncIterator[Street]:
    async with BotHarness(tmp_path) as h:
        yield await street_of(h)


async def create_meeting(organizer: Person, *, title: str = "Lift renovation hearing", capacity: str | None = None,
                         start: str = "3-5 19:00", end: str = "21:00", topic: str | None = None) -> int:
    """The organizer creates a meeting through /meetings; returns its id."""
    await organizer.send("/meetings")
    await organizer.press("➕ New meeting")
    await organizer.send(title)
    await organizer.send("1. Quotes\n2. Vote on the schedule")
    await organizer.send("Community hall, 2F")
    await organizer.send(start)
    await organizer.send(end)
    if capacity is None:
        await organizer.press("No limit")
    else:
        await organizer.send(capacity)
    if topic is None:
        await organizer.press("Skip")
    else:
        await organizer.send(topic)
    assert "Check and create" in organizer.last_message.text
    await organizer.press("✅ Create")
    return int(organizer.last_message.callback_data["🗂 Open the meeting"].split(":")[-1])


async def send_notice(organizer: Person, kind: str = "🏘 Communities", pick: str = "Com1") -> None:
    await organizer.press("📣 Send the notice")
    await organizer.press(kind)
    await organizer.press(pick)
    if "Next ›" in organizer.last_message.buttons:
        await organizer.press("Next ›")
    await organizer.press("Skip")
    await organizer.press("📤 Send now")


def calendar_of(person: Person) -> Calendar:
    document = next(m for m in reversed(person.inbox) if m.document is not None).document
    assert document is not None and document.file_name and document.file_name.endswith(".ics")
    return Calendar.from_ical(document.content)


async def test_rsvp_with_places_and_a_waitlist_promoted_when_a_place_frees_up(street: Street) -> None:
    h, olga, rita, rob = street.h, street.olga, street.rita, street.rob
    ann = h.person("Ann", "en")
    await signed_up(h.services.db, h.clock.now(), ann, name="Ann", building=3)
    meeting_id = await create_meeting(olga, capacity="2")
    await send_notice(olga)
    notice = notices(rita, "Meeting notice")[0]
    assert notice.buttons == [GOING, MAYBE, CANT] and "Community hall, 2F" in notice.text
    assert notices(street.bea, "Meeting notice") == []
    await rita.press(GOING)
    assert "You're going to" in rita.last_message.text and rita.last_message.document is not None
    await rob.press(GOING)
    await ann.press(GOING)
    assert "You are number 1 on the waitlist" in ann.last_message.text
    await ann.press(GOING)  # a double tap keeps her place in the queue
    assert "number 1 on the waitlist" in ann.last_message.text
    await olga.send("/meetings")
    await olga.press_data(f"mtga:o:{meeting_id}")
    card = olga.last_message.text
    assert "places: 2 · ✅ going 2 · 🙋 offered 0 · ⏳ waitlist 1" in card
    await olga.press("👥 Answers")
    assert ["✅ Rita", "✅ Rob", "⏳ Ann"] == [b for b in olga.last_message.buttons if b[0] in "✅⏳"]
    await rob.press(CANT)
    offer = ann.last_message
    assert "A place is free for you" in offer.text
    await ann.press("✅ Confirm my place")
    assert "You're going to" in ann.last_message.text and ann.last_message.document is not None
    for resident in (rita, rob, ann):  # nobody else's answer or name reaches a resident
        assert not any(name in m.text for m in resident.inbox for name in ("Rita", "Rob", "Ann", "Olga"))


async def test_the_calendar_file_parses_and_carries_the_streets_time_zone(street: Street) -> None:
    await create_meeting(street.olga, title="Garden <committee> & friends")
    await send_notice(street.olga)
    await street.rita.press(GOING)
    calendar = calendar_of(street.rita)
    (timezone,) = calendar.timezones
    assert timezone.tz_name == "Asia/Shanghai"
    (event,) = calendar.events
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event.start == datetime(2025, 3, 5, 19, 0, tzinfo=TZ)
    assert event.end == datetime(2025, 3, 5, 21, 0, tzinfo=TZ)
    assert str(event["SUMMARY"]) == "Garden <committee> & friends"
    assert str(event["LOCATION"]) == "Community hall, 2F"


def reminders(person: Person) -> list[str]:
    return [m.text for m in person.inbox if m.text.startswith("⏰ Reminder")]


async def test_a_reschedule_sends_exactly_one_reminder_at_the_new_time_and_none_at_the_old(
        street: Street) -> None:
    h, olga, rita, rob = street.h, street.olga, street.rita, street.rob
    meeting_id = await create_meeting(olga)  # Wed 5 Mar 19:00
    await send_notice(olga)
    await rita.press(GOING)
    await rob.press(MAYBE)
    await olga.press_data(f"mtga:rs:{meeting_id}")
    await olga.send("3-6 19:00")
    await olga.send("21:00")
    assert "Moved." in olga.last_message.text
    for resident in (rita, rob):  # everyone who answered is told
        assert "has moved to Thu 6 Mar 19:00" in resident.inbox[-1].text
    sequence = calendar_of(rita)
    await rita.press("🗓 Calendar file")
    assert int(calendar_of(rita).events[0]["SEQUENCE"]) == int(sequence.events[0]["SEQUENCE"]) + 1
    await h.restart()
    await h.advance(days=1, hours=10)  # Tue 4 Mar 19:00: the old 24 h reminder's time
    await h.advance(hours=22)  # Wed 5 Mar 17:00: the old 2 h reminder's time
    assert reminders(rita) == []
    await h.advance(hours=2)  # Wed 5 Mar 19:00: the new 24 h reminder
    assert len(reminders(rita)) == 1 and "starts in 24 hours" in reminders(rita)[0]
    await h.advance(hours=22)  # Thu 6 Mar 17:00: the new 2 h reminder
    assert len(reminders(rita)) == 2 and "starts in 2 hours" in reminders(rita)[1]
    await h.advance(hours=3)
    assert len(reminders(rita)) == 2
    assert reminders(rob) == []  # maybe: no reminders


async def test_cancelling_tells_everyone_who_answered_or_got_the_notice(street: Street) -> None:
    olga, rita, rob = street.olga, street.rita, street.rob
    meeting_id = await create_meeting(olga)
    await send_notice(olga)
    await rita.press(GOING)
    await olga.press_data(f"mtga:x:{meeting_id}")
    await olga.press("Yes, cancel it")
    for resident in (rita, rob):
        assert "has been cancelled by the organizer" in resident.inbox[-1].text
    await rob.press(GOING)
    assert "cancelled" in (rob.last_callback_answer.text or "")  # type: ignore[union-attr]
    await street.h.advance(days=2)
    assert reminders(rita) == []


async def test_minutes_reach_those_who_attended_and_the_topics_eligible_people(
        street: Street, monkeypatch: pytest.MonkeyPatch) -> None:
    h, olga, rita, rob, bea = street.h, street.olga, street.rita, street.rob, street.bea

    async def eligible(_db: Database, audience: Audience) -> Reach:
        return Reach(people=(street.ids[bea.id],) if audience.ids == (7,) else ())

    async def footprint(_db: Database, _audience: Audience) -> Footprint:
        return frozenset({1})

    async def topics(_db: Database, _person: object) -> list[Choice]:
        return [Choice(7, "Lift renovation")]

    monkeypatch.setitem(audiences._kinds, audiences.DELIBERATION,
                        AudienceKind("🗳 Eligible people of a topic", eligible, footprint, topics))
    meeting_id = await create_meeting(olga, topic="#7")
    await send_notice(olga)
    await rita.press(GOING)
    await rob.press(GOING)
    await olga.press_data(f"mtga:mn:{meeting_id}")
    assert "once the meeting has started" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]
    await h.advance(days=2, hours=10)  # Wed 5 Mar 19:00: started
    await olga.press_data(f"mtga:l:{meeting_id}:0")
    await olga.press("✅ ☑️ Rob")  # Rob did not come
    assert "✅ ✖️ Rob" in olga.last_message.buttons and "✅ ☑️ Rita" in olga.last_message.buttons
    await olga.press_data(f"mtga:mn:{meeting_id}")
    await olga.send("Quotes accepted <unanimously>; works start in May.")
    assert "Minutes sent to 1 who attended and 1 eligible people" in olga.last_message.text
    for person, gets in ((rita, True), (bea, True), (rob, False)):
        got = [m.text for m in person.inbox if m.text.startswith("📝 Minutes")]
        assert bool(got) is gets
    assert "Quotes accepted <unanimously>" in [m.text for m in rita.inbox][-1]
    await olga.press_data(f"mtga:mn:{meeting_id}")
    assert "already posted" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]


async def test_answers_from_a_group_notice_are_confirmed_privately(street: Street) -> None:
    h, olga, rita = street.h, street.olga, street.rita
    chat = h.group("Block 1 neighbours")
    await olga.send("/linkgroup B1", chat=chat)
    meeting_id = await create_meeting(olga)
    await send_notice(olga, "💬 Linked Telegram groups", "Block 1 neighbours · Block 1")
    group_buttons = ["✅ 参加", "🤔 待定", "❌ 不能参加"]  # groups read the street's default language
    assert olga.messages_in(chat)[-1].buttons == group_buttons
    await rita.press(group_buttons[0], chat=chat)
    assert "Details are in your private chat" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    assert rita.last_message.document is not None
    stranger = h.person("Stranger", "en")
    await stranger.press(group_buttons[0], chat=chat)
    assert "send /start first" in (stranger.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.press_data(f"mtg:r:{meeting_id}:x", chat=chat)
    assert "expired" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.press_data("mtga:o:1")
    assert "for organizers" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]


async def test_creating_a_meeting_survives_hostile_input(street: Street) -> None:
    olga = street.olga
    await olga.send("/meetings")
    await olga.press("➕ New meeting")
    await olga.send_sticker()
    assert "Please use the buttons" in olga.inbox[-2].text
    await olga.send("t" * 5000)
    assert "up to 80 characters" in olga.inbox[-2].text
    await olga.send("_*[<b>Bold</b>&")
    await olga.press("Skip")
    await olga.send("Hall")
    await olga.send("3-1 19:00")  # already past this year: the next 1 March is a year away
    await olga.send("19:00")
    assert "The end must be after the start" in olga.inbox[-2].text
    await olga.send("yesterday")
    assert "couldn't read that" in olga.inbox[-2].text
    await olga.send("21:00")
    await olga.send("0")
    assert "from 1 to 2000" in olga.inbox[-2].text
    await olga.press("No limit")
    await olga.press("Skip")
    assert "_*[&lt;b&gt;Bold&lt;/b&gt;&amp;" in olga.last_message.html
    await olga.send("/cancel")
    assert await street.h.services.db.fetch_value("SELECT COUNT(*) FROM meetings") == 0
    await olga.press_data("mtga:o:99")
    assert "don't manage this meeting" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]
