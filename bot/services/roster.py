"""Who covers what: the duty roster for urgent reports at night and on holidays, leave with a stand-in,
and offboarding — each change in one transaction with the pushes it causes.

- Duty: team leads keep their grid's roster, organizers their community's, admins any. An urgent report
  filed outside working hours goes to the person on duty as well as to its assignee (a filed-report hook),
  and the person on duty may take it over.
- Leave: a worker marks whole days away and names a colleague; routing gives the stand-in the new tasks
  (bot/storage/reports.least_loaded), the digest gives them the absent worker's list, and one button hands
  the open tasks over.
- Offboarding: removing a worker's role gives all their open tasks of that grid to the team lead or a named
  colleague, and every reporter concerned hears who handles it now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.delivery.outbox import Button, Tr
from bot.domain.patrols import PATROL_CATEGORY
from bot.domain.people import WORKER_ROLES, Person, Role, Scope, ScopeKind
from bot.domain.reports import AWAITING_ACCEPT, Report
from bot.domain.roster import (
    DUTY_MAX_DAYS,
    LEAVE_MAX_DAYS,
    Area,
    DaysProblem,
    DutyShift,
    Leave,
    area_of,
    days_problem,
    duty_day,
    duty_time,
    leave_window,
)
from bot.i18n import N_
from bot.services import routing
from bot.services.accounts import register_personal_data
from bot.services.container import Services
from bot.services.reports import (
    NOT_ACCEPTED,
    REPORTER_PARAMS,
    STALE,
    Refused,
    about,
    load_for_update,
    push,
    register_filed_hook,
    reporter_contact,
)
from bot.services.tasks import hand_over
from bot.storage import grid_ops, people, structure
from bot.storage import reports as store
from bot.storage.db import Connection
from bot.storage.grid_ops import Colleague
from bot.ui.labels import ROLE_LABELS

ROSTER_ROLES = (Role.SECRETARY, Role.ORGANIZER, Role.ADMIN)
LEAVE_ROLES = (*WORKER_ROLES, Role.ORGANIZER)
OFFBOARDABLE = (Role.GRID_WORKER, Role.PART_TIME_WORKER, Role.SECRETARY, Role.INFORMANT)
DAYS_REFUSALS: dict[DaysProblem, str] = {
    DaysProblem.ORDER: N_("The last day comes before the first. Please start again."),
    DaysProblem.PAST: N_("Those days are over already. Please pick days from today on."),
    DaysProblem.LONG: N_("That is more than {limit} days. Please pick a shorter span."),
}
NOT_YOUR_AREA = N_("That is outside the grids you look after. Nothing was changed.")


def today(services: Services) -> date:
    return services.clock.now().astimezone(services.settings.tz).date()


def _check_days(services: Services, first_day: date, last_day: date, longest: int) -> None:
    problem = days_problem(first_day, last_day, today(services), longest)
    if problem is not None:
        raise Refused(DAYS_REFUSALS[problem], limit=longest)


async def person_names(services: Services, person_ids: list[int]) -> dict[int, str]:
    return await grid_ops.names(services.db, person_ids)


async def open_task_count(services: Services, person_id: int, grid_id: int | None = None) -> int:
    """Open tasks of a person (of one grid when given), those waiting for their reporter included."""
    return len(await store.open_assigned(services.db, person_id, grid_id))


# ------------------------------------------------------------------------------------------------- duty


def roster_area(person: Person) -> Area:
    """Where a person keeps the roster."""
    return area_of(person, *ROSTER_ROLES)


def duty_view_area(person: Person) -> Area:
    """Where a person may read the roster: their team's too."""
    return area_of(person, *WORKER_ROLES, Role.ORGANIZER, Role.ADMIN)


async def keeps_roster_of(services: Services, person: Person, scope: Scope) -> bool:
    area = roster_area(person)
    if scope.kind is ScopeKind.COMMUNITY:
        return area.street or scope.id in area.community_ids
    if scope.kind is ScopeKind.GRID:
        community_id = await services.db.fetch_value(
            "SELECT community_id FROM grids WHERE id = ?", (scope.id,)
        )
        return community_id is not None and area.covers(scope.id, community_id)
    return False


async def duty_scopes(services: Services, person: Person) -> list[tuple[Scope, str]]:
    """Grids and communities whose roster this person keeps, with their names."""
    grids = await grid_ops.grids_in(services.db, roster_area(person))
    area = roster_area(person)
    found: list[tuple[Scope, str]] = []
    for community_id, community_name in dict.fromkeys((g.community_id, g.community_name) for g in grids):
        if area.street or community_id in area.community_ids:
            found.append((Scope(kind=ScopeKind.COMMUNITY, id=community_id), community_name))
    found += [(Scope(kind=ScopeKind.GRID, id=g.id), g.name) for g in grids]
    return found


async def duty_candidates(services: Services, person: Person, scope: Scope) -> list[Colleague]:
    """Who may be put on duty for a scope: its grid team, or the community's organizers and grid teams."""
    if not await keeps_roster_of(services, person, scope):
        raise Refused(NOT_YOUR_AREA)
    if scope.kind is ScopeKind.GRID:
        return await grid_ops.grid_staff(services.db, [scope.id])
    return await grid_ops.community_staff(services.db, scope.id)


async def add_shift(
    services: Services, manager: Person, scope: Scope, person_id: int, first_day: date, last_day: date
) -> DutyShift:
    """Put someone on duty for whole roster days; they are told through the outbox."""
    candidates = await duty_candidates(services, manager, scope)
    if person_id not in {c.id for c in candidates}:
        raise Refused(N_("That person is not on this team. Pick someone from the list."))
    _check_days(services, first_day, last_day, DUTY_MAX_DAYS)
    name = (await scope_names(services)).get(scope, "?")
    now = services.clock.now()
    async with services.db.transaction() as conn:
        shift_id = await grid_ops.insert_shift(
            conn,
            now=now,
            scope_kind=scope.kind,
            scope_id=scope.id,
            person_id=person_id,
            first_day=first_day,
            last_day=last_day,
            created_by=manager.id,
        )
        await push(
            conn,
            now,
            [person_id],
            N_(
                "📅 You are on duty for {scope} from {first} to {last}: outside working hours and on "
                "holidays, urgent reports come to you as well. See /duty."
            ),
            lambda _, loc: {"scope": name, "first": first_day.isoformat(), "last": last_day.isoformat()},
        )
        shift = await grid_ops.shift(conn, shift_id)
    assert shift is not None
    return shift


async def remove_shift(services: Services, manager: Person, shift_id: int) -> DutyShift:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        shift = await grid_ops.shift(conn, shift_id)
        if shift is None:
            raise Refused(STALE)
        if not await keeps_roster_of(services, manager, Scope(kind=shift.scope_kind, id=shift.scope_id)):
            raise Refused(NOT_YOUR_AREA)
        await grid_ops.delete_shift(conn, shift_id)
        if shift.last_day >= today(services):
            await push(
                conn,
                now,
                [shift.person_id],
                N_("📅 Your duty from {first} to {last} was taken off the roster."),
                lambda _, loc: {"first": shift.first_day.isoformat(), "last": shift.last_day.isoformat()},
            )
    return shift


async def shifts(services: Services, person: Person) -> list[DutyShift]:
    """The roster from today on, for the grids and communities this person works in."""
    return await grid_ops.shifts_in(services.db, duty_view_area(person), today(services))


async def scope_names(services: Services) -> dict[Scope, str]:
    """Every grid's and community's name by scope, for showing the roster."""
    communities = await structure.communities(services.db)
    grids = await grid_ops.grids_in(services.db, Area(street=True))
    found = {Scope(kind=ScopeKind.COMMUNITY, id=c.id): c.name for c in communities}
    return found | {Scope(kind=ScopeKind.GRID, id=g.id): g.name for g in grids}


DUTY_TEMPLATE = N_(
    "🚨 <b>Urgent, while you are on duty</b>: {number} · {category}\n{description}\n📍 {place}\n👤 {reporter}\n"
    "It went to {assignee} too. If they cannot act in time, take it over."
)


async def _copy_to_duty(
    services: Services, conn: Connection, report: Report, now: datetime
) -> None:
    """An urgent report filed outside working hours also reaches whoever is on duty for its grid, until
    somebody accepts it; what it shows of the reporter is read when it is sent, as for the task itself."""
    if not report.urgent or report.category == PATROL_CATEGORY or not duty_time(now, services.calendar):
        return
    on_duty = await grid_ops.on_duty(
        conn, report.grid_id, report.community_id, duty_day(now, services.calendar)
    )
    recipients = [p for p in on_duty if p != report.assignee_id]
    if not recipients:
        return
    if await reporter_contact(conn, report) is not None:
        for person_id in recipients:
            await people.audit(conn, now, person_id, "report.contact_sent", report.number)
    assignee = (await grid_ops.names(conn, [report.assignee_id])).get(report.assignee_id or 0, "—")
    base = about(services, report)
    await push(
        conn,
        now,
        recipients,
        DUTY_TEMPLATE,
        lambda _, loc: {**base(_, loc), **REPORTER_PARAMS, "assignee": assignee},
        buttons=[[Button(N_("🙋 Take it over"), f"duty:t:{report.id}")]],
        reason=(NOT_ACCEPTED, report.id),
        urgent=True,
    )


async def take_over(services: Services, person: Person, report_id: int) -> Report:
    """The person on duty takes an urgent report nobody has accepted yet; its assignee is told."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        day = duty_day(now, services.calendar)
        if person.id not in await grid_ops.on_duty(conn, report.grid_id, report.community_id, day):
            raise Refused(N_("You are not on duty for this report's grid now. Nothing was changed."))
        if report.state not in AWAITING_ACCEPT or report.assignee_id == person.id:
            raise Refused(N_("Somebody has accepted this report already. Nothing was changed."))
        previous = report.assignee_id
        taken = (await hand_over(services, conn, [report], person.id, now, person.id))[0]
        if previous is not None:
            await push(
                conn,
                now,
                [previous],
                N_(
                    "Task {number} ({category}) was taken over by {name}, on duty; nothing more to do for you."
                ),
                lambda _, loc: {**about(services, taken)(_, loc), "name": person.name},
                urgent=taken.urgent,
            )
        return taken


# ------------------------------------------------------------------------------------------------ leave


async def stand_in_choices(services: Services, person: Person) -> list[Colleague]:
    """Colleagues who may stand in: the grid teams and organizers of where the person works."""
    area = area_of(person, *LEAVE_ROLES)
    found: dict[int, Colleague] = {}
    for colleague in await grid_ops.grid_staff(services.db, area.grid_ids):
        found.setdefault(colleague.id, colleague)
    grids = await grid_ops.grids_in(services.db, Area(grid_ids=area.grid_ids))
    for community_id in sorted(area.community_ids | {g.community_id for g in grids}):
        for colleague in await grid_ops.community_staff(services.db, community_id):
            if colleague.role is Role.ORGANIZER or community_id in area.community_ids:
                found.setdefault(colleague.id, colleague)
    found.pop(person.id, None)
    return list(found.values())


async def mark_leave(
    services: Services, person: Person, first_day: date, last_day: date, stand_in_id: int
) -> Leave:
    """Record leave with a stand-in, who is told; overlapping leave is refused."""
    if not person.has(*LEAVE_ROLES):
        raise Refused(N_("Leave is for grid workers, team leads and organizers."))
    if stand_in_id not in {c.id for c in await stand_in_choices(services, person)}:
        raise Refused(N_("That person cannot stand in for you. Pick someone from the list."))
    _check_days(services, first_day, last_day, LEAVE_MAX_DAYS)
    starts_at, ends_at = leave_window(first_day, last_day, services.settings.tz)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        leave_id = await grid_ops.insert_leave(
            conn,
            now=now,
            person_id=person.id,
            first_day=first_day,
            last_day=last_day,
            starts_at=starts_at,
            ends_at=ends_at,
            stand_in_id=stand_in_id,
        )
        if leave_id is None:
            raise Refused(N_("You already have leave on some of those days. Cancel it first in /leave."))
        await push(
            conn,
            now,
            [stand_in_id],
            N_(
                "🤝 {name} is on leave from {first} to {last}, and you stand in: their new tasks come to you, "
                "and your daily digest lists their open ones."
            ),
            lambda _, loc: {
                "name": person.name,
                "first": first_day.isoformat(),
                "last": last_day.isoformat(),
            },
        )
        leave = await grid_ops.leave(conn, leave_id)
    assert leave is not None
    return leave


async def leaves(services: Services, person: Person) -> list[Leave]:
    return await grid_ops.leaves_of(services.db, person.id, services.clock.now())


async def cancel_leave(services: Services, person: Person, leave_id: int) -> Leave:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        leave = await grid_ops.leave(conn, leave_id)
        if (
            leave is None
            or leave.person_id != person.id
            or not await grid_ops.cancel_leave(conn, leave_id, person.id, now)
        ):
            raise Refused(STALE)
        await push(
            conn,
            now,
            [leave.stand_in_id],
            N_("🤝 {name} cancelled their leave from {first} to {last}; you no longer stand in for them."),
            lambda _, loc: {
                "name": person.name,
                "first": leave.first_day.isoformat(),
                "last": leave.last_day.isoformat(),
            },
        )
    return leave


async def hand_over_to_stand_in(services: Services, person: Person, leave_id: int) -> list[Report]:
    """Every open task of the person goes to the stand-in of their current or coming leave, at once."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        leave = await grid_ops.leave(conn, leave_id)
        if leave is None or leave.person_id != person.id or leave.ends_at <= now:
            raise Refused(STALE)
        moved = await hand_over(
            services, conn, await store.open_assigned(conn, person.id), leave.stand_in_id, now, person.id
        )
        if moved:
            await push(
                conn,
                now,
                [leave.stand_in_id],
                N_(
                    "🤝 {name} handed their {count} open tasks over to you while they are on leave. See /tasks."
                ),
                lambda _, loc: {"name": person.name, "count": len(moved)},
                buttons=[[Button(N_("🧰 My tasks"), "tk:l:0")]],
            )
        return moved


# ------------------------------------------------------------------------------------------ offboarding


@dataclass(frozen=True)
class Departure:
    """What an offboarding did: the role removed, and the tasks that went to `to_id`."""

    person_id: int
    role: Role
    grid_id: int
    to_id: int
    moved: list[Report]


def offboard_area(manager: Person) -> Area:
    return roster_area(manager)


def may_offboard(manager: Person, role: Role, grid_id: int, community_id: int) -> bool:
    """Team leads remove their grid's workers; organizers and admins anyone of their grids' teams."""
    if role not in OFFBOARDABLE:
        return False
    if area_of(manager, Role.ORGANIZER, Role.ADMIN).covers(grid_id, community_id):
        return True
    return role is not Role.SECRETARY and grid_id in area_of(manager, Role.SECRETARY).grid_ids


async def team(services: Services, manager: Person) -> list[Colleague]:
    """Grid roles this manager may remove: (person, role, grid), themselves excepted."""
    grids = await grid_ops.grids_in(services.db, offboard_area(manager))
    community_of = {g.id: g.community_id for g in grids}
    found = await grid_ops.grid_staff(services.db, community_of, roles=OFFBOARDABLE)
    return [
        c
        for c in found
        if c.id != manager.id
        and c.grid_id is not None
        and may_offboard(manager, c.role, c.grid_id, community_of[c.grid_id])
    ]


async def successors(services: Services, person_id: int, grid_id: int) -> list[tuple[int, Role]]:
    """Who may take a leaving worker's tasks, the default first: the grid's team lead, else the next rung up."""
    community_id = await services.db.fetch_value("SELECT community_id FROM grids WHERE id = ?", (grid_id,))
    if community_id is None:
        raise Refused(STALE)
    async with services.db.transaction() as conn:
        return await _successors(conn, person_id, grid_id, community_id)


async def _successors(
    conn: Connection, person_id: int, grid_id: int, community_id: int
) -> list[tuple[int, Role]]:
    found = [(p, r) for p, r in await routing.workers(conn, grid_id, community_id) if p != person_id]
    leads = [entry for entry in found if entry[1] is Role.SECRETARY]
    organizers = [entry for entry in found if entry[1] is Role.ORGANIZER]
    others = [entry for entry in found if entry not in leads and entry not in organizers]
    admins = [
        (p, Role.ADMIN) for p in await store.holders(conn, Role.ADMIN, routing.STREET) if p != person_id
    ]
    ordered = leads + organizers + others
    return ordered + [a for a in admins if a[0] not in {p for p, _r in ordered}]


async def offboard(
    services: Services, manager: Person, person_id: int, role: Role, grid_id: int, to_id: int | None
) -> Departure:
    """Remove one grid role and, in the same transaction, give all the person's open tasks of that grid to
    `to_id` (default: the grid's team lead, else the next rung up). The reporters hear who handles their
    report now; the leaving person and the successor are told."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        grid = await conn.fetch_one("SELECT community_id, name FROM grids WHERE id = ?", (grid_id,))
        if grid is None or not may_offboard(manager, role, grid_id, grid["community_id"]):
            raise Refused(NOT_YOUR_AREA)
        choices = await _successors(conn, person_id, grid_id, grid["community_id"])
        successor = to_id if to_id is not None else (choices[0][0] if choices else None)
        if successor is None or successor not in {p for p, _r in choices}:
            raise Refused(N_("That person cannot take over these tasks. Pick someone from the list."))
        if not await people.revoke(conn, person_id, role, Scope(kind=ScopeKind.GRID, id=grid_id)):
            raise Refused(N_("That role was removed already. Nothing was changed."))
        moved = await hand_over(
            services, conn, await store.open_assigned(conn, person_id, grid_id), successor, now, manager.id
        )
        remaining = await conn.fetch_one(
            "SELECT 1 FROM roles WHERE person_id = ? AND role IN ('grid_worker', 'part_time_worker', 'secretary', "
            "'organizer', 'admin')",
            (person_id,),
        )
        await grid_ops.end_duty(conn, person_id, None if remaining is None else grid_id, today(services))
        if remaining is None:
            await grid_ops.replace_stand_in(conn, person_id, successor, now)
        detail = f"{role.value}:grid:{grid_id} tasks:{len(moved)}→{successor}"
        await people.audit(conn, now, manager.id, "role.revoke", str(person_id), detail)
        names = await grid_ops.names(conn, [person_id, successor])
        params = {"role": Tr(ROLE_LABELS[role]), "grid": grid["name"], "count": len(moved)}
        await push(
            conn,
            now,
            [person_id],
            N_(
                "Your role as {role} in {grid} has ended. Your {count} open tasks there went to {name}. Thank you!"
            ),
            lambda _, loc: {**params, "name": names.get(successor, "")},
        )
        if moved:
            await push(
                conn,
                now,
                [successor],
                N_(
                    "{name} is no longer {role} in {grid}: their {count} open tasks are yours now. See /tasks."
                ),
                lambda _, loc: {**params, "name": names.get(person_id, "")},
                buttons=[[Button(N_("🧰 My tasks"), "tk:l:0")]],
            )
        return Departure(person_id, role, grid_id, successor, moved)


register_filed_hook("duty", _copy_to_duty)
register_personal_data("grid_ops", grid_ops.export_person, grid_ops.erase_person)
