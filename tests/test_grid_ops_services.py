"""Grid operations below the chat: routing around leave, what the digest gathers, who counts as a household,
and the personal data grid operations keep."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.domain.people import Scope, ScopeKind
from bot.services import accounts, digests, patrols, roster, verification
from bot.services.verification import Household
from bot.storage import people
from tests.grid_ops_team import Team, local, team_of
from tests.support.people import BotHarness


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    async with BotHarness(tmp_path) as h:
        yield await team_of(h)


async def test_leave_of_one_worker_sends_their_share_to_the_stand_in_and_ends_on_its_last_day(team: Team) -> None:
    services = team.h.services
    wang = await team.profile("wang")
    await roster.mark_leave(services, wang, date(2025, 3, 3), date(2025, 3, 4), team.ids["zhou"])
    assert (await team.file("alice")).assignee_id == team.ids["zhou"]
    await team.advance_to(local(2025, 3, 4, 23, 59))
    assert (await team.file("bob")).assignee_id == team.ids["zhou"]
    await team.advance_to(local(2025, 3, 5, 0, 0))
    assert (await team.file("bob")).assignee_id == team.ids["wang"]


async def test_a_team_lead_on_leave_gets_no_digest_and_their_stand_in_gets_the_grid(team: Team) -> None:
    services = team.h.services
    late = await team.file("alice")
    await roster.mark_leave(services, await team.profile("chen"), date(2025, 3, 4), date(2025, 3, 4),
                            team.ids["zhou"])
    async with services.db.transaction() as conn:
        gathered = await digests.gather(conn, local(2025, 3, 4, 8, 30))
    assert set(gathered) == {team.ids["wang"], team.ids["zhou"]}
    assert [r.number for _grid, reports in gathered[team.ids["zhou"]].grids for r in reports] == [late.number]
    assert [r.number for r in gathered[team.ids["wang"]].own] == [late.number]


async def test_households_count_imported_verified_residents_but_only_members_vote(team: Team) -> None:
    services = team.h.services
    building_a = team.street.building_a
    async with services.db.transaction() as conn:
        imported = await people.insert(conn, now=team.h.clock.now(), telegram_id=None, name="Mrs Zhang",
                                       building_id=building_a, unit="3-303", verification="verified")
        await conn.execute("UPDATE people SET verification = 'verified' WHERE id = ?", (team.ids["alice"],))
    assert await verification.verified_residents(services.db, [building_a]) == [team.ids["alice"]]
    assert await verification.households(services.db, [building_a]) == [
        Household(building_a, "1-101"), Household(building_a, "3-303"),
    ]
    assert await verification.household_of(services.db, imported, [building_a]) is None
    async with services.db.transaction() as conn:  # inside a transaction, through its connection
        assert await verification.verified_residents(conn, [building_a]) == [team.ids["alice"]]


async def test_mydata_shows_leave_duty_and_home_reviews_and_deleteme_erases_them(team: Team) -> None:
    services = team.h.services
    chen, wang, liu = await team.profile("chen"), await team.profile("wang"), await team.profile("liu")
    await roster.mark_leave(services, wang, date(2025, 3, 10), date(2025, 3, 12), team.ids["zhou"])
    await roster.add_shift(services, chen, Scope(kind=ScopeKind.GRID, id=team.street.north), team.ids["wang"],
                           date(2025, 3, 3), date(2025, 3, 3))
    claim = await verification.claim_to_review(services, liu, team.ids["bob"])
    await verification.reject(services, liu, claim.person_id, claim.building_id,
                              verification.unit_check(claim.unit), "Unit unknown")
    document = json.loads(await accounts.export_my_data(services, wang))
    assert [list(entry) for entry in document["grid_ops"]] == [["leave"], ["duty"]]
    bob = json.loads(await accounts.export_my_data(services, await team.profile("bob")))
    (review,) = [entry["home_review"] for entry in bob["grid_ops"]]
    assert (review["building"], review["unit"], review["decision"], review["reason"]) == (
        "Building A", "1-101", "rejected", "Unit unknown"
    )

    patrol = await patrols.create(services, chen, team.street.building_a, "Fire exits", "mon 10:00", True)
    await team.advance_to(local(2025, 3, 3, 10, 0))
    assert patrol.next_at is not None
    await accounts.erase(services, wang)
    await accounts.erase(services, chen)
    assert await services.db.fetch_value("SELECT COUNT(*) FROM leaves") == 0
    assert await services.db.fetch_value("SELECT COUNT(*) FROM duty_shifts") == 0
    assert await services.db.fetch_value(
        "SELECT COUNT(*) FROM reports WHERE category = 'patrol' AND contact_name IS NOT NULL"
    ) == 0
