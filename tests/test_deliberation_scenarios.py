"""Deciding together through the offline Telegram: eligible residents vote, change their mind, miss the close,
households vote once, secret ballots stay secret, reminders reach only those who have not voted.

The street: community 1 (Riverside) with building 12 (five verified residents in five flats, one unverified
resident) and building 13; community 2 (Hilltop) with building 21 (an outsider). Olga organizes Riverside.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.deliberation import BallotType, Rules, Topic, TopicState, Track, Visibility, VoteUnit
from bot.domain.people import Person as Member
from bot.domain.people import Role, Scope, ScopeKind
from bot.services import deliberation as service
from bot.services.deliberation import Setup
from bot.storage import people
from tests.support.people import BotHarness, Person
from tests.support.signup import signed_up

B12, B13, B21 = 12, 13, 21


@dataclass
class Street:
    h: BotHarness
    olga: Person  # organizer of Riverside
    residents: list[Person]  # verified, building 12, flats 1-101 … 1-105
    unverified: Person  # building 12, not verified
    outsider: Person  # verified, building 21 in Hilltop
    ids: dict[int, int] = field(default_factory=dict)  # telegram id → person id

    async def member(self, person: Person) -> Member:
        found = await people.by_id(self.h.services.db, self.ids[person.id])
        assert found is not None
        return found


async def add(h: BotHarness, person: Person, *, name: str, building: int | None = None, unit: str = "1-101",
              verified: bool = True, role: tuple[Role, Scope] | None = None) -> int:
    """A signed-up person of this street; residents are verified unless told otherwise."""
    return await signed_up(h.services.db, h.clock.now(), person, name=name, building=building, unit=unit,
                           verified=verified, role=role)


async def street_of(h: BotHarness) -> Street:
    async with h.services.db.transaction() as conn:
        for community, name, grid, buildings in ((1, "Riverside", 1, (B12, B13)), (2, "Hilltop", 2, (B21,))):
            await conn.execute("INSERT INTO communities (id, code, name) VALUES (?, ?, ?)",
                               (community, f"C{community}", name))
            await conn.execute("INSERT INTO grids (id, code, community_id, name) VALUES (?, ?, ?, ?)",
                               (grid, f"G{grid}", community, f"Grid {grid}"))
            for building in buildings:
                await conn.execute("INSERT INTO buildings (id, code, grid_id, name) VALUES (?, ?, ?, ?)",
                                   (building, f"B{building}", grid, f"Building {building}"))
    olga = h.person("Olga", "en")
    residents = [h.person(f"R{n}", "en") for n in range(1, 6)]
    unverified, outsider = h.person("Una", "en"), h.person("Otto", "en")
    street = Street(h, olga, residents, unverified, outsider)
    street.ids[olga.id] = await add(h, olga, name="Olga", role=(Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=1)))
    for n, resident in enumerate(residents, start=1):
        street.ids[resident.id] = await add(h, resident, name=f"Resident {n}", building=B12, unit=f"1-10{n}")
    street.ids[unverified.id] = await add(h, unverified, name="Una", building=B12, unit="2-201", verified=False)
    street.ids[outsider.id] = await add(h, outsider, name="Otto", building=B21, unit="1-101")
    return street


@pytest.fixture
async def street(tmp_path: Path) -> AsyncIterator[Street]:
    async with BotHarness(tmp_path) as h:
        yield await street_of(h)


async def topic_for(street: Street, *, rules: Rules | None = None, opens_in: timedelta | None = None,
                    lasts: timedelta = timedelta(days=3), track: Track = Track.SMALL, options: list[str] | None = None,
                    community: int | None = 1) -> Topic:
    """Olga announces a topic for building 12 (or, big track, the community) through the service."""
    h = street.h
    now = h.clock.now()
    opens_at = now + opens_in if opens_in else None
    setup = Setup(
        track=track, community_id=community, title="Repaint the stairwell", background="Paint <peels> & flakes",
        rules=rules or Rules(), closes_at=(opens_at or now) + lasts, opens_at=opens_at, options=options or [],
        building_ids=[B12] if track is Track.SMALL else [],
    )
    topic = await service.publish(h.services, await street.member(street.olga), setup)
    await h.settle()
    return topic


async def vote(person: Person, topic_id: int, label: str) -> None:
    """Open the topic card as its notice's button does, press Vote and the answer."""
    await person.press_data(f"dv:o:{topic_id}")
    await person.press("🗳 Vote")
    await person.press(label)


async def tally_of(street: Street, topic_id: int) -> list[tuple[str, str]]:
    rows = await street.h.services.db.fetch_all(
        "SELECT panel, choices FROM deliberation_ballots WHERE topic_id = ? ORDER BY choices", (topic_id,))
    return [(r["panel"], r["choices"]) for r in rows]


# ---- the Done-means scenarios -------------------------------------------------------------------------------


async def test_two_taps_and_a_change_of_mind_leave_one_ballot_with_the_last_choice(street: Street) -> None:
    topic = await topic_for(street, rules=Rules(visibility=Visibility.AFTER_VOTE))
    rita = street.residents[0]
    assert "Voting is open" in rita.last_message.text
    await vote(rita, topic.id, "👍 Yes")
    assert "Your vote was counted" in rita.last_message.text
    await rita.press_data(f"dv:c:{topic.id}:1")  # the same tap again, from the same screen
    assert "Your vote stays as it was" in rita.last_message.text
    await rita.press("✏️ Change my vote")
    await rita.press("👎 No")
    assert "Your vote was changed" in rita.last_message.text
    assert "Your vote: 👎 No" in rita.last_message.text
    assert await tally_of(street, topic.id) == [("resident", "2")]
    count = await street.h.services.db.fetch_value(
        "SELECT COUNT(*) FROM deliberation_voters WHERE topic_id = ?", (topic.id,))
    assert count == 1
    assert "👎 No: 1 (100%)" in rita.last_message.text  # results after one has voted


async def test_a_vote_one_second_after_close_is_refused_and_the_tally_is_unchanged(street: Street) -> None:
    topic = await topic_for(street, lasts=timedelta(hours=2))
    rita, sam = street.residents[:2]
    await vote(rita, topic.id, "👍 Yes")
    await sam.press_data(f"dv:o:{topic.id}")
    await sam.press("🗳 Vote")
    street.h.clock.advance(timedelta(hours=2, seconds=1))  # the close timer has not run yet
    await sam.press("👎 No")
    answer = sam.last_callback_answer
    assert answer is not None and "has closed" in (answer.text or "")
    assert await tally_of(street, topic.id) == [("resident", "1")]
    await street.h.settle()
    stored = await service.managed_topic(street.h.services, await street.member(street.olga), topic.id)
    assert stored.state is TopicState.CLOSED
    assert "Voting has closed" in sam.last_message.text


async def test_small_topic_for_building_12_with_a_60_percent_quorum_where_2_of_5_vote_is_not_valid(
    street: Street,
) -> None:
    topic = await topic_for(street, rules=Rules(quorum_percent=60), lasts=timedelta(days=1))
    for resident, label in zip(street.residents[:2], ("👍 Yes", "👎 No"), strict=True):
        await vote(resident, topic.id, label)
    await street.h.advance(days=1)
    rita = street.residents[0]
    assert "Turnout 40% (2 of 5)" in rita.last_message.text
    assert "not valid" in rita.last_message.text
    await rita.press("📊 Results")
    card = rita.last_message.text
    assert "👍 Yes: 1 (50%)" in card and "👎 No: 1 (50%)" in card
    assert "Quorum of 60% not reached: the result is not valid" in card
    assert "Turnout: 2 of 5 (40%)" in card


async def test_an_outsider_and_an_unverified_resident_are_refused_and_see_no_results(street: Street) -> None:
    topic = await topic_for(street, rules=Rules(visibility=Visibility.ALWAYS))
    await vote(street.residents[0], topic.id, "👍 Yes")
    for stranger in (street.outsider, street.unverified):
        assert not any("Voting is open" in m.text for m in stranger.inbox)
        await stranger.send("/votes")
        assert "No topics for you" in stranger.last_message.text
        shown = len(stranger.inbox)
        for data in (f"dv:o:{topic.id}", f"dv:r:{topic.id}", f"dv:b:{topic.id}:0", f"dv:c:{topic.id}:1",
                     f"dv:f:{topic.id}:1", f"dv:qa:{topic.id}"):
            await stranger.press_data(data)
            answer = stranger.last_callback_answer
            assert answer is not None and "not among the people who decide" in (answer.text or "")
        assert len(stranger.inbox) == shown
        assert all("Yes: 1" not in m.text for m in stranger.inbox)
    assert await tally_of(street, topic.id) == [("resident", "1")]


async def test_moving_into_the_building_after_opening_adds_no_vote(street: Street) -> None:
    topic = await topic_for(street)
    otto = street.outsider
    async with street.h.services.db.transaction() as conn:
        await conn.execute("UPDATE people SET building_id = ?, unit = '3-301' WHERE id = ?", (B12, street.ids[otto.id]))
    await otto.send("/votes")
    assert "No topics for you" in otto.last_message.text
    await otto.press_data(f"dv:o:{topic.id}")
    assert "not among the people who decide" in (otto.last_callback_answer.text or "")  # type: ignore[union-attr]
    await otto.press_data(f"dv:f:{topic.id}:1")
    assert await tally_of(street, topic.id) == []
    turnout = await service.turnout(street.h.services, topic)
    assert turnout.eligible == 5
    # A resident who moves out after opening keeps the vote the frozen list gave her.
    rita = street.residents[0]
    async with street.h.services.db.transaction() as conn:
        await conn.execute("UPDATE people SET building_id = ? WHERE id = ?", (B13, street.ids[rita.id]))
    await vote(rita, topic.id, "👍 Yes")
    assert await tally_of(street, topic.id) == [("resident", "1")]


async def test_one_vote_per_household(street: Street) -> None:
    rita, sam = street.residents[:2]
    async with street.h.services.db.transaction() as conn:  # Sam lives with Rita: the same flat, typed otherwise
        await conn.execute("UPDATE people SET unit = ' 1-101 ' WHERE id = ?", (street.ids[sam.id],))
    topic = await topic_for(street, rules=Rules(vote_unit=VoteUnit.HOUSEHOLD))
    await vote(rita, topic.id, "👍 Yes")
    await sam.press_data(f"dv:o:{topic.id}")
    assert "Your household has voted" in sam.last_message.text
    assert "🗳 Vote" not in sam.last_message.buttons
    await sam.press_data(f"dv:c:{topic.id}:2")
    assert "already been cast by another member" in (sam.last_callback_answer.text or "")  # type: ignore[union-attr]
    assert await tally_of(street, topic.id) == [("resident", "1")]
    assert "Turnout: 1 of 4 households (25%)" in sam.last_message.text


async def test_secret_ballot_shows_only_turnout_before_close_and_totals_without_names_after(
    street: Street, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    topic = await topic_for(street, rules=Rules(anonymous=True, visibility=Visibility.ALWAYS),
                            lasts=timedelta(days=1))
    assert topic.rules.final and topic.rules.visibility is Visibility.AFTER_CLOSE
    for resident, label in zip(street.residents[:3], ("👍 Yes", "👎 No", "👍 Yes"), strict=True):
        await vote(resident, topic.id, label)
        assert "final" in resident.last_message.text and "secret" in resident.last_message.text
        await resident.press("✅ Cast my vote")
        assert "You have voted. Your ballot is secret." in resident.last_message.text
        assert "Yes: " not in resident.last_message.text
    rita, olga = street.residents[0], street.olga
    await rita.press_data(f"dv:c:{topic.id}:2")  # final: no change of mind
    await rita.press("✅ Cast my vote")
    assert "ballots are final" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    await olga.send("/topics")
    await olga.press_data(f"dva:t:{topic.id}")
    staff_view = olga.last_message.text
    assert "Turnout: 3 of 5 (60%)" in staff_view and "Results" not in staff_view
    await street.h.advance(days=1)
    await rita.press("📊 Results")
    card = rita.last_message.text
    assert "👍 Yes: 2 (67%)" in card and "👎 No: 1 (33%)" in card
    for name in ("Resident 1", "Resident 2", "Resident 3"):
        assert all(name not in m.text for p in (rita, olga) for m in p.inbox)
    # The database holds no link from a ballot to a person: not in the schema, not in the data.
    db = street.h.services.db
    columns = {r["name"] for r in await db.fetch_all("PRAGMA table_info(deliberation_ballots)")}
    assert columns == {"id", "topic_id", "panel", "choices"}
    without_rowid = await db.fetch_value("SELECT sql FROM sqlite_master WHERE name = 'deliberation_ballots'")
    assert "WITHOUT ROWID" in without_rowid
    with pytest.raises(Exception, match="no such column"):
        await db.fetch_all("SELECT rowid FROM deliberation_ballots")
    assert await db.fetch_value(
        "SELECT COUNT(*) FROM deliberation_voters WHERE topic_id = ? AND ballot_id IS NOT NULL", (topic.id,)) == 0
    ballot_ids = [r["id"] for r in await db.fetch_all("SELECT id FROM deliberation_ballots")]
    for table in ("deliberation_voters", "outbox", "audit_log", "drafts", "timers"):
        dump = " ".join(str(tuple(r)) for r in await db.fetch_all(f"SELECT * FROM {table}"))
        assert not any(ballot_id in dump for ballot_id in ballot_ids), table
    async with db.transaction() as conn:  # and the schema refuses to make one
        with pytest.raises(Exception, match="never tied"):
            await conn.execute("UPDATE deliberation_voters SET ballot_id = ? WHERE topic_id = ?",
                               (ballot_ids[0], topic.id))
    mydata = await service.accounts.export_my_data(street.h.services, await street.member(rita))
    assert b'"choices": "secret"' in mydata
    logged = [r.getMessage() for r in caplog.records]
    assert any("details withheld" in line for line in logged)  # PTB did log those updates, withheld
    assert all(f"dv:c:{topic.id}" not in line and f"dv:f:{topic.id}" not in line for line in logged)


async def test_the_closing_reminder_reaches_only_those_who_have_not_voted(street: Street) -> None:
    topic = await topic_for(street, lasts=timedelta(days=3))
    voters = street.residents[:2]
    for resident in voters:
        await vote(resident, topic.id, "👍 Yes")
    await street.h.restart()  # the reminder is a timer row: it survives
    await street.h.advance(days=2, minutes=1)
    reminded = [p for p in street.residents if any("you have not voted yet" in m.text for m in p.inbox)]
    assert reminded == street.residents[2:]
    assert not any("you have not voted yet" in m.text for p in (street.outsider, street.unverified, street.olga)
                   for m in p.inbox)


# ---- phases, timers and the rest of the rules -------------------------------------------------------------


async def test_before_the_vote_people_read_and_ask_and_answers_reach_everyone_then_voting_opens_on_time(
    street: Street,
) -> None:
    topic = await topic_for(street, opens_in=timedelta(days=2), options=["Blue", "Green <light>"],
                            rules=Rules(ballot_type=BallotType.SINGLE))
    rita, sam = street.residents[:2]
    assert "A topic for you to decide" in rita.last_message.text
    assert "A topic for you to decide" not in street.outsider.inbox[-1].text if street.outsider.inbox else True
    await rita.press("🗳 Open the topic")
    card = rita.last_message.text
    assert "Paint <peels> & flakes" in card and "2. Green <light>" in card and "Before the vote" in card
    assert "🗳 Vote" not in rita.last_message.buttons
    await rita.press_data(f"dv:c:{topic.id}:1")
    assert "has not opened yet" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.press("❓ Ask a question")
    await rita.send_sticker()
    assert "type your answer as text" in rita.inbox[-2].text
    await rita.send("Who pays <b>for</b> it?")
    assert "sent to the organizers" in rita.last_message.text
    olga = street.olga
    assert "Who pays <b>for</b> it?" in olga.last_message.text
    await olga.press("✍️ Answer")
    await olga.send("The maintenance fund & nobody else.")
    for person in street.residents:
        assert "The maintenance fund & nobody else." in person.last_message.text
        assert "Resident 1" not in person.last_message.text
    assert not any("maintenance fund" in m.text for m in street.outsider.inbox)
    await street.h.restart()
    await street.h.advance(days=2)
    assert "Voting is open" in sam.last_message.text
    await sam.press("🗳 Vote")
    await sam.press("Green <light>")
    assert "Your vote: Green <light>" in sam.last_message.text


async def test_up_to_k_options(street: Street) -> None:
    topic = await topic_for(street, options=["Bench", "Lamp", "Tree"],
                            rules=Rules(ballot_type=BallotType.MULTI, max_choices=2))
    rita = street.residents[0]
    await rita.press_data(f"dv:o:{topic.id}")
    await rita.press("🗳 Vote")
    await rita.press("⬜ Bench")
    await rita.press("⬜ Tree")
    await rita.press("✅ Submit (2 of at most 2)")
    assert "Your vote: Bench, Tree" in rita.last_message.text
    await rita.press_data(f"dv:c:{topic.id}:7")  # three options, forged
    assert "at most 2" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.press_data(f"dv:c:{topic.id}:64")  # an option that does not exist
    assert await tally_of(street, topic.id) == [("resident", "1,3")]


async def test_forged_and_stale_buttons_change_nothing(street: Street) -> None:
    topic = await topic_for(street)
    rita = street.residents[0]
    for data in ("dv:c:abc:1", "dv:c:999:1", f"dv:c:{topic.id}:0", f"dv:c:{topic.id}:-1", "dv:zz:1", "dv:",
                 f"dva:cly:{topic.id}", f"dva:an:{topic.id}:1", f"dva:inv:{topic.id}"):
        await rita.press_data(data)
        assert rita.last_callback_answer is not None
    assert await tally_of(street, topic.id) == []
    stored = await service.managed_topic(street.h.services, await street.member(street.olga), topic.id)
    assert stored.state is TopicState.OPEN and not stored.rules.anonymous


async def test_secrecy_cannot_change_after_the_first_ballot(street: Street) -> None:
    topic = await topic_for(street)
    olga = street.olga
    await olga.send("/topics")
    await olga.press_data(f"dva:t:{topic.id}")
    await olga.press("🕶 Make ballots secret")
    assert "Ballots are now secret" in olga.last_message.text
    await olga.press("👁 Make ballots named")
    assert "Ballots are final once cast" in olga.last_message.text  # secrecy made them final; they stay so
    await vote(street.residents[0], topic.id, "👍 Yes")
    await street.residents[0].press("✅ Cast my vote")
    await olga.press_data(f"dva:t:{topic.id}")
    await olga.press("🕶 Make ballots secret")
    assert "fixed once the first ballot" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]
    async with street.h.services.db.transaction() as conn:
        with pytest.raises(Exception, match="fixed once the first ballot"):
            await conn.execute("UPDATE deliberation_topics SET anonymous = 1, final = 1 WHERE id = ?", (topic.id,))


async def test_community_consultation_counts_representatives_in_their_own_panel(street: Street) -> None:
    h = street.h
    reps = [h.person(f"Rep{n}", "en") for n in range(1, 3)]
    for n, rep in enumerate(reps, start=1):
        street.ids[rep.id] = await add(h, rep, name=f"Rep {n}",
                                       role=(Role.REPRESENTATIVE, Scope(kind=ScopeKind.COMMUNITY, id=1)))
    hilltop_rep = h.person("HillRep", "en")
    street.ids[hilltop_rep.id] = await add(h, hilltop_rep, name="Hill",
                                           role=(Role.REPRESENTATIVE, Scope(kind=ScopeKind.COMMUNITY, id=2)))
    topic = await topic_for(street, track=Track.BIG, rules=Rules(visibility=Visibility.ALWAYS))
    assert not any("Voting is open" in m.text for m in hilltop_rep.inbox)
    await vote(reps[0], topic.id, "👍 Yes")
    await vote(reps[1], topic.id, "👎 No")
    await vote(street.residents[0], topic.id, "👍 Yes")
    card = street.residents[0].last_message.text
    assert "👍 Yes: 2 (67%)" in card
    assert "🎖 Representatives (2): 👍 Yes 1 · 👎 No 1" in card
    assert "Turnout: 3 of 7 (43%)" in card  # five verified residents and two representatives of Riverside


async def test_random_button_data_from_anyone_raises_no_error_and_counts_nothing(street: Street) -> None:
    """Any client can send any callback data: every press gets an answer, no handler fails (the harness
    is strict), and every ballot stored has its voter on the frozen list."""
    import random

    topic = await topic_for(street, rules=Rules(anonymous=True))
    rng = random.Random(7)
    pieces = ["", "0", "1", "-1", "2", "64", "1023", "99999999999999999999", "x", "𝔁", str(topic.id), ":", "dv"]
    actions = ["l", "o", "r", "b", "c", "f", "a", "qa", "q", "rt", "h", "p", "new", "t", "qs", "cl", "x", "cly", "xy",
               "su", "dec", "fu", "out", "acc", "op", "an", "inv", "zz"]
    for _round in range(80):
        prefix = rng.choice(["dv", "dva"])
        parts = [rng.choice(actions)] + [rng.choice(pieces) for _ in range(rng.randint(0, 3))]
        data = ":".join([prefix, *parts])[:64]
        person = rng.choice([street.residents[0], street.outsider, street.olga, street.unverified])
        if not person.inbox:
            await person.send("/votes")
        await person.press_data(data)
        assert person.last_callback_answer is not None
    db = street.h.services.db
    ballots = await db.fetch_value("SELECT COUNT(*) FROM deliberation_ballots")
    assert ballots == await db.fetch_value(
        "SELECT COUNT(*) FROM deliberation_voters v JOIN deliberation_eligible e ON e.topic_id = v.topic_id "
        "AND e.voter_key = v.voter_key AND e.person_id = v.person_id")
