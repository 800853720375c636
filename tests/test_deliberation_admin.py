"""Organizers run topics through the offline Telegram: the guided set-up, proposals taken up or declined,
a report escalated into a topic, stakeholders invited by link, the outcome with its review date, follow-ups
and ratings; across restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.broadcasts import Audience
from bot.domain.deliberation import BallotType, Rules, TopicState, Track, Visibility
from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.reports import ReportState
from bot.services import accounts, audiences, reports, tasks
from bot.services import deliberation as service
from bot.services.reports import ReportInput
from bot.storage import drafts, people
from bot.storage.drafts import Draft
from tests.support.people import BotHarness
from tests.test_deliberation_scenarios import B12, Street, add, street_of, tally_of, topic_for, vote


@pytest.fixture
async def street(tmp_path: Path) -> AsyncIterator[Street]:
    async with BotHarness(tmp_path) as h:
        yield await street_of(h)


async def test_organizer_sets_up_a_topic_step_by_step_and_residents_vote_when_it_opens(street: Street) -> None:
    olga, h = street.olga, street.h
    await olga.send("/topics")
    await olga.press("➕ New topic")
    await olga.press("small issue — decided by those concerned")
    await olga.press("⬜ Building 12")
    await olga.press("Next ›")
    await olga.send("x" * 5000)
    assert "up to 120 characters" in olga.inbox[-2].text
    await olga.send("Bike shed <for> B12 & friends")
    await olga.send("Where should the bike shed go?")
    await olga.press("One option")
    await olga.send("By the gate\n\nBehind the block\nBy the gate")
    assert "1. By the gate" not in olga.last_message.text  # the rules screen comes next
    await olga.press("Count: one vote per person")
    assert "One vote per household." in olga.last_message.text
    await olga.send("60%")
    assert "Quorum: 60%" in olga.last_message.text
    await olga.press("Next ›")
    await olga.send("yesterday")
    await olga.send("3-5 9:00")  # the fake clock starts on Monday 3 March 2025, 09:00
    await olga.press("7 days")
    await olga.send_photo(caption="The gate")
    assert "1 attached" in olga.last_message.text
    await olga.press("Next ›")
    review = olga.last_message.text
    assert "Check and announce" in review and "Bike shed <for> B12 & friends" in review
    assert "2. Behind the block" in review and "Quorum: 60%" in review
    await olga.press("📣 Announce")
    assert "Announced. Voting opens" in olga.last_message.text
    await olga.press_data("f:99:announce")  # a double tap of the old button announces nothing more
    assert await h.services.db.fetch_value("SELECT COUNT(*) FROM deliberation_topics") == 1
    rita = street.residents[0]
    assert "A topic for you to decide" in rita.last_message.text
    await rita.press("🗳 Open the topic")
    await rita.press("📎 Attachments (1)")
    assert rita.last_message.photo is not None
    await h.advance(days=2)
    assert "Voting is open" in rita.last_message.text
    await rita.press("🗳 Vote")
    await rita.press("Behind the block")
    assert "Your vote: Behind the block" in rita.last_message.text
    assert "Turnout: 1 of 5 households (20%)" in rita.last_message.text


async def test_resident_proposes_and_organizer_takes_one_up_and_declines_another_with_a_reason(
    street: Street,
) -> None:
    rita, olga = street.residents[0], street.olga
    for title in ("More benches", "A dog park"):
        await rita.send("/propose")
        await rita.send(title)
        await rita.send("Older neighbours need <rest> & shade.")
        assert "Your proposal" in rita.last_message.text
        await rita.press("📨 Send")
        assert "was sent to your community's organizers" in rita.last_message.text
    assert "New proposal" in olga.last_message.text and "A dog park" in olga.last_message.text
    await olga.send("/topics")
    await olga.press("💡 Proposals waiting (2)")
    await olga.press("💡 #1 More benches")
    await olga.press("✅ Take up: small issue")
    assert "Taken up" in olga.last_message.text
    assert "was taken up as a small issue — decided by those concerned" in rita.last_message.text
    await olga.press("⚙️ Set up and announce")
    await olga.press("⬜ Building 12")
    await olga.press("Next ›")
    assert "Now: More benches" in olga.last_message.text
    await olga.press("Keep it")
    await olga.press("Keep it")
    await olga.press("Yes / no / abstain")
    await olga.press("Next ›")
    await olga.press("▶️ Open at once")
    await olga.press("3 days")
    await olga.press("Next ›")
    await olga.press("📣 Announce")
    assert "voting is open" in olga.last_message.text
    assert "Voting is open" in rita.last_message.text and "More benches" in rita.last_message.text
    await olga.send("/topics")
    await olga.press("💡 Proposals waiting (1)")
    await olga.press("💡 #2 A dog park")
    await olga.press("❌ Decline")
    await olga.send("The park office decides dog areas; we passed it on to them.")
    assert "declined" in olga.last_message.text
    assert "not taken up" in rita.last_message.text and "passed it on" in rita.last_message.text
    # A stale accept on the declined proposal changes nothing.
    await olga.press_data("dva:acc:2:1")
    assert "moved on" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]


async def test_a_report_escalated_into_a_topic(street: Street) -> None:
    h = street.h
    worker, lead = h.person("Wang", "en"), h.person("Lead", "en")
    worker_id = await add(h, worker, name="Wang", role=(Role.GRID_WORKER, Scope(kind=ScopeKind.GRID, id=1)))
    street.ids[lead.id] = await add(h, lead, name="Lead", role=(Role.SECRETARY, Scope(kind=ScopeKind.GRID, id=1)))
    rita, sam = street.residents[:2]
    filed = await reports.submit_report(
        h.services, await street.member(rita),
        ReportInput(category="lighting", description="Stairwell light broken", building_id=B12),
        telegram_id=rita.id, draft_version=await _draft(street, rita.id))
    number = filed.report.number
    await reports.follow_instead(h.services, await street.member(sam), filed.report.id, telegram_id=sam.id,
                                 draft_version=await _draft(street, sam.id))
    worker_person = await people.by_id(h.services.db, worker_id)
    assert worker_person is not None
    await tasks.accept(h.services, worker_person, filed.report.id)
    await h.settle()
    await lead.send("/escalate")
    await lead.send("R-0000-nothing")
    assert "no such report" in lead.last_message.text
    await lead.send(f"/escalate {number}")
    assert "is now topic #1" in lead.last_message.text
    report = await reports.get(h.services, filed.report.id)
    assert report is not None and report.state is ReportState.DELIBERATION
    assert "escalated to deliberation as topic #1" in rita.last_message.text
    assert "escalated to deliberation as topic #1" in sam.last_message.text
    assert "escalated into topic #1" in street.olga.last_message.text
    assert "fix deadline is suspended" in worker.last_message.text
    await lead.send(f"/escalate {number}")
    assert "already been escalated" in lead.last_message.text
    olga = street.olga
    await olga.press("🗂 Manage the topic")
    assert "Stairwell light broken" in olga.last_message.text
    await olga.press("⚙️ Set up and announce")
    assert "☑️ Building 12" in olga.last_message.buttons
    stored = await service.managed_topic(h.services, await street.member(olga), 1)
    assert stored.state is TopicState.DRAFT and stored.report_id == filed.report.id


async def _draft(street: Street, telegram_id: int) -> int:
    """The draft a /report flow leaves before Confirm (filing and following check its version)."""
    async with street.h.services.db.transaction() as conn:
        saved = await drafts.save(conn, Draft(telegram_id=telegram_id, flow="report", step="summary"),
                                  street.h.clock.now())
    return saved.version


async def test_a_stakeholder_invited_by_link_joins_and_votes_on_that_topic_only(street: Street) -> None:
    h, olga = street.h, street.olga
    topic = await topic_for(street, opens_in=timedelta(days=1))
    other = await topic_for(street, opens_in=timedelta(days=1))
    await olga.send("/topics")
    await olga.press_data(f"dva:t:{topic.id}")
    await olga.press("🔗 Invite a stakeholder")
    link = olga.last_message.text.split("\n")[-1]
    token = link.split("start=")[1]
    manager = h.person("Mgr", "en")
    await manager.send(f"/start {token}")
    assert "joined Gongzhi as stakeholder" in manager.inbox[0].text
    await manager.press("English")
    await manager.press("I agree")
    await manager.press("Skip")
    await manager.send("/votes")
    assert f"#{topic.id} " in " ".join(manager.last_message.buttons)
    assert f"#{other.id} " not in " ".join(manager.last_message.buttons)
    await h.advance(days=1)
    await manager.press_data(f"dv:o:{topic.id}")
    await manager.press("🗳 Vote")
    await manager.press("👎 No")
    assert await tally_of(street, topic.id) == [("stakeholder", "2")]
    await manager.press_data(f"dv:o:{other.id}")
    assert "not among the people who decide" in (manager.last_callback_answer.text or "")  # type: ignore[union-attr]
    await olga.press_data(f"dva:inv:{topic.id}")
    assert "eligible list is frozen" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]


async def test_outcome_with_a_review_date_follow_ups_and_ratings_survive_a_restart(street: Street) -> None:
    h, olga = street.h, street.olga
    topic = await topic_for(street, lasts=timedelta(days=1), rules=Rules(quorum_percent=50))
    voters = street.residents[:3]
    for resident in voters:
        await vote(resident, topic.id, "👍 Yes")
    await olga.send("/topics")
    await olga.press_data(f"dva:t:{topic.id}")
    await olga.press("⏹ Close voting now")
    await olga.press("Yes")
    assert "Voting is closed" in olga.last_message.text and "👍 Yes: 3 (100%)" in olga.last_message.text
    await olga.press("📜 Publish the outcome")
    await olga.send("Repaint in spring")
    await olga.send("Quotes by April, paint in May")
    await olga.send("Property management, Mr Li")
    await olga.send("2025-3-1")
    assert "a date after today" in olga.inbox[-2].text
    await olga.send("4-1")
    assert "Publish it to everyone who was eligible?" in olga.last_message.text
    await olga.press("📜 Publish")
    for resident in street.residents:
        assert "Repaint in spring" in resident.last_message.text
    assert not any("Repaint in spring" in m.text for m in street.outsider.inbox)
    await h.restart()
    await h.advance(days=29)
    assert "Review date for topic" in olga.last_message.text
    await olga.press("🗂 Manage the topic")
    await olga.press("📣 Post a follow-up")
    await olga.send("Quotes are in; painting starts 5 May.")
    rita, nobody = voters[0], street.residents[4]
    assert "painting starts 5 May" in rita.last_message.text
    assert not any("painting starts" in m.text for m in nobody.inbox)  # it goes to those who voted
    await rita.press("4⭐")
    assert "rating (4 of 5) is saved" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.press("5⭐")
    await nobody.press_data(f"dv:rt:{topic.id}:1")
    assert "Only those who voted" in (nobody.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.press_data(f"dv:o:{topic.id}")
    assert "How it is carried out: 5.0 from 1 ratings" in rita.last_message.text
    assert "painting starts 5 May" in rita.last_message.text


async def test_voting_opens_and_closes_on_time_across_restarts(street: Street) -> None:
    h = street.h
    topic = await topic_for(street, opens_in=timedelta(hours=5), lasts=timedelta(hours=30))
    await h.restart()
    await h.advance(hours=5)
    rita = street.residents[0]
    assert "Voting is open" in rita.last_message.text
    await vote(rita, topic.id, "👍 Yes")
    await h.restart()
    await h.advance(hours=30)
    assert "Voting has closed" in rita.last_message.text
    stored = await service.managed_topic(h.services, await street.member(street.olga), topic.id)
    assert stored.state is TopicState.CLOSED
    closes = await h.services.db.fetch_all("SELECT state FROM timers WHERE kind = 'deliberation.close'")
    assert [r["state"] for r in closes] == ["fired"]


async def test_hostile_input_in_the_flows_loses_nothing(street: Street) -> None:
    rita, olga = street.residents[0], street.olga
    await rita.send("/propose")
    await rita.send_sticker()
    await rita.send("<b>&_*[" * 3)
    await rita.send("y" * 5000)
    assert "up to 2000 characters" in rita.inbox[-2].text
    await rita.send("/cancel")
    await olga.send("/topics")
    await olga.press("➕ New topic")
    await olga.send_sticker()
    await olga.press("community consultation")
    await olga.press_data("f:1:c:999")
    await olga.send("/cancel")
    assert await street.h.services.db.fetch_value("SELECT COUNT(*) FROM deliberation_topics") == 0
    await rita.send("/topics")
    assert "staff with the right role" in rita.last_message.text


async def test_notices_and_minutes_reach_the_eligible_people_of_a_topic(street: Street) -> None:
    h = street.h
    topic = await topic_for(street, opens_in=timedelta(days=1))
    audience = Audience(kind=audiences.DELIBERATION, ids=(topic.id,))
    residents = {street.ids[r.id] for r in street.residents}
    assert set((await audiences.resolve(h.services.db, audience)).people) == residents
    assert await audiences.footprint(h.services.db, audience) == frozenset({1})
    olga = await street.member(street.olga)
    assert await audiences.valid_pick(h.services.db, olga, audience)
    await h.advance(days=1)
    async with h.services.db.transaction() as conn:  # moving in after opening: not on the frozen list
        await conn.execute("UPDATE people SET building_id = ? WHERE id = ?", (B12, street.ids[street.outsider.id]))
    assert set((await audiences.resolve(h.services.db, audience)).people) == residents


async def test_a_voter_who_erases_their_data_still_counts_without_a_name(street: Street) -> None:
    h = street.h
    topic = await topic_for(street)
    rita = street.residents[0]
    await vote(rita, topic.id, "👍 Yes")
    await rita.press("❓ Ask a question")
    await rita.send("Is there a cheaper paint?")
    member = await street.member(rita)
    assert b"Is there a cheaper paint?" in await accounts.export_my_data(h.services, member)
    await accounts.erase(h.services, member)
    db = h.services.db
    assert await db.fetch_value("SELECT COUNT(*) FROM deliberation_voters WHERE person_id IS NULL") == 1
    assert await db.fetch_value("SELECT question FROM deliberation_questions") == ""
    assert await tally_of(street, topic.id) == [("resident", "1")]


async def test_the_longest_topic_card_still_fits_in_one_message(street: Street) -> None:
    h = street.h
    rep = h.person("Rep", "en")
    street.ids[rep.id] = await add(h, rep, name="Rep",
                                   role=(Role.REPRESENTATIVE, Scope(kind=ScopeKind.COMMUNITY, id=1)))
    options = [f"{n}" + "<&>" * 19 + "x" for n in range(10)]  # 59 characters each, all to be escaped
    topic = await service.publish(h.services, await street.member(street.olga), service.Setup(
        track=Track.BIG, community_id=1, title="<" * 120, background="&" * 2000,
        rules=Rules(ballot_type=BallotType.MULTI, max_choices=10, visibility=Visibility.ALWAYS),
        closes_at=h.clock.now() + timedelta(days=1), options=options))
    await h.settle()
    for person in (rep, street.residents[0]):
        await person.press("🗳 Vote")
        for n in range(10):
            await person.press("⬜ " + options[n][:50])
        await person.press("✅ Submit (10 of at most 10)")
    olga = await street.member(street.olga)
    await service.close_now(h.services, olga, topic.id)
    await service.publish_outcome(h.services, olga, topic.id, decision="<" * 800, actions="&" * 800,
                                  responsible=">" * 800, review_at=h.clock.now() + timedelta(days=30))
    for _n in range(3):
        await service.post_followup(h.services, olga, topic.id, "<" * 1500)
    await h.settle()
    rita = street.residents[0]
    await rita.press_data(f"dv:o:{topic.id}")
    card = rita.last_message.text
    assert len(card) <= 4096 and "Results" in card and "🎖 Representatives (1)" in card
