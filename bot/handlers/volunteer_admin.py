"""Organizers, team leads and street admins: /volunteer_admin — create an activity in a guided flow,
community projects, the roster, places, reschedule or cancel, check-in by roster or code, verify
hours, export hours as CSV.

Buttons carry ids only (`vadm:<action>:<id>[:<more>]`). Every press and every flow step asks the
service, which re-checks that this person manages this activity: forged data changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import InputFile
from telegram.ext import Application, CallbackQueryHandler

from bot.clock import from_db, to_db
from bot.domain.capacity import SeatState
from bot.domain.people import Scope, ScopeKind
from bot.domain.volunteering import (
    MANAGER_ROLES,
    MAX_CAPACITY,
    MAX_POINTS,
    SHORT_MAX,
    TEXT_MAX,
    TITLE_MAX,
    ProjectStatus,
    RosterLine,
    ServiceStatus,
    Skill,
    clean_code,
    clean_text,
    format_hours,
    parse_count,
    parse_end,
    parse_hours,
    parse_start,
    time_problem,
)
from bot.handlers import flows, menu
from bot.handlers.common import Alert, Ctx, routed
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.times import read_new_times
from bot.handlers.volunteer import (
    EXPIRED,
    PROJECT_STATUS_LABELS,
    SKILL_LABELS,
    Row,
    details,
    list_label,
    moment,
    pager,
    project_lines,
    skills_text,
    toggled,
    toggles,
)
from bot.i18n import N_
from bot.services import volunteering as vol
from bot.services.capacity import CapacityChange
from bot.services.volunteering import Document, Roster
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, paginated

PREFIX = "vadm"
NEW_FLOW = "volunteer_new"
EDIT_FLOW = "volunteer_edit"
PROJECT_FLOW = "volunteer_project"
RECENT = timedelta(days=30)  # ended activities stay in the list this long, for check-in and verification
NOT_YOURS = N_("You don't manage this activity (or it no longer exists).")


def data(action: str, *ids: object) -> str:
    return encode(PREFIX, action, *ids)


def _back(ctx: Ctx, action: str, *ids: object) -> Row:
    return [(ctx._("‹ Back"), data(action, *ids))]


# ---- home, lists, the activity card ---------------------------------------------------------------------


async def cmd_admin(ctx: Ctx) -> None:
    await _home(ctx, fresh=True)


async def _home(ctx: Ctx, *, fresh: bool = False) -> Alert:
    _ = ctx._
    rows: list[Row] = [
        [(_("➕ New activity"), data("new"))],
        [(_("📋 Activities"), data("ls", 0)), (_("📁 Projects"), data("pj", 0))],
        [(_("⬇️ Export all hours (CSV)"), data("csv"))],
    ]
    text = _("<b>🗂 Volunteer activities</b>\nCreate activities, follow their rosters, check volunteers in "
             "and verify their hours.")
    await ctx.display(text, inline(rows), fresh=fresh)
    return None


async def _list(ctx: Ctx, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    items = await vol.managed_all(ctx.services, ctx.person, since=ctx.now - RECENT)
    if not items:
        await ctx.show(_("No activities yet. Create one with “New activity”."),
                       inline([[(_("➕ New activity"), data("new"))], _back(ctx, "home")]))
        return None
    rows = pager(ctx, items, page, lambda o: (list_label(ctx, o, "" if o.open else "❌"), data("o", o.id)),
                 lambda p: data("ls", p))
    text = _("<b>Your activities</b> ({count}): upcoming and the last 30 days.").format(count=len(items))
    await ctx.show(text, inline([*rows, _back(ctx, "home")]))
    return None


def _roster_summary(ctx: Ctx, roster: Roster) -> list[str]:
    _ = ctx._
    counts = roster.counts
    lines = [_("Places: ✅ {confirmed} confirmed · 🙋 {offered} offered · ⏳ {waiting} waiting").format(
        confirmed=counts.confirmed, offered=counts.offered, waiting=counts.waitlisted)]
    lines.append(_("Attendance: {attended} attended · {verified} verified · {no_show} no-show").format(
        attended=len(roster.with_service(ServiceStatus.ATTENDED)),
        verified=len(roster.with_service(ServiceStatus.VERIFIED)),
        no_show=len(roster.with_service(ServiceStatus.NO_SHOW))))
    if counts.fill_rate is not None:
        lines.append(_("Fill rate: {rate}%").format(rate=round(counts.fill_rate * 100)))
    return lines


async def _card(ctx: Ctx, opportunity_id: int, note: str | None = None) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    roster = await vol.roster(ctx.services, ctx.person, opportunity_id)
    if roster is None:
        return NOT_YOURS
    opp = roster.opportunity
    lines = [*details(ctx, opp, roster.counts), "", *_roster_summary(ctx, roster)]
    if note:
        lines += ["", note]
    rows: list[Row] = [[(_("👥 Roster"), data("r", opp.id, 0)),
                        (_("🔢 Enter a check-in code"), data("code", opp.id))]]
    if roster.with_service(ServiceStatus.ATTENDED):
        rows.append([(_("✅ Verify all attended hours"), data("va", opp.id))])
    if opp.open and ctx.now < opp.starts_at:
        rows += [[(_("🔁 Change places"), data("cap", opp.id)), (_("📅 Reschedule"), data("rs", opp.id))],
                 [(_("❌ Cancel activity"), data("x", opp.id))]]
    rows += [[(_("⬇️ Hours (CSV)"), data("csv", opp.id))], [(_("‹ Activities"), data("ls", 0))]]
    await ctx.show("\n".join(lines), inline(rows))
    return None


SERVICE_MARKS = {ServiceStatus.ATTENDED: "☑️", ServiceStatus.VERIFIED: "✅", ServiceStatus.NO_SHOW: "✖️"}
SEAT_MARKS = {SeatState.CONFIRMED: "🆕", SeatState.OFFERED: "🙋", SeatState.WAITLISTED: "⏳"}


def _line_mark(line: RosterLine) -> str:
    if line.service is not None and line.service is not ServiceStatus.EXPECTED:
        return SERVICE_MARKS[line.service]
    return SEAT_MARKS[line.seat]


async def _roster(ctx: Ctx, opportunity_id: int, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    roster = await vol.roster(ctx.services, ctx.person, opportunity_id)
    if roster is None:
        return NOT_YOURS
    text = "\n".join([f"<b>{esc(roster.opportunity.title)}</b>", *_roster_summary(ctx, roster), "",
                      _("🆕 to mark · ☑️ attended, hours pending · ✅ verified · ✖️ no-show · 🙋 offered · "
                        "⏳ waitlist. Pick a person to check them in.")])
    if not roster.lines:
        text += "\n\n" + _("Nobody has signed up yet.")
    rows = pager(ctx, roster.lines, page,
                 lambda line: (f"{_line_mark(line)} {line.name}"[:60],
                               data("pp", opportunity_id, line.seat_id)),
                 lambda p: data("r", opportunity_id, p))
    await ctx.show(text, inline([*rows, _back(ctx, "o", opportunity_id)]))
    return None


async def _person(ctx: Ctx, opportunity_id: int, seat_id: int, note: str | None = None) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    roster = await vol.roster(ctx.services, ctx.person, opportunity_id)
    if roster is None:
        return NOT_YOURS
    line = next((line for line in roster.lines if line.seat_id == seat_id), None)
    if line is None:
        return N_("This person is no longer on the roster.")
    status = {
        SeatState.CONFIRMED: _("has a place"), SeatState.OFFERED: _("was offered a place, not yet confirmed"),
        SeatState.WAITLISTED: _("is on the waitlist"),
    }[line.seat]
    if line.service is not None and line.service is not ServiceStatus.EXPECTED:
        status = _(vol.STATUS_LABELS[line.service])
    lines = [f"{_line_mark(line)} <b>{esc(line.name)}</b>", esc(roster.opportunity.title), status]
    if note:
        lines += ["", note]
    rows: list[Row] = []
    if line.seat is SeatState.CONFIRMED and line.service in {None, ServiceStatus.EXPECTED}:
        rows.append([(_("☑️ Check in"), data("ci", opportunity_id, seat_id)),
                     (_("✖️ No-show"), data("ns", opportunity_id, seat_id))])
    if line.service is ServiceStatus.ATTENDED:
        rows.append([(_("✅ Verify {hours} h").format(hours=format_hours(roster.opportunity.hours)),
                      data("vf", opportunity_id, seat_id))])
    rows.append([(_("‹ Roster"), data("r", opportunity_id, 0))])
    await ctx.show("\n".join(lines), inline(rows))
    return None


CHECK_IN_TEXT: dict[vol.CheckIn, str] = {
    vol.CheckIn.DONE: N_("☑️ {name} is checked in. Hours wait for your verification."),
    vol.CheckIn.ALREADY: N_("{name} was already checked in or marked: a second check-in is refused."),
    vol.CheckIn.NOT_CONFIRMED: N_("This person has no confirmed place, so they cannot be checked in."),
    vol.CheckIn.TOO_EARLY: N_("Check-in opens two hours before the start."),
    vol.CheckIn.UNKNOWN_CODE: N_("No volunteer of this activity has that code. Please check it and try "
                                 "again."),
    vol.CheckIn.NOT_ALLOWED: NOT_YOURS,
}
NO_SHOW_TEXT: dict[vol.CheckIn, str] = {
    **CHECK_IN_TEXT,
    vol.CheckIn.DONE: N_("✖️ {name} is marked as a no-show: no hours, no points."),
    vol.CheckIn.TOO_EARLY: N_("A no-show can be marked once the activity has started."),
}


async def _check_in(ctx: Ctx, opportunity_id: int, seat_id: int) -> Alert:
    assert ctx.person is not None
    result = await vol.check_in(ctx.services, ctx.person, opportunity_id, seat_id=seat_id)
    if result.outcome is vol.CheckIn.NOT_ALLOWED:
        return NOT_YOURS
    return await _person(ctx, opportunity_id, seat_id,
                         ctx._(CHECK_IN_TEXT[result.outcome]).format(name=esc(result.name)))


async def _no_show(ctx: Ctx, opportunity_id: int, seat_id: int) -> Alert:
    assert ctx.person is not None
    result = await vol.mark_no_show(ctx.services, ctx.person, opportunity_id, seat_id)
    if result.outcome is vol.CheckIn.NOT_ALLOWED:
        return NOT_YOURS
    return await _person(ctx, opportunity_id, seat_id,
                         ctx._(NO_SHOW_TEXT[result.outcome]).format(name=esc(result.name)))


async def _verify(ctx: Ctx, opportunity_id: int, seat_id: int | None) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    count = await vol.verify(ctx.services, ctx.person, opportunity_id, None if seat_id is None else [seat_id])
    if count is None:
        return NOT_YOURS
    if count:
        note = _("✅ Verified: {count}. Their hours count now and their points are granted.").format(count=count)
    else:
        note = _("Nothing to verify: only checked-in volunteers' hours can be verified, once.")
    if seat_id is None:
        return await _card(ctx, opportunity_id, note)
    return await _person(ctx, opportunity_id, seat_id, note)


async def _ask_cancel(ctx: Ctx, opportunity_id: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    if await vol.managed_opportunity(ctx.services, ctx.person, opportunity_id) is None:
        return NOT_YOURS
    await ctx.show(_("Cancel this activity? Everyone signed up or waiting will be told."),
                   inline([[(_("Yes, cancel it"), data("xy", opportunity_id)),
                            (_("No"), data("o", opportunity_id))]]))
    return None


CHANGE_TEXT: dict[vol.ChangeOutcome, str] = {
    vol.ChangeOutcome.DONE: N_("Done. Everyone signed up or waiting has been told."),
    vol.ChangeOutcome.NOT_ALLOWED: NOT_YOURS,
    vol.ChangeOutcome.CLOSED: N_("This activity was already cancelled."),
    vol.ChangeOutcome.STARTED: N_("This activity has already started and can no longer be changed."),
    vol.ChangeOutcome.PAST: N_("That time has already passed. Please type a time in the future."),
    vol.ChangeOutcome.BAD_TIMES: N_("The end must be after the start, and an activity lasts at most 7 days."),
}


async def _cancel(ctx: Ctx, opportunity_id: int) -> Alert:
    assert ctx.person is not None
    outcome = await vol.cancel_opportunity(ctx.services, ctx.person, opportunity_id)
    if outcome is vol.ChangeOutcome.NOT_ALLOWED:
        return NOT_YOURS
    return await _card(ctx, opportunity_id, ctx._(CHANGE_TEXT[outcome]))


async def send_document(ctx: Ctx, document: Document, caption: str) -> None:
    await ctx.context.bot.send_document(
        chat_id=ctx.user.id, document=InputFile(document.content, filename=document.filename),
        caption=caption, rate_limit_args="reply",
    )


async def _export(ctx: Ctx, opportunity_id: int | None) -> Alert:
    assert ctx.person is not None
    document = await vol.export_hours(ctx.services, ctx.person, ctx._, opportunity_id)
    if document is None:
        return NOT_YOURS
    await send_document(ctx, document, ctx._("Service hours as CSV (UTF-8; opens in Excel)."))
    return None


# ---- projects ----------------------------------------------------------------------------------------


async def _managed_project(ctx: Ctx, project_id: int) -> vol.Project | None:
    assert ctx.person is not None
    return next((p for p in await vol.managed_projects(ctx.services, ctx.person) if p.id == project_id), None)


async def _projects(ctx: Ctx, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    items = await vol.managed_projects(ctx.services, ctx.person)
    rows = pager(ctx, items, page, lambda p: (p.name[:60], data("p", p.id)), lambda p: data("pj", p))
    if await vol.project_communities(ctx.services, ctx.person):
        rows.append([(_("➕ New project"), data("pnew"))])
    text = (_("<b>Community projects</b> ({count})").format(count=len(items)) if items
            else _("No community projects yet."))
    await ctx.show(text, inline([*rows, _back(ctx, "home")]))
    return None


async def _project(ctx: Ctx, project_id: int, note: str | None = None) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    project = await _managed_project(ctx, project_id)
    if project is None:
        return N_("You don't manage this project (or it no longer exists).")
    lines = project_lines(ctx, project)
    if note:
        lines += ["", note]
    rows: list[Row] = []
    if project.community_id in {c for c, _name in await vol.project_communities(ctx.services, ctx.person)}:
        rows.append([(_(PROJECT_STATUS_LABELS[s]), data("ps", project.id, index))
                     for index, s in enumerate(ProjectStatus) if s is not project.status])
    rows.append([(_("‹ Projects"), data("pj", 0))])
    await ctx.show("\n".join(lines), inline(rows))
    return None


async def _project_status(ctx: Ctx, project_id: int, index: int | None) -> Alert:
    assert ctx.person is not None
    statuses = list(ProjectStatus)
    if index is None or index >= len(statuses):
        return EXPIRED
    if not await vol.set_project_status(ctx.services, ctx.person, project_id, statuses[index]):
        return N_("You don't manage this project (or it no longer exists).")
    return await _project(ctx, project_id, ctx._("Status changed."))


# ---- creating an activity: a guided flow ----------------------------------------------------------------

NEW_STEPS = ("scope", "title", "description", "place", "start", "end", "capacity", "skills", "hours",
             "points", "project", "review")
PROMPTS: dict[str, str] = {
    "title": N_("<b>New activity</b>\nType its title (up to {limit} characters)."),
    "description": N_("Describe it in a few lines: what volunteers will do, what to bring (up to {limit} "
                      "characters)."),
    "place": N_("Where does it take place? (up to {limit} characters)"),
    "start": N_("When does it start? Type the date and time, for example 2026-05-10 09:00 or 5-10 9:00."),
    "end": N_("When does it end? Type the time, for example 11:30, or a date and time."),
    "capacity": N_("How many volunteers are needed? Type a number from 1 to {limit}."),
    "hours": N_("How many service hours does it credit? Pick or type, for example 2 or 1.5."),
    "points": N_("How many points does each volunteer earn once their hours are verified? Pick or type (0 to "
                 "{limit})."),
}
LIMITS: dict[str, int] = {"title": TITLE_MAX, "description": TEXT_MAX, "place": SHORT_MAX,
                          "capacity": MAX_CAPACITY, "points": MAX_POINTS}
QUICK: dict[str, list[str]] = {"capacity": ["5", "10", "20"], "hours": ["1", "2", "3", "4"],
                               "points": ["0", "5", "10", "20"]}


async def _start_new(ctx: Ctx) -> Alert:
    assert ctx.person is not None
    if not await vol.creatable_scopes(ctx.services, ctx.person):
        return N_("You cannot create activities anywhere.")
    await show(ctx, new_draft(ctx, NEW_FLOW, "scope", page=0, skills=[]))
    return None


def _scope_label(ctx: Ctx, scope: Scope, name: str) -> str:
    _ = ctx._
    if scope.kind is ScopeKind.STREET:
        return _("the whole street")
    label = _("{name} (community)") if scope.kind is ScopeKind.COMMUNITY else _("{name} (grid)")
    return label.format(name=name)


def _review(ctx: Ctx, d: dict[str, Any]) -> str:
    _ = ctx._
    starts, ends = from_db(d["starts_at"]), from_db(d["ends_at"])
    lines = [
        _("<b>Check and publish</b>"),
        f"<b>{esc(d['title'])}</b>",
        esc(d.get("description") or ""),
        "🎯 " + esc(d["scope_label"]),
        "🗓 " + esc(f"{moment(ctx, starts)} – {moment(ctx, ends)}"),
        "📍 " + esc(d["place"]),
        "👥 " + _("places: {capacity}").format(capacity=d["capacity"]),
        "🕒 " + _("service hours: {hours} · points: {points}").format(hours=format_hours(d["hours"]),
                                                                   points=d["points"]),
        "🧰 " + esc(skills_text(ctx, [Skill(s) for s in d["skills"]])),
    ]
    if d.get("project_name"):
        lines.append("📁 " + esc(d["project_name"]))
    lines += ["", _("Publishing tells the volunteers of this scope about it.")]
    return "\n".join(line for line in lines if line)


async def _new_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    step, d = draft.step, draft.data
    nav = flows.back_row(ctx)
    if step == "scope":
        scopes = await vol.creatable_scopes(ctx.services, ctx.person)
        rows = flows.pick_rows(ctx, scopes, int(d.get("page", 0)),
                               lambda s: (_scope_label(ctx, *s)[:40], f"s:{s[0].kind.value}:{s[0].id}"))
        return _("<b>New activity</b>\nFor whom? Pick the scope: its volunteers will be told."), rows, None
    if step == "skills":
        return (_("Which skills are wanted? Pick any, then press Next."),
                [*toggles(ctx, list(SKILL_LABELS.items()), d["skills"], "sk"), [(_("Next ›"), "next")], nav],
                None)
    if step == "project":
        projects = [p for p in await vol.managed_projects(ctx.services, ctx.person)
                    if p.status is not ProjectStatus.COMPLETED
                    and (d.get("community_id") is None or p.community_id == d.get("community_id"))]
        rows, _page, _pages = paginated(projects, int(d.get("page", 0)), per_page=6, per_row=1,
                                        button=lambda p: (p.name[:40], f"p:{p.id}"), nav=lambda p: f"pg:{p}",
                                        counter=_("{page} of {pages}"))
        return (_("Does it belong to a community project?"), [*rows, [(_("No project"), "p:0")], nav], None)
    if step == "review":
        return _review(ctx, d), [[(_("📣 Publish"), "publish")], nav], None
    prompt = _(PROMPTS[step]).format(limit=LIMITS.get(step, ""))
    quick = [[(value, f"q:{value}") for value in QUICK[step]]] if step in QUICK else []
    extra = [[(_("Skip"), "skip")]] if step == "description" else []
    return prompt, [*quick, *extra, nav], None


async def _new_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    if ctx.person is None or not vol.is_manager(ctx.person):
        await end_flow(ctx, draft)
        await ctx.answer(_(EXPIRED), alert=True)
        return
    step, action = draft.step, turn.action
    if await flows.cancel_or_back(turn, flows.step_before(NEW_STEPS, step), N_("No activity was created.")):
        return
    if step == "scope":
        await _new_scope(turn)
    elif step == "skills":
        if action == "sk" and turn.args and turn.args[0] in Skill.__members__.values():
            await turn.goto("skills", skills=toggled(draft.data["skills"], turn.args[0]))
        elif action == "next":
            await turn.goto("hours")
        else:
            await not_understood(turn)
    elif step == "project":
        await _new_project_choice(turn)
    elif step == "review" and action == "publish":
        await _publish(turn)
    elif step in PROMPTS:
        await _new_answer(turn)
    else:
        await not_understood(turn)


async def _new_scope(turn: Turn) -> None:
    ctx = turn.ctx
    assert ctx.person is not None
    if turn.action == "pg":
        await turn.goto("scope", page=turn.int_arg() or 0)
        return
    if turn.action != "s" or len(turn.args) < 2 or turn.args[0] not in ScopeKind.__members__.values():
        await not_understood(turn)
        return
    wanted = Scope(kind=ScopeKind(turn.args[0]), id=int_part(turn.args, 1) or 0)
    scopes = await vol.creatable_scopes(ctx.services, ctx.person)
    match = next(((s, n) for s, n in scopes if s == wanted), None)
    if match is None:
        await ctx.answer(ctx._("You cannot create activities there."), alert=True)
        return
    community_id = await vol.community_of_scope(ctx.services.db, wanted)
    await turn.goto("title", scope_kind=wanted.kind.value, scope_id=wanted.id, community_id=community_id,
                    scope_label=_scope_label(ctx, *match), page=0)


async def _new_answer(turn: Turn) -> None:
    """A typed (or quick-picked) answer to one of the text steps; a bad one is explained and asked again."""
    ctx, draft, step = turn.ctx, turn.draft, turn.draft.step
    _ = ctx._
    if turn.action == "skip" and step == "description":
        await turn.goto("place", description="")
        return
    if turn.action not in {None, "q"}:
        await not_understood(turn)
        return
    # A sticker or photo reads as no text: it gets the same explanation as a bad answer.
    text = (turn.args[0] if turn.args else "") if turn.action == "q" else (turn.text or "")
    tz = ctx.services.settings.tz
    saved: dict[str, object] | None = None
    problem = _("Sorry, I couldn't read that.")
    if step in {"title", "place"}:
        value = clean_text(text, LIMITS[step])
        saved = None if value is None else {step: value}
        problem = _("Please type one line of up to {limit} characters.").format(limit=LIMITS[step])
    elif step == "description":
        value = clean_text(text, TEXT_MAX, multiline=True)
        saved = None if value is None else {"description": value}
        problem = _("Please type up to {limit} characters.").format(limit=TEXT_MAX)
    elif step == "start":
        starts = parse_start(text, ctx.now, tz)
        if starts is not None and time_problem(starts, None, ctx.now) is None:
            saved = {"starts_at": to_db(starts)}
        elif starts is not None:
            problem = _(CHANGE_TEXT[vol.ChangeOutcome.PAST])
    elif step == "end":
        starts = from_db(str(draft.data["starts_at"]))
        ends = parse_end(text, starts, ctx.now, tz)
        if ends is not None and time_problem(starts, ends, ctx.now) is None:
            saved = {"ends_at": to_db(ends)}
        elif ends is not None:
            problem = _(CHANGE_TEXT[vol.ChangeOutcome.BAD_TIMES])
    elif step == "capacity":
        count = parse_count(text, low=1, high=MAX_CAPACITY)
        saved = None if count is None else {"capacity": count}
        problem = _("Please type a number from 1 to {limit}.").format(limit=MAX_CAPACITY)
    elif step == "hours":
        hours = parse_hours(text)
        saved = None if hours is None else {"hours": hours}
        problem = _("Please type the hours as a number, for example 2 or 1.5 (at most 24).")
    elif step == "points":
        points = parse_count(text, low=0, high=MAX_POINTS)
        saved = None if points is None else {"points": points}
        problem = _("Please type a number from 0 to {limit}.").format(limit=MAX_POINTS)
    if saved is None:
        await flows.ask_again(turn, problem)
        return
    await turn.goto(NEW_STEPS[NEW_STEPS.index(step) + 1], **saved)


async def _new_project_choice(turn: Turn) -> None:
    ctx = turn.ctx
    assert ctx.person is not None
    if turn.action == "pg":
        await turn.goto("project", page=turn.int_arg() or 0)
        return
    if turn.action != "p" or turn.int_arg() is None:
        await not_understood(turn)
        return
    project_id = turn.int_arg()
    if not project_id:
        await turn.goto("review", project_id=None, project_name=None)
        return
    project = await _managed_project(ctx, project_id)
    if project is None:
        await ctx.answer(ctx._("You don't manage this project (or it no longer exists)."), alert=True)
        return
    await turn.goto("review", project_id=project.id, project_name=project.name)


PUBLISH_REFUSALS: dict[vol.PublishRefusal, str] = {
    vol.PublishRefusal.NOT_ALLOWED: N_("You cannot create activities there."),
    vol.PublishRefusal.BAD_PROJECT: N_("That project is completed or belongs to another community."),
    vol.PublishRefusal.PAST: N_("The start time has passed meanwhile. Please set a new time."),
    vol.PublishRefusal.BAD_TIMES: CHANGE_TEXT[vol.ChangeOutcome.BAD_TIMES],
}


async def _publish(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    d = draft.data
    new = vol.NewOpportunity(
        title=d["title"], description=d.get("description") or "",
        scope=Scope(kind=ScopeKind(d["scope_kind"]), id=d["scope_id"]), place=d["place"],
        starts_at=from_db(d["starts_at"]), ends_at=from_db(d["ends_at"]), capacity=d["capacity"],
        skills=[Skill(s) for s in d["skills"]], hours=d["hours"], points=d["points"],
        project_id=d.get("project_id"),
    )
    if not await end_flow(ctx, draft):
        return  # a double tap: the first one published
    result = await vol.publish(ctx.services, ctx.person, new)
    if isinstance(result, vol.PublishRefusal):
        await ctx.show(_(PUBLISH_REFUSALS[result]))
        return
    await ctx.show(_("📣 Published. Volunteers being told: {count}.").format(count=result.announced))
    await _home_after(ctx, result.opportunity_id)


async def _home_after(ctx: Ctx, opportunity_id: int) -> None:
    """A fresh message with the new activity's buttons, so the flow's message stays as a receipt."""
    await ctx.reply(ctx._("Manage it here:"),
                    inline([[(ctx._("🗂 Open the activity"), data("o", opportunity_id))]]))


# ---- editing an activity: places, reschedule, check-in codes -----------------------------------------------


async def _start_edit(ctx: Ctx, opportunity_id: int, step: str) -> Alert:
    assert ctx.person is not None
    opp = await vol.managed_opportunity(ctx.services, ctx.person, opportunity_id)
    if opp is None:
        return NOT_YOURS
    await show(ctx, new_draft(ctx, EDIT_FLOW, step, opportunity_id=opp.id, title=opp.title, last=""))
    return None


async def _edit_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    d = draft.data
    done: list[Button] = [(_("‹ Back to the activity"), "done")]
    head = f"<b>{esc(d['title'])}</b>\n"
    if draft.step == "capacity":
        text = _("Type the new number of places (1 to {limit}). It cannot go below the places already taken; "
                 "more places go to the waitlist first.").format(limit=MAX_CAPACITY)
        return head + text, [done], None
    if draft.step == "start":
        return head + _("Type the new start, for example 2026-05-10 09:00 or 5-10 9:00."), [done], None
    if draft.step == "end":
        return head + _("Type the new end, for example 11:30, or a date and time."), [done], None
    last = d.get("last") or ""
    return (head + (last + "\n\n" if last else "")
            + _("Type the 6-digit check-in code the volunteer shows you. You can type one code after "
                "another."),
            [done], None)


async def _edit_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    opportunity_id = int(draft.data["opportunity_id"])
    if turn.action == "done":
        await end_flow(ctx, draft)
        await _answered(ctx, await _card(ctx, opportunity_id))
        return
    if ctx.person is not None and draft.step == "code" and turn.action is None:
        await _edit_code(turn, opportunity_id)
        return
    if ctx.person is None or turn.text is None:
        await not_understood(turn)
        return
    if draft.step == "capacity":
        count = parse_count(turn.text, low=1, high=MAX_CAPACITY)
        if count is None:
            await ctx.reply(_("Please type a number from 1 to {limit}.").format(limit=MAX_CAPACITY))
            return
        result = await vol.change_capacity(ctx.services, ctx.person, opportunity_id, count)
        if result is None or result.outcome is CapacityChange.CLOSED:
            await end_flow(ctx, draft)
            await ctx.reply(_(NOT_YOURS) if result is None else _(CHANGE_TEXT[vol.ChangeOutcome.CLOSED]))
            return
        if result.outcome is CapacityChange.BELOW_HELD:
            await ctx.reply(_("Places cannot go below {lowest}: that many are already taken or offered. Type "
                              "another number.").format(lowest=result.lowest))
            return
        await end_flow(ctx, draft)
        note = _("Places changed to {count}.").format(count=count)
        if result.offers:
            note += " " + _("Offered to the waitlist: {offered}.").format(
                offered=len(result.offers))
        await _fresh_card(ctx, opportunity_id, note)
    elif draft.step in {"start", "end"}:
        times = await read_new_times(turn)
        if times is None:
            return
        outcome = await vol.reschedule(ctx.services, ctx.person, opportunity_id, *times)
        if outcome in {vol.ChangeOutcome.PAST, vol.ChangeOutcome.BAD_TIMES}:
            await ctx.reply(_(CHANGE_TEXT[outcome]))
            return
        await end_flow(ctx, draft)
        await _fresh_card(ctx, opportunity_id, _(CHANGE_TEXT[outcome]))


async def _edit_code(turn: Turn, opportunity_id: int) -> None:
    ctx = turn.ctx
    _ = ctx._
    assert ctx.person is not None
    code = clean_code(turn.text)
    if code is None:
        await turn.goto("code", last=_("A check-in code has 6 digits."))
        return
    result = await vol.check_in(ctx.services, ctx.person, opportunity_id, code=code)
    if result.outcome is vol.CheckIn.NOT_ALLOWED:
        await end_flow(ctx, turn.draft)
        await ctx.reply(_(NOT_YOURS))
        return
    await turn.goto("code", last=_(CHECK_IN_TEXT[result.outcome]).format(name=result.name))


async def _fresh_card(ctx: Ctx, opportunity_id: int, note: str) -> None:
    """After a typed answer there is no button to edit: the card comes as a new message."""
    await ctx.reply(note, inline([[(ctx._("🗂 Open the activity"), data("o", opportunity_id))]]))


async def _answered(ctx: Ctx, alert: Alert) -> None:
    if alert:
        await ctx.answer(ctx._(alert), alert=True)


# ---- a new project: a short flow ------------------------------------------------------------------------


async def _start_project(ctx: Ctx) -> Alert:
    assert ctx.person is not None
    communities = await vol.project_communities(ctx.services, ctx.person)
    if not communities:
        return N_("Only organizers of a community and street admins create projects.")
    if len(communities) == 1:
        await show(ctx, new_draft(ctx, PROJECT_FLOW, "name", community_id=communities[0][0]))
    else:
        await show(ctx, new_draft(ctx, PROJECT_FLOW, "community", page=0))
    return None


PROJECT_STEPS = ("community", "name", "organisation", "description", "review")
NO_PROJECT = N_("No project was created.")


async def _project_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    nav = flows.back_row(ctx)
    d = draft.data
    if draft.step == "community":
        communities = await vol.project_communities(ctx.services, ctx.person)
        rows = flows.pick_rows(ctx, communities, int(d.get("page", 0)), lambda c: (c[1][:40], f"c:{c[0]}"))
        return _("<b>New community project</b>\nWhich community runs it?"), rows, None
    if draft.step == "name":
        return _("<b>New community project</b>\nType its name (up to {limit} characters).").format(
            limit=TITLE_MAX), [nav], None
    if draft.step == "organisation":
        text = _("Which organisation runs it? (up to {limit} characters)").format(limit=SHORT_MAX)
        return text, [nav], None
    if draft.step == "description":
        return (_("Describe the project (up to {limit} characters).").format(limit=TEXT_MAX),
                [[(_("Skip"), "skip")], nav], None)
    text = "\n".join([_("<b>Create this project?</b>"), f"📁 <b>{esc(d['name'])}</b>",
                      _("Run by: {organisation}").format(organisation=esc(d["organisation"])),
                      esc(d.get("description") or "")])
    return text, [[(_("Create"), "create")], nav], None


async def _project_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    step, action = draft.step, turn.action
    if ctx.person is None:
        await flows.stop(turn, NO_PROJECT)
        return
    # Back from the name ends it: the community step is skipped for someone with one community.
    if await flows.cancel_or_back(turn, flows.step_before(PROJECT_STEPS, step, first=1), NO_PROJECT):
        return
    if step == "community" and action == "pg":
        await turn.goto("community", page=turn.int_arg() or 0)
    elif step == "community" and action == "c" and turn.int_arg() is not None:
        await turn.goto("name", community_id=turn.int_arg())
    elif step == "description" and action == "skip":
        await turn.goto("review", description="")
    elif step == "review" and action == "create":
        await _create_project(turn)
    elif step in {"name", "organisation", "description"} and turn.text is not None:
        limit = {"name": TITLE_MAX, "organisation": SHORT_MAX, "description": TEXT_MAX}[step]
        value = clean_text(turn.text, limit, multiline=step == "description")
        if value is None:
            await ctx.reply(_("Please type up to {limit} characters.").format(limit=limit))
            return
        await turn.goto(PROJECT_STEPS[PROJECT_STEPS.index(step) + 1], **{step: value})
    else:
        await not_understood(turn)


async def _create_project(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    if not await end_flow(ctx, draft):
        return
    d = draft.data
    project_id = await vol.create_project(
        ctx.services, ctx.person, name=d["name"], organisation=d["organisation"],
        description=d.get("description") or "", community_id=int(d["community_id"]),
    )
    if project_id is None:
        await ctx.show(_("Only organizers of a community and street admins create projects."))
        return
    await ctx.show(_("📁 Project created. Attach activities to it when you create them."))
    await ctx.reply(_("Manage it here:"), inline([[(_("📁 Open the project"), data("p", project_id))]]))


# ---- the button router -------------------------------------------------------------------------------------


async def _route(ctx: Ctx, parts: list[str]) -> Alert:
    if ctx.person is None or not ctx.person.onboarded or not vol.is_manager(ctx.person):
        return N_("This is for organizers, grid team leads and street admins.")
    action = parts[0] if parts else ""
    first, second = int_part(parts, 1), int_part(parts, 2)
    if len(parts) == 1:
        simple = {"home": _home, "new": _start_new, "pnew": _start_project}
        if action in simple:
            return await simple[action](ctx)
        if action == "csv":
            return await _export(ctx, None)
        return EXPIRED
    if first is None:
        return EXPIRED
    if action in {"ls", "pj"}:
        return await (_list if action == "ls" else _projects)(ctx, first)
    one_id = {"o": _card, "va": lambda c, o: _verify(c, o, None), "x": _ask_cancel, "xy": _cancel,
              "csv": _export, "p": _project}
    if action in one_id:
        return await one_id[action](ctx, first)
    edits = {"cap": "capacity", "rs": "start", "code": "code"}
    if action in edits:
        return await _start_edit(ctx, first, edits[action])
    if second is None:
        return EXPIRED
    two_ids = {"r": _roster, "pp": _person, "ci": _check_in, "ns": _no_show, "vf": _verify,
               "ps": _project_status}
    if action in two_ids:
        return await two_ids[action](ctx, first, second)
    return EXPIRED


def register(application: Application) -> None:
    register_flow(application, NEW_FLOW, Flow(_new_turn, _new_view))
    register_flow(application, EDIT_FLOW, Flow(_edit_turn, _edit_view))
    register_flow(application, PROJECT_FLOW, Flow(_project_turn, _project_view))
    menu.add_command(application, menu.Command(
        "volunteer_admin", N_("Manage volunteer activities: rosters, check-in, hours"), cmd_admin,
        roles=MANAGER_ROLES, order=60))
    application.add_handler(CallbackQueryHandler(routed(_route), pattern=rf"^{PREFIX}:"), group=COMMANDS)
