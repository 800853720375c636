"""Reports, their events, media, followers, ratings and relayed questions.

Writes take the transaction's connection; reads take either the Database (outside a transaction) or
the connection (inside one, where only it sees the transaction's own writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.clock import from_db, to_db
from bot.domain.people import Role, Scope
from bot.domain.reports import Channel, Report, ReportEvent, ReportState, public_number
from bot.storage.db import Connection, Database, Reader, Row

_DATES = (
    "created_at",
    "assigned_at",
    "accept_by",
    "accepted_at",
    "fix_by",
    "due_at",
    "resolved_at",
    "closed_at",
)
_COLUMNS = (
    "id, number, category, state, urgent, anonymous, description, voice, building_id, unit, grid_id, "
    "community_id, reporter_id, channel, filed_by, contact_name, contact_phone, assignee_id, "
    "assignment_event, "
    "created_at, assigned_at, accept_by, accepted_at, fix_by, due_at, resolved_at, resolution_note, "
    "verify_hours, closed_at, outcome, outcome_reason, duplicate_of, reopen_count, affected_count"
)
# Columns a use case may change with `update` (the rest are fixed when the report is filed).
_UPDATABLE = frozenset(
    {
        "category",
        "state",
        "urgent",
        "assignee_id",
        "assignment_event",
        "assigned_at",
        "accept_by",
        "accepted_at",
        "fix_by",
        "due_at",
        "resolved_at",
        "resolution_note",
        "verify_hours",
        "verify_delivered_at",
        "closed_at",
        "outcome",
        "outcome_reason",
        "duplicate_of",
        "reopen_count",
        "affected_count",
        "accept_overdue_at",
        "fix_overdue_at",
    }
)
OPEN = "closed_at IS NULL"






def _report(row: Row) -> Report:
    data = dict(row)
    for key in _DATES:
        data[key] = from_db(data[key]) if data[key] else None
    return Report.model_validate(data)


async def next_number(conn: Connection, year: int) -> str:
    """The next public number of `year`, in the caller's transaction (so a rollback gives it back)."""
    await conn.execute(
        "INSERT INTO report_numbers (year, last) VALUES (?, 1) "
        "ON CONFLICT(year) DO UPDATE SET last = last + 1",
        (year,),
    )
    row = await conn.fetch_one("SELECT last FROM report_numbers WHERE year = ?", (year,))
    assert row is not None
    return public_number(year, row[0])


async def insert(
    conn: Connection,
    *,
    now: datetime,
    number: str,
    category: str,
    urgent: bool,
    anonymous: bool,
    description: str,
    voice: str | None,
    building_id: int,
    unit: str | None,
    lat: float | None,
    lon: float | None,
    grid_id: int,
    community_id: int,
    reporter_id: int | None,
    channel: Channel,
    filed_by: int | None,
    contact_name: str | None,
    contact_phone: str | None,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO reports (number, category, state, urgent, anonymous, description, voice, "
        "building_id, unit, "
        "lat, lon, grid_id, community_id, reporter_id, channel, filed_by, contact_name, contact_phone, "
        "created_at, updated_at) "
        "VALUES (?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            number,
            category,
            int(urgent),
            int(anonymous),
            description,
            voice,
            building_id,
            unit,
            lat,
            lon,
            grid_id,
            community_id,
            reporter_id,
            channel.value,
            filed_by,
            contact_name,
            contact_phone,
            to_db(now),
            to_db(now),
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def get(source: Reader, report_id: int) -> Report | None:
    row = await source.fetch_one(f"SELECT {_COLUMNS} FROM reports WHERE id = ?", (report_id,))
    return None if row is None else _report(row)


async def by_number(source: Reader, number: str) -> Report | None:
    row = await source.fetch_one(f"SELECT {_COLUMNS} FROM reports WHERE number = ?", (number,))
    return None if row is None else _report(row)


async def update(conn: Connection, report_id: int, now: datetime, **fields: Any) -> None:
    """Set columns of one report; datetimes are stored as UTC text, enums as their values."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    values = [to_db(v) if isinstance(v, datetime) else getattr(v, "value", v) for v in fields.values()]
    assignments = ", ".join(f"{name} = ?" for name in fields)
    await conn.execute(
        f"UPDATE reports SET {assignments}, updated_at = ? WHERE id = ?", (*values, to_db(now), report_id)
    )


async def add_event(
    conn: Connection,
    report_id: int,
    now: datetime,
    actor_id: int | None,
    kind: str,
    from_state: ReportState | None = None,
    to_state: ReportState | None = None,
    detail: str = "",
) -> int:
    cursor = await conn.execute(
        "INSERT INTO report_events (report_id, at, actor_id, kind, from_state, to_state, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            report_id,
            to_db(now),
            actor_id,
            kind,
            from_state.value if from_state else None,
            to_state.value if to_state else None,
            detail,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def events(source: Reader, report_id: int) -> list[ReportEvent]:
    rows = await source.fetch_all(
        "SELECT id, at, actor_id, kind, from_state, to_state, detail FROM report_events "
        "WHERE report_id = ? ORDER BY id",
        (report_id,),
    )
    return [
        ReportEvent(
            id=r["id"],
            at=from_db(r["at"]),
            actor_id=r["actor_id"],
            kind=r["kind"],
            from_state=r["from_state"],
            to_state=r["to_state"],
            detail=r["detail"],
        )
        for r in rows
    ]


async def last_event_time(source: Reader, report_id: int, *kinds: str) -> datetime | None:
    """When the report's latest event of any of `kinds` happened (an SLA clock's start), None if never."""
    row = await source.fetch_one(
        f"SELECT MAX(at) FROM report_events WHERE report_id = ? AND kind IN ({','.join('?' * len(kinds))})",
        (report_id, *kinds),
    )
    return from_db(row[0]) if row is not None and row[0] else None


async def add_media(
    conn: Connection,
    report_id: int,
    now: datetime,
    added_by: int | None,
    purpose: str,
    kind: str,
    file_ids: Iterable[str],
) -> None:
    await conn.executemany(
        "INSERT INTO report_media (report_id, purpose, kind, file_id, added_by, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(report_id, purpose, kind, file_id, added_by, to_db(now)) for file_id in file_ids],
    )


async def media(source: Reader, report_id: int, purpose: str | None = None) -> list[tuple[str, str, str]]:
    """(purpose, kind, file_id) in the order they were added."""
    sql = "SELECT purpose, kind, file_id FROM report_media WHERE report_id = ?"
    params: tuple[Any, ...] = (report_id,)
    if purpose is not None:
        sql += " AND purpose = ?"
        params += (purpose,)
    rows = await source.fetch_all(sql + " ORDER BY id", params)
    return [(r["purpose"], r["kind"], r["file_id"]) for r in rows]


async def follow(conn: Connection, report_id: int, person_id: int, now: datetime) -> bool:
    """Subscribe to a report; True when new (and then the affected count rises)."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO report_followers (report_id, person_id, followed_at) VALUES (?, ?, ?)",
        (report_id, person_id, to_db(now)),
    )
    if cursor.rowcount != 1:
        return False
    await conn.execute("UPDATE reports SET affected_count = affected_count + 1 WHERE id = ?", (report_id,))
    return True


async def followers(source: Reader, report_id: int) -> list[int]:
    rows = await source.fetch_all(
        "SELECT person_id FROM report_followers WHERE report_id = ? ORDER BY followed_at",
        (report_id,),
    )
    return [r[0] for r in rows]


async def is_follower(source: Reader, report_id: int, person_id: int) -> bool:
    row = await source.fetch_one(
        "SELECT 1 FROM report_followers WHERE report_id = ? AND person_id = ?", (report_id, person_id)
    )
    return row is not None


async def move_followers(conn: Connection, from_id: int, to_id: int, now: datetime) -> list[int]:
    """Followers (and the reporter) of a merged duplicate follow the report it was merged into."""
    source = await get(conn, from_id)
    assert source is not None
    people_ids = await followers(conn, from_id)
    if source.reporter_id is not None:
        people_ids.insert(0, source.reporter_id)
    target = await get(conn, to_id)
    moved = []
    for person_id in people_ids:
        if target is not None and person_id == target.reporter_id:
            continue
        if await follow(conn, to_id, person_id, now):
            moved.append(person_id)
    await conn.execute("DELETE FROM report_followers WHERE report_id = ?", (from_id,))
    return moved


async def open_count(source: Reader, person_id: int) -> int:
    row = await source.fetch_one(
        f"SELECT COUNT(*) FROM reports WHERE assignee_id = ? AND {OPEN}", (person_id,)
    )
    return int(row[0]) if row else 0


async def filed_since(source: Reader, reporter_id: int, since: datetime) -> int:
    row = await source.fetch_one(
        "SELECT COUNT(*) FROM reports WHERE reporter_id = ? AND created_at >= ? AND channel = 'bot'",
        (reporter_id, to_db(since)),
    )
    return int(row[0]) if row else 0


async def open_duplicates(
    source: Reader, building_id: int, category: str | None, since: datetime, *, exclude: int | None = None
) -> list[Report]:
    """Open reports in the same building (of the same category when given) since `since`, newest first."""
    rows = await source.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE building_id = ? AND (? IS NULL OR category = ?) "
        f"AND created_at >= ? AND {OPEN} AND id != ? ORDER BY id DESC LIMIT 10",
        (building_id, category, category, to_db(since), exclude or 0),
    )
    return [_report(r) for r in rows]


async def least_loaded(conn: Connection, role: Role, scope: Scope, now: datetime) -> int | None:
    """Who takes a new task at this rung: of those holding `role` at `scope`, the one whose taker has the
    fewest open tasks (reachable ones first). Someone on leave (see 004_grid_ops.sql) is taken by their
    stand-in, so new tasks go to the stand-in."""
    row = await conn.fetch_one(
        "SELECT COALESCE(l.stand_in_id, p.id) FROM people p JOIN roles r ON r.person_id = p.id "
        "LEFT JOIN leaves l ON l.person_id = p.id AND l.cancelled_at IS NULL AND l.starts_at <= ? "
        "AND l.ends_at > ? LEFT JOIN people s ON s.id = l.stand_in_id "
        "WHERE r.role = ? AND r.scope_kind = ? AND r.scope_id = ? AND p.erased_at IS NULL "
        "AND p.telegram_id IS NOT NULL ORDER BY COALESCE(s.unreachable_at, p.unreachable_at) IS NOT NULL, "
        f"(SELECT COUNT(*) FROM reports t WHERE t.assignee_id = COALESCE(l.stand_in_id, p.id) AND t.{OPEN}), "
        "p.id LIMIT 1",
        (to_db(now), to_db(now), role.value, scope.kind.value, scope.id),
    )
    return None if row is None else int(row[0])


async def holders(source: Reader, role: Role, scope: Scope) -> list[int]:
    """Everyone holding `role` at `scope` who can be written to."""
    rows = await source.fetch_all(
        "SELECT p.id FROM people p JOIN roles r ON r.person_id = p.id WHERE r.role = ? AND r.scope_kind = ? "
        "AND r.scope_id = ? AND p.erased_at IS NULL AND p.telegram_id IS NOT NULL ORDER BY p.id",
        (role.value, scope.kind.value, scope.id),
    )
    return [int(r[0]) for r in rows]


async def covering(source: Reader, role: Role, scope: Scope, now: datetime) -> list[int]:
    """Like `holders`, with whoever is on leave at `now` replaced by their stand-in."""
    rows = await source.fetch_all(
        "SELECT DISTINCT COALESCE(l.stand_in_id, p.id) FROM people p JOIN roles r ON r.person_id = p.id "
        "LEFT JOIN leaves l ON l.person_id = p.id AND l.cancelled_at IS NULL AND l.starts_at <= ? "
        "AND l.ends_at > ? WHERE r.role = ? AND r.scope_kind = ? AND r.scope_id = ? AND p.erased_at IS NULL "
        "AND p.telegram_id IS NOT NULL ORDER BY 1",
        (to_db(now), to_db(now), role.value, scope.kind.value, scope.id),
    )
    return [int(r[0]) for r in rows]


async def tasks_of(db: Database, assignee_id: int, *, offset: int, limit: int) -> tuple[list[Report], int]:
    """A worker's open tasks, nearest deadline first, and how many there are."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE assignee_id = ? AND {OPEN} "
        "ORDER BY due_at, id LIMIT ? OFFSET ?",
        (assignee_id, limit, offset),
    )
    total = await db.fetch_value(
        f"SELECT COUNT(*) FROM reports WHERE assignee_id = ? AND {OPEN}", (assignee_id,)
    )
    return [_report(r) for r in rows], int(total or 0)


# Open and waiting for the assignee's work: a resolved task waits for its reporter instead.
_ACTIONABLE = f"{OPEN} AND state != 'resolved'"
_UNACCEPTED = "state IN ('submitted', 'assigned', 'transferred')"


async def actionable(source: Reader) -> list[Report]:
    """Every assigned open task that waits for its assignee's work, nearest deadline first (daily digests)."""
    rows = await source.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE assignee_id IS NOT NULL AND {_ACTIONABLE} "
        "ORDER BY due_at IS NULL, due_at, id",
    )
    return [_report(r) for r in rows]


async def needing_attention(source: Reader, grid_id: int, now: datetime) -> list[Report]:
    """A grid's open reports that are overdue or not yet accepted, nearest deadline first."""
    rows = await source.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE grid_id = ? AND {_ACTIONABLE} "
        f"AND ({_UNACCEPTED} OR due_at < ?) ORDER BY due_at IS NULL, due_at, id",
        (grid_id, to_db(now)),
    )
    return [_report(r) for r in rows]


async def open_assigned(source: Reader, assignee_id: int, grid_id: int | None = None) -> list[Report]:
    """Every open task of one person (of one grid when given), resolved ones included, oldest first."""
    rows = await source.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE assignee_id = ? AND {OPEN} AND (? IS NULL OR grid_id = ?) "
        "ORDER BY id",
        (assignee_id, grid_id, grid_id),
    )
    return [_report(r) for r in rows]


_MINE = (
    "SELECT id FROM reports WHERE reporter_id = :person UNION "
    "SELECT report_id FROM report_followers WHERE person_id = :person"
)


async def reports_of(db: Database, person_id: int, *, offset: int, limit: int) -> tuple[list[Report], int]:
    """A resident's own and followed reports, newest first, and how many there are."""
    params = {"person": person_id, "limit": limit, "offset": offset}
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE id IN ({_MINE}) ORDER BY id DESC LIMIT :limit OFFSET :offset",
        params,
    )
    total = await db.fetch_value(f"SELECT COUNT(*) FROM ({_MINE})", params)
    return [_report(r) for r in rows], int(total or 0)


async def in_scope(
    db: Database,
    *,
    street: bool,
    grid_ids: list[int],
    community_ids: list[int],
    offset: int,
    limit: int,
) -> tuple[list[Report], int]:
    """Open reports a secretary, organizer or admin oversees, nearest deadline first."""
    where = OPEN
    params: list[Any] = []
    if not street:
        grids = ",".join("?" * len(grid_ids)) or "NULL"
        communities = ",".join("?" * len(community_ids)) or "NULL"
        where += f" AND (grid_id IN ({grids}) OR community_id IN ({communities}))"
        params = [*grid_ids, *community_ids]
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM reports WHERE {where} ORDER BY due_at IS NULL, due_at, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    total = await db.fetch_value(f"SELECT COUNT(*) FROM reports WHERE {where}", params)
    return [_report(r) for r in rows], int(total or 0)


async def rate(conn: Connection, report_id: int, person_id: int, stars: int, now: datetime) -> bool:
    """Record the reporter's rating; a second tap of another star changes it, True when stored."""
    cursor = await conn.execute(
        "INSERT INTO report_ratings (report_id, person_id, stars, rated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(report_id) DO UPDATE SET stars = excluded.stars, rated_at = excluded.rated_at "
        "WHERE report_ratings.person_id = excluded.person_id",
        (report_id, person_id, stars, to_db(now)),
    )
    return cursor.rowcount == 1


async def set_rating_comment(
    conn: Connection, report_id: int, person_id: int, comment: str
) -> bool:
    cursor = await conn.execute(
        "UPDATE report_ratings SET comment = ? WHERE report_id = ? AND person_id = ?",
        (comment, report_id, person_id),
    )
    return cursor.rowcount == 1


async def rating(source: Reader, report_id: int) -> tuple[int, str | None] | None:
    row = await source.fetch_one(
        "SELECT stars, comment FROM report_ratings WHERE report_id = ?", (report_id,)
    )
    return None if row is None else (int(row["stars"]), row["comment"])


async def add_question(
    conn: Connection, report_id: int, asker_id: int, question: str, now: datetime
) -> int:
    cursor = await conn.execute(
        "INSERT INTO report_questions (report_id, asker_id, question, asked_at) VALUES (?, ?, ?, ?)",
        (report_id, asker_id, question, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def question(source: Reader, question_id: int) -> Row | None:
    return await source.fetch_one(
        "SELECT id, report_id, asker_id, question, answer FROM report_questions WHERE id = ?",
        (question_id,),
    )


async def answer_question(conn: Connection, question_id: int, answer: str, now: datetime) -> bool:
    """The first answer counts; a second tap or a replay changes nothing."""
    cursor = await conn.execute(
        "UPDATE report_questions SET answer = ?, answered_at = ? WHERE id = ? AND answer IS NULL",
        (answer, to_db(now), question_id),
    )
    return cursor.rowcount == 1


async def buildings(db: Database) -> list[Row]:
    """Every building with its grid and community, for picking where a problem is."""
    return await db.fetch_all(
        "SELECT b.id, b.code, b.name, b.lat, b.lon, b.grid_id, g.community_id FROM buildings b "
        "JOIN grids g ON g.id = b.grid_id ORDER BY b.code"
    )
