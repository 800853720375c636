"""Communities, grids and buildings: read side used by onboarding and routing."""

from __future__ import annotations

from pydantic import BaseModel

from bot.domain.people import StreetPlace
from bot.storage.db import Database


class Named(BaseModel):
    id: int
    code: str
    name: str


async def communities(db: Database) -> list[Named]:
    rows = await db.fetch_all("SELECT id, code, name FROM communities ORDER BY code")
    return [Named(id=r["id"], code=r["code"], name=r["name"]) for r in rows]


async def community(db: Database, community_id: int) -> Named | None:
    row = await db.fetch_one("SELECT id, code, name FROM communities WHERE id = ?", (community_id,))
    return None if row is None else Named(id=row["id"], code=row["code"], name=row["name"])


async def grids(db: Database, community_id: int | None = None) -> list[Named]:
    if community_id is None:
        rows = await db.fetch_all("SELECT id, code, name FROM grids ORDER BY code")
    else:
        rows = await db.fetch_all(
            "SELECT id, code, name FROM grids WHERE community_id = ? ORDER BY code", (community_id,)
        )
    return [Named(id=r["id"], code=r["code"], name=r["name"]) for r in rows]


async def buildings_in_community(db: Database, community_id: int) -> list[Named]:
    rows = await db.fetch_all(
        "SELECT b.id, b.code, b.name FROM buildings b JOIN grids g ON g.id = b.grid_id "
        "WHERE g.community_id = ? ORDER BY b.code",
        (community_id,),
    )
    return [Named(id=r["id"], code=r["code"], name=r["name"]) for r in rows]


_PLACE_SQL = (
    "SELECT b.id AS building_id, b.code AS building_code, b.name AS building_name, b.lat, b.lon, "
    "g.id AS grid_id, g.name AS grid_name, c.id AS community_id, c.name AS community_name "
    "FROM buildings b JOIN grids g ON g.id = b.grid_id JOIN communities c ON c.id = g.community_id "
)


def _place(row: object) -> StreetPlace:
    return StreetPlace(**dict(row))  # type: ignore[call-overload]


async def place(db: Database, building_id: int) -> StreetPlace | None:
    row = await db.fetch_one(_PLACE_SQL + "WHERE b.id = ?", (building_id,))
    return None if row is None else _place(row)


async def places_with_coordinates(db: Database) -> list[StreetPlace]:
    rows = await db.fetch_all(_PLACE_SQL + "WHERE b.lat IS NOT NULL AND b.lon IS NOT NULL")
    return [_place(r) for r in rows]
