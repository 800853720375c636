"""Tasks: what grid workers do with a report (accept, hand back, progress, resolve, ask the reporter) and
what team leads, organizers and admins do over them (reassign, merge, recategorise, not ours, reveal).

Every action is re-authorised here against the stored report, whatever button or data it came from.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import to_db
from bot.delivery.outbox import Button, Param, Tr
from bot.domain.patrols import PATROL_CATEGORY
from bot.domain.people import Person, Role
from bot.domain.reports import BEING_FIXED, NOTE_MAX, Deadlines, Report, clean_text
from bot.domain.reports import ReportState as S
from bot.i18n import N_
from bot.services import routing
from bot.services.container import Services
from bot.services.reports import (
    ACCEPT_DUE,
    ACCEPT_REMIND,
    FIX_DUE,
    FIX_REMIND,
    FIX_RESTARTS,
    FOR_ASSIGNMENT,
    STALE,
    UNKNOWN,
    VERIFY_DUE,
    VERIFYING,
    Refused,
    about,
    assign,
    categories,
    choosable,
    close_and_ask_rating,
    load_for_update,
    may_work_on,
    move,
    open_task_button,
    overseen_scopes,
    oversees,
    push,
    refreshed,
    reporter_contact,
    sla_window,
    stop_accept_clock,
    stop_all_clocks,
    stop_fix_clock,
    subject,
    tell_residents,
)
from bot.storage import people
from bot.storage import reports as store
from bot.storage.db import Connection
from bot.timers.engine import cancel, schedule
from bot.timers.engine import move as move_timer

STATUS_NOTICE = N_("Report {number} ({category}) is now {status}.")
HANDLER_NOTICE = N_("Report {number} ({category}) is now handled by {handler}.")
# Who handles a report, as residents are told it: a role, never a name.
HANDLER_LABELS: dict[Role, str] = {
    Role.GRID_WORKER: N_("a grid worker"),
    Role.PART_TIME_WORKER: N_("a grid worker"),
    Role.SECRETARY: N_("the grid's team lead"),
    Role.ORGANIZER: N_("a community organizer"),
    Role.ADMIN: N_("a street admin"),
}


# Tasks that wait for others rather than their assignee: a resolved one for its reporter's "is it fixed?", one
# escalated to deliberation for the topic's outcome (its fix clock suspended until then, when whoever holds it
# goes back to work on a fresh clock). A new assignee takes them over as they stand: nothing to sign for, no
# clock started.
WAITING_FOR_OTHERS = frozenset({S.RESOLVED, S.DELIBERATION})


async def _workable(conn: Connection, person: Person, report_id: int) -> Report:
    report = await load_for_update(conn, report_id)
    if not may_work_on(person, report):
        raise Refused(N_("This task is not assigned to you. Nothing was changed."))
    return report


async def _overseen(conn: Connection, person: Person, report_id: int) -> Report:
    report = await load_for_update(conn, report_id)
    if not oversees(person, report):
        raise Refused(
            N_("Only the grid's team lead, the community's organizers and street admins can do this.")
        )
    return report


def _note(text: str | None) -> str:
    note = clean_text(text, NOTE_MAX)
    if note is None:
        raise Refused(N_("Please write a note of up to {limit} characters."), limit=NOTE_MAX)
    return note


async def my_tasks(
    services: Services, person: Person, *, page: int, per_page: int
) -> tuple[list[Report], int]:
    return await store.tasks_of(services.db, person.id, offset=page * per_page, limit=per_page)


async def overseen(
    services: Services, person: Person, *, page: int, per_page: int
) -> tuple[list[Report], int]:
    street, grids, communities = overseen_scopes(person)
    if not (street or grids or communities):
        return [], 0
    return await store.in_scope(
        services.db,
        street=street,
        grid_ids=grids,
        community_ids=communities,
        offset=page * per_page,
        limit=per_page,
    )


async def accept(services: Services, person: Person, report_id: int) -> Report:
    """Sign for a task (签收): the sign-for clock stops, the fix clock becomes the task's deadline. A team
    lead who accepts a task takes it over."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _workable(conn, person, report_id)
        if report.state is not S.ASSIGNED:
            raise Refused(N_("This task has already been accepted or has moved on. Nothing was changed."))
        await move(
            conn,
            report,
            S.ACCEPTED,
            now,
            person.id,
            "accepted",
            assignee_id=person.id,
            accepted_at=report.accepted_at or now,
            due_at=report.fix_by,
        )
        await stop_accept_clock(conn, report.id)
        accepted = await refreshed(conn, report.id)
        await tell_residents(
            services,
            conn,
            accepted,
            now,
            N_("✍️ Report {number} ({category}) was accepted and will be fixed by {fix_by}."),
            {"fix_by": accepted.fix_by},
        )
        return accepted


async def hand_back(services: Services, person: Person, report_id: int, reason: str) -> Report:
    """ "Not mine": the assignee hands the task back with a reason; the team lead reassigns it."""
    reason = _note(reason)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        if report.assignee_id != person.id:
            raise Refused(N_("This task is not assigned to you. Nothing was changed."))
        if report.state is not S.ASSIGNED:
            raise Refused(
                N_("Only a task not yet accepted can be handed back. Ask your team lead to reassign it.")
            )
        await move(conn, report, S.TRANSFERRED, now, person.id, "handed_back", reason, assignee_id=None)
        await store.update(conn, report.id, now, assignment_event=None)
        # The sign-for deadline still stands: if nobody takes it in time, supervision follows.
        await cancel(conn, kind=ACCEPT_REMIND, subject=subject(report.id))
        handed = await refreshed(conn, report.id)
        base = about(services, handed)
        await push(
            conn,
            now,
            await routing.supervisors(conn, report, now),
            N_("↩️ {worker} handed back task {number} ({category}): {reason}\nPlease reassign it."),
            lambda _, loc: {**base(_, loc), "worker": person.name, "reason": reason},
            buttons=[[Button(N_("👥 Reassign"), f"rs:re:{report.id}")], *open_task_button(report.id)],
            urgent=report.urgent,
        )
        await tell_residents(services, conn, handed, now, STATUS_NOTICE)
        return handed


async def add_progress(services: Services, person: Person, report_id: int, text: str) -> Report:
    """A progress note: the task is in progress and the residents read the note."""
    note = _note(text)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _workable(conn, person, report_id)
        if report.state not in BEING_FIXED:
            raise Refused(N_("Accept the task first; then you can add progress notes."))
        await move(conn, report, S.IN_PROGRESS, now, person.id, "progress", note)
        updated = await refreshed(conn, report.id)
        await tell_residents(
            services,
            conn,
            updated,
            now,
            N_("🔧 Update on report {number} ({category}): {note}"),
            {"note": note},
        )
        return updated


def needs_after_photo(services: Services, report: Report) -> bool:
    return categories(services)[report.category].needs_after_photo


async def resolve(services: Services, person: Person, report_id: int, note: str, photo: str | None) -> Report:
    """Mark fixed with a note (and the after-photo the category asks for); the reporter is asked
    "is it fixed?", and the window for the answer starts when that question is delivered."""
    note = _note(note)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _workable(conn, person, report_id)
        if report.state not in BEING_FIXED:
            raise Refused(N_("Accept the task first; then you can mark it fixed."))
        if photo is None and needs_after_photo(services, report):
            raise Refused(N_("This kind of task needs a photo of the result."))
        hours = services.settings.verify_window_hours
        await move(
            conn,
            report,
            S.RESOLVED,
            now,
            person.id,
            "resolved",
            note,
            resolved_at=now,
            resolution_note=note,
            verify_hours=hours,
            verify_delivered_at=None,
            due_at=None,
        )
        if photo is not None:
            await store.add_media(conn, report.id, now, person.id, "after", "photo", [photo])
        await stop_fix_clock(conn, report.id)
        resolved = await refreshed(conn, report.id)
        if resolved.category == PATROL_CATEGORY:
            # Nobody to ask "is it fixed?": the worker's note and photo are the record of the check.
            await move(conn, resolved, S.CLOSED, now, person.id, "confirmed_fixed")
            await stop_all_clocks(conn, report.id)
            return await refreshed(conn, report.id)
        base = about(services, resolved)
        extra = {"note": note}
        if resolved.reporter_id is not None:
            await push(
                conn,
                now,
                [resolved.reporter_id],
                N_("✔️ Report {number} ({category}) is resolved: {note}\n\nIs it fixed?"),
                lambda _, loc: {**base(_, loc), **extra},
                buttons=_fixed_buttons(report.id),
                photo=photo,
                reason=(VERIFYING, report.id),
                on_delivered=(VERIFYING, report.id),
                urgent=report.urgent,
            )
        else:  # filed on someone's behalf: nobody in the bot to ask; the window starts now
            await schedule(
                conn, kind=VERIFY_DUE, subject=subject(report.id), due_at=now + timedelta(hours=hours)
            )
        await tell_residents(
            services,
            conn,
            resolved,
            now,
            N_("✔️ Report {number} ({category}) is resolved: {note}"),
            extra,
            reporter=False,
            photo=photo,
        )
        return resolved


def _fixed_buttons(report_id: int) -> list[list[Button]]:
    return [
        [
            Button(N_("✅ Yes"), f"mr:f:{report_id}:y"),
            Button(N_("❌ No"), f"mr:f:{report_id}:n"),
            Button(N_("🤔 Not sure"), f"mr:f:{report_id}:u"),
        ]
    ]


async def ask_reporter(services: Services, person: Person, report_id: int, question: str) -> Report:
    """Relay a question to the reporter through the bot: neither side learns who the other is."""
    text = _note(question)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _workable(conn, person, report_id)
        if not report.is_open:
            raise Refused(STALE)
        if report.reporter_id is None:
            raise Refused(
                N_(
                    "This report was filed on someone's behalf and they are not on the bot; use the "
                    "contact details on the report."
                )
            )
        question_id = await store.add_question(conn, report.id, person.id, text, now)
        await store.add_event(conn, report.id, now, person.id, "question", detail=text)
        await push(
            conn,
            now,
            [report.reporter_id],
            N_("❓ A question about your report {number} from the person handling it:\n{question}"),
            lambda _, loc: {"number": report.number, "question": text},
            buttons=[[Button(N_("💬 Reply"), f"mr:q:{question_id}")]],
        )
        return report


async def contact(services: Services, person: Person, report_id: int) -> tuple[str, ...]:
    """The reporter's name and phone for the assignee or the grid's staff; each look is logged."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _workable(conn, person, report_id)
        details = await reporter_contact(conn, report)
        if details is None:
            raise Refused(
                N_("This report is anonymous. Use “Ask the reporter” to reach them through the bot.")
            )
        await people.audit(conn, now, person.id, "report.contact_view", report.number)
        return details


async def reveal(services: Services, admin: Person, report_id: int, reason: str) -> tuple[str, ...]:
    """A street admin's reveal of who filed a report (anonymous ones included), with a reason, logged."""
    why = _note(reason)
    if not admin.has(Role.ADMIN):
        raise Refused(N_("Only a street admin can reveal who filed a report."))
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        row = await conn.fetch_one(
            "SELECT name, username, phone FROM people WHERE id = ?", (report.reporter_id or 0,)
        )
        await people.audit(conn, now, admin.id, "report.identity_reveal", report.number, why)
        await store.add_event(conn, report.id, now, admin.id, "identity_revealed")
        if row is None:
            return tuple(x for x in (report.contact_name, report.contact_phone) if x)
        return tuple(
            x for x in (row["name"], f"@{row['username']}" if row["username"] else None, row["phone"]) if x
        )


# -------------------------------------------------------------------------------- team leads and above


async def assignable(services: Services, person: Person, report_id: int) -> list[tuple[int, str, Role]]:
    """(person id, name, role) of everyone the report may be reassigned to."""
    async with services.db.transaction() as conn:
        report = await _overseen(conn, person, report_id)
        found = await routing.workers(conn, report.grid_id, report.community_id)
        rows = {
            r["id"]: r["name"]
            for r in await conn.fetch_all(
                f"SELECT id, name FROM people WHERE id IN ({','.join('?' * len(found)) or 'NULL'})",
                [p for p, _r in found],
            )
        }
    return [(p, rows.get(p, ""), role) for p, role in found]


async def merge_candidates(services: Services, staff: Person, report_id: int) -> list[Report]:
    """Open reports in the same building that this one could be a duplicate of."""
    report = await store.get(services.db, report_id)
    if report is None or not oversees(staff, report):
        raise Refused(UNKNOWN)
    since = services.clock.now() - timedelta(days=max(services.settings.duplicate_window_days, 1))
    return await store.open_duplicates(services.db, report.building_id, None, since, exclude=report.id)


async def reassign(services: Services, staff: Person, report_id: int, worker_id: int) -> Report:
    """A team lead gives the task to someone else of the grid: assigned afresh, unless it waits for a
    deliberation's outcome, where it only changes hands (the outcome restarts its clock for them)."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _overseen(conn, staff, report_id)
        if worker_id not in {p for p, _r in await routing.workers(conn, report.grid_id, report.community_id)}:
            raise Refused(N_("That person does not work in this grid. Pick someone from the list."))
        previous = report.assignee_id
        detail = f"{worker_id}:reassigned"
        if report.state is S.DELIBERATION:  # its status does not change: no news for the residents
            updated = await _change_hands(services, conn, report, worker_id, now, staff.id, detail)
        else:
            updated = await assign(services, conn, report, worker_id, now, staff.id, detail)
            await tell_residents(services, conn, updated, now, STATUS_NOTICE)
        if previous is not None and previous != worker_id:
            await push(
                conn,
                now,
                [previous],
                N_("Task {number} ({category}) was given to someone else; nothing more to do for you."),
                about(services, updated),
            )
        return updated


async def merge(services: Services, staff: Person, report_id: int, into_id: int) -> Report:
    """Close a duplicate into another open report: its reporter and followers follow that one instead."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _overseen(conn, staff, report_id)
        target = await _overseen(conn, staff, into_id)
        if target.id == report.id or not target.is_open:
            raise Refused(N_("Pick another open report to merge into."))
        await move(conn, report, S.DUPLICATE, now, staff.id, "merged", target.number, duplicate_of=target.id)
        await store.move_followers(conn, report.id, target.id, now)
        await store.add_event(conn, target.id, now, staff.id, "merged_in", detail=report.number)
        merged = await refreshed(conn, report.id)
        if report.assignee_id is not None and report.assignee_id != target.assignee_id:
            await push(
                conn,
                now,
                [report.assignee_id],
                N_("Task {number} ({category}) was merged into {target}; nothing more to do for you."),
                lambda _, loc: {**about(services, merged)(_, loc), "target": target.number},
            )
        await stop_all_clocks(conn, report.id)
        recipients = await store.followers(conn, target.id)
        await push(
            conn,
            now,
            recipients,
            N_(
                "🔗 Report {number} is the same problem as {target}, so they were merged. You now follow "
                "{target} and will hear when it is fixed."
            ),
            lambda _, loc: {"number": report.number, "target": target.number},
        )
        return merged


async def change_category(services: Services, staff: Person, report_id: int, code: str) -> Report:
    """Re-categorise an open report: the deadlines still running follow the new category's hours from when
    their clocks started (one now past escalates at the next timer tick), and the assignee hears them."""
    if choosable(services, code) is None:
        raise Refused(STALE)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _overseen(conn, staff, report_id)
        if not report.is_open or report.category == PATROL_CATEGORY:
            raise Refused(STALE)
        if report.category == code:  # a double tap: the first one did it
            return report
        await store.update(conn, report.id, now, category=code)
        moved = await _retime_clocks(services, conn, await refreshed(conn, report.id), now)
        moves = [f"{name}→{to_db(at)}" for name, at in moved.items()]
        detail = " ".join([f"{report.category}→{code}", *moves])
        await store.add_event(conn, report.id, now, staff.id, "category_changed", detail=detail)
        updated = await refreshed(conn, report.id)
        if updated.assignee_id is not None and updated.assignee_id != staff.id:
            template, deadlines = _category_notice(updated)
            base = about(services, updated)
            await push(
                conn,
                now,
                [updated.assignee_id],
                template,
                lambda _, loc: {**base(_, loc), **deadlines},
                buttons=open_task_button(updated.id),
                reason=(FOR_ASSIGNMENT, updated.assignment_event or 0),
                urgent=updated.urgent,
            )
        return updated


def _category_notice(report: Report) -> tuple[str, dict[str, Param]]:
    """What the assignee of a re-categorised task is told: the deadlines they now work to, if any run."""
    if report.state is S.ASSIGNED and report.due_at is not None and report.fix_by is not None:
        return (
            N_("🏷 Task {number} is now {category}: accept by {accept_by}, fix by {fix_by}."),
            {"accept_by": report.due_at, "fix_by": report.fix_by},
        )
    if report.state in BEING_FIXED and report.due_at is not None:
        return N_("🏷 Task {number} is now {category}; fix by {fix_by}."), {"fix_by": report.due_at}
    return N_("🏷 Task {number} is now {category}."), {}


async def _retime_clocks(
    services: Services, conn: Connection, report: Report, now: datetime
) -> dict[str, datetime]:
    """Recompute the SLA clocks still running for `report` (whose category changed) from the moment each
    started: the sign-for window from the last assignment, the fix window from the first assignment or the
    latest event that restarted it (`FIX_RESTARTS`: a reopening, a return from deliberation). A clock whose
    deadline has already fired is over and stays as it was; a deadline now past fires at the next tick,
    through its timer like any other. Returns the deadline columns set."""
    fields: dict[str, datetime] = {}
    assigned = await store.last_event_time(conn, report.id, "assigned")
    if assigned is not None:
        deadlines = sla_window(services, report, assigned, fix=False)
        if await _retime(conn, report.id, ACCEPT_REMIND, ACCEPT_DUE, deadlines, now):
            fields["due_at"] = deadlines.due_at
            if assigned == report.assigned_at:  # the first assignment's window: the response rate's deadline
                fields["accept_by"] = deadlines.due_at
    fix_started = await store.last_event_time(conn, report.id, *FIX_RESTARTS) or report.assigned_at
    if fix_started is not None:
        deadlines = sla_window(services, report, fix_started, fix=True)
        if await _retime(conn, report.id, FIX_REMIND, FIX_DUE, deadlines, now):
            fields["fix_by"] = deadlines.due_at
            if report.state in BEING_FIXED:
                fields["due_at"] = deadlines.due_at
    if fields:
        await store.update(conn, report.id, now, **fields)
    return fields


async def _retime(
    conn: Connection, report_id: int, remind: str, due: str, deadlines: Deadlines, now: datetime
) -> bool:
    """Move one clock's pending timers; False when its deadline timer is not pending (the clock is stopped
    or already overdue). A reminder whose new time has passed is dropped rather than sent late: the
    deadline itself is what the change tells."""
    key = subject(report_id)
    if not await move_timer(conn, kind=due, subject=key, due_at=deadlines.due_at):
        return False
    if deadlines.remind_at > now:
        await move_timer(conn, kind=remind, subject=key, due_at=deadlines.remind_at)
    else:
        await cancel(conn, kind=remind, subject=key)
    return True


async def not_ours(services: Services, staff: Person, report_id: int, reason: str) -> Report:
    """Close as not the street's responsibility, saying why (and whom to turn to) to the residents."""
    why = _note(reason)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await _overseen(conn, staff, report_id)
        await move(conn, report, S.NOT_OURS, now, staff.id, "not_ours", why, outcome_reason=why)
        closed = await refreshed(conn, report.id)
        if report.reporter_id is not None:
            await push(
                conn,
                now,
                [report.reporter_id],
                N_("🚫 Report {number} ({category}) is not our responsibility: {reason}"),
                lambda _, loc: {**about(services, closed)(_, loc), "reason": why},
            )
        if report.assignee_id is not None and report.assignee_id != staff.id:
            await push(conn, now, [report.assignee_id], STATUS_NOTICE, about(services, closed))
        await close_and_ask_rating(services, conn, closed, now, ask_reporter=True)
        return closed


def may_file_in(person: Person, grid_id: int, community_id: int) -> bool:
    """Team leads file for their grid, organizers for their community, admins anywhere."""
    street, grids, communities = overseen_scopes(person)
    return street or grid_id in grids or community_id in communities


async def hand_over(
    services: Services,
    conn: Connection,
    reports: list[Report],
    to_id: int,
    now: datetime,
    actor_id: int | None,
) -> list[Report]:
    """Give open tasks to `to_id` in the caller's transaction (leave handovers, offboarding). Tasks waiting
    or in hand are assigned afresh: a new sign-for window, the task pushed to them. Those waiting for others
    (`WAITING_FOR_OTHERS`) only change hands. Reporters and followers hear who handles it now — a role, never
    a name."""
    moved = []
    for report in reports:
        if report.assignee_id == to_id or not report.is_open:
            continue
        detail = f"{to_id}:handed_over"
        if report.state in WAITING_FOR_OTHERS:
            updated = await _change_hands(services, conn, report, to_id, now, actor_id, detail)
        else:
            updated = await assign(services, conn, report, to_id, now, actor_id, detail)
        handler = Tr(HANDLER_LABELS[await handler_role(conn, to_id, updated)])
        await tell_residents(services, conn, updated, now, HANDLER_NOTICE, {"handler": handler})
        moved.append(updated)
    return moved


async def _change_hands(
    services: Services, conn: Connection, report: Report, to_id: int, now: datetime, actor_id: int | None,
    detail: str,
) -> Report:
    """`to_id` takes over a task waiting for others (`WAITING_FOR_OTHERS`) as it stands. One waiting for a
    deliberation's outcome is pushed to them saying so, as nothing else tells them why it has no deadline."""
    await store.update(conn, report.id, now, assignee_id=to_id)
    await store.add_event(conn, report.id, now, actor_id, "assigned", detail=detail)
    updated = await refreshed(conn, report.id)
    if updated.state is S.DELIBERATION:
        await push(
            conn,
            now,
            [to_id],
            N_(
                "🗳 Task {number} ({category}) is yours now. It is being decided in deliberation: its fix "
                "deadline is suspended until the outcome, and you will hear it then."
            ),
            about(services, updated),
            buttons=open_task_button(updated.id),
            urgent=updated.urgent,
        )
    return updated


async def handler_role(conn: Connection, person_id: int, report: Report) -> Role:
    """The role in which `person_id` handles a report of this grid: their rung in its routing, else a street
    admin, else a grid worker (of another grid, covering as the person on duty)."""
    for worker, role in await routing.workers(conn, report.grid_id, report.community_id):
        if worker == person_id:
            return role
    if person_id in await store.holders(conn, Role.ADMIN, routing.STREET):
        return Role.ADMIN
    return Role.GRID_WORKER
