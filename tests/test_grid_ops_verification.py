"""Resident verification: grid workers confirm or reject claimed homes, which decides who counts in votes
and household decisions; /unreachable lists who blocked the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.people import Role, Scope, ScopeKind
from bot.services import onboarding, roster, verification
from bot.services.verification import Household
from tests.grid_ops_team import Team, team_of, texts
from tests.reports_street import add_person
from tests.support.people import BotHarness


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    async with BotHarness(tmp_path) as h:
        yield await team_of(h)


async def test_confirming_a_home_is_what_lets_a_resident_count_in_decisions(team: Team) -> None:
    db = team.h.services.db
    building_a = team.street.building_a
    assert await verification.verified_residents(db, [building_a]) == []
    assert await verification.household_of(db, team.ids["alice"], [building_a]) is None

    wang = team.wang
    await wang.send("/verify")
    assert wang.last_message.text.startswith("Residents waiting for verification (2)")
    assert wang.last_message.buttons == ["Alice Ng · Building A, 1-101", "Bob Wu · Building A, 1-101"]
    await wang.press("Alice Ng · Building A, 1-101")
    assert "Says they live at: Building A, 1-101" in wang.last_message.text
    await wang.press("✅ Confirm")
    assert wang.last_callback_answer is not None and wang.last_callback_answer.text == "Confirmed: Alice Ng."
    assert wang.last_message.text.startswith("Residents waiting for verification (1)")
    assert "Your grid worker confirmed your home: Building A, 1-101." in texts(team.alice)

    assert await verification.verified_residents(db, [building_a]) == [team.ids["alice"]]
    assert await verification.verified_residents(db, {team.street.building_b}) == []
    assert await verification.household_of(db, team.ids["alice"], [building_a]) == Household(building_a, "1-101")
    assert await verification.household_of(db, team.ids["alice"], [team.street.building_s]) is None
    assert await verification.household_of(db, team.ids["bob"], [building_a]) is None
    assert await verification.households(db, [building_a]) == [Household(building_a, "1-101")]

    # Moving building makes her unverified again: she no longer counts, and waits for a grid worker.
    alice = await team.profile("alice")
    moved = await onboarding.change_home(team.h.services, alice, team.street.building_b, "2-202")
    assert not moved.verified
    assert await verification.verified_residents(db, [building_a, team.street.building_b]) == []
    assert await verification.household_of(db, team.ids["alice"], [team.street.building_b]) is None
    assert await verification.households(db, [building_a]) == []
    await wang.send("/verify")
    assert "Alice Ng · Building B, 2-202" in wang.last_message.buttons


async def test_one_household_however_many_verified_residents_live_in_it(team: Team) -> None:
    services = team.h.services
    wang = await team.profile("wang")
    for name in ("alice", "bob"):
        claim = await verification.claim_to_review(services, wang, team.ids[name])
        await verification.confirm(services, wang, claim.person_id, claim.building_id,
                                   verification.unit_check(claim.unit))
    a = team.street.building_a
    assert await verification.verified_residents(services.db, [a]) == sorted([team.ids["alice"], team.ids["bob"]])
    assert await verification.households(services.db, [a]) == [Household(a, "1-101")]


async def test_a_rejected_claim_tells_the_resident_why_and_waits_for_a_new_home(team: Team) -> None:
    wang = team.wang
    await wang.send("/verify")
    await wang.press("Bob Wu · Building A, 1-101")
    await wang.press("❌ Reject")
    assert "Why can you not confirm that Bob Wu lives at Building A, 1-101?" in wang.last_message.text
    await wang.send_sticker()
    assert "Please type the reason" in wang.last_message.text
    await wang.send("x" * 5000)
    assert "Please type the reason" in wang.last_message.text
    await wang.send("No flat 1-101 in <Building A> & the door says Zhang")
    assert wang.last_message.text == "Not confirmed; Bob Wu is told why."
    notice = team.bob.last_message
    assert notice.text.startswith("Your grid worker could not confirm your home (Building A, 1-101): No flat 1-101 in "
                                  "<Building A> & the door says Zhang")
    assert notice.buttons == ["👤 Profile"]
    assert not (await team.profile("bob")).verified
    await wang.send("/verify")
    assert wang.last_message.buttons == ["Alice Ng · Building A, 1-101"]

    bob = await team.profile("bob")
    await onboarding.change_home(team.h.services, bob, team.street.building_a, "1-102")
    await wang.send("/verify")
    assert "Bob Wu · Building A, 1-102" in wang.last_message.buttons


async def test_team_leads_see_verified_counts_per_grid(team: Team) -> None:
    services = team.h.services
    wang = await team.profile("wang")
    claim = await verification.claim_to_review(services, wang, team.ids["alice"])
    await verification.confirm(services, wang, claim.person_id, claim.building_id, verification.unit_check(claim.unit))
    await team.chen.send("/verify")
    assert "North: 1 of 2 residents verified · 1 waiting" in team.chen.last_message.text
    assert "South" not in team.chen.last_message.text
    await team.liu.send("/verify")
    text = team.liu.last_message.text
    assert "North: 1 of 2 residents verified · 1 waiting" in text
    assert "South: 0 of 1 residents verified · 1 waiting" in text
    await team.wang.send("/verify")
    assert "residents verified" not in team.wang.last_message.text  # counts are for team leads and above


async def test_stale_and_forged_verification_buttons_change_nothing(team: Team) -> None:
    wang = team.wang
    await wang.send("/verify")
    await wang.press("Bob Wu · Building A, 1-101")
    card = wang.last_message
    bob = await team.profile("bob")
    await onboarding.change_home(team.h.services, bob, team.street.building_a, "9-909")  # moved meanwhile
    await wang.press_data(card.callback_data["✅ Confirm"], message_id=card.message_id)
    assert wang.last_callback_answer is not None and "no longer waits" in wang.last_callback_answer.text
    assert not (await team.profile("bob")).verified

    carol = await verification.claim_to_review(team.h.services, await team.profile("liu"), team.ids["carol"])
    forged = f"vf:c:{carol.person_id}:{carol.building_id}:{verification.unit_check(carol.unit)}"
    await wang.press_data(forged)  # Carol lives in South, not Wang's grid
    assert wang.last_callback_answer is not None and "moved on" in wang.last_callback_answer.text
    assert not (await team.profile("carol")).verified
    await team.alice.send("/help")
    await team.alice.press_data(forged)
    assert team.alice.last_callback_answer is not None and "expired" in team.alice.last_callback_answer.text
    await wang.press_data("vf:c:999999:1:00000000")
    assert not (await team.profile("carol")).verified


async def test_unreachable_lists_who_blocked_the_bot_per_grid_for_staff_in_scope(team: Team) -> None:
    services = team.h.services
    liu = await team.profile("liu")
    ma = team.h.person("Ma", "en")
    ma_id = await add_person(services.db, team.h.clock.now(), telegram_id=ma.id, name="Ma",
                             role=Role.PART_TIME_WORKER, scope_id=team.street.south)
    for person in (team.bob, team.carol, ma):
        await person.block_bot()
    # The bot learns of a block when a message to that person bounces.
    for name in ("bob", "carol"):
        claim = await verification.claim_to_review(services, liu, team.ids[name])
        await verification.reject(services, liu, claim.person_id, claim.building_id,
                                  verification.unit_check(claim.unit), "Please check your unit")
    today = team.h.clock.now().date()
    await roster.add_shift(services, liu, Scope(kind=ScopeKind.GRID, id=team.street.south), ma_id, today, today)
    await team.h.settle()

    await team.chen.send("/unreachable")
    text = team.chen.last_message.text
    assert text.startswith("Blocked the bot")
    assert "North (1)\n• Bob Wu · 13800000002 · Building A, 1-101 · since Mon 3 Mar 09:00" in text
    assert "Carol" not in text
    await team.liu.send("/unreachable")
    assert "South (2)\n• Ma · no phone · team member · since" in team.liu.last_message.text
    assert "• Carol Li · 13800000003 · Building S, 1-101" in team.liu.last_message.text
    await team.sun.send("/unreachable")
    assert "North (1)" in team.sun.last_message.text and "South (2)" in team.sun.last_message.text
    looks = await team.h.services.db.fetch_value("SELECT COUNT(*) FROM audit_log WHERE action = 'unreachable.view'")
    assert looks == 3
    await team.alice.send("/unreachable")
    assert "for staff" in team.alice.last_message.text
    await team.bob.unblock_bot()
    await team.bob.send("/help")
    await team.chen.send("/unreachable")
    assert team.chen.last_message.text == "Nobody in your grids has blocked the bot. 🎉"
