"""The demo street: big enough to feel real, loaded twice without doubling, people to chat as."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.people import Role, Scope, ScopeKind, normalize_phone
from bot.services.demo import FIRST_TELEGRAM_ID, LAST_TELEGRAM_ID, seed_demo
from bot.storage import people, structure
from bot.storage.db import Database
from tests.support.storage import migrated_database

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(tmp_path / "t.db") as database:
        yield database


async def sizes(db: Database) -> dict[str, int]:
    return {
        table: await db.fetch_value(f"SELECT COUNT(*) FROM {table}")
        for table in ("communities", "grids", "buildings", "people", "roles")
    }


async def test_seeding_twice_changes_nothing_the_second_time(db: Database) -> None:
    first = await seed_demo(db, now=NOW)
    after_first = await sizes(db)
    second = await seed_demo(db, now=NOW)
    assert await sizes(db) == after_first
    assert first.added > 0 and second.added == 0
    assert after_first["communities"] == first.communities == 16
    assert after_first["grids"] == first.grids
    assert after_first["buildings"] == first.buildings
    assert after_first["people"] == first.people
    assert "nothing added" in second.summary_lines()[0]


async def holders(db: Database, role: Role, kind: ScopeKind, scope_id: int) -> int:
    return await db.fetch_value(
        "SELECT COUNT(*) FROM roles WHERE role = ? AND scope_kind = ? AND scope_id = ?",
        (role.value, kind.value, scope_id),
    )


async def test_every_community_has_grid_teams_and_every_grid_has_homes(db: Database) -> None:
    await seed_demo(db, now=NOW)
    for community in await structure.communities(db):
        assert "(demo)" in community.name
        grids = await structure.grids(db, community.id)
        assert 3 <= len(grids) <= 4
        assert await holders(db, Role.ORGANIZER, ScopeKind.COMMUNITY, community.id) == 1
        for grid in grids:
            for role in (Role.SECRETARY, Role.GRID_WORKER, Role.PART_TIME_WORKER, Role.INFORMANT):
                assert await holders(db, role, ScopeKind.GRID, grid.id) == 1
        buildings = await structure.buildings_in_community(db, community.id)
        assert len(buildings) >= 6 * len(grids)
    assert await holders(db, Role.ADMIN, ScopeKind.STREET, 0) == 1


async def test_buildings_sit_around_one_street_centre(db: Database) -> None:
    await seed_demo(db, now=NOW)
    places = await structure.places_with_coordinates(db)
    assert len(places) == await db.fetch_value("SELECT COUNT(*) FROM buildings")
    assert all(abs(p.lat - 31.59) < 0.03 and abs(p.lon - 120.35) < 0.03 for p in places if p.lat and p.lon)
    assert len({(p.lat, p.lon) for p in places}) == len(places)


async def test_residents_live_in_buildings_and_some_are_verified(db: Database) -> None:
    await seed_demo(db, now=NOW)
    empty = await db.fetch_value(
        "SELECT COUNT(*) FROM buildings b "
        "WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.building_id = b.id)"
    )
    assert empty == 0
    states = dict(
        await db.fetch_all(
            "SELECT verification, COUNT(*) FROM people WHERE building_id IS NOT NULL GROUP BY verification"
        )
    )
    assert states["verified"] > 0 and states["unverified"] > 0


async def test_demo_people_have_reserved_ids_and_invented_phones(db: Database) -> None:
    await seed_demo(db, now=NOW)
    rows = await db.fetch_all("SELECT telegram_id, name, phone, onboarded_at FROM people")
    assert all(FIRST_TELEGRAM_ID <= r["telegram_id"] <= LAST_TELEGRAM_ID for r in rows)
    assert all(r["name"].startswith("演示") for r in rows)
    assert all(r["phone"].startswith("100") and normalize_phone(r["phone"]) == r["phone"] for r in rows)
    assert len({r["phone"] for r in rows}) == len(rows)
    assert all(r["onboarded_at"] for r in rows)


async def test_featured_people_are_one_grids_resident_and_its_staff(db: Database) -> None:
    summary = await seed_demo(db, now=NOW)
    assert {p.role for p in summary.featured} == {
        Role.RESIDENT, Role.GRID_WORKER, Role.SECRETARY, Role.ORGANIZER, Role.ADMIN
    }
    featured = {p.role: p for p in reversed(summary.featured)}  # the first of each role
    resident = await people.by_telegram_id(db, featured[Role.RESIDENT].telegram_id)
    assert resident is not None and resident.verified and resident.building_id is not None
    unverified = await people.by_telegram_id(db, summary.featured[1].telegram_id)
    assert unverified is not None and not unverified.verified
    place = await structure.place(db, resident.building_id)
    assert place is not None
    for role in (Role.GRID_WORKER, Role.SECRETARY):
        staff = await people.by_telegram_id(db, featured[role].telegram_id)
        assert staff is not None and Scope(kind=ScopeKind.GRID, id=place.grid_id) in staff.scopes_for(role)
    organizer = await people.by_telegram_id(db, featured[Role.ORGANIZER].telegram_id)
    assert organizer is not None
    assert Scope(kind=ScopeKind.COMMUNITY, id=place.community_id) in organizer.scopes_for(Role.ORGANIZER)
    lines = summary.summary_lines()
    assert all(str(p.telegram_id) in "\n".join(lines) for p in summary.featured)

