"""Patrols, leave, the duty roster, home reviews, and the grid-wide reads of digests, verification and
/unreachable. Writes take the transaction's connection; reads take the Database or, inside a transaction,
the connection (`Reader`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from bot.clock import from_db, to_db
from bot.domain.patrols import Patrol
from bot.domain.people import WORKER_ROLES, Role, ScopeKind
from bot.domain.roster import Area, DutyShift, Leave
from bot.storage.db import Connection, Reader, Row


def _marks(values: Iterable[Any]) -> str:
    return ",".join("?" * len(list(values))) or "NULL"


def _area_sql(area: Area, grid_column: str, community_column: str) -> tuple[str, list[int]]:
    """A WHERE fragment limiting rows to `area` (the whole street: no limit)."""
    if area.street:
        return "1", []
    grids, communities = sorted(area.grid_ids), sorted(area.community_ids)
    return (
        f"({grid_column} IN ({_marks(grids)}) OR {community_column} IN ({_marks(communities)}))",
        [*grids, *communities],
    )


class GridRow(BaseModel):
    id: int
    name: str
    community_id: int
    community_name: str


async def grids_in(source: Reader, area: Area) -> list[GridRow]:
    where, params = _area_sql(area, "g.id", "g.community_id")
    rows = await source.fetch_all(
        "SELECT g.id, g.name, g.community_id, c.name AS community_name FROM grids g "
        f"JOIN communities c ON c.id = g.community_id WHERE {where} ORDER BY c.code, g.code",
        params,
    )
    return [GridRow(**dict(r)) for r in rows]


class Colleague(BaseModel):
    id: int
    name: str
    role: Role
    grid_id: int | None


async def grid_staff(
    source: Reader, grid_ids: Iterable[int], roles: Iterable[Role] = WORKER_ROLES
) -> list[Colleague]:
    """People holding `roles` (workers and team leads by default) in these grids, for pickers."""
    ids, wanted = sorted(set(grid_ids)), sorted(role.value for role in roles)
    rows = await source.fetch_all(
        "SELECT p.id, p.name, r.role, r.scope_id AS grid_id FROM roles r JOIN people p ON p.id = r.person_id "
        f"WHERE r.scope_kind = 'grid' AND r.scope_id IN ({_marks(ids)}) AND r.role IN ({_marks(wanted)}) "
        "AND p.erased_at IS NULL AND p.telegram_id IS NOT NULL ORDER BY r.scope_id, r.role, p.id",
        [*ids, *wanted],
    )
    return [Colleague(id=r["id"], name=r["name"], role=Role(r["role"]), grid_id=r["grid_id"]) for r in rows]


async def community_staff(source: Reader, community_id: int) -> list[Colleague]:
    """The community's organizers and every grid worker and team lead in its grids."""
    rows = await source.fetch_all(
        "SELECT p.id, p.name, r.role, CASE WHEN r.scope_kind = 'grid' THEN r.scope_id END AS grid_id "
        "FROM roles r JOIN people p ON p.id = r.person_id WHERE p.erased_at IS NULL AND p.telegram_id IS NOT NULL "
        "AND ((r.scope_kind = 'community' AND r.scope_id = ? AND r.role = 'organizer') OR (r.scope_kind = 'grid' "
        "AND r.role IN ('grid_worker', 'part_time_worker', 'secretary') "
        "AND r.scope_id IN (SELECT id FROM grids WHERE community_id = ?))) ORDER BY r.role, p.id",
        (community_id, community_id),
    )
    return [Colleague(id=r["id"], name=r["name"], role=Role(r["role"]), grid_id=r["grid_id"]) for r in rows]


async def names(source: Reader, person_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(person_ids))
    rows = await source.fetch_all(f"SELECT id, name FROM people WHERE id IN ({_marks(ids)})", ids)
    return {r["id"]: r["name"] for r in rows}


# ------------------------------------------------------------------------------------------- patrols

_PATROL = (
    "SELECT id, grid_id, building_id, title, schedule, working_time, paused_at IS NOT NULL AS paused, next_at, "
    "created_by FROM patrols"
)


def _patrol(row: Row) -> Patrol:
    data = dict(row)
    data["next_at"] = from_db(data["next_at"]) if data["next_at"] else None
    return Patrol.model_validate(data)


async def insert_patrol(
    conn: Connection,
    *,
    now: datetime,
    grid_id: int,
    building_id: int,
    title: str,
    schedule: str,
    working_time: bool,
    created_by: int,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO patrols (grid_id, building_id, title, schedule, working_time, created_by, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (grid_id, building_id, title, schedule, int(working_time), created_by, to_db(now), to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def patrol(source: Reader, patrol_id: int) -> Patrol | None:
    """A patrol that has not been stopped for good."""
    row = await source.fetch_one(f"{_PATROL} WHERE id = ? AND stopped_at IS NULL", (patrol_id,))
    return None if row is None else _patrol(row)


async def patrols_in(source: Reader, area: Area) -> list[Patrol]:
    where, params = _area_sql(area, "grid_id", "(SELECT community_id FROM grids WHERE id = grid_id)")
    rows = await source.fetch_all(
        f"{_PATROL} WHERE stopped_at IS NULL AND {where} ORDER BY paused_at IS NOT NULL, next_at, id",
        params,
    )
    return [_patrol(r) for r in rows]


async def update_patrol(conn: Connection, patrol_id: int, now: datetime, **fields: Any) -> None:
    """Set schedule, working_time, paused_at, next_at or stopped_at (datetimes as UTC text)."""
    allowed = {"schedule", "working_time", "paused_at", "next_at", "stopped_at"}
    if set(fields) - allowed:
        raise ValueError(f"not updatable: {sorted(set(fields) - allowed)}")
    values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
    assignments = ", ".join(f"{name} = ?" for name in fields)
    await conn.execute(
        f"UPDATE patrols SET {assignments}, updated_at = ? WHERE id = ?", (*values, to_db(now), patrol_id)
    )


async def add_run(conn: Connection, patrol_id: int, report_id: int, due_at: datetime) -> bool:
    """Record that an occurrence became a task; False when that occurrence already has one."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO patrol_runs (report_id, patrol_id, due_at) VALUES (?, ?, ?)",
        (report_id, patrol_id, to_db(due_at)),
    )
    return cursor.rowcount == 1


async def run_exists(source: Reader, patrol_id: int, due_at: datetime) -> bool:
    row = await source.fetch_one(
        "SELECT 1 FROM patrol_runs WHERE patrol_id = ? AND due_at = ?", (patrol_id, to_db(due_at))
    )
    return row is not None


async def runs_of(source: Reader, patrol_id: int, limit: int) -> list[tuple[int, datetime]]:
    """(report id, due time) of the latest occurrences, newest first."""
    rows = await source.fetch_all(
        "SELECT report_id, due_at FROM patrol_runs WHERE patrol_id = ? ORDER BY due_at DESC LIMIT ?",
        (patrol_id, limit),
    )
    return [(r["report_id"], from_db(r["due_at"])) for r in rows]


# --------------------------------------------------------------------------------------------- leave

_LEAVE = "SELECT id, person_id, first_day, last_day, stand_in_id, starts_at, ends_at FROM leaves"


def _leave(row: Row) -> Leave:
    return Leave(
        id=row["id"],
        person_id=row["person_id"],
        first_day=date.fromisoformat(row["first_day"]),
        last_day=date.fromisoformat(row["last_day"]),
        stand_in_id=row["stand_in_id"],
        starts_at=from_db(row["starts_at"]),
        ends_at=from_db(row["ends_at"]),
    )


async def insert_leave(
    conn: Connection,
    *,
    now: datetime,
    person_id: int,
    first_day: date,
    last_day: date,
    starts_at: datetime,
    ends_at: datetime,
    stand_in_id: int,
) -> int | None:
    """Record leave unless it overlaps leave already recorded for the person (then None)."""
    cursor = await conn.execute(
        "INSERT INTO leaves (person_id, first_day, last_day, starts_at, ends_at, stand_in_id, created_at) "
        "SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM leaves WHERE person_id = ? "
        "AND cancelled_at IS NULL AND starts_at < ? AND ends_at > ?)",
        (
            person_id,
            first_day.isoformat(),
            last_day.isoformat(),
            to_db(starts_at),
            to_db(ends_at),
            stand_in_id,
            to_db(now),
            person_id,
            to_db(ends_at),
            to_db(starts_at),
        ),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


async def leaves_of(source: Reader, person_id: int, now: datetime) -> list[Leave]:
    """Current and coming leave of a person, soonest first."""
    rows = await source.fetch_all(
        f"{_LEAVE} WHERE person_id = ? AND cancelled_at IS NULL AND ends_at > ? ORDER BY starts_at",
        (person_id, to_db(now)),
    )
    return [_leave(r) for r in rows]


async def leave(source: Reader, leave_id: int) -> Leave | None:
    row = await source.fetch_one(f"{_LEAVE} WHERE id = ? AND cancelled_at IS NULL", (leave_id,))
    return None if row is None else _leave(row)


async def cancel_leave(conn: Connection, leave_id: int, person_id: int, now: datetime) -> bool:
    cursor = await conn.execute(
        "UPDATE leaves SET cancelled_at = ? WHERE id = ? AND person_id = ? AND cancelled_at IS NULL",
        (to_db(now), leave_id, person_id),
    )
    return cursor.rowcount == 1


async def standing_in_for(source: Reader, stand_in_id: int, now: datetime) -> list[int]:
    """Whom `stand_in_id` stands in for right now."""
    rows = await source.fetch_all(
        "SELECT DISTINCT person_id FROM leaves WHERE stand_in_id = ? AND cancelled_at IS NULL "
        "AND starts_at <= ? AND ends_at > ? ORDER BY person_id",
        (stand_in_id, to_db(now), to_db(now)),
    )
    return [r[0] for r in rows]


async def on_leave(source: Reader, now: datetime) -> dict[int, int]:
    """Everyone on leave right now and their stand-in."""
    rows = await source.fetch_all(
        "SELECT person_id, stand_in_id FROM leaves WHERE cancelled_at IS NULL AND starts_at <= ? AND ends_at > ? "
        "ORDER BY id",
        (to_db(now), to_db(now)),
    )
    return {r["person_id"]: r["stand_in_id"] for r in rows}


async def replace_stand_in(conn: Connection, old_id: int, new_id: int, now: datetime) -> None:
    """Leave that someone leaving the team was to cover is covered by whoever takes over their work."""
    await conn.execute(
        "UPDATE leaves SET stand_in_id = ? WHERE stand_in_id = ? AND cancelled_at IS NULL AND ends_at > ? "
        "AND person_id != ?",
        (new_id, old_id, to_db(now), new_id),
    )


# ---------------------------------------------------------------------------------------------- duty

_SHIFT = "SELECT id, scope_kind, scope_id, person_id, first_day, last_day FROM duty_shifts"


def _shift(row: Row) -> DutyShift:
    return DutyShift(
        id=row["id"],
        scope_kind=ScopeKind(row["scope_kind"]),
        scope_id=row["scope_id"],
        person_id=row["person_id"],
        first_day=date.fromisoformat(row["first_day"]),
        last_day=date.fromisoformat(row["last_day"]),
    )


async def insert_shift(
    conn: Connection,
    *,
    now: datetime,
    scope_kind: ScopeKind,
    scope_id: int,
    person_id: int,
    first_day: date,
    last_day: date,
    created_by: int,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO duty_shifts (scope_kind, scope_id, person_id, first_day, last_day, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            scope_kind.value,
            scope_id,
            person_id,
            first_day.isoformat(),
            last_day.isoformat(),
            created_by,
            to_db(now),
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def shift(source: Reader, shift_id: int) -> DutyShift | None:
    row = await source.fetch_one(f"{_SHIFT} WHERE id = ?", (shift_id,))
    return None if row is None else _shift(row)


async def shifts_in(source: Reader, area: Area, from_day: date) -> list[DutyShift]:
    """Shifts of the area's grids and communities that have not ended before `from_day`, earliest first."""
    if area.street:
        where, params = "1", []
    else:
        grids, communities = sorted(area.grid_ids), sorted(area.community_ids)
        where = (
            f"((scope_kind = 'grid' AND (scope_id IN ({_marks(grids)}) OR scope_id IN (SELECT id FROM grids "
            f"WHERE community_id IN ({_marks(communities)})))) OR (scope_kind = 'community' "
            f"AND scope_id IN ({_marks(communities)})))"
        )
        params = [*grids, *communities, *communities]
    rows = await source.fetch_all(
        f"{_SHIFT} WHERE {where} AND last_day >= ? ORDER BY first_day, scope_kind, scope_id, id",
        [*params, from_day.isoformat()],
    )
    return [_shift(r) for r in rows]


async def delete_shift(conn: Connection, shift_id: int) -> bool:
    cursor = await conn.execute("DELETE FROM duty_shifts WHERE id = ?", (shift_id,))
    return cursor.rowcount == 1


async def end_duty(conn: Connection, person_id: int, grid_id: int | None, today: date) -> None:
    """Take someone leaving a grid (`grid_id`) or the team altogether (None) off the roster from today."""
    await conn.execute(
        "DELETE FROM duty_shifts WHERE person_id = ? AND last_day >= ? "
        "AND (? IS NULL OR (scope_kind = 'grid' AND scope_id = ?))",
        (person_id, today.isoformat(), grid_id, grid_id),
    )


async def on_duty(source: Reader, grid_id: int, community_id: int, day: date) -> list[int]:
    """Who is on duty for a grid on a roster day: the grid's own roster, else its community's."""
    for kind, scope_id in ((ScopeKind.GRID, grid_id), (ScopeKind.COMMUNITY, community_id)):
        rows = await source.fetch_all(
            "SELECT DISTINCT s.person_id FROM duty_shifts s JOIN people p ON p.id = s.person_id "
            "WHERE s.scope_kind = ? AND s.scope_id = ? AND s.first_day <= ? AND s.last_day >= ? "
            "AND p.erased_at IS NULL AND p.telegram_id IS NOT NULL ORDER BY s.person_id",
            (kind.value, scope_id, day.isoformat(), day.isoformat()),
        )
        if rows:
            return [r[0] for r in rows]
    return []


# ------------------------------------------------------------------------------------ home reviews


class Claim(BaseModel):
    """A resident and the home they say is theirs, as a grid worker reviews it."""

    person_id: int
    name: str
    phone: str | None
    building_id: int
    building_name: str
    grid_id: int
    community_id: int
    unit: str | None
    verified: bool
    telegram_id: int | None


_CLAIM = (
    "SELECT p.id AS person_id, p.name, p.phone, p.building_id, b.name AS building_name, b.grid_id, "
    "g.community_id, p.unit, p.verification = 'verified' AS verified, p.telegram_id FROM people p "
    "JOIN buildings b ON b.id = p.building_id JOIN grids g ON g.id = b.grid_id "
)
# An unverified resident waits unless their latest review rejected this very claim.
_WAITING = (
    "p.verification = 'unverified' AND p.erased_at IS NULL AND p.onboarded_at IS NOT NULL "
    "AND EXISTS (SELECT 1 FROM roles r WHERE r.person_id = p.id AND r.role = 'resident') "
    "AND NOT EXISTS (SELECT 1 FROM home_reviews h WHERE h.id = (SELECT MAX(id) FROM home_reviews "
    "WHERE person_id = p.id) AND h.decision = 'rejected' AND h.building_id = p.building_id "
    "AND h.unit = COALESCE(p.unit, ''))"
)


async def claim(source: Reader, person_id: int) -> Claim | None:
    row = await source.fetch_one(_CLAIM + "WHERE p.id = ? AND p.erased_at IS NULL", (person_id,))
    return None if row is None else Claim(**dict(row))


async def waiting(source: Reader, area: Area, *, offset: int, limit: int) -> tuple[list[Claim], int]:
    """Residents of the area waiting for their home to be confirmed, longest waiting first."""
    where, params = _area_sql(area, "b.grid_id", "g.community_id")
    rows = await source.fetch_all(
        f"{_CLAIM} WHERE {_WAITING} AND {where} ORDER BY p.onboarded_at, p.id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    total = await source.fetch_one(
        "SELECT COUNT(*) FROM people p JOIN buildings b ON b.id = p.building_id JOIN grids g ON g.id = b.grid_id "
        f"WHERE {_WAITING} AND {where}",
        params,
    )
    return [Claim(**dict(r)) for r in rows], int(total[0]) if total else 0


async def is_waiting(source: Reader, person_id: int) -> bool:
    return (
        await source.fetch_one(f"SELECT 1 FROM people p WHERE p.id = ? AND {_WAITING}", (person_id,))
        is not None
    )


async def record_review(
    conn: Connection,
    *,
    now: datetime,
    person_id: int,
    building_id: int,
    unit: str | None,
    decision: str,
    reason: str | None,
    reviewer_id: int,
) -> None:
    await conn.execute(
        "INSERT INTO home_reviews (person_id, building_id, unit, decision, reason, reviewer_id, reviewed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (person_id, building_id, unit or "", decision, reason, reviewer_id, to_db(now)),
    )


async def confirm_home(
    conn: Connection,
    person_id: int,
    building_id: int,
    unit: str | None,
    reviewer_id: int,
    now: datetime,
) -> bool:
    """Verify the resident if their home is still the one reviewed (they may have moved meanwhile)."""
    cursor = await conn.execute(
        "UPDATE people SET verification = 'verified', verified_by = ?, verified_at = ? WHERE id = ? "
        "AND building_id = ? AND COALESCE(unit, '') = ? AND verification = 'unverified' AND erased_at IS NULL",
        (reviewer_id, to_db(now), person_id, building_id, unit or ""),
    )
    return cursor.rowcount == 1


class GridCount(BaseModel):
    grid_id: int
    grid_name: str
    residents: int
    verified: int
    waiting: int


async def verification_counts(source: Reader, grid_ids: Iterable[int]) -> list[GridCount]:
    """Per grid: signed-up residents, how many are verified, how many wait for a grid worker."""
    ids = sorted(set(grid_ids))
    rows = await source.fetch_all(
        "SELECT g.id AS grid_id, g.name AS grid_name, "
        "COUNT(p.id) AS residents, COALESCE(SUM(p.verification = 'verified'), 0) AS verified, "
        f"COALESCE(SUM({_WAITING}), 0) AS waiting FROM grids g "
        "LEFT JOIN buildings b ON b.grid_id = g.id LEFT JOIN people p ON p.building_id = b.id "
        "AND p.erased_at IS NULL AND p.onboarded_at IS NOT NULL "
        f"WHERE g.id IN ({_marks(ids)}) GROUP BY g.id ORDER BY g.code",
        ids,
    )
    return [GridCount(**dict(r)) for r in rows]


def _buildings(building_ids: Iterable[int]) -> list[int]:
    return sorted(set(building_ids))


async def verified_residents(source: Reader, building_ids: Iterable[int]) -> list[int]:
    ids = _buildings(building_ids)
    rows = await source.fetch_all(
        "SELECT id FROM people WHERE verification = 'verified' AND erased_at IS NULL AND telegram_id IS NOT NULL "
        f"AND onboarded_at IS NOT NULL AND building_id IN ({_marks(ids)}) ORDER BY id",
        ids,
    )
    return [r[0] for r in rows]


async def households(source: Reader, building_ids: Iterable[int]) -> list[tuple[int, str]]:
    ids = _buildings(building_ids)
    rows = await source.fetch_all(
        "SELECT DISTINCT building_id, unit FROM people WHERE verification = 'verified' AND erased_at IS NULL "
        f"AND unit IS NOT NULL AND unit != '' AND building_id IN ({_marks(ids)}) ORDER BY building_id, unit",
        ids,
    )
    return [(r["building_id"], r["unit"]) for r in rows]


# ------------------------------------------------------------------------------------- unreachable


class Unreachable(BaseModel):
    grid_id: int
    person_id: int
    name: str
    phone: str | None
    place: str
    since: datetime
    staff: bool


async def unreachable_in(source: Reader, grid_ids: Iterable[int]) -> list[Unreachable]:
    """People who blocked the bot, per grid: residents by their home, staff by the grids they work in."""
    ids = sorted(set(grid_ids))
    marks = _marks(ids)
    rows = await source.fetch_all(
        "SELECT b.grid_id, p.id AS person_id, p.name, p.phone, b.name || COALESCE(', ' || p.unit, '') AS place, "
        "p.unreachable_at AS since, 0 AS staff FROM people p JOIN buildings b ON b.id = p.building_id "
        f"WHERE p.unreachable_at IS NOT NULL AND p.erased_at IS NULL AND b.grid_id IN ({marks}) "
        "UNION SELECT r.scope_id, p.id, p.name, p.phone, '', p.unreachable_at, 1 FROM people p "
        "JOIN roles r ON r.person_id = p.id AND r.scope_kind = 'grid' "
        f"WHERE p.unreachable_at IS NOT NULL AND p.erased_at IS NULL AND r.scope_id IN ({marks}) "
        "ORDER BY 1, 7 DESC, 6",
        [*ids, *ids],
    )
    found: dict[tuple[int, int], Unreachable] = {}
    for r in rows:
        entry = Unreachable(**{**dict(r), "since": from_db(r["since"]), "staff": bool(r["staff"])})
        found.setdefault((entry.grid_id, entry.person_id), entry)
    return list(found.values())


# ----------------------------------------------------------------------------------- personal data


async def export_person(source: Reader, person_id: int) -> list[dict[str, Any]]:
    leaves = await source.fetch_all(
        "SELECT first_day, last_day, stand_in_id, created_at, cancelled_at FROM leaves WHERE person_id = ?",
        (person_id,),
    )
    shifts = await source.fetch_all(
        "SELECT scope_kind, scope_id, first_day, last_day FROM duty_shifts WHERE person_id = ?",
        (person_id,),
    )
    reviews = await source.fetch_all(
        "SELECT b.name AS building, h.unit, h.decision, h.reason, h.reviewed_at FROM home_reviews h "
        "JOIN buildings b ON b.id = h.building_id WHERE h.person_id = ?",
        (person_id,),
    )
    return (
        [{"leave": dict(r)} for r in leaves]
        + [{"duty": dict(r)} for r in shifts]
        + [{"home_review": dict(r)} for r in reviews]
    )


async def erase_person(conn: Connection, person_id: int) -> None:
    """Their leave, duty shifts and home reviews go, leave they were to cover ends with them, and patrol
    tasks stop naming them as the one who asked for the check."""
    await conn.execute("DELETE FROM leaves WHERE person_id = ? OR stand_in_id = ?", (person_id, person_id))
    await conn.execute("DELETE FROM duty_shifts WHERE person_id = ?", (person_id,))
    await conn.execute("DELETE FROM home_reviews WHERE person_id = ?", (person_id,))
    await conn.execute(
        "UPDATE reports SET contact_name = NULL WHERE category = 'patrol' AND filed_by = ?", (person_id,)
    )
