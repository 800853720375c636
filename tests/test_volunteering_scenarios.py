"""Volunteers and organizers through the offline Telegram: publish, sign up, waitlist, offers, reminders,
check-in, verified hours, points and the documents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import from_db
from bot.domain.capacity import SeatState, SignUpOutcome
from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.volunteering import Availability, Skill
from bot.services import capacity
from bot.services import volunteering as vol
from bot.storage import people
from tests.support.people import BotHarness, Person
from tests.support.signup import signed_up

TZ = ZoneInfo("Asia/Shanghai")
SIGN_UP = "🙋 Sign up"
CONFIRM = "✅ Confirm my place"


@dataclass
class Cast:
    h: BotHarness
    olga: Person  # organizer of community 1
    otto: Person  # organizer of community 2
    vols: list[Person]  # volunteers living in community 1
    rita: Person  # a resident of community 1 who is not a volunteer
    ids: dict[int, int]  # telegram id → person id


async def cast_of(h: BotHarness, volunteers: int = 5) -> Cast:
    db, now = h.services.db, h.clock.now()
    async with db.transaction() as conn:
        for n in (1, 2):
            await conn.execute("INSERT INTO communities (id, code, name) VALUES (?, ?, ?)",
                               (n, f"C{n}", f"Com{n}"))
            await conn.execute("INSERT INTO grids (id, code, community_id, name) VALUES (?, ?, ?, ?)",
                               (n, f"G{n}", n, f"Grid{n}"))
            await conn.execute("INSERT INTO buildings (id, code, grid_id, name) VALUES (?, ?, ?, ?)",
                               (n, f"B{n}", n, f"Block {n}"))
    olga, otto, rita = h.person("Olga", "en"), h.person("Otto", "en"), h.person("Rita", "en")
    ids = {
        olga.id: await signed_up(db, now, olga, name="Olga",
                                 role=(Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=1))),
        otto.id: await signed_up(db, now, otto, name="Otto",
                                 role=(Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=2))),
        rita.id: await signed_up(db, now, rita, name="Rita", building=1),
    }
    vols = [h.person(f"V{i}", "en") for i in range(1, volunteers + 1)]
    for volunteer in vols:
        ids[volunteer.id] = await signed_up(db, now, volunteer, name=f"Vol {volunteer.first_name}", building=1)
        found = await people.by_id(db, ids[volunteer.id])
        assert found is not None
        await vol.join(h.services, found, [Skill.GENERAL], [Availability.WEEKENDS])
    return Cast(h, olga, otto, vols, rita, ids)


@pytest.fixture
async def cast(tmp_path: Path) -> AsyncIterator[Cast]:
    async with BotHarness(tmp_path) as h:
        yield await cast_of(h)


async def publish(cast: Cast, *, title: str = "Park clean-up", places: int = 3, start: str = "3-8 9:00",
                  end: str = "11:00", project: str = "No project") -> int:
    """Olga creates an activity through the guided conversation; returns its id."""
    olga = cast.olga
    await olga.send("/volunteer_admin")
    await olga.press("➕ New activity")
    await olga.press("Com1 (community)")
    await olga.send(title)
    await olga.send("Bring gloves")
    await olga.send("North gate")
    await olga.send(start)
    await olga.send(end)
    await olga.send(str(places))
    await olga.press("cleaning and greening")
    await olga.press("Next ›")
    await olga.press("2")
    await olga.press("10")
    await olga.press(project)
    assert "Check and publish" in olga.last_message.text
    await olga.press("📣 Publish")
    value = await cast.h.services.db.fetch_value("SELECT MAX(id) FROM opportunities")
    return int(value)


async def open_card(person: Person, opportunity_id: int) -> None:
    """What pressing "View and sign up" on the announcement does (for anyone, from any message)."""
    if not person.inbox:
        await person.send("/volunteer")
    await person.press_data(f"vol:o:{opportunity_id}")


async def seat_state(cast: Cast, person: Person, opportunity_id: int) -> SeatState | None:
    seat = await capacity.seat_of(cast.h.services.db, vol.event_key(opportunity_id), cast.ids[person.id])
    return None if seat is None else seat.state


async def take_a_place_or_wait(person: Person) -> None:
    """Press whichever the open card offers: Sign up, or Join the waitlist when it is full."""
    await person.press(SIGN_UP if SIGN_UP in person.last_message.buttons else "Join the waitlist")


def texts(person: Person) -> str:
    return "\n---\n".join(m.text for m in person.inbox)


async def test_organizer_publishes_through_the_guided_flow_and_volunteers_hear_of_it(cast: Cast) -> None:
    opportunity_id = await publish(cast, title="Park <clean-up> & co")
    assert "Published. Volunteers being told: 5." in cast.olga.inbox[-2].text
    announcement = cast.vols[0].last_message
    assert "New volunteer activity: Park <clean-up> & co" in announcement.text
    assert "North gate" in announcement.text and "places: 3" in announcement.text
    assert "<b>Park &lt;clean-up&gt; &amp; co</b>" in announcement.html
    assert "View and sign up" in announcement.buttons
    lane = await cast.h.services.db.fetch_value(
        "SELECT DISTINCT lane FROM outbox WHERE reason_kind = ? AND reason_id = ?",
        (vol.ANNOUNCEMENT, opportunity_id),
    )
    assert lane == 1  # the bulk lane
    assert all("New volunteer activity" not in m.text for m in cast.rita.inbox)  # not a volunteer
    await cast.vols[0].press("View and sign up")
    assert "0 of 3 places taken" in cast.vols[0].last_message.text


async def test_a_volunteer_who_muted_volunteering_notices_hears_of_no_new_activity(cast: Cast) -> None:
    muted = cast.vols[0]
    await muted.send("/notifications")
    await muted.press("✅ 🙋 Volunteering")
    await publish(cast)
    assert "Published. Volunteers being told: 4." in cast.olga.inbox[-2].text
    assert all("New volunteer activity" not in m.text for m in muted.inbox)
    assert "New volunteer activity" in cast.vols[1].last_message.text


async def test_three_places_four_sign_ups_and_a_cancellation_promotes_the_fourth_who_confirms(
    cast: Cast,
) -> None:
    opportunity_id = await publish(cast, places=3)
    first, second, third, fourth = cast.vols[:4]
    for person in (first, second, third):
        await person.press("View and sign up")
        await person.press(SIGN_UP)
        assert "You're signed up" in person.last_message.text
    await fourth.press("View and sign up")
    assert "3 of 3 places taken" in fourth.last_message.text
    await fourth.press("Join the waitlist")
    assert "You are number 1 on the waitlist" in fourth.last_message.text
    await second.press("Cancel my place")
    await second.press("Yes, cancel")
    assert "no longer signed up" in second.last_message.text
    offer = fourth.last_message
    assert "A place is free for you at Park clean-up" in offer.text and "within 12 h" in offer.text
    await fourth.press(CONFIRM)
    assert "Confirmed: the place is yours" in fourth.last_message.text
    assert await seat_state(cast, fourth, opportunity_id) is SeatState.CONFIRMED
    await fourth.press_data(f"vol:cf:{opportunity_id}")  # a double tap
    assert "already confirmed" in fourth.last_message.text


async def test_an_offer_not_confirmed_in_time_passes_to_the_next(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=3)
    for person in cast.vols:
        await open_card(person, opportunity_id)
        await take_a_place_or_wait(person)
    fourth, fifth = cast.vols[3], cast.vols[4]
    await cast.vols[0].press("Cancel my place")
    await cast.vols[0].press("Yes, cancel")
    assert "A place is free for you" in fourth.last_message.text
    await cast.h.restart()  # the window is a timer row: a restart changes nothing
    await cast.h.advance(hours=11, minutes=59)
    assert await seat_state(cast, fourth, opportunity_id) is SeatState.OFFERED
    assert "A place is free" not in fifth.last_message.text
    await cast.h.advance(minutes=2)
    assert await seat_state(cast, fourth, opportunity_id) is SeatState.LAPSED
    assert "not confirmed in time" in fourth.last_message.text
    assert "A place is free for you" in fifth.last_message.text
    await fourth.press(CONFIRM)  # the stale offer, edited in place
    assert "no longer open" in fourth.inbox[-2].text
    await fifth.press(CONFIRM)
    assert await seat_state(cast, fifth, opportunity_id) is SeatState.CONFIRMED


async def test_the_confirm_window_starts_when_the_offer_is_delivered(tmp_path: Path) -> None:
    """Cancelled at 23:00: the offer waits for the end of quiet hours, and so does its window."""
    start = datetime(2025, 3, 3, 23, 0, tzinfo=TZ)
    async with BotHarness(tmp_path, start=start) as h:
        cast = await cast_of(h, volunteers=2)
        opportunity_id = await publish(cast, places=1, start="3-10 9:00", end="11:00")
        first, second = cast.vols
        await open_card(first, opportunity_id)
        await first.press(SIGN_UP)
        await open_card(second, opportunity_id)
        await second.press("Join the waitlist")
        await first.press("Cancel my place")
        await first.press("Yes, cancel")
        assert "A place is free" not in second.last_message.text  # held by quiet hours
        await h.advance(hours=8)  # 07:00: delivered now, before the held announcement (interactive first)
        assert "A place is free" in texts(second)
        seat = await capacity.seat_of(h.services.db, vol.event_key(opportunity_id), cast.ids[second.id])
        assert seat is not None and seat.offer_expires_at == datetime(2025, 3, 4, 19, 0, tzinfo=TZ)
        await h.advance(hours=11, minutes=30)
        await second.press(CONFIRM)  # 18:30: within the window counted from delivery
        assert "Confirmed: the place is yours" in texts(second)


async def test_two_people_taking_the_last_place_at_the_same_moment_get_one_place(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=1)
    services = cast.h.services
    a, b = [await people.by_id(services.db, cast.ids[p.id]) for p in cast.vols[:2]]
    assert a is not None and b is not None
    results = await asyncio.gather(vol.sign_up(services, a, opportunity_id),
                                   vol.sign_up(services, b, opportunity_id))
    assert sorted(r.outcome for r in results) == [SignUpOutcome.CONFIRMED, SignUpOutcome.WAITLISTED]
    counts = await capacity.counts(services.db, vol.event_key(opportunity_id))
    assert (counts.confirmed, counts.waitlisted) == (1, 1)


async def test_capacity_cannot_drop_below_confirmed_and_raising_it_promotes(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=2)
    for person in cast.vols[:3]:
        await open_card(person, opportunity_id)
        await take_a_place_or_wait(person)
    olga = cast.olga
    await olga.press_data(f"vadm:o:{opportunity_id}")
    assert "Fill rate: 100%" in olga.last_message.text
    await olga.press("🔁 Change places")
    await olga.send("1")
    assert "cannot go below 2" in olga.last_message.text
    await olga.send("3")
    assert "Places changed to 3. Offered to the waitlist: 1." in olga.last_message.text
    assert "A place is free for you" in cast.vols[2].last_message.text
    await cast.vols[2].press(CONFIRM)
    assert await seat_state(cast, cast.vols[2], opportunity_id) is SeatState.CONFIRMED


async def _reminders(cast: Cast) -> list[datetime]:
    rows = await cast.h.services.db.fetch_all(
        "SELECT due_at FROM timers WHERE kind = ? AND state = 'pending' ORDER BY due_at", (capacity.REMINDER,)
    )
    return [from_db(r["due_at"]) for r in rows]


async def test_reschedule_moves_the_reminders_and_tells_everyone_across_a_restart(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=1, start="3-5 9:00", end="11:00")
    first, second = cast.vols[:2]
    await open_card(first, opportunity_id)
    await first.press(SIGN_UP)
    await open_card(second, opportunity_id)
    await second.press("Join the waitlist")
    old = datetime(2025, 3, 5, 9, 0, tzinfo=TZ)
    assert await _reminders(cast) == [old - timedelta(hours=24), old - timedelta(hours=2)]
    olga = cast.olga
    await olga.press_data(f"vadm:o:{opportunity_id}")
    await olga.press("📅 Reschedule")
    await olga.send("3-7 14:00")
    await olga.send("16:00")
    assert "Everyone signed up or waiting has been told" in olga.last_message.text
    new = datetime(2025, 3, 7, 14, 0, tzinfo=TZ)
    for person in (first, second):
        assert "has moved to Fri 7 Mar 14:00" in person.last_message.text
    assert await _reminders(cast) == [new - timedelta(hours=24), new - timedelta(hours=2)]
    await cast.h.restart()
    assert await _reminders(cast) == [new - timedelta(hours=24), new - timedelta(hours=2)]
    await cast.h.advance(days=1, hours=1)  # past the old 24-hour reminder (Tue 09:00)
    assert not any("Reminder" in m.text for m in first.inbox)
    await cast.h.advance(days=2, hours=4, minutes=1)  # Thu 14:01: the new 24-hour reminder
    assert sum("Reminder: Park clean-up starts in 24 hours" in m.text for m in first.inbox) == 1, texts(first)
    assert not any("Reminder" in m.text for m in second.inbox)  # waitlisted: no reminder
    await cast.h.advance(hours=22)  # Fri 12:01
    assert sum("Reminder" in m.text for m in first.inbox) == 2
    assert await _reminders(cast) == []


async def test_check_in_once_no_show_gets_nothing_and_points_come_with_verification(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=3, start="3-4 9:00", end="11:30")
    came, coded, missed = cast.vols[:3]
    for person in (came, coded, missed):
        await open_card(person, opportunity_id)
        await person.press(SIGN_UP)
    await coded.press("🔢 My check-in code")
    code = coded.last_message.text.split(": ")[1].split("\n")[0].replace(" ", "")
    assert len(code) == 6 and code.isdigit()
    olga = cast.olga
    await olga.press_data(f"vadm:o:{opportunity_id}")
    await olga.press("👥 Roster")
    await olga.press("🆕 Vol V1")
    await olga.press("☑️ Check in")
    assert "Check-in opens two hours before the start" in olga.last_message.text
    await cast.h.advance(days=1)  # Tue 09:00: it starts
    await olga.press("☑️ Check in")
    assert "Vol V1 is checked in" in olga.last_message.text
    organizer = await people.by_id(cast.h.services.db, cast.ids[olga.id])
    assert organizer is not None
    roster = await vol.roster(cast.h.services, organizer, opportunity_id)
    assert roster is not None
    seat = next(line.seat_id for line in roster.lines if line.name == "Vol V1")
    await olga.press_data(f"vadm:ci:{opportunity_id}:{seat}")  # a second check-in
    assert "a second check-in is refused" in olga.last_message.text
    await olga.press("‹ Roster")
    await olga.press("🆕 Vol V3")
    await olga.press("✖️ No-show")
    assert "no-show: no hours, no points" in olga.last_message.text
    await olga.press("‹ Roster")
    await olga.press("‹ Back")
    await olga.press("🔢 Enter a check-in code")
    await olga.send(f"{code[:3]} {code[3:]}")
    assert "Vol V2 is checked in" in olga.last_message.text
    await olga.send(code)
    assert "a second check-in is refused" in olga.last_message.text
    await olga.send_sticker()
    assert "6 digits" in olga.last_message.text
    await came.send("/myhours")
    assert "Hours waiting for verification: 2" in came.last_message.text
    assert "Points: 0" in came.last_message.text
    await olga.press("‹ Back to the activity")
    await olga.press("✅ Verify all attended hours")
    assert "Verified: 2." in olga.last_message.text
    verified = "Your service at Park clean-up is verified: 2 h, and 10 points added"
    assert verified in came.last_message.text
    await came.send("/myhours")
    hours = came.last_message
    assert "Verified hours: 2 · activities: 1" in hours.text and "Points: 10" in hours.text
    await missed.send("/myhours")
    assert "Verified hours: 0" in missed.last_message.text and "Points: 0" in missed.last_message.text
    assert "did not come" in missed.last_message.text
    await came.press("📄 Service record")
    record = came.last_message.document
    assert record is not None and record.file_name is not None and record.file_name.endswith(".html")
    content = record.content.decode("utf-8")
    assert "Vol V1" in content and "VR-2025-000001" in content and "Park clean-up" in content
    await olga.press("⬇️ Hours (CSV)")
    export = olga.last_message.document
    assert export is not None and export.content.startswith(b"\xef\xbb\xbf")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 4 and "Vol V3" in lines[3] and "did not come" in lines[3]


async def test_forged_and_stale_buttons_are_refused_politely(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=1)
    rita, otto, volunteer = cast.rita, cast.otto, cast.vols[0]
    await rita.send("/volunteer")
    await rita.press_data(f"vadm:o:{opportunity_id}")
    answer = rita.last_callback_answer
    assert answer is not None and "for organizers" in (answer.text or "")
    await otto.send("/volunteer_admin")
    for forged in (f"vadm:o:{opportunity_id}", f"vadm:ci:{opportunity_id}:1", f"vadm:va:{opportunity_id}",
                   f"vadm:csv:{opportunity_id}", f"vadm:cap:{opportunity_id}"):
        await otto.press_data(forged)
        answer = otto.last_callback_answer
        assert answer is not None and answer.show_alert and "don't manage" in (answer.text or ""), forged
    await volunteer.send("/volunteer")
    for forged in ("vol:o:abc", "vol:su", "vol:zz:1", "vol:cf:999999", f"vol:code:{opportunity_id}"):
        await volunteer.press_data(forged)
        answer = volunteer.last_callback_answer
        assert answer is not None and answer.text, forged
    await rita.press_data(f"vol:su:{opportunity_id}")  # not a volunteer: asked to join first
    assert "What would you like to help with?" in rita.last_message.text
    counts = await capacity.counts(cast.h.services.db, vol.event_key(opportunity_id))
    assert counts.held == 0


async def test_a_resident_joins_from_the_sign_up_button_and_gets_the_place(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=2)
    rita = cast.rita
    await rita.send("/help")
    assert "🙋 Volunteer" in rita.last_message.reply_keyboard and "/volunteer" in rita.last_message.text
    await rita.press("🙋 Volunteer")
    assert "Become a volunteer" in rita.last_message.buttons
    await open_card(rita, opportunity_id)
    await rita.press(SIGN_UP)
    await rita.press("caring for the elderly")
    assert "✅ caring for the elderly" in rita.last_message.buttons
    await rita.press("Next ›")
    await rita.press("weekends")
    await rita.press("Next ›")
    assert "Volunteer privacy" in rita.last_message.text
    await rita.press("I agree")
    assert "Welcome, volunteer!" in texts(rita)
    assert "You're signed up" in rita.last_message.text
    assert await seat_state(cast, rita, opportunity_id) is SeatState.CONFIRMED


async def test_lists_are_paginated_and_overlaps_are_warned(cast: Cast) -> None:
    services = cast.h.services
    olga = await people.by_id(services.db, cast.ids[cast.olga.id])
    assert olga is not None
    starts = cast.h.clock.now() + timedelta(days=2)
    for n in range(12):
        await vol.publish(services, olga, vol.NewOpportunity(
            title=f"Shift {n:02d}", description="", scope=Scope(kind=ScopeKind.COMMUNITY, id=1), place="Hall",
            starts_at=starts + timedelta(hours=n), ends_at=starts + timedelta(hours=n, minutes=90),
            capacity=2, skills=[], hours=1, points=1,
        ))
    await cast.h.settle()  # the announcements land
    volunteer = cast.vols[0]
    await volunteer.send("/volunteer")
    await volunteer.press("📅 Upcoming activities")
    page = volunteer.last_message
    assert "1 of 3" in page.buttons and len([b for b in page.buttons if "Shift" in b]) == 5
    await volunteer.press("›")
    assert "2 of 3" in volunteer.last_message.buttons
    first_id = await services.db.fetch_value("SELECT MIN(id) FROM opportunities")
    await open_card(volunteer, first_id)
    await volunteer.press(SIGN_UP)
    await open_card(volunteer, first_id + 1)
    await volunteer.press(SIGN_UP)
    assert "overlaps with “Shift 00”" in volunteer.last_message.text
    await volunteer.press("Sign up anyway")
    assert "You're signed up" in volunteer.last_message.text


async def test_guided_creation_survives_hostile_input(cast: Cast) -> None:
    olga = cast.olga
    await olga.send("/volunteer_admin")
    await olga.press("➕ New activity")
    await olga.press("Com1 (community)")
    await olga.send_sticker()
    assert "one line of up to 80 characters" in olga.inbox[-2].text
    await olga.send("x" * 5000)
    assert "one line of up to 80 characters" in olga.inbox[-2].text
    await olga.send("_*[<>& title")
    await olga.press("Skip")
    await olga.send("Hall")
    await olga.send("yesterday")
    assert "couldn't read that" in olga.inbox[-2].text
    await olga.send("2025-03-01 09:00")
    assert "already passed" in olga.inbox[-2].text
    await olga.send("/cancel")
    assert "Cancelled" in olga.last_message.text
    assert await cast.h.services.db.fetch_value("SELECT COUNT(*) FROM opportunities") == 0


async def test_organizer_runs_a_community_project_and_residents_volunteer_for_it(cast: Cast) -> None:
    olga = cast.olga
    await olga.send("/volunteer_admin")
    await olga.press("📁 Projects")
    assert "No community projects yet." in olga.last_message.text
    await olga.press("➕ New project")
    await olga.send("Green Corners")
    await olga.send("Sunshine <NGO>")
    await olga.press("Skip")
    assert "Run by: Sunshine <NGO>" in olga.last_message.text
    await olga.press("Create")
    assert "Project created" in olga.inbox[-2].text
    opportunity_id = await publish(cast, project="Green Corners")
    volunteer = cast.vols[0]
    await volunteer.send("/volunteer")
    await volunteer.press("📁 Community projects")
    await volunteer.press("Green Corners")
    text = volunteer.last_message.text
    assert "Run by: Sunshine <NGO>" in text and "Status: running" in text
    assert "Upcoming activities you can join: 1" in text
    await volunteer.press(next(b for b in volunteer.last_message.buttons if "Park clean-up" in b))
    assert "📁 Green Corners" in volunteer.last_message.text
    await volunteer.press(SIGN_UP)
    assert await seat_state(cast, volunteer, opportunity_id) is SeatState.CONFIRMED
    await olga.press("📁 Open the project")
    await olga.press("completed")
    project_card = next(m for m in olga.inbox if "Status changed." in m.text)  # edited in place
    assert "Status: completed" in project_card.text
    await volunteer.send("/volunteer")
    await volunteer.press("📁 Community projects")
    assert "no community projects" in volunteer.last_message.text


async def test_cancelling_an_activity_tells_everyone_and_closes_it(cast: Cast) -> None:
    opportunity_id = await publish(cast, places=1)
    first, second = cast.vols[:2]
    await open_card(first, opportunity_id)
    await first.press(SIGN_UP)
    await open_card(second, opportunity_id)
    await second.press("Join the waitlist")
    olga = cast.olga
    await olga.press_data(f"vadm:o:{opportunity_id}")
    await olga.press("❌ Cancel activity")
    await olga.press("Yes, cancel it")
    assert "Everyone signed up or waiting has been told" in olga.last_message.text
    assert "❌ Cancelled" in olga.last_message.text
    for person in (first, second):
        assert "Park clean-up (Sat 8 Mar 09:00) has been cancelled by the organizer" in person.last_message.text
    lanes = await cast.h.services.db.fetch_all(
        "SELECT DISTINCT lane FROM outbox WHERE template LIKE '%cancelled by the organizer%'"
    )
    assert [r["lane"] for r in lanes] == [0]  # interactive
    assert await _reminders(cast) == []
    await cast.vols[2].press_data(f"vol:su:{opportunity_id}")
    answer = cast.vols[2].last_callback_answer
    assert answer is not None and "cancelled" in (answer.text or "")
    await olga.press_data(f"vadm:xy:{opportunity_id}")  # a double tap
    assert "already cancelled" in olga.last_message.text


async def test_every_button_survives_forged_data(cast: Cast) -> None:
    """Any client can send any callback data: every action, with missing, odd or foreign ids, is answered
    without an error (the harness fails the test on any handler error) and changes no seat."""
    opportunity_id = await publish(cast, places=1)
    volunteer = cast.vols[0]
    await open_card(volunteer, opportunity_id)
    await volunteer.press(SIGN_UP)
    actions = {
        "vol": ["home", "join", "rec", "ls", "my", "pj", "h", "o", "cl", "cy", "no", "cf", "code", "su", "sf", "p"],
        "vadm": ["home", "new", "pnew", "csv", "ls", "pj", "o", "va", "x", "xy", "p", "cap", "rs", "code", "r",
                 "pp", "ci", "ns", "vf", "ps"],
    }
    odd = [[], ["x"], ["-1"], [str(2**70)], [str(opportunity_id), "999"], [str(opportunity_id), "1", "x", "1"]]
    otto = cast.otto  # an organizer, but of another community, and no volunteer
    await otto.send("/volunteer")
    menu_message = otto.last_message.message_id  # pressed each time (a document cannot be edited into text)
    for prefix, names in actions.items():
        for name in names:
            for args in odd:
                await otto.press_data(":".join([prefix, name, *args]), message_id=menu_message)
    seat = await capacity.seat_of(cast.h.services.db, vol.event_key(opportunity_id), cast.ids[volunteer.id])
    assert seat is not None and seat.state is SeatState.CONFIRMED
    counts = await capacity.counts(cast.h.services.db, vol.event_key(opportunity_id))
    assert (counts.capacity, counts.confirmed, counts.waitlisted) == (1, 1, 0)
