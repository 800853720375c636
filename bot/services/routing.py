"""Who gets a report, and who is told when it slips: never nobody while anyone is there.

Routing follows the red grid: building → grid → the grid's full-time worker with the fewest open tasks
(part-time if none) → the grid's team lead → the community organizer → a street admin. Whoever is on
leave is replaced by their stand-in.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.reports import Report
from bot.storage import reports as store
from bot.storage.db import Connection

STREET = Scope(kind=ScopeKind.STREET)


def _ladder(grid_id: int, community_id: int) -> list[tuple[Role, Scope]]:
    grid = Scope(kind=ScopeKind.GRID, id=grid_id)
    return [
        (Role.GRID_WORKER, grid),
        (Role.PART_TIME_WORKER, grid),
        (Role.SECRETARY, grid),
        (Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=community_id)),
        (Role.ADMIN, STREET),
    ]


async def route(
    conn: Connection, grid_id: int, community_id: int, now: datetime
) -> tuple[int, Role] | None:
    """The assignee for a new report and the role that made them it (a stand-in takes the place of
    whoever is on leave at `now`); None only in an empty street."""
    for role, scope in _ladder(grid_id, community_id):
        person_id = await store.least_loaded(conn, role, scope, now)
        if person_id is not None:
            return person_id, role
    return None


async def supervisors(
    conn: Connection, report: Report, now: datetime, *, escalate: bool = False
) -> list[int]:
    """Who is told when a deadline slips or a task is handed back: the grid's team leads, else the
    community's organizers, else the street admins; `escalate` adds the organizers as well. A team
    lead on leave at `now` is covered by their stand-in.

    The assignee is never their own supervisor: a team lead holding the task goes one rung up.
    """
    ladder = _ladder(report.grid_id, report.community_id)[2:]
    found: list[int] = []
    for role, scope in ladder:
        people_ids = [p for p in await store.covering(conn, role, scope, now) if p != report.assignee_id]
        if people_ids and (not found or (escalate and role is Role.ORGANIZER)):
            found += [p for p in people_ids if p not in found]
        if found and not (escalate and role is Role.SECRETARY):
            break
    return found


async def workers(conn: Connection, grid_id: int, community_id: int) -> list[tuple[int, Role]]:
    """Everyone a report of this grid may be reassigned to, in routing order."""
    found: list[tuple[int, Role]] = []
    for role, scope in _ladder(grid_id, community_id)[:4]:
        found += [(p, role) for p in await store.holders(conn, role, scope) if p not in {f[0] for f in found}]
    return found
