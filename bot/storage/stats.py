"""Dashboard queries: the facts behind the rates for one scope and period, and what is overdue now.

Each query walks one indexed time range (created_at, assigned_at, closed_at, rated_at, an event's start)
and filters the scope inside it, so a week of a large street reads a few thousand rows whatever the size
of the tables. Figures are computed from these facts by bot.domain.rates, never in SQL, so that every
screen and export shares one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import from_db, to_db
from bot.domain import meetings, volunteering
from bot.domain.patrols import PATROL_CATEGORY
from bot.domain.people import Scope, ScopeKind
from bot.domain.rates import Assigned, Closed, Rated
from bot.domain.reports import Outcome
from bot.storage.db import Reader, Row


def _in_scope(scope: Scope, alias: str = "r") -> tuple[str, list[Any]]:
    """The scope as a condition on a reports alias. Patrol tasks are the team's own rounds, not problems
    residents reported, so they stay out of every rate and count."""
    patrols = f" AND {alias}.category != '{PATROL_CATEGORY}'"
    if scope.kind is ScopeKind.COMMUNITY:
        return f"{patrols} AND {alias}.community_id = ?", [scope.id]
    if scope.kind is ScopeKind.GRID:
        return f"{patrols} AND {alias}.grid_id = ?", [scope.id]
    return patrols, []


def _range(start: datetime, end: datetime) -> list[Any]:
    return [to_db(start), to_db(end)]


def _moment(value: str | None) -> datetime | None:
    return from_db(value) if value else None


async def _reports_between(
    source: Reader, scope: Scope, start: datetime, end: datetime, *, select: str, at: str, rest: str = ""
) -> list[Row]:
    """`select` (from reports `r`, or joined to them) for rows whose `at` falls in [start, end) within the
    scope: every report query walks one indexed time range and filters the scope inside it."""
    where, params = _in_scope(scope)
    return await source.fetch_all(
        f"{select} WHERE {at} >= ? AND {at} < ?{where}{rest}", [*_range(start, end), *params]
    )


@dataclass(frozen=True)
class Count:
    """How many reports of one grid and category."""

    grid_id: int
    category: str
    count: int


async def received(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[Count]:
    """Reports filed in [start, end) by grid and category."""
    rows = await _reports_between(
        source, scope, start, end, select="SELECT r.grid_id, r.category, COUNT(*) AS n FROM reports r",
        at="r.created_at", rest=" GROUP BY r.grid_id, r.category",
    )
    return [Count(row["grid_id"], row["category"], row["n"]) for row in rows]


async def overdue(source: Reader, scope: Scope, now: datetime) -> list[Count]:
    """Open reports past the deadline their assignee works to (those waiting for "is it fixed?" are not)."""
    where, params = _in_scope(scope)
    rows = await source.fetch_all(
        "SELECT r.grid_id, r.category, COUNT(*) AS n FROM reports r WHERE r.closed_at IS NULL "
        f"AND r.due_at < ? AND r.state != 'resolved'{where} GROUP BY r.grid_id, r.category",
        [to_db(now), *params],
    )
    return [Count(row["grid_id"], row["category"], row["n"]) for row in rows]


async def assigned(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[Assigned]:
    """Reports first assigned in [start, end)."""
    rows = await _reports_between(
        source, scope, start, end,
        select="SELECT r.grid_id, r.category, r.assigned_at, r.accept_by, r.accepted_at FROM reports r",
        at="r.assigned_at",
    )
    return [
        Assigned(
            row["grid_id"],
            row["category"],
            from_db(row["assigned_at"]),
            _moment(row["accept_by"]),
            _moment(row["accepted_at"]),
        )
        for row in rows
    ]


async def closed(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[Closed]:
    """Reports closed in [start, end), whatever the outcome."""
    rows = await _reports_between(
        source, scope, start, end,
        select="SELECT r.grid_id, r.category, r.created_at, r.closed_at, r.outcome, r.resolved_at, "
        "r.reopen_count FROM reports r",
        at="r.closed_at",
    )
    return [
        Closed(
            row["grid_id"],
            row["category"],
            from_db(row["created_at"]),
            from_db(row["closed_at"]),
            Outcome(row["outcome"] or Outcome.UNVERIFIED),
            _moment(row["resolved_at"]),
            row["reopen_count"],
        )
        for row in rows
    ]


async def rated(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[Rated]:
    """Ratings given in [start, end), with the grid and category of the report rated."""
    rows = await _reports_between(
        source, scope, start, end,
        select="SELECT r.grid_id, r.category, g.rated_at, g.stars FROM report_ratings g "
        "JOIN reports r ON r.id = g.report_id",
        at="g.rated_at",
    )
    return [Rated(row["grid_id"], row["category"], from_db(row["rated_at"]), row["stars"]) for row in rows]


@dataclass(frozen=True)
class Service:
    """Verified volunteer service at activities that started in the period."""

    hours: float
    people: int


def _activities_in(scope: Scope) -> tuple[str, list[Any]]:
    """A community's activities are those it runs; a grid's, those published for that grid."""
    if scope.kind is ScopeKind.COMMUNITY:
        return " AND o.community_id = ?", [scope.id]
    if scope.kind is ScopeKind.GRID:
        return " AND o.scope_kind = 'grid' AND o.scope_id = ?", [scope.id]
    return "", []


async def volunteer_service(source: Reader, scope: Scope, start: datetime, end: datetime) -> Service:
    where, params = _activities_in(scope)
    row = await source.fetch_one(
        "SELECT COALESCE(SUM(vs.hours), 0) AS hours, COUNT(DISTINCT vs.person_id) AS people "
        "FROM slot_events e JOIN opportunities o ON o.id = e.event_id "
        "JOIN volunteer_service vs ON vs.opportunity_id = o.id "
        "WHERE e.kind = ? AND e.starts_at >= ? AND e.starts_at < ? AND vs.status = 'verified'" + where,
        [volunteering.KIND, *_range(start, end), *params],
    )
    assert row is not None
    return Service(float(row["hours"]), int(row["people"]))


@dataclass(frozen=True)
class Attendance:
    """Meetings that took place in the period: how many, who said they would come, who was marked present
    (`marked`: answers whose attendance was recorded at all)."""

    meetings: int
    going: int
    present: int
    marked: int


async def meeting_attendance(source: Reader, scope: Scope, start: datetime, end: datetime) -> Attendance:
    """A street scope counts every meeting; a community its own. Meetings have no grid."""
    where, params = "", []
    if scope.kind is ScopeKind.COMMUNITY:
        where, params = " AND m.community_id = ?", [scope.id]
    row = await source.fetch_one(
        "SELECT COUNT(DISTINCT m.id) AS meetings, "
        "COALESCE(SUM(a.answer = 'going'), 0) AS going, COALESCE(SUM(a.attended = 1), 0) AS present, "
        "COALESCE(SUM(a.attended IS NOT NULL), 0) AS marked "
        "FROM slot_events e JOIN meetings m ON m.id = e.event_id "
        "LEFT JOIN meeting_answers a ON a.meeting_id = m.id "
        "WHERE e.kind = ? AND e.state = 'open' AND e.starts_at >= ? AND e.starts_at < ?" + where,
        [meetings.KIND, *_range(start, end), *params],
    )
    assert row is not None
    return Attendance(int(row["meetings"]), int(row["going"]), int(row["present"]), int(row["marked"]))


async def closed_topics(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[int]:
    """Deliberation topics whose vote closed in [start, end): a community's own (a whole-street
    consultation counts for the street), a grid's when it concerns a building there."""
    where, params = "", []
    if scope.kind is ScopeKind.COMMUNITY:
        where, params = " AND t.community_id = ?", [scope.id]
    elif scope.kind is ScopeKind.GRID:
        where = (
            " AND EXISTS (SELECT 1 FROM deliberation_buildings d JOIN buildings b ON b.id = d.building_id "
            "WHERE d.topic_id = t.id AND b.grid_id = ?)"
        )
        params = [scope.id]
    rows = await source.fetch_all(
        "SELECT t.id FROM deliberation_topics t WHERE t.state = 'closed' AND t.closed_at >= ? "
        f"AND t.closed_at < ?{where} ORDER BY t.closed_at, t.id",
        [*_range(start, end), *params],
    )
    return [row[0] for row in rows]


@dataclass(frozen=True)
class Unit:
    """A grid or community as the dashboard names it."""

    id: int
    name: str
    community_id: int


async def grids(source: Reader) -> list[Unit]:
    rows = await source.fetch_all("SELECT id, name, community_id FROM grids ORDER BY code")
    return [Unit(row["id"], row["name"], row["community_id"]) for row in rows]


async def communities(source: Reader) -> list[Unit]:
    rows = await source.fetch_all("SELECT id, name, id AS community_id FROM communities ORDER BY code")
    return [Unit(row["id"], row["name"], row["community_id"]) for row in rows]


async def holders_by_scope(source: Reader, role: str, kind: ScopeKind) -> dict[int, list[int]]:
    """scope id → the people holding `role` there who can be written to."""
    rows = await source.fetch_all(
        "SELECT r.scope_id, p.id FROM roles r JOIN people p ON p.id = r.person_id WHERE r.role = ? "
        "AND r.scope_kind = ? AND p.erased_at IS NULL AND p.telegram_id IS NOT NULL "
        "ORDER BY r.scope_id, p.id",
        [role, kind.value],
    )
    found: dict[int, list[int]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row[1])
    return found


# ------------------------------------------------------------------------------------------ exports


@dataclass(frozen=True)
class ReportLine:
    """A report as exported: no reporter, no contact details."""

    id: int
    number: str
    category: str
    state: str
    urgent: bool
    community: str
    grid: str
    channel: str
    description: str
    created_at: datetime
    assigned_at: datetime | None
    accept_by: datetime | None
    accepted_at: datetime | None
    fix_by: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    reopen_count: int
    affected_count: int
    stars: int | None


@dataclass(frozen=True)
class EventLine:
    at: datetime
    kind: str
    to_state: str | None


async def report_ids(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[int]:
    """Reports filed in [start, end), oldest first."""
    rows = await _reports_between(
        source, scope, start, end, select="SELECT r.id FROM reports r", at="r.created_at", rest=" ORDER BY r.id"
    )
    return [row[0] for row in rows]


def _marks(ids: list[int]) -> str:
    return ",".join("?" * len(ids))


async def report_lines(source: Reader, ids: list[int]) -> list[ReportLine]:
    rows = await source.fetch_all(
        "SELECT r.id, r.number, r.category, r.state, r.urgent, c.name AS community, g.name AS grid, "
        "r.channel, r.description, r.created_at, r.assigned_at, r.accept_by, r.accepted_at, r.fix_by, "
        "r.resolved_at, r.closed_at, r.outcome, r.reopen_count, r.affected_count, t.stars FROM reports r "
        "JOIN grids g ON g.id = r.grid_id JOIN communities c ON c.id = r.community_id "
        f"LEFT JOIN report_ratings t ON t.report_id = r.id WHERE r.id IN ({_marks(ids)}) ORDER BY r.id",
        ids,
    )
    return [
        ReportLine(
            id=row["id"],
            number=row["number"],
            category=row["category"],
            state=row["state"],
            urgent=bool(row["urgent"]),
            community=row["community"],
            grid=row["grid"],
            channel=row["channel"],
            description=row["description"],
            created_at=from_db(row["created_at"]),
            assigned_at=_moment(row["assigned_at"]),
            accept_by=_moment(row["accept_by"]),
            accepted_at=_moment(row["accepted_at"]),
            fix_by=_moment(row["fix_by"]),
            resolved_at=_moment(row["resolved_at"]),
            closed_at=_moment(row["closed_at"]),
            outcome=row["outcome"],
            reopen_count=row["reopen_count"],
            affected_count=row["affected_count"],
            stars=row["stars"],
        )
        for row in rows
    ]


async def event_lines(source: Reader, ids: list[int]) -> dict[int, list[EventLine]]:
    """Each report's events in order: when and what, never who or their words."""
    rows = await source.fetch_all(
        f"SELECT report_id, at, kind, to_state FROM report_events WHERE report_id IN ({_marks(ids)}) "
        "ORDER BY report_id, id",
        ids,
    )
    found: dict[int, list[EventLine]] = {}
    for row in rows:
        found.setdefault(row["report_id"], []).append(
            EventLine(from_db(row["at"]), row["kind"], row["to_state"])
        )
    return found


async def opportunity_ids(source: Reader, scope: Scope, start: datetime, end: datetime) -> list[int]:
    """Volunteer activities in the scope that started in [start, end)."""
    where, params = _activities_in(scope)
    rows = await source.fetch_all(
        "SELECT o.id FROM slot_events e JOIN opportunities o ON o.id = e.event_id "
        "WHERE e.kind = ? AND e.starts_at >= ? AND e.starts_at < ?" + where + " ORDER BY e.starts_at, o.id",
        [volunteering.KIND, *_range(start, end), *params],
    )
    return [row[0] for row in rows]
