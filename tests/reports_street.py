"""A small street for report tests: one community, two grids, their teams and residents.

Grid 1 ("North") has two full-time workers, a part-time worker and a team lead; grid 2 ("South") has
nobody, so its reports fall back to the community organizer. Building coordinates sit near Wuxi.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.people import Role, Scope, ScopeKind
from bot.storage import people
from bot.storage.db import Database


@dataclass(frozen=True)
class Street:
    community: int
    north: int
    south: int
    building_a: int  # North
    building_b: int  # North
    building_s: int  # South


NORTH_A = (31.5900, 120.3500)
NORTH_B = (31.5910, 120.3520)
SOUTH_S = (31.5800, 120.3400)


async def seed_street(db: Database, now: datetime) -> Street:
    async with db.transaction() as conn:
        community = (
            await conn.execute("INSERT INTO communities (code, name) VALUES ('C1', 'Riverside')")
        ).lastrowid
        north = (
            await conn.execute(
                "INSERT INTO grids (code, community_id, name) VALUES ('G1', ?, 'North')", (community,)
            )
        ).lastrowid
        south = (
            await conn.execute(
                "INSERT INTO grids (code, community_id, name) VALUES ('G2', ?, 'South')", (community,)
            )
        ).lastrowid
        ids = []
        for code, grid, (lat, lon) in (("A", north, NORTH_A), ("B", north, NORTH_B), ("S", south, SOUTH_S)):
            cursor = await conn.execute(
                "INSERT INTO buildings (code, grid_id, name, lat, lon) VALUES (?, ?, ?, ?, ?)",
                (code, grid, f"Building {code}", lat, lon),
            )
            ids.append(cursor.lastrowid)
    assert community and north and south
    return Street(community, north, south, *ids)


async def add_person(
    db: Database,
    now: datetime,
    *,
    telegram_id: int | None,
    name: str,
    role: Role | None = None,
    scope_id: int = 0,
    building_id: int | None = None,
    phone: str | None = None,
    locale: str = "en",
) -> int:
    """A signed-up person with one role (residents get the resident role and a home)."""
    async with db.transaction() as conn:
        person_id = await people.insert(
            conn,
            now=now,
            telegram_id=telegram_id,
            name=name,
            phone=phone,
            locale=locale,
            building_id=building_id,
            unit="1-101" if building_id else None,
        )
        await conn.execute(
            "UPDATE people SET onboarded_at = ?, consent_at = ? WHERE id = ?",
            ("2025-01-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z", person_id),
        )
        grants = [(role, scope_id)] if role else []
        if building_id is not None:
            grants.append((Role.RESIDENT, 0))
        for granted, sid in grants:
            kind = {
                Role.RESIDENT: ScopeKind.STREET,
                Role.ADMIN: ScopeKind.STREET,
                Role.ORGANIZER: ScopeKind.COMMUNITY,
            }.get(granted, ScopeKind.GRID)
            await people.grant(conn, person_id, granted, Scope(kind=kind, id=sid), now)
    return person_id
