"""Residents volunteering: /volunteer (join, browse, sign up, cancel, confirm an offered place,
projects) and /myhours (hours, points, history and the service record document).

Buttons carry ids only (`vol:<action>:<id>[:<page>]`); every press re-reads the activity and the
person's seat and lets the service decide, so forged or stale data gets a polite refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from telegram import InputFile
from telegram.ext import Application, CallbackQueryHandler

from bot.domain.capacity import Counts, SeatState, SignUpOutcome
from bot.domain.volunteering import (
    Availability,
    Opportunity,
    ProjectStatus,
    ServiceStatus,
    Skill,
    format_hours,
)
from bot.handlers import menu
from bot.handlers.common import EXPIRED, Alert, Ctx, routed
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, register_flow, show, stop
from bot.handlers.groups import COMMANDS
from bot.i18n import N_
from bot.services import volunteering as vol
from bot.services.capacity import CancelOutcome, ConfirmOutcome
from bot.services.volunteering import CALLBACK, Card, button_data
from bot.storage import people
from bot.storage.drafts import Draft
from bot.ui.callbacks import int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, page_of, paginated
from bot.ui.timefmt import format_moment

T = TypeVar("T")
Row = list[tuple[str, str]]
PER_PAGE = 5
JOIN_FLOW = "volunteer_join"
SKILL_LABELS: dict[Skill, str] = {
    Skill.GENERAL: N_("general help"),
    Skill.ELDERLY: N_("caring for the elderly"),
    Skill.CHILDREN: N_("children and youth"),
    Skill.CLEANING: N_("cleaning and greening"),
    Skill.MEDICAL: N_("first aid and health"),
    Skill.TECH: N_("phones and computers"),
    Skill.TRANSLATION: N_("languages and translation"),
    Skill.EVENTS: N_("events and culture"),
}
AVAILABILITY_LABELS: dict[Availability, str] = {
    Availability.WEEKDAYS: N_("weekdays"),
    Availability.EVENINGS: N_("evenings"),
    Availability.WEEKENDS: N_("weekends"),
}
PROJECT_STATUS_LABELS: dict[ProjectStatus, str] = {
    ProjectStatus.PLANNED: N_("planned"),
    ProjectStatus.ACTIVE: N_("running"),
    ProjectStatus.COMPLETED: N_("completed"),
}
STATUS_MARKS: dict[ServiceStatus, str] = {
    ServiceStatus.EXPECTED: "🆕", ServiceStatus.ATTENDED: "⏳", ServiceStatus.NO_SHOW: "✖️",
    ServiceStatus.VERIFIED: "✅",
}
SEAT_MARKS: dict[SeatState, str] = {
    SeatState.CONFIRMED: "✅", SeatState.OFFERED: "🙋", SeatState.WAITLISTED: "⏳",
}


# ---- shared rendering (bot/handlers/volunteer_admin.py uses these too) ----------------------------------


def moment(ctx: Ctx, when: datetime) -> str:
    return format_moment(when, ctx.locale, ctx.services.settings.tz)


def span(ctx: Ctx, opp: Opportunity) -> str:
    """`Sat 8 Mar 09:00 – 11:00`, or both dates when it ends on another day."""
    tz = ctx.services.settings.tz
    start, end = opp.starts_at.astimezone(tz), opp.ends_at.astimezone(tz)
    end_text = end.strftime("%H:%M") if start.date() == end.date() else moment(ctx, opp.ends_at)
    return f"{moment(ctx, opp.starts_at)} – {end_text}"


def list_label(ctx: Ctx, opp: Opportunity, mark: str = "") -> str:
    """One activity as a list button: `✅ Sat 8 Mar 09:00 · Title` (ids go in the data, never labels)."""
    return f"{mark} {moment(ctx, opp.starts_at)} · {opp.title}".strip()[:60]


def skills_text(ctx: Ctx, skills: Sequence[Skill]) -> str:
    return ", ".join(ctx._(SKILL_LABELS[s]) for s in skills) or "—"


def places_text(ctx: Ctx, counts: Counts) -> str:
    _ = ctx._
    if counts.capacity is None:
        return _("{taken} signed up").format(taken=counts.held)
    text = _("{taken} of {capacity} places taken").format(taken=counts.held, capacity=counts.capacity)
    if counts.waitlisted:
        text += " · " + _("{waiting} on the waitlist").format(waiting=counts.waitlisted)
    return text


def details(ctx: Ctx, opp: Opportunity, counts: Counts) -> list[str]:
    """The lines every view of an activity starts with: title, time, place, places, rewards."""
    _ = ctx._
    lines = [f"<b>{esc(opp.title)}</b>"]
    if not opp.open:
        lines.append(_("❌ Cancelled"))
    lines += [
        "🗓 " + esc(span(ctx, opp)),
        "📍 " + esc(opp.place),
        "👥 " + places_text(ctx, counts),
        "🕒 " + _("service hours: {hours} · points: {points}").format(
            hours=format_hours(opp.hours), points=opp.points),
    ]
    if opp.skills:
        lines.append("🧰 " + esc(skills_text(ctx, opp.skills)))
    if opp.project_name:
        lines.append("📁 " + esc(opp.project_name))
    return lines


def pager(
    ctx: Ctx, items: Sequence[T], page: int, button: Callable[[T], tuple[str, str]], nav: Callable[[int], str]
) -> list[Row]:
    """One item per row, then a ‹ "3 of 12" › row when there is more than one page."""
    rows, _page, _pages = paginated(items, page, per_page=PER_PAGE, per_row=1, button=button, nav=nav,
                                    counter=ctx._("{page} of {pages}"))
    return rows


def toggles(ctx: Ctx, labels: Sequence[tuple[StrEnum, str]], chosen: Sequence[str], action: str) -> list[Row]:
    """Multiple-choice buttons, two a row, the chosen ones ticked."""
    buttons = [(("✅ " if code.value in chosen else "") + ctx._(label), f"{action}:{code.value}")
               for code, label in labels]
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


def toggled(chosen: list[str], code: str) -> list[str]:
    return [c for c in chosen if c != code] if code in chosen else [*chosen, code]


# ---- /volunteer --------------------------------------------------------------------------------------


async def cmd_volunteer(ctx: Ctx) -> None:
    await _home(ctx, fresh=True)


async def _home(ctx: Ctx, *, fresh: bool = False) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    profile = await vol.volunteer(ctx.services, ctx.person)
    rows: list[Row] = [[(_("📅 Upcoming activities"), button_data("ls", 0))]]
    if profile is None:
        text = _("<b>🙋 Volunteering</b>\nHelp your neighbours: join community activities and projects, "
                 "earn service hours and points. Become a volunteer to sign up.")
        rows.insert(0, [(_("Become a volunteer"), button_data("join"))])
    else:
        summary, _entries = await vol.my_hours(ctx.services, ctx.person)
        text = _("<b>🙋 Volunteering</b>\nverified service hours: {hours} · points: {points}").format(
            hours=format_hours(summary.verified_hours), points=summary.points)
        rows += [[(_("🙋 My sign-ups"), button_data("my", 0))], [(_("🕒 My hours"), button_data("h", 0))],
                 [(_("Edit my skills"), button_data("join"))]]
    rows.append([(_("📁 Community projects"), button_data("pj", 0))])
    if vol.is_manager(ctx.person):
        rows.append([(_("🗂 Manage activities"), "vadm:home")])
    await ctx.display(text, inline(rows), fresh=fresh)
    return None


def _back_home(ctx: Ctx) -> Row:
    return [(ctx._("‹ Back"), button_data("home"))]


async def _list(ctx: Ctx, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    items = await vol.upcoming_for(ctx.services, ctx.person)
    if not items:
        await ctx.show(_("No upcoming volunteer activities in your community right now. Volunteers hear "
                         "about new ones as soon as they are published."), inline([_back_home(ctx)]))
        return None
    rows = pager(ctx, items, page, lambda o: (list_label(ctx, o), button_data("o", o.id)),
                 lambda p: button_data("ls", p))
    await ctx.show(_("<b>Upcoming activities</b> ({count})\nPick one to see the details and sign up.").format(
        count=len(items)), inline([*rows, _back_home(ctx)]))
    return None


def _seat_line(ctx: Ctx, card: Card) -> str | None:
    _ = ctx._
    seat = card.seat
    if seat is None or not seat.active:
        return None
    if seat.state is SeatState.CONFIRMED:
        return _("✅ You have a place.")
    if seat.state is SeatState.WAITLISTED:
        return _("⏳ You are number {position} on the waitlist.").format(position=card.position)
    if seat.offer_expires_at is not None:
        return _("🙋 A place is offered to you: please confirm by {deadline}.").format(
            deadline=esc(moment(ctx, seat.offer_expires_at)))
    return _("🙋 A place is offered to you: please confirm.")


def _card_buttons(ctx: Ctx, card: Card) -> list[Row]:
    _ = ctx._
    opp = card.opportunity
    state = card.seat.state if card.seat is not None else None
    rows: list[Row] = []
    if opp.open and not card.started:
        if state is SeatState.CONFIRMED:
            rows.append([(_("🔢 My check-in code"), button_data("code", opp.id)),
                         (_("Cancel my place"), button_data("cl", opp.id))])
        elif state is SeatState.OFFERED:
            rows.append([(_("✅ Confirm my place"), button_data("cf", opp.id)),
                         (_("Give it up"), button_data("no", opp.id))])
        elif state is SeatState.WAITLISTED:
            rows.append([(_("Leave the waitlist"), button_data("cl", opp.id))])
        elif card.eligible:
            full = card.counts.free is not None and (card.counts.free <= 0 or card.counts.waitlisted > 0)
            rows.append([(_("Join the waitlist") if full else _("🙋 Sign up"), button_data("su", opp.id))])
    elif state is SeatState.CONFIRMED and opp.open:
        rows.append([(_("🔢 My check-in code"), button_data("code", opp.id))])
    if opp.project_id is not None:
        rows.append([(_("📁 About the project"), button_data("p", opp.project_id, 0))])
    rows.append([(_("‹ Activities"), button_data("ls", 0))])
    return rows


async def _card_text(ctx: Ctx, card: Card, note: str | None) -> str:
    _ = ctx._
    lines = details(ctx, card.opportunity, card.counts)
    if card.opportunity.description:
        lines += ["", esc(card.opportunity.description)]
    seat_line = _seat_line(ctx, card)
    if seat_line:
        lines += ["", seat_line]
    elif card.started and card.opportunity.open:
        lines += ["", _("This activity has started; sign-up is closed.")]
    elif not card.eligible:
        lines += ["", _("This activity is for volunteers of another community or grid.")]
    if note:
        lines += ["", note]
    return "\n".join(lines)


async def _card(ctx: Ctx, opportunity_id: int, note: str | None = None, *, fresh: bool = False) -> Alert:
    assert ctx.person is not None
    card = await vol.card(ctx.services, ctx.person, opportunity_id)
    if card is None:
        return N_("This activity no longer exists.")
    text, markup = await _card_text(ctx, card, note), inline(_card_buttons(ctx, card))
    await ctx.display(text, markup, fresh=fresh)
    return None


SIGN_UP_REFUSALS: dict[SignUpOutcome | vol.Refusal, str] = {
    SignUpOutcome.ALREADY: N_("You are already signed up for this activity."),
    SignUpOutcome.STARTED: N_("This activity has already started; sign-up is closed."),
    SignUpOutcome.CLOSED: N_("This activity was cancelled; sign-up is closed."),
    vol.Refusal.NOT_ELIGIBLE: N_("This activity is for volunteers of another community or grid."),
    vol.Refusal.NOT_FOUND: N_("This activity no longer exists."),
}


async def _sign_up(ctx: Ctx, opportunity_id: int, *, accept_overlap: bool, fresh: bool = False) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    result = await vol.sign_up(ctx.services, ctx.person, opportunity_id, accept_overlap=accept_overlap)
    if result.outcome is None:
        titles = ", ".join(f"“{t}”" for t in result.overlaps if t) or _("another activity")
        text = _("⚠️ This overlaps with {titles}, which you are already signed up for. "
                 "Sign up anyway?").format(titles=esc(titles))
        markup = inline([[(_("Sign up anyway"), button_data("sf", opportunity_id)),
                          (_("‹ Back"), button_data("o", opportunity_id))]])
        await ctx.display(text, markup, fresh=fresh)
        return None
    if result.outcome is vol.Refusal.NOT_VOLUNTEER:
        return await _start_join(ctx, then=opportunity_id)
    if result.outcome in SIGN_UP_REFUSALS:
        await _card(ctx, opportunity_id, fresh=fresh)
        return SIGN_UP_REFUSALS[result.outcome]
    if result.outcome is SignUpOutcome.CONFIRMED:
        note = _("✅ You're signed up. We'll remind you the day before and two hours before.")
    else:
        note = _("The activity is full. You are number {position} on the waitlist; we'll message you if a "
                 "place frees up.").format(position=result.position)
    return await _card(ctx, opportunity_id, note, fresh=fresh)


CANCEL_TEXT: dict[CancelOutcome, str] = {
    CancelOutcome.CANCELLED: N_("Done: you are no longer signed up. Thank you for letting us know."),
    CancelOutcome.NOT_SIGNED_UP: N_("You are not signed up for this activity."),
    CancelOutcome.STARTED: N_("This activity has already started, so it can no longer be cancelled. Please "
                              "tell the organizer if you cannot come."),
}


async def _ask_cancel(ctx: Ctx, opportunity_id: int) -> Alert:
    _ = ctx._
    await ctx.show(_("Cancel your place? If people are waiting, the first of them gets it."),
                   inline([[(_("Yes, cancel"), button_data("cy", opportunity_id)),
                            (_("Keep it"), button_data("o", opportunity_id))]]))
    return None


async def _cancel(ctx: Ctx, opportunity_id: int) -> Alert:
    assert ctx.person is not None
    outcome = await vol.cancel(ctx.services, ctx.person, opportunity_id)
    return await _card(ctx, opportunity_id, ctx._(CANCEL_TEXT[outcome]))


CONFIRM_TEXT: dict[ConfirmOutcome, str] = {
    ConfirmOutcome.CONFIRMED: N_("✅ Confirmed: the place is yours. See you there!"),
    ConfirmOutcome.ALREADY: N_("You have already confirmed this place."),
    ConfirmOutcome.NO_OFFER: N_("Sorry, this offer is no longer open: it was not confirmed in time or was "
                                "given up."),
    ConfirmOutcome.CLOSED: N_("This activity was cancelled or has already started."),
}


async def _confirm(ctx: Ctx, opportunity_id: int) -> Alert:
    assert ctx.person is not None
    outcome = await vol.confirm(ctx.services, ctx.person, opportunity_id)
    return await _card(ctx, opportunity_id, ctx._(CONFIRM_TEXT[outcome]))


async def _code(ctx: Ctx, opportunity_id: int) -> Alert:
    assert ctx.person is not None
    code = await vol.check_in_code(ctx.services, ctx.person, opportunity_id)
    if code is None:
        return N_("You have no confirmed place at this activity, so there is no check-in code.")
    await ctx.reply(ctx._("Your check-in code: <code>{code}</code>\nShow it to the organizer when you "
                          "arrive. It works once.").format(code=f"{code[:3]} {code[3:]}"))
    return None


async def _my_sign_ups(ctx: Ctx, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    items = await vol.my_sign_ups(ctx.services, ctx.person)
    if not items:
        await ctx.show(_("You are not signed up for any upcoming activity."),
                       inline([[(_("📅 Upcoming activities"), button_data("ls", 0))], _back_home(ctx)]))
        return None
    rows = pager(ctx, items, page, lambda item: (list_label(ctx, item[0], SEAT_MARKS[item[1]]),
                                                 button_data("o", item[0].id)),
                 lambda p: button_data("my", p))
    text = _("<b>My sign-ups</b> ({count})\n✅ place · 🙋 offered, please confirm · ⏳ waitlist")
    await ctx.show(text.format(count=len(items)), inline([*rows, _back_home(ctx)]))
    return None


async def _projects(ctx: Ctx, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    items = await vol.projects_for(ctx.services, ctx.person)
    if not items:
        await ctx.show(_("There are no community projects in your community yet."), inline([_back_home(ctx)]))
        return None
    rows = pager(ctx, items, page, lambda p: (p.name[:60], button_data("p", p.id, 0)),
                 lambda p: button_data("pj", p))
    await ctx.show(_("<b>Community projects</b> ({count})").format(count=len(items)),
                   inline([*rows, _back_home(ctx)]))
    return None


def project_lines(ctx: Ctx, project: vol.Project) -> list[str]:
    _ = ctx._
    lines = [
        f"📁 <b>{esc(project.name)}</b>",
        _("Run by: {organisation}").format(organisation=esc(project.organisation)),
        _("Community: {community}").format(community=esc(project.community_name)),
        _("Status: {status}").format(status=_(PROJECT_STATUS_LABELS[project.status])),
    ]
    if project.description:
        lines += ["", esc(project.description)]
    return lines


async def _project(ctx: Ctx, project_id: int, page: int) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    project = await vol.project(ctx.services, project_id)
    if project is None:
        return N_("This project no longer exists.")
    activities = await vol.upcoming_for(ctx.services, ctx.person, project_id=project.id)
    lines = [*project_lines(ctx, project), "",
             _("Upcoming activities you can join: {count}").format(count=len(activities))]
    rows = pager(ctx, activities, page, lambda o: (list_label(ctx, o), button_data("o", o.id)),
                 lambda p: button_data("p", project.id, p))
    await ctx.show("\n".join(lines), inline([*rows, [(_("‹ Projects"), button_data("pj", 0))]]))
    return None


# ---- /myhours ----------------------------------------------------------------------------------------


async def cmd_myhours(ctx: Ctx) -> None:
    await _hours(ctx, 0, fresh=True)


async def _hours(ctx: Ctx, page: int, *, fresh: bool = False) -> Alert:
    _ = ctx._
    assert ctx.person is not None
    summary, entries = await vol.my_hours(ctx.services, ctx.person)
    lines = [
        _("<b>🕒 My service hours</b>"),
        _("Verified hours: {hours} · activities: {count}").format(
            hours=format_hours(summary.verified_hours), count=summary.activities),
        _("Hours waiting for verification: {hours}").format(hours=format_hours(summary.pending_hours)),
        _("Points: {points}").format(points=summary.points),
    ]
    shown, page, pages = page_of(entries, page, PER_PAGE)
    if entries:
        lines += ["", _("<b>History</b>")]
        lines += [_("{mark} {date} {title}: {hours} h, {points} points ({status})").format(
            mark=STATUS_MARKS[e.status], date=esc(moment(ctx, e.starts_at)), title=esc(e.title),
            hours=format_hours(e.hours), points=e.points, status=_(vol.STATUS_LABELS[e.status]))
            for e in shown]
    else:
        lines += ["", _("No service yet. Send /volunteer to find an activity.")]
    rows: list[Row] = []
    if pages > 1:
        nav = [("‹", button_data("h", page - 1))] if page > 0 else []
        nav.append((_("{page} of {pages}").format(page=page + 1, pages=pages), button_data("h", page)))
        if page < pages - 1:
            nav.append(("›", button_data("h", page + 1)))
        rows.append(nav)
    if summary.activities:
        rows.append([(_("📄 Service record"), button_data("rec"))])
    markup = inline(rows) if rows else None
    await ctx.display("\n".join(lines), markup, fresh=fresh)
    return None


async def _record(ctx: Ctx) -> Alert:
    assert ctx.person is not None
    document = await vol.service_record(ctx.services, ctx.person, ctx._)
    if document is None:
        return N_("There are no verified service hours to put on a record yet.")
    await ctx.context.bot.send_document(
        chat_id=ctx.user.id, document=InputFile(document.content, filename=document.filename),
        caption=ctx._("Your volunteer service record. Open it in a browser to read or print it."),
        rate_limit_args="reply",
    )
    return None


# ---- becoming a volunteer: a flow of skills → free times → consent -------------------------------------


async def _start_join(ctx: Ctx, *, then: int | None = None) -> Alert:
    assert ctx.person is not None
    profile = await vol.volunteer(ctx.services, ctx.person)
    await show(ctx, new_draft(
        ctx, JOIN_FLOW, "skills", then=then,
        skills=[s.value for s in profile.skills] if profile else [],
        availability=[a.value for a in profile.availability] if profile else [],
    ))
    return None


async def _join_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    if draft.step == "skills":
        return (_("What would you like to help with? Pick any, then press Next."),
                [*toggles(ctx, list(SKILL_LABELS.items()), draft.data["skills"], "sk"),
                 [(_("Cancel"), "cancel"), (_("Next ›"), "next")]], None)
    if draft.step == "availability":
        return (_("When are you usually free? Pick any, then press Next."),
                [*toggles(ctx, list(AVAILABILITY_LABELS.items()), draft.data["availability"], "av"),
                 [(_("‹ Back"), "back"), (_("Next ›"), "next")]], None)
    text = _("<b>Volunteer privacy</b>\nAs a volunteer, Gongzhi stores your skills, when you are free, your "
             "sign-ups, attendance, service hours and points. Organizers of the activities you join see your "
             "name and attendance. /mydata shows it all and /deleteme erases it.\n\nDo you agree?")
    buttons: list[list[Button]] = [[(_("I agree"), "agree"), (_("No, thanks"), "cancel")],
                                   [(_("‹ Back"), "back")]]
    return text, buttons, None


async def _join_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    if ctx.person is None or not ctx.person.onboarded:
        await end_flow(ctx, draft)
        return
    step, action, arg = draft.step, turn.action, turn.args[0] if turn.args else None
    if action == "cancel":
        await stop(turn, N_("Nothing was changed."))
    elif step == "skills" and action == "sk" and arg in Skill.__members__.values():
        await turn.goto("skills", skills=toggled(draft.data["skills"], arg))
    elif step == "availability" and action == "av" and arg in Availability.__members__.values():
        await turn.goto("availability", availability=toggled(draft.data["availability"], arg))
    elif step == "skills" and action == "next":
        await turn.goto("availability")
    elif step == "availability" and action == "next":
        await turn.goto("consent")
    elif step == "availability" and action == "back":
        await turn.goto("skills")
    elif step == "consent" and action == "back":
        await turn.goto("availability")
    elif step == "consent" and action == "agree":
        await _finish_join(turn)
    elif action is None:
        await ctx.reply(_("Please use the buttons above, or /cancel to stop."))
    else:
        await ctx.answer(_(EXPIRED), alert=True)


async def _finish_join(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    if not await end_flow(ctx, draft):
        return  # a double tap: the first one joined
    outcome = await vol.join(ctx.services, ctx.person, [Skill(s) for s in draft.data["skills"]],
                             [Availability(a) for a in draft.data["availability"]])
    if outcome is vol.JoinOutcome.NO_HOME:
        await ctx.show(_("A volunteer belongs to a community: please set your home first with /profile."))
        return
    if outcome is vol.JoinOutcome.UPDATED:
        await ctx.show(_("Your skills and free times are updated."))
        return
    await ctx.show(_("🎉 Welcome, volunteer! You'll hear about new activities in your community."))
    then = draft.data.get("then")
    if isinstance(then, int):  # joined from an activity's Sign up button: finish what they started
        ctx.person = await people.by_id(ctx.services.db, ctx.person.id) or ctx.person
        alert = await _sign_up(ctx, then, accept_overlap=False, fresh=True)
        if alert:
            await ctx.reply(_(alert))


# ---- the button router -------------------------------------------------------------------------------


async def _route(ctx: Ctx, parts: list[str]) -> Alert:
    if ctx.person is None or not ctx.person.onboarded:
        return N_("Please finish signing up first: send /start.")
    action = parts[0] if parts else ""
    target = int_part(parts, 1)
    if len(parts) == 1 and action in {"home", "join", "rec"}:
        return await {"home": _home, "join": _start_join, "rec": _record}[action](ctx)
    if target is None:
        return EXPIRED
    if action in {"ls", "my", "pj", "h"}:
        return await {"ls": _list, "my": _my_sign_ups, "pj": _projects, "h": _hours}[action](ctx, target)
    if action in {"o", "cl", "cy", "no", "cf", "code"}:
        by_id = {"o": _card, "cl": _ask_cancel, "cy": _cancel, "no": _cancel, "cf": _confirm, "code": _code}
        return await by_id[action](ctx, target)
    if action in {"su", "sf"}:
        return await _sign_up(ctx, target, accept_overlap=action == "sf")
    if action == "p":
        return await _project(ctx, target, int_part(parts, 2) or 0)
    return EXPIRED


def register(application: Application) -> None:
    register_flow(application, JOIN_FLOW, Flow(_join_turn, _join_view))
    menu.add_command(application, menu.Command(
        "volunteer", N_("Volunteer: activities, sign-ups and projects"), cmd_volunteer,
        menu_label=N_("🙋 Volunteer"), order=30))
    menu.add_command(application, menu.Command(
        "myhours", N_("Your service hours, points and service record"), cmd_myhours, order=31))
    application.add_handler(CallbackQueryHandler(routed(_route), pattern=rf"^{CALLBACK}:"), group=COMMANDS)
