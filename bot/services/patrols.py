"""Recurring patrols: team leads, organizers and admins define checks; each occurrence becomes a task.

A patrol's next occurrence is a due-time row (`patrol.due`, subject: the patrol id), so it fires once
across restarts. Firing files a report of the reserved category `patrol` through the same filing and
routing as residents' reports (`reports.file_and_route`): the grid's worker (or their stand-in) gets the
task, accepts it, closes it with a note and a photo, and the usual sign-for and fix clocks escalate it to
the team lead when it is missed. A round-the-clock patrol's task is urgent: its clocks run round the clock
and quiet hours do not hold it. Editing a schedule or resuming a patrol moves the row; pausing cancels it.
An occurrence missed while the bot was down is filed once when it starts, not once per missed time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.patrols import (
    PATROL_CATEGORY,
    TITLE_MAX,
    Patrol,
    Schedule,
    ScheduleError,
    next_occurrence,
    parse_schedule,
    upcoming,
)
from bot.domain.people import Person, Role
from bot.domain.reports import Report, clean_text
from bot.domain.roster import Area, area_of
from bot.i18n import N_
from bot.services.container import Services
from bot.services.reports import STALE, Refused, ReportInput, file_and_route
from bot.storage import grid_ops, structure
from bot.storage import reports as store
from bot.storage.db import Connection
from bot.timers.engine import TimerRow, cancel, register_timer, schedule

PATROL_DUE = "patrol.due"
MANAGER_ROLES = (Role.SECRETARY, Role.ORGANIZER, Role.ADMIN)
BAD_SCHEDULE = N_(
    "I could not read that schedule. Write the days and a time, for example “mon 09:00”, “workdays 08:30”, "
    "“mon,thu 14:00” or “每周一 09:00”, or a cron line such as “0 9 * * 1”."
)
NEVER = N_("That schedule never falls due (in working time, if you chose that). Please write another.")
NOT_YOURS = N_("This patrol is not in your grids. Nothing was changed.")


def area(person: Person) -> Area:
    """Where a person manages patrols."""
    return area_of(person, *MANAGER_ROLES)


def read_schedule(text: str) -> Schedule:
    try:
        return parse_schedule(text)
    except ScheduleError:
        raise Refused(BAD_SCHEDULE) from None


def clean_title(text: str | None) -> str:
    title = clean_text(text, TITLE_MAX)
    if title is None or "\n" in title:
        raise Refused(
            N_("Please write what to check in one line of up to {limit} characters."), limit=TITLE_MAX
        )
    return title


def preview(services: Services, text: str, working_time: bool, count: int = 3) -> list[datetime]:
    """The next occurrences of a schedule as typed, for the team lead to check before saving."""
    moments = upcoming(
        read_schedule(text), services.clock.now(), services.calendar, working_time=working_time, count=count
    )
    if not moments:
        raise Refused(NEVER)
    return moments


def _next(services: Services, patrol_schedule: str, working_time: bool, after: datetime) -> datetime | None:
    return next_occurrence(
        read_schedule(patrol_schedule), after, services.calendar, working_time=working_time
    )


async def _arm(
    services: Services, conn: Connection, patrol_id: int, due: datetime | None, now: datetime, **changes: Any
) -> None:
    """Make the patrol's row due at `due` (replacing any), or cancel it when there is no next time, and save
    `next_at` with the `changes` that caused it (pausing, resuming, stopping) in one update."""
    if due is None:
        await cancel(conn, kind=PATROL_DUE, subject=str(patrol_id))
    else:
        await schedule(conn, kind=PATROL_DUE, subject=str(patrol_id), due_at=due)
    await grid_ops.update_patrol(conn, patrol_id, now, next_at=due, **changes)


async def create(
    services: Services, person: Person, building_id: int, title: str, schedule_text: str, working_time: bool
) -> Patrol:
    title = clean_title(title)
    place = await structure.place(services.db, building_id)
    if place is None or not area(person).covers(place.grid_id, place.community_id):
        raise Refused(NOT_YOURS)
    now = services.clock.now()
    due = _next(services, schedule_text, working_time, now)
    if due is None:
        raise Refused(NEVER)
    async with services.db.transaction() as conn:
        patrol_id = await grid_ops.insert_patrol(
            conn,
            now=now,
            grid_id=place.grid_id,
            building_id=building_id,
            title=title,
            schedule=schedule_text.strip(),
            working_time=working_time,
            created_by=person.id,
        )
        await _arm(services, conn, patrol_id, due, now)
        return await _reloaded(conn, patrol_id)


async def managed(services: Services, person: Person) -> list[Patrol]:
    return await grid_ops.patrols_in(services.db, area(person))


async def _check_area(services: Services, person: Person, patrol: Patrol) -> None:
    place = await structure.place(services.db, patrol.building_id)
    if place is None or not area(person).covers(place.grid_id, place.community_id):
        raise Refused(NOT_YOURS)


async def get(services: Services, person: Person, patrol_id: int) -> Patrol:
    """A patrol this person manages, else `Refused` (a forged or stale id)."""
    patrol = await grid_ops.patrol(services.db, patrol_id)
    if patrol is None:
        raise Refused(STALE)
    await _check_area(services, person, patrol)
    return patrol


async def _managed_for_update(
    services: Services, conn: Connection, person: Person, patrol_id: int
) -> Patrol:
    patrol = await grid_ops.patrol(conn, patrol_id)
    if patrol is None:
        raise Refused(STALE)
    await _check_area(services, person, patrol)
    return patrol


async def edit_schedule(
    services: Services, person: Person, patrol_id: int, schedule_text: str, working_time: bool
) -> Patrol:
    """A new schedule takes effect at once: the next occurrence moves (a paused patrol stays paused)."""
    now = services.clock.now()
    due = _next(services, schedule_text, working_time, now)
    if due is None:
        raise Refused(NEVER)
    async with services.db.transaction() as conn:
        patrol = await _managed_for_update(services, conn, person, patrol_id)
        await grid_ops.update_patrol(
            conn, patrol.id, now, schedule=schedule_text.strip(), working_time=working_time
        )
        if not patrol.paused:
            await _arm(services, conn, patrol.id, due, now)
        return await _reloaded(conn, patrol.id)


async def pause(services: Services, person: Person, patrol_id: int) -> Patrol:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        patrol = await _managed_for_update(services, conn, person, patrol_id)
        if not patrol.paused:
            await _arm(services, conn, patrol.id, None, now, paused_at=now)
        return await _reloaded(conn, patrol.id)


async def resume(services: Services, person: Person, patrol_id: int) -> Patrol:
    """Resuming counts from now: occurrences that fell while paused are not filed."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        patrol = await _managed_for_update(services, conn, person, patrol_id)
        if patrol.paused:
            due = _next(services, patrol.schedule, patrol.working_time, now)
            await _arm(services, conn, patrol.id, due, now, paused_at=None)
        return await _reloaded(conn, patrol.id)


async def stop(services: Services, person: Person, patrol_id: int) -> Patrol:
    """Stop a patrol for good; tasks already filed stay as they are."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        patrol = await _managed_for_update(services, conn, person, patrol_id)
        await _arm(services, conn, patrol.id, None, now, stopped_at=now)
        return patrol


async def _reloaded(conn: Connection, patrol_id: int) -> Patrol:
    patrol = await grid_ops.patrol(conn, patrol_id)
    assert patrol is not None
    return patrol


async def recent_tasks(services: Services, patrol: Patrol, limit: int = 5) -> list[tuple[Report, datetime]]:
    """The latest occurrences and the tasks they became, newest first."""
    found = []
    for report_id, due_at in await grid_ops.runs_of(services.db, patrol.id, limit):
        report = await store.get(services.db, report_id)
        if report is not None:
            found.append((report, due_at))
    return found


async def _on_due(services: Services, conn: Connection, timer: TimerRow) -> None:
    """File this occurrence as a task (once), then arm the next one after now."""
    patrol = await grid_ops.patrol(conn, int(timer.subject))
    if patrol is None or patrol.paused:
        return
    now = services.clock.now()
    place = await structure.place(services.db, patrol.building_id)
    if place is not None and not await grid_ops.run_exists(conn, patrol.id, timer.due_at):
        creator = (await grid_ops.names(conn, [patrol.created_by])).get(patrol.created_by or 0)
        data = ReportInput(
            category=PATROL_CATEGORY,
            description=patrol.title,
            building_id=patrol.building_id,
            urgent=not patrol.working_time,
            contact_name=creator or None,
        )
        filed = await file_and_route(
            services, conn, data, place, now, reporter_id=None, filed_by_id=patrol.created_by
        )
        await grid_ops.add_run(conn, patrol.id, filed.report.id, timer.due_at)
    due = _next(services, patrol.schedule, patrol.working_time, max(now, timer.due_at))
    await _arm(services, conn, patrol.id, due, now)


def register() -> None:
    """The timer kind; idempotent (registries are dicts)."""
    register_timer(PATROL_DUE, _on_due)


register()
