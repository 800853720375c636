"""Volunteers, community projects, activities, attendance and service records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import from_db, to_db
from bot.domain.capacity import SeatState
from bot.domain.people import Scope, ScopeKind
from bot.domain.volunteering import (
    KIND,
    Availability,
    CheckInMethod,
    Opportunity,
    Project,
    ProjectStatus,
    RosterLine,
    ServiceEntry,
    ServiceStatus,
    Skill,
    Volunteer,
    record_number,
)
from bot.storage.db import Connection, Database, Reader, Row


def _codes(value: str) -> list[str]:
    return [part for part in value.split(",") if part]


def _skills(value: str) -> list[Skill]:
    return [Skill(code) for code in _codes(value) if code in Skill.__members__.values()]


async def community_of_grid(db: Database, grid_id: int) -> int | None:
    value = await db.fetch_value("SELECT community_id FROM grids WHERE id = ?", (grid_id,))
    return None if value is None else int(value)


async def person_name(conn: Connection, person_id: int) -> str:
    row = await conn.fetch_one("SELECT name FROM people WHERE id = ?", (person_id,))
    return row["name"] if row else ""




# ---- volunteers ------------------------------------------------------------------------------------


async def volunteer(db: Database, person_id: int) -> Volunteer | None:
    row = await db.fetch_one("SELECT * FROM volunteers WHERE person_id = ?", (person_id,))
    if row is None:
        return None
    return Volunteer(
        person_id=row["person_id"], skills=_skills(row["skills"]),
        availability=[Availability(a) for a in _codes(row["availability"])
                      if a in Availability.__members__.values()],
        joined_at=from_db(row["joined_at"]),
    )


async def save_volunteer(
    conn: Connection, person_id: int, skills: list[Skill], availability: list[Availability], now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO volunteers (person_id, skills, availability, consent_at, joined_at) VALUES (?, ?, ?, "
        "?, ?) "
        "ON CONFLICT (person_id) DO UPDATE SET skills = excluded.skills, availability = "
        "excluded.availability",
        (person_id, ",".join(skills), ",".join(availability), to_db(now), to_db(now)),
    )


async def volunteers_for(db: Database, scope: Scope, community_id: int | None) -> list[int]:
    """Reachable volunteers an activity at `scope` is announced to.

    The whole street: every volunteer; a community: volunteers who live there or volunteer there;
    a grid: volunteers who live in it.
    """
    base = (
        "SELECT DISTINCT v.person_id FROM volunteers v JOIN people p ON p.id = v.person_id "
        "LEFT JOIN buildings b ON b.id = p.building_id LEFT JOIN grids g ON g.id = b.grid_id "
        "WHERE p.erased_at IS NULL AND p.unreachable_at IS NULL AND p.telegram_id IS NOT NULL"
    )
    if scope.kind is ScopeKind.STREET:
        rows = await db.fetch_all(base + " ORDER BY v.person_id")
    elif scope.kind is ScopeKind.GRID:
        rows = await db.fetch_all(base + " AND b.grid_id = ? ORDER BY v.person_id", (scope.id,))
    else:
        rows = await db.fetch_all(
            base + " AND (g.community_id = ? OR EXISTS (SELECT 1 FROM roles r "
            "WHERE r.person_id = v.person_id "
            "AND r.role = 'volunteer' AND r.scope_kind = 'community' AND r.scope_id = ?)) ORDER BY "
            "v.person_id",
            (community_id, community_id),
        )
    return [r["person_id"] for r in rows]


# ---- projects --------------------------------------------------------------------------------------

_PROJECT_SQL = (
    "SELECT p.*, c.name AS community_name FROM volunteer_projects p JOIN communities c ON c.id = "
    "p.community_id "
)


def _project(row: Row) -> Project:
    return Project(
        id=row["id"], name=row["name"], organisation=row["organisation"], description=row["description"],
        community_id=row["community_id"], community_name=row["community_name"],
        status=ProjectStatus(row["status"]),
    )


async def insert_project(
    conn: Connection, *, name: str, organisation: str, description: str, community_id: int, created_by: int,
    now: datetime,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO volunteer_projects (name, organisation, description, community_id, created_by, "
        "created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (name, organisation, description, community_id, created_by, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def set_project_status(conn: Connection, project_id: int, status: ProjectStatus) -> bool:
    cursor = await conn.execute(
        "UPDATE volunteer_projects SET status = ? WHERE id = ? AND status != ?",
        (status.value, project_id, status.value),
    )
    return cursor.rowcount == 1


async def project(db: Database, project_id: int) -> Project | None:
    row = await db.fetch_one(_PROJECT_SQL + "WHERE p.id = ?", (project_id,))
    return None if row is None else _project(row)


async def projects(db: Database, community_ids: list[int] | None, *, statuses: tuple[ProjectStatus, ...] = ()
                   ) -> list[Project]:
    """Projects of these communities (all when None), newest first."""
    where, params = ["1 = 1"], []
    if community_ids is not None:
        where.append(f"p.community_id IN ({', '.join('?' for _ in community_ids) or 'NULL'})")
        params += community_ids
    if statuses:
        where.append(f"p.status IN ({', '.join('?' for _ in statuses)})")
        params += [s.value for s in statuses]
    rows = await db.fetch_all(_PROJECT_SQL + "WHERE " + " AND ".join(where) + " ORDER BY p.id DESC", params)
    return [_project(r) for r in rows]


# ---- opportunities ---------------------------------------------------------------------------------

_OPPORTUNITY_COLUMNS = "o.*, e.capacity, e.starts_at, e.ends_at, e.state, vp.name AS project_name"
_OPPORTUNITY_FROM = (
    f"FROM opportunities o JOIN slot_events e ON e.kind = '{KIND}' AND e.event_id = o.id "
    "LEFT JOIN volunteer_projects vp ON vp.id = o.project_id "
)
_OPPORTUNITY_SQL = f"SELECT {_OPPORTUNITY_COLUMNS} {_OPPORTUNITY_FROM}"


def _opportunity(row: Row) -> Opportunity:
    return Opportunity(
        id=row["id"], title=row["title"], description=row["description"],
        scope=Scope(kind=ScopeKind(row["scope_kind"]), id=row["scope_id"]), community_id=row["community_id"],
        place=row["place"], skills=_skills(row["skills"]), hours=row["hours"], points=row["points"],
        project_id=row["project_id"], project_name=row["project_name"], created_by=row["created_by"],
        starts_at=from_db(row["starts_at"]), ends_at=from_db(row["ends_at"]), capacity=row["capacity"],
        open=row["state"] == "open",
    )


async def insert_opportunity(
    conn: Connection, *, title: str, description: str, scope: Scope, community_id: int | None, place: str,
    skills: list[Skill], hours: float, points: int, project_id: int | None, created_by: int, now: datetime,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO opportunities (title, description, scope_kind, scope_id, community_id, place, skills, "
        "hours, "
        "points, project_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (title, description, scope.kind.value, scope.id, community_id, place, ",".join(skills), hours, points,
         project_id, created_by, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def opportunity(db: Database, opportunity_id: int) -> Opportunity | None:
    row = await db.fetch_one(_OPPORTUNITY_SQL + "WHERE o.id = ?", (opportunity_id,))
    return None if row is None else _opportunity(row)


async def opportunity_in(conn: Connection, opportunity_id: int) -> Opportunity | None:
    """The same, read inside a transaction (sees its uncommitted changes)."""
    row = await conn.fetch_one(_OPPORTUNITY_SQL + "WHERE o.id = ?", (opportunity_id,))
    return None if row is None else _opportunity(row)


async def upcoming(
    db: Database, *, now: datetime, community_id: int | None, grid_id: int | None,
    project_id: int | None = None,
) -> list[Opportunity]:
    """Open activities not yet started that a resident of this community (and grid) may join."""
    where = ["e.state = 'open'", "e.starts_at > ?"]
    params: list[object] = [to_db(now)]
    where.append(
        "(o.scope_kind = 'street' OR (o.scope_kind = 'community' AND o.scope_id = ?) "
        "OR (o.scope_kind = 'grid' AND o.scope_id = ?))"
    )
    params += [community_id if community_id is not None else -1, grid_id if grid_id is not None else -1]
    if project_id is not None:
        where.append("o.project_id = ?")
        params.append(project_id)
    rows = await db.fetch_all(
        _OPPORTUNITY_SQL + "WHERE " + " AND ".join(where) + " ORDER BY e.starts_at, o.id", params
    )
    return [_opportunity(r) for r in rows]


async def managed(
    db: Database, *, street: bool, community_ids: list[int], grid_ids: list[int], since: datetime | None
) -> list[Opportunity]:
    """Activities a manager looks after (those ending after `since` when given), soonest first."""
    scope = ["1 = 1"] if street else [
        f"o.community_id IN ({', '.join('?' for _ in community_ids) or 'NULL'})",
        f"(o.scope_kind = 'grid' AND o.scope_id IN ({', '.join('?' for _ in grid_ids) or 'NULL'}))",
    ]
    rows = await db.fetch_all(
        _OPPORTUNITY_SQL + f"WHERE ({' OR '.join(scope)}) AND e.ends_at > ? ORDER BY e.starts_at, o.id",
        [*([] if street else community_ids), *([] if street else grid_ids), to_db(since) if since else ""],
    )
    return [_opportunity(r) for r in rows]


async def signed_up(db: Database, person_id: int, *, now: datetime) -> list[tuple[Opportunity, SeatState]]:
    """A person's active seats at open activities not yet over, with the seat's state, soonest first."""
    rows = await db.fetch_all(
        f"SELECT {_OPPORTUNITY_COLUMNS}, s.state AS seat_state {_OPPORTUNITY_FROM}"
        f"JOIN seats s ON s.kind = '{KIND}' AND s.event_id = o.id "
        "WHERE s.person_id = ? AND s.state IN ('confirmed', 'offered', 'waitlisted') AND e.ends_at > ? "
        "AND e.state = 'open' ORDER BY e.starts_at, o.id",
        (person_id, to_db(now)),
    )
    return [(_opportunity(r), SeatState(r["seat_state"])) for r in rows]


# ---- attendance ------------------------------------------------------------------------------------

_SERVICE_SQL = (
    "SELECT vs.*, o.title, e.starts_at, p.name AS person_name, vb.name AS verified_by_name "
    "FROM volunteer_service vs JOIN opportunities o ON o.id = vs.opportunity_id "
    f"JOIN slot_events e ON e.kind = '{KIND}' AND e.event_id = o.id JOIN people p ON p.id = vs.person_id "
    "LEFT JOIN people vb ON vb.id = vs.verified_by "
)


def _entry(row: Row) -> ServiceEntry:
    return ServiceEntry(
        seat_id=row["seat_id"], opportunity_id=row["opportunity_id"], title=row["title"],
        starts_at=from_db(row["starts_at"]), person_id=row["person_id"], person_name=row["person_name"],
        status=ServiceStatus(row["status"]), method=CheckInMethod(row["method"]) if row["method"] else None,
        hours=row["hours"], points=row["points"],
        checked_in_at=from_db(row["checked_in_at"]) if row["checked_in_at"] else None,
        verified_at=from_db(row["verified_at"]) if row["verified_at"] else None,
        verified_by_name=row["verified_by_name"],
    )


async def service_of_person(db: Database, person_id: int) -> list[ServiceEntry]:
    """Everything a person attended or missed, newest first (rows still 'expected' are not history)."""
    rows = await db.fetch_all(
        _SERVICE_SQL + "WHERE vs.person_id = ? AND vs.status != 'expected' "
        "ORDER BY e.starts_at DESC, vs.seat_id",
        (person_id,),
    )
    return [_entry(r) for r in rows]


async def service_of(db: Reader, opportunity_ids: list[int]) -> list[ServiceEntry]:
    """Attendance at these activities, for a roster or an export."""
    if not opportunity_ids:
        return []
    marks = ", ".join("?" for _ in opportunity_ids)
    rows = await db.fetch_all(
        _SERVICE_SQL + f"WHERE vs.opportunity_id IN ({marks}) ORDER BY e.starts_at, o.id, p.name, vs.seat_id",
        opportunity_ids,
    )
    return [_entry(r) for r in rows]


async def code_of(conn: Connection, seat_id: int) -> str | None:
    row = await conn.fetch_one("SELECT checkin_code FROM volunteer_service WHERE seat_id = ?", (seat_id,))
    return None if row is None else row["checkin_code"]


async def set_code(conn: Connection, *, seat_id: int, opportunity_id: int, person_id: int, code: str) -> bool:
    """Give a seat its check-in code; False when the code is taken at this activity (pick another)."""
    cursor = await conn.execute(
        "INSERT INTO volunteer_service (seat_id, opportunity_id, person_id, checkin_code) VALUES (?, ?, ?, "
        "?) "
        "ON CONFLICT (seat_id) DO UPDATE SET checkin_code = excluded.checkin_code "
        "WHERE volunteer_service.checkin_code IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM volunteer_service WHERE opportunity_id = ? AND checkin_code = ?)",
        (seat_id, opportunity_id, person_id, code, opportunity_id, code),
    )
    return cursor.rowcount == 1


async def seat_by_code(conn: Connection, opportunity_id: int, code: str) -> int | None:
    row = await conn.fetch_one(
        "SELECT seat_id FROM volunteer_service WHERE opportunity_id = ? AND checkin_code = ?",
        (opportunity_id, code),
    )
    return None if row is None else row["seat_id"]


async def mark(
    conn: Connection, *, seat_id: int, opportunity_id: int, person_id: int, status: ServiceStatus,
    method: CheckInMethod | None, hours: float, by: int, now: datetime,
) -> bool:
    """Record attended or no-show once: a second mark of a seat already marked changes nothing."""
    cursor = await conn.execute(
        "INSERT INTO volunteer_service (seat_id, opportunity_id, person_id, status, method, checked_in_at, "
        "checked_in_by, hours) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (seat_id) DO UPDATE SET status = excluded.status, method = excluded.method, "
        "checked_in_at = excluded.checked_in_at, checked_in_by = excluded.checked_in_by, hours = "
        "excluded.hours "
        "WHERE volunteer_service.status = 'expected'",
        (seat_id, opportunity_id, person_id, status.value, method.value if method else None, to_db(now), by,
         hours),
    )
    return cursor.rowcount == 1


async def status_of(conn: Connection, seat_id: int) -> ServiceStatus | None:
    row = await conn.fetch_one("SELECT status FROM volunteer_service WHERE seat_id = ?", (seat_id,))
    return None if row is None else ServiceStatus(row["status"])


async def verify(conn: Connection, *, seat_ids: list[int], points: int, by: int, now: datetime) -> list[int]:
    """Verify the hours of attended seats and grant their points; returns the seats verified now."""
    verified = []
    for seat_id in seat_ids:
        cursor = await conn.execute(
            "UPDATE volunteer_service SET status = 'verified', points = ?, verified_at = ?, verified_by = ? "
            "WHERE seat_id = ? AND status = 'attended'",
            (points, to_db(now), by, seat_id),
        )
        if cursor.rowcount == 1:
            verified.append(seat_id)
    return verified


async def roster_lines(db: Database, opportunity_id: int) -> list[RosterLine]:
    """Active seats with their attendance: confirmed first, then offered, then the waitlist in order."""
    rows = await db.fetch_all(
        "SELECT s.id, s.person_id, s.state, p.name, vs.status FROM seats s JOIN people p ON p.id = "
        "s.person_id "
        "LEFT JOIN volunteer_service vs ON vs.seat_id = s.id WHERE s.kind = ? AND s.event_id = ? "
        "AND s.state IN ('confirmed', 'offered', 'waitlisted') "
        "ORDER BY CASE s.state WHEN 'confirmed' THEN 0 WHEN 'offered' THEN 1 ELSE 2 END, s.seq",
        (KIND, opportunity_id),
    )
    return [RosterLine(seat_id=r["id"], person_id=r["person_id"], name=r["name"], seat=SeatState(r["state"]),
                       service=ServiceStatus(r["status"]) if r["status"] else None) for r in rows]


async def attended(conn: Connection, opportunity_id: int) -> dict[int, tuple[int, float]]:
    """Seats checked in and not yet verified: seat id → (person id, hours)."""
    async with conn.execute(
        "SELECT seat_id, person_id, hours FROM volunteer_service WHERE opportunity_id = ? AND status = "
        "'attended'",
        (opportunity_id,),
    ) as cursor:
        return {row["seat_id"]: (row["person_id"], row["hours"]) for row in await cursor.fetchall()}


# ---- service records -------------------------------------------------------------------------------


async def insert_record(
    conn: Connection, *, person_id: int, hours: float, points: int, activities: int, now: datetime
) -> str:
    """Store an issued record and return the number printed on it."""
    cursor = await conn.execute(
        "INSERT INTO service_records (person_id, issued_at, hours, points, activities) VALUES (?, ?, ?, ?, "
        "?)",
        (person_id, to_db(now), hours, points, activities),
    )
    assert cursor.lastrowid is not None
    number = record_number(cursor.lastrowid, now)
    await conn.execute("UPDATE service_records SET number = ? WHERE id = ?", (number, cursor.lastrowid))
    return number


# ---- a person's own data (/mydata, /deleteme) ---------------------------------------------------------


async def export_person(db: Database, person_id: int) -> list[dict[str, Any]]:
    """Everything volunteering holds about a person."""
    profile = await db.fetch_all(
        "SELECT skills, availability, consent_at, joined_at FROM volunteers WHERE person_id = ?", (person_id,)
    )
    seats = await db.fetch_all(
        "SELECT o.title, s.state, s.created_at, s.updated_at FROM seats s JOIN opportunities o "
        "ON o.id = s.event_id WHERE s.kind = ? AND s.person_id = ? ORDER BY s.id",
        (KIND, person_id),
    )
    service = await db.fetch_all(
        "SELECT o.title, vs.status, vs.hours, vs.points, vs.checked_in_at, vs.verified_at "
        "FROM volunteer_service vs JOIN opportunities o ON o.id = vs.opportunity_id WHERE vs.person_id = ? "
        "ORDER BY vs.seat_id",
        (person_id,),
    )
    records = await db.fetch_all(
        "SELECT number, issued_at, hours, points, activities FROM service_records WHERE person_id = ?",
        (person_id,),
    )
    return ([{"volunteer": dict(r)} for r in profile] + [{"sign_up": dict(r)} for r in seats]
            + [{"service": dict(r)} for r in service] + [{"service_record": dict(r)} for r in records])


async def erase_person(conn: Connection, person_id: int) -> None:
    """Forget skills, codes and issued records; attendance and hours stay, tied to the anonymised person."""
    await conn.execute("UPDATE volunteer_service SET checkin_code = NULL WHERE person_id = ?", (person_id,))
    await conn.execute("DELETE FROM volunteers WHERE person_id = ?", (person_id,))
    await conn.execute("DELETE FROM service_records WHERE person_id = ?", (person_id,))
