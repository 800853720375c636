"""A demo street to try the bot with: invented communities, grid teams and residents.

Everything is keyed by stable codes (DEMO-...) and stable Telegram ids in a reserved range, so
seeding twice adds nothing and the sandbox can chat as any demo person. Not for a real street's
database: demo Telegram ids could belong to real accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from bot.clock import to_db
from bot.domain.people import Role, ScopeKind
from bot.storage.db import Connection, Database

CODE_PREFIX = "DEMO-"
FIRST_TELEGRAM_ID = 900_000_001
LAST_TELEGRAM_ID = 901_999_999
COMMUNITIES = 16
BUILDINGS_PER_GRID = 6
RESIDENTS_PER_BUILDING = 3
VERIFIED_PER_BUILDING = 2
CENTRE = (31.59, 120.35)

_NUMERALS = "一二三四五六七八九十"
# Telegram ids: one block per kind of person, so an id says who it is.
_ADMIN_ID = 900_000_001
_ORGANIZER_BASE = 900_000_100
_TEAM_BASE = 900_010_000
_RESIDENT_BASE = 901_000_000
_TEAM = (
    (Role.SECRETARY, "演示网格长"),
    (Role.GRID_WORKER, "演示专职网格员"),
    (Role.PART_TIME_WORKER, "演示兼职网格员"),
    (Role.INFORMANT, "演示信息员"),
)


class DemoPerson(BaseModel):
    """Someone worth chatting as in the sandbox."""

    label: str
    name: str
    telegram_id: int
    role: Role
    place: str


class DemoSummary(BaseModel):
    communities: int
    grids: int
    buildings: int
    people: int
    added: int
    featured: list[DemoPerson]

    def summary_lines(self) -> list[str]:
        """English lines for the command line."""
        done = f"{self.added} rows added" if self.added else "already loaded, nothing added"
        lines = [
            f"Demo street: {self.communities} communities, {self.grids} grids, {self.buildings} buildings, "
            f"{self.people} people ({done}).",
            "People to try the bot as (Telegram id):",
        ]
        lines += [f"  {p.telegram_id}  {p.label}: {p.name}, {p.place}" for p in self.featured]
        return lines


def _numeral(n: int) -> str:
    """Chinese numerals 1–99, for names like 示范十六社区."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens - 1] + "十")
    return head + (_NUMERALS[ones - 1] if ones else "")


@dataclass
class _Street:
    """The whole demo street as rows, computed without touching the database."""

    communities: list[tuple[str, str]] = field(default_factory=list)
    grids: list[tuple[str, str, str]] = field(default_factory=list)
    buildings: list[tuple[str, str, str, str, float, float]] = field(default_factory=list)
    # (telegram_id, name, building code or None, unit, verified)
    people: list[tuple[int, str, str | None, str | None, bool]] = field(default_factory=list)
    # (telegram_id, role, scope kind, scope code or None)
    roles: list[tuple[int, Role, ScopeKind, str | None]] = field(default_factory=list)


def _grids_in(community: int) -> int:
    """Three or four grids per community."""
    return 3 + community % 2


def _street() -> _Street:
    street = _Street()
    street.people.append((_ADMIN_ID, "演示街道管理员", None, None, False))
    street.roles.append((_ADMIN_ID, Role.ADMIN, ScopeKind.STREET, None))
    resident_number = 0
    for c in range(1, COMMUNITIES + 1):
        c_code = f"{CODE_PREFIX}C{c:02d}"
        c_name = f"示范{_numeral(c)}社区 (demo)"
        street.communities.append((c_code, c_name))
        organizer = _ORGANIZER_BASE + c
        street.people.append((organizer, f"演示社区工作者 {c:02d}", None, None, False))
        street.roles.append((organizer, Role.ORGANIZER, ScopeKind.COMMUNITY, c_code))
        row, col = divmod(c - 1, 4)
        c_lat, c_lon = CENTRE[0] + (1.5 - row) * 0.008, CENTRE[1] + (col - 1.5) * 0.009
        for g in range(1, _grids_in(c) + 1):
            g_code = f"{c_code}-G{g}"
            street.grids.append((g_code, c_code, f"{c_name} 第{g}网格"))
            for k, (role, title) in enumerate(_TEAM, start=1):
                member = _TEAM_BASE + c * 100 + g * 10 + k
                street.people.append((member, f"{title} {c:02d}-{g}", None, None, False))
                street.roles.append((member, role, ScopeKind.GRID, g_code))
            g_lat = c_lat + (0.5 - (g - 1) // 2) * 0.003
            g_lon = c_lon + ((g - 1) % 2 - 0.5) * 0.004
            for b in range(1, BUILDINGS_PER_GRID + 1):
                b_code = f"{g_code}-B{b}"
                number = (g - 1) * BUILDINGS_PER_GRID + b
                lat = round(g_lat + (0.5 - (b - 1) // 3) * 0.0008, 6)
                lon = round(g_lon + ((b - 1) % 3 - 1) * 0.0009, 6)
                address = f"示范街道演示路{c}号院{number}号楼"
                street.buildings.append((b_code, g_code, f"{number}号楼", address, lat, lon))
                for r in range(1, RESIDENTS_PER_BUILDING + 1):
                    resident_number += 1
                    resident = _RESIDENT_BASE + c * 10_000 + g * 1_000 + b * 10 + r
                    name = f"演示居民 {resident_number:04d}"
                    street.people.append((resident, name, b_code, f"{r}0{b}", r <= VERIFIED_PER_BUILDING))
                    street.roles.append((resident, Role.RESIDENT, ScopeKind.STREET, None))
    return street


def demo_phone(telegram_id: int) -> str:
    """Invented numbers starting 100, a prefix no mainland mobile number has."""
    return f"100{telegram_id - 900_000_000:08d}"


async def seed_demo(db: Database, *, now: datetime) -> DemoSummary:
    """Load the demo street in one transaction; rows already there are left as they are."""
    street = _street()
    at = to_db(now)
    added = 0
    async with db.transaction() as conn:
        cursor = await conn.executemany(
            "INSERT INTO communities (code, name) VALUES (?, ?) ON CONFLICT (code) DO NOTHING",
            street.communities,
        )
        added += cursor.rowcount
        community_ids = await _ids(conn, "communities")
        cursor = await conn.executemany(
            "INSERT INTO grids (code, community_id, name) VALUES (?, ?, ?) ON CONFLICT (code) DO NOTHING",
            [(code, community_ids[c_code], name) for code, c_code, name in street.grids],
        )
        added += cursor.rowcount
        grid_ids = await _ids(conn, "grids")
        cursor = await conn.executemany(
            "INSERT INTO buildings (code, grid_id, name, address, lat, lon) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (code) DO NOTHING",
            [(code, grid_ids[g_code], *rest) for code, g_code, *rest in street.buildings],
        )
        added += cursor.rowcount
        building_ids = await _ids(conn, "buildings")
        cursor = await conn.executemany(
            "INSERT INTO people (telegram_id, name, phone, building_id, unit, verification, verified_at, "
            "consent_at, onboarded_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (telegram_id) DO NOTHING",
            [
                (tid, name, demo_phone(tid), building_ids.get(b_code or ""), unit,
                 "verified" if verified else "unverified", at if verified else None, at, at, at)
                for tid, name, b_code, unit, verified in street.people
            ],
        )
        added += cursor.rowcount
        async with conn.execute(
            "SELECT id, telegram_id FROM people WHERE telegram_id BETWEEN ? AND ?",
            (FIRST_TELEGRAM_ID, LAST_TELEGRAM_ID),
        ) as rows:
            person_ids = {row["telegram_id"]: row["id"] for row in await rows.fetchall()}
        scope_ids = {ScopeKind.GRID: grid_ids, ScopeKind.COMMUNITY: community_ids}
        cursor = await conn.executemany(
            "INSERT OR IGNORE INTO roles (person_id, role, scope_kind, scope_id, granted_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (person_ids[tid], role.value, kind.value, scope_ids[kind][code] if code else 0, at)
                for tid, role, kind, code in street.roles
            ],
        )
        added += cursor.rowcount
    return DemoSummary(
        communities=len(street.communities), grids=len(street.grids), buildings=len(street.buildings),
        people=len(street.people), added=added, featured=_featured(street),
    )


async def _ids(conn: Connection, table: str) -> dict[str, int]:
    """Ids of the demo rows of a structure table, by code."""
    sql = f"SELECT id, code FROM {table} WHERE code LIKE ?"
    async with conn.execute(sql, (CODE_PREFIX + "%",)) as cursor:
        return {row["code"]: row["id"] for row in await cursor.fetchall()}


def _featured(street: _Street) -> list[DemoPerson]:
    """A resident and the people who serve them, all in the first grid of the first community."""
    people = {tid: (name, b_code, unit) for tid, name, b_code, unit, _ in street.people}
    grid_names = {code: name for code, _, name in street.grids}
    buildings = {code: (grid_names[g_code], name) for code, g_code, name, *_ in street.buildings}

    def place(tid: int) -> str:
        _, b_code, unit = people[tid]
        grid, building = buildings[b_code or ""]
        return f"{grid} {building} {unit}"

    resident = _RESIDENT_BASE + 1 * 10_000 + 1 * 1_000 + 1 * 10 + 1
    unverified = resident + RESIDENTS_PER_BUILDING - 1
    team = _TEAM_BASE + 1 * 100 + 1 * 10
    grid, community = street.grids[0][2], street.communities[0][1]
    picks = [
        ("resident (verified)", resident, Role.RESIDENT, place(resident)),
        ("resident (not yet verified)", unverified, Role.RESIDENT, place(unverified)),
        ("grid worker of that grid", team + 2, Role.GRID_WORKER, grid),
        ("its team lead", team + 1, Role.SECRETARY, grid),
        ("community organizer", _ORGANIZER_BASE + 1, Role.ORGANIZER, community),
        ("street admin", _ADMIN_ID, Role.ADMIN, "the whole street"),
    ]
    return [
        DemoPerson(label=label, name=people[tid][0], telegram_id=tid, role=role, place=where)
        for label, tid, role, where in picks
    ]
