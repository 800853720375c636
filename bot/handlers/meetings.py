"""Meetings in Telegram.

Residents answer a notice with its buttons (`mtg:r:<meeting>:<g|m|n>`), confirm a place offered from the
waitlist (`mtg:cf:<meeting>`) and ask for the calendar file (`mtg:ics:<meeting>`); a "going" answer is
confirmed privately with the .ics file, whether the notice came in a private chat or in a group.

Organizers and street admins use /meetings: create a meeting in a guided flow, send its notice (the
/broadcast flow with the meeting attached), see the counts and the list of answers (residents never
see who else answered), mark attendance, reschedule, cancel and post the minutes. Staff buttons are
`mtga:<action>:<meeting>[:...]`; every press asks the service, which re-checks who may do what.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import InputFile
from telegram.ext import Application, CallbackQueryHandler

from bot.clock import from_db, to_db
from bot.domain.capacity import SeatState
from bot.domain.meetings import (
    AGENDA_MAX,
    MANAGER_ROLES,
    MAX_CAPACITY,
    MINUTES_MAX,
    PLACE_MAX,
    TITLE_MAX,
    Answer,
    AnswerLine,
    Meeting,
)
from bot.domain.volunteering import clean_text, parse_count, parse_end, parse_start
from bot.handlers import broadcast as broadcast_handlers
from bot.handlers import flows, menu
from bot.handlers.common import EXPIRED, Alert, Ctx, routed
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.times import read_new_times
from bot.i18n import N_
from bot.services import ics
from bot.services import meetings as service
from bot.services.capacity import ConfirmOutcome
from bot.services.meetings import ANSWER_CODES, CALLBACK, Outcome, Refusal
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, paginated
from bot.ui.timefmt import format_moment

STAFF = "mtga"
NEW_FLOW = "meeting_new"
EDIT_FLOW = "meeting_edit"
RECENT = timedelta(days=30)
NOT_YOURS = N_("You don't manage this meeting (or it no longer exists).")
Row = list[tuple[str, str]]

SEAT_MARKS = {SeatState.CONFIRMED: "✅", SeatState.OFFERED: "🙋", SeatState.WAITLISTED: "⏳"}
REFUSALS: dict[Refusal, str] = {
    Refusal.NOT_ALLOWED: NOT_YOURS,
    Refusal.PAST: N_("That time has already passed. Please type a time in the future."),
    Refusal.BAD_TIMES: N_("The end must be after the start, and a meeting lasts at most 12 hours."),
    Refusal.CLOSED: N_("This meeting was cancelled."),
    Refusal.STARTED: N_("This meeting has already started and can no longer be changed."),
    Refusal.NOT_STARTED: N_("This can be done once the meeting has started."),
    Refusal.ALREADY: N_("The minutes of this meeting were already posted."),
}


def staff_data(action: str, *ids: object) -> str:
    return encode(STAFF, action, *ids)


def moment(ctx: Ctx, when: Any) -> str:
    return format_moment(when, ctx.locale, ctx.services.settings.tz)


def details(ctx: Ctx, meeting: Meeting) -> list[str]:
    _ = ctx._
    lines = [f"📅 <b>{esc(meeting.title)}</b>", f"🗓 {esc(moment(ctx, meeting.starts_at))} – "
             f"{esc(moment(ctx, meeting.ends_at))}", f"📍 {esc(meeting.place)}"]
    if meeting.agenda:
        lines.append(esc(meeting.agenda))
    if not meeting.open:
        lines.append(_("❌ Cancelled"))
    return lines


# ---- residents: answers, offers, the calendar file ------------------------------------------------------------


ANSWER_TEXT: dict[Outcome, str] = {
    Outcome.GOING: N_("✅ You're going to <b>{title}</b> ({starts}). Here is the calendar file; you will get "
                      "reminders 24 hours and 2 hours before."),
    Outcome.ALREADY_GOING: N_("You are already going to <b>{title}</b> ({starts})."),
    Outcome.MAYBE: N_("🤔 Noted: maybe, for <b>{title}</b> ({starts})."),
    Outcome.NO: N_("Noted: you can't go to <b>{title}</b> ({starts}). Thank you for telling us."),
    Outcome.CLOSED: N_("This meeting was cancelled."),
    Outcome.STARTED: N_("This meeting has already started; answers are closed."),
}


async def send_calendar(ctx: Ctx, meeting: Meeting, caption: str) -> None:
    content = ics.meeting_ics(meeting, tz=ctx.services.settings.tz, now=ctx.now)
    await ctx.context.bot.send_document(
        chat_id=ctx.user.id, document=InputFile(content, filename=ics.filename(meeting.id)), caption=caption,
        rate_limit_args="reply",
    )


async def _answer(ctx: Ctx, meeting_id: int, code: str) -> str | None:
    """Record the answer; the confirmation goes to the person's private chat, never to a group."""
    _ = ctx._
    assert ctx.person is not None
    given = ANSWER_CODES.get(code)
    if given is None:
        return EXPIRED
    result = await service.answer(ctx.services, ctx.person, meeting_id, given)
    if result.meeting is None or result.outcome in {Outcome.CLOSED, Outcome.STARTED}:
        return ANSWER_TEXT[Outcome.CLOSED] if result.meeting is None else ANSWER_TEXT[result.outcome]
    meeting = result.meeting
    params = {"title": esc(meeting.title), "starts": esc(moment(ctx, meeting.starts_at))}
    if result.outcome is Outcome.WAITLISTED:
        text = _("⏳ <b>{title}</b> is full. You are number {position} on the waitlist; if a place frees up it is "
                 "offered to you here.").format(position=result.position or 1, **params)
        await ctx.reply(text)
    elif result.outcome is Outcome.GOING:
        await send_calendar(ctx, meeting, _(ANSWER_TEXT[Outcome.GOING]).format(**params))
    else:
        await ctx.reply(_(ANSWER_TEXT[result.outcome]).format(**params))
    if ctx.in_private_chat:
        return None
    return N_("Thank you, your answer is recorded. Details are in your private chat with me.")


CONFIRM_TEXT: dict[ConfirmOutcome, str] = {
    ConfirmOutcome.ALREADY: N_("Your place is already confirmed."),
    ConfirmOutcome.NO_OFFER: N_("This offer has run out or was given up; the place went to the next person."),
    ConfirmOutcome.CLOSED: N_("This meeting was cancelled or has started."),
}


async def _confirm(ctx: Ctx, meeting_id: int) -> str | None:
    assert ctx.person is not None
    outcome, meeting = await service.confirm_offer(ctx.services, ctx.person, meeting_id)
    if outcome is not ConfirmOutcome.CONFIRMED or meeting is None:
        return CONFIRM_TEXT.get(outcome, CONFIRM_TEXT[ConfirmOutcome.CLOSED])
    params = {"title": esc(meeting.title), "starts": esc(moment(ctx, meeting.starts_at))}
    await send_calendar(ctx, meeting, ctx._(ANSWER_TEXT[Outcome.GOING]).format(**params))
    return None


async def _calendar(ctx: Ctx, meeting_id: int) -> str | None:
    assert ctx.person is not None
    meeting = await service.calendar_meeting(ctx.services, ctx.person, meeting_id)
    if meeting is None:
        return N_("The calendar file is for people who answered this meeting's notice.")
    await send_calendar(ctx, meeting, ctx._("🗓 Calendar file for <b>{title}</b>.").format(title=esc(meeting.title)))
    return None


async def _resident_route(ctx: Ctx, parts: list[str]) -> Alert:
    meeting_id = int_part(parts, 1)
    if ctx.person is None or not ctx.person.onboarded:
        return N_("Please open a private chat with me and send /start first; then you can answer.")
    if meeting_id is None:
        return EXPIRED
    if parts[0] == "r" and len(parts) == 3:
        return await _answer(ctx, meeting_id, parts[2])
    if parts[0] == "cf":
        return await _confirm(ctx, meeting_id)
    if parts[0] == "ics":
        return await _calendar(ctx, meeting_id)
    return EXPIRED


# ---- organizers: home, card, list of answers, attendance ---------------------------------------------------


async def cmd_meetings(ctx: Ctx) -> None:
    await _home(ctx, fresh=True)


async def _home(ctx: Ctx, *, fresh: bool = False) -> None:
    _ = ctx._
    assert ctx.person is not None
    items = await service.managed_list(ctx.services, ctx.person, since=ctx.now - RECENT)
    rows: list[Row] = [[(_("➕ New meeting"), staff_data("new"))]]
    rows += [[((("" if m.open else "❌ ") + f"{moment(ctx, m.starts_at)} {m.title}")[:60],
               staff_data("o", m.id))] for m in items[:20]]
    text = _("<b>📅 Meetings</b>\nCreate a meeting, send its notice, follow the answers and post the minutes.")
    if not items:
        text += "\n\n" + _("No meetings in the last 30 days or ahead.")
    await ctx.display(text, inline(rows), fresh=fresh)


async def _card(ctx: Ctx, meeting_id: int, note: str | None = None, *, fresh: bool = False) -> str | None:
    _ = ctx._
    assert ctx.person is not None
    view = await service.overview(ctx.services, ctx.person, meeting_id)
    if view is None:
        return NOT_YOURS
    meeting, counts = view.meeting, view.counts
    places = (_("places: {capacity}").format(capacity=counts.capacity) if counts.capacity is not None
              else _("no limit on places"))
    lines = [*details(ctx, meeting), "",
             _("👥 {places} · ✅ going {going} · 🙋 offered {offered} · ⏳ waitlist {waiting}").format(
                 places=places, going=counts.confirmed, offered=counts.offered, waiting=counts.waitlisted),
             _("🤔 maybe {maybe} · ❌ can't go {no}").format(maybe=view.answered(Answer.MAYBE),
                                                              no=view.answered(Answer.NO))]
    started = ctx.now >= meeting.starts_at
    if started:
        lines.append(_("Attended: {count}").format(count=len(view.attended)))
    if meeting.minutes:
        lines.append(_("📝 Minutes posted."))
    if note:
        lines += ["", note]
    rows: list[Row] = [[(_("👥 Answers"), staff_data("l", meeting.id, 0))]]
    if meeting.open and not started:
        rows += [[(_("📣 Send the notice"), staff_data("n", meeting.id))],
                 [(_("📅 Reschedule"), staff_data("rs", meeting.id)), (_("❌ Cancel"), staff_data("x", meeting.id))]]
    if meeting.open and started and not meeting.minutes:
        rows.append([(_("📝 Post the minutes"), staff_data("mn", meeting.id))])
    rows.append([(_("‹ Meetings"), staff_data("home"))])
    text = "\n".join(lines)
    await ctx.display(text, inline(rows), fresh=fresh)
    return None


def _line_label(ctx: Ctx, line: AnswerLine, started: bool) -> str:
    mark = SEAT_MARKS.get(line.seat, "⌛") if line.answer is Answer.GOING and line.seat else ""
    if line.answer is not Answer.GOING:
        mark = "🤔" if line.answer is Answer.MAYBE else "❌"
    if started:
        mark += " ☑️" if line.attended else " ✖️"
    return f"{mark} {line.name}"[:60]


async def _answers(ctx: Ctx, meeting_id: int, page: int) -> str | None:
    _ = ctx._
    assert ctx.person is not None
    view = await service.overview(ctx.services, ctx.person, meeting_id)
    if view is None:
        return NOT_YOURS
    started = ctx.now >= view.meeting.starts_at
    legend = _("✅ going · 🙋 offered · ⏳ waitlist · ⌛ place lapsed · 🤔 maybe · ❌ can't go")
    if started:
        legend += "\n" + _("☑️ attended · ✖️ absent. Tap a person to change their attendance. People not marked "
                           "count as attended when they had a place.")
    text = "\n".join([f"<b>{esc(view.meeting.title)}</b>", legend])
    if not view.lines:
        text += "\n\n" + _("Nobody has answered yet.")
    rows, _page, _pages = paginated(
        view.lines, page, per_page=10, per_row=1,
        button=lambda line: (_line_label(ctx, line, started),
                             staff_data("a", meeting_id, line.person_id, 0 if line.attended else 1) if started
                             else staff_data("l", meeting_id, page)),
        nav=lambda p: staff_data("l", meeting_id, p), counter=_("{page} of {pages}"))
    await ctx.show(text, inline([*rows, [(_("‹ Back"), staff_data("o", meeting_id))]]))
    return None


async def _attendance(ctx: Ctx, meeting_id: int, person_id: int, present: int) -> str | None:
    assert ctx.person is not None
    refusal = await service.mark_attendance(ctx.services, ctx.person, meeting_id, person_id, bool(present))
    if refusal is not None:
        return REFUSALS[refusal]
    return await _answers(ctx, meeting_id, 0)


async def _ask_cancel(ctx: Ctx, meeting_id: int) -> str | None:
    _ = ctx._
    assert ctx.person is not None
    if await service.managed(ctx.services, ctx.person, meeting_id) is None:
        return NOT_YOURS
    await ctx.show(_("Cancel this meeting? Everyone who answered or got its notice will be told."),
                   inline([[(_("Yes, cancel it"), staff_data("xy", meeting_id)),
                            (_("No"), staff_data("o", meeting_id))]]))
    return None


async def _cancel(ctx: Ctx, meeting_id: int) -> str | None:
    assert ctx.person is not None
    refusal = await service.cancel(ctx.services, ctx.person, meeting_id)
    if refusal is Refusal.NOT_ALLOWED:
        return NOT_YOURS
    note = ctx._(REFUSALS[refusal]) if refusal else ctx._("Cancelled. Everyone who answered or got its notice is "
                                                          "being told.")
    return await _card(ctx, meeting_id, note)


async def _notice(ctx: Ctx, meeting_id: int) -> str | None:
    assert ctx.person is not None
    if await service.managed(ctx.services, ctx.person, meeting_id) is None:
        return NOT_YOURS
    return await broadcast_handlers.start_for_meeting(ctx, meeting_id)


async def _route(ctx: Ctx, parts: list[str]) -> str | None:
    if ctx.person is None or not service.is_manager(ctx.person):
        return N_("This is for organizers and street admins.")
    action = parts[0] if parts else ""
    if action == "home":
        await _home(ctx)
        return None
    if action == "new":
        return await _start_new(ctx)
    first, second, third = int_part(parts, 1), int_part(parts, 2), int_part(parts, 3)
    if first is None:
        return EXPIRED
    one = {"o": _card, "x": _ask_cancel, "xy": _cancel, "n": _notice}
    if action in one:
        return await one[action](ctx, first)
    if action in {"rs", "mn"}:
        return await _start_edit(ctx, first, "start" if action == "rs" else "minutes")
    if action == "l" and second is not None:
        return await _answers(ctx, first, second)
    if action == "a" and second is not None and third in {0, 1}:
        assert third is not None
        return await _attendance(ctx, first, second, third)
    return EXPIRED


# ---- creating a meeting: a guided flow ------------------------------------------------------------------------

NEW_STEPS = ("area", "title", "agenda", "place", "start", "end", "capacity", "topic", "review")
PROMPTS: dict[str, str] = {
    "title": N_("<b>New meeting</b>\nType its title (up to {limit} characters)."),
    "agenda": N_("Type the agenda (up to {limit} characters), or Skip."),
    "place": N_("Where is it held? (up to {limit} characters)"),
    "start": N_("When does it start? Type the date and time, for example 2026-05-10 19:00 or 5-10 19:00."),
    "end": N_("When does it end? Type the time, for example 21:00, or a date and time."),
    "capacity": N_("How many places are there? Type a number from 1 to {limit}, or press No limit. When it is "
                   "full, more people who answer Going join a waitlist."),
    "topic": N_("Is it a session of a deliberation topic? Type the topic's number, or Skip. Its eligible people "
                "will get the minutes."),
}
LIMITS = {"title": TITLE_MAX, "agenda": AGENDA_MAX, "place": PLACE_MAX, "capacity": MAX_CAPACITY}


async def _start_new(ctx: Ctx) -> str | None:
    assert ctx.person is not None
    areas = await service.creatable_areas(ctx.services, ctx.person)
    if not areas:
        return N_("This is for organizers and street admins.")
    if len(areas) == 1:
        await show(ctx, new_draft(ctx, NEW_FLOW, "title", community_id=areas[0][0], area_name=areas[0][1]))
    else:
        await show(ctx, new_draft(ctx, NEW_FLOW, "area", page=0))
    return None


def _area_label(ctx: Ctx, community_id: int | None, name: str) -> str:
    return ctx._("the whole street") if community_id is None else name


def _review(ctx: Ctx, d: dict[str, Any]) -> str:
    _ = ctx._
    capacity = d.get("capacity")
    lines = [_("<b>Check and create</b>"), f"📅 <b>{esc(d['title'])}</b>",
             f"🗓 {esc(moment(ctx, from_db(d['starts_at'])))} – {esc(moment(ctx, from_db(d['ends_at'])))}",
             f"📍 {esc(d['place'])}", "🎯 " + esc(_area_label(ctx, d.get("community_id"), d.get("area_name", ""))),
             "👥 " + (_("places: {capacity}").format(capacity=capacity) if capacity else _("no limit on places"))]
    if d.get("agenda"):
        lines.append(esc(d["agenda"]))
    if d.get("topic_id"):
        lines.append(_("🗳 Deliberation topic #{id}").format(id=d["topic_id"]))
    return "\n".join(lines)


async def _new_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    step, d = draft.step, draft.data
    nav = flows.back_row(ctx)
    if step == "area":
        areas = await service.creatable_areas(ctx.services, ctx.person)
        rows = flows.pick_rows(ctx, areas, int(d.get("page", 0)),
                               lambda a: (_area_label(ctx, *a)[:40], f"c:{a[0] or 0}"))
        return _("<b>New meeting</b>\nWhose meeting is it?"), rows, None
    if step == "review":
        return _review(ctx, d), [[(_("✅ Create"), "create")], nav], None
    prompt = _(PROMPTS[step]).format(limit=LIMITS.get(step, ""))
    extra: list[list[Button]] = []
    if step in {"agenda", "topic"}:
        extra = [[(_("Skip"), "skip")]]
    elif step == "capacity":
        extra = [[("20", "q:20"), ("50", "q:50"), ("100", "q:100")], [(_("No limit"), "skip")]]
    return prompt, [*extra, nav], None


async def _new_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    if ctx.person is None or not service.is_manager(ctx.person):
        await end_flow(ctx, draft)
        await ctx.answer(_(EXPIRED), alert=True)
        return
    step, action = draft.step, turn.action
    # Back from the title ends it: the area step is skipped for someone with one area.
    previous = flows.step_before(NEW_STEPS, step, first=1)
    if await flows.cancel_or_back(turn, previous, N_("No meeting was created.")):
        return
    if step == "area":
        await _pick_area(turn)
    elif step == "review" and action == "create":
        await _create(turn)
    elif step in PROMPTS:
        await _new_answer(turn)
    else:
        await not_understood(turn)


async def _pick_area(turn: Turn) -> None:
    ctx = turn.ctx
    assert ctx.person is not None
    if turn.action == "pg":
        await turn.goto("area", page=turn.int_arg() or 0)
        return
    wanted = turn.int_arg() if turn.action == "c" else None
    areas = dict(await service.creatable_areas(ctx.services, ctx.person))
    community_id = wanted or None
    if wanted is None or community_id not in areas:
        await not_understood(turn)
        return
    await turn.goto("title", community_id=community_id, area_name=areas[community_id])


async def _new_answer(turn: Turn) -> None:
    """A typed (or quick-picked) answer to a text step; a bad one is explained and asked again."""
    ctx, draft, step = turn.ctx, turn.draft, turn.draft.step
    _ = ctx._
    if turn.action == "skip" and step in {"agenda", "capacity", "topic"}:
        following = {"agenda": "place", "capacity": "topic", "topic": "review"}[step]
        await turn.goto(following, **{{"agenda": "agenda", "capacity": "capacity", "topic": "topic_id"}[step]: None})
        return
    text = turn.args[0] if turn.action == "q" and turn.args else turn.text
    if turn.action not in {None, "q"} or text is None:
        await not_understood(turn)
        return
    tz = ctx.services.settings.tz
    saved: dict[str, Any] | None = None
    problem = _("Please type up to {limit} characters.").format(limit=LIMITS.get(step, ""))
    if step in {"title", "agenda", "place"}:
        value = clean_text(text, LIMITS[step], multiline=step == "agenda")
        saved = None if value is None else {step: value}
    elif step == "start":
        starts = parse_start(text, ctx.now, tz)
        saved = None if starts is None or starts <= ctx.now else {"starts_at": to_db(starts)}
        problem = _(REFUSALS[Refusal.PAST]) if starts is not None else _("Sorry, I couldn't read that.")
    elif step == "end":
        ends = parse_end(text, from_db(draft.data["starts_at"]), ctx.now, tz)
        starts = from_db(draft.data["starts_at"])
        saved = None if ends is None or not starts < ends <= starts + timedelta(hours=12) else {"ends_at": to_db(ends)}
        problem = _(REFUSALS[Refusal.BAD_TIMES]) if ends is not None else _("Sorry, I couldn't read that.")
    elif step == "capacity":
        count = parse_count(text, low=1, high=MAX_CAPACITY)
        saved = None if count is None else {"capacity": count}
        problem = _("Please type a number from 1 to {limit}.").format(limit=MAX_CAPACITY)
    elif step == "topic":
        topic = parse_count(text.lstrip("#"), low=1, high=10**9)
        saved = None if topic is None else {"topic_id": topic}
        problem = _("Please type the topic's number, or Skip.")
    if saved is None:
        await flows.ask_again(turn, problem)
        return
    await turn.goto(NEW_STEPS[NEW_STEPS.index(step) + 1], **saved)


async def _create(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    d = draft.data
    new = service.NewMeeting(title=d["title"], agenda=d.get("agenda") or "", place=d["place"],
                             community_id=d.get("community_id"), starts_at=from_db(d["starts_at"]),
                             ends_at=from_db(d["ends_at"]), capacity=d.get("capacity"), topic_id=d.get("topic_id"))
    if not await end_flow(ctx, draft):
        return  # a double tap: the first one created it
    result = await service.create(ctx.services, ctx.person, new)
    if isinstance(result, Refusal):
        await ctx.show(_(REFUSALS[result]))
        return
    await ctx.show(_review(ctx, d) + "\n\n" + _("✅ Created. Send its notice so people can answer."))
    await ctx.reply(_("What next?"), inline([[(_("📣 Send the notice"), staff_data("n", result))],
                                              [(_("🗂 Open the meeting"), staff_data("o", result))]]))


# ---- rescheduling and minutes ----------------------------------------------------------------------------------


async def _start_edit(ctx: Ctx, meeting_id: int, step: str) -> str | None:
    assert ctx.person is not None
    meeting = await service.managed(ctx.services, ctx.person, meeting_id)
    if meeting is None:
        return NOT_YOURS
    if step == "minutes":
        refusal = Refusal.NOT_STARTED if ctx.now < meeting.starts_at else Refusal.ALREADY if meeting.minutes else None
    else:
        refusal = service.changeable(meeting, ctx.now)
    if refusal is not None:
        return REFUSALS[refusal]
    await show(ctx, new_draft(ctx, EDIT_FLOW, step, meeting_id=meeting.id, title=meeting.title))
    return None


async def _edit_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    head = f"<b>{esc(draft.data['title'])}</b>\n"
    done: list[Button] = [(_("‹ Back to the meeting"), "done")]
    if draft.step == "minutes":
        return head + _("Type the minutes (up to {limit} characters). They go to those who attended and, for a "
                        "linked deliberation, to its eligible people.").format(limit=MINUTES_MAX), [done], None
    if draft.step == "end":
        return head + _("Type the new end, for example 21:00, or a date and time."), [done], None
    return head + _("Type the new start, for example 2026-05-10 19:00 or 5-10 19:00. Everyone who answered will be "
                    "told and the reminders move."), [done], None


async def _edit_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    meeting_id = int(draft.data["meeting_id"])
    if turn.action == "done":
        await end_flow(ctx, draft)
        alert = await _card(ctx, meeting_id)
        if alert:
            await ctx.answer(_(alert), alert=True)
        return
    if ctx.person is None or turn.text is None or turn.action is not None:
        await not_understood(turn)
        return
    if draft.step == "minutes":
        minutes = clean_text(turn.text, MINUTES_MAX, multiline=True)
        if minutes is None:
            await ctx.reply(_("Please type up to {limit} characters.").format(limit=MINUTES_MAX))
            return
        result = await service.post_minutes(ctx.services, ctx.person, meeting_id, minutes)
        await end_flow(ctx, draft)
        note = (_(REFUSALS[result.refusal]) if result.refusal else
                _("📝 Minutes sent to {attended} who attended and {eligible} eligible people of the topic.").format(
                    attended=result.attended, eligible=result.eligible))
        await _card(ctx, meeting_id, note, fresh=True)
    elif draft.step in {"start", "end"}:
        times = await read_new_times(turn)
        if times is None:
            return
        refusal = await service.reschedule(ctx.services, ctx.person, meeting_id, *times)
        if refusal in {Refusal.PAST, Refusal.BAD_TIMES}:
            assert refusal is not None
            await ctx.reply(_(REFUSALS[refusal]))
            return
        await end_flow(ctx, draft)
        note = _(REFUSALS[refusal]) if refusal else _("Moved. Everyone who answered is being told; the reminders "
                                                        "moved too.")
        await _card(ctx, meeting_id, note, fresh=True)


def register(application: Application) -> None:
    register_flow(application, NEW_FLOW, Flow(_new_turn, _new_view))
    register_flow(application, EDIT_FLOW, Flow(_edit_turn, _edit_view))
    menu.add_command(application, menu.Command(
        "meetings", N_("Meetings: create, send notices, answers, minutes"), cmd_meetings, roles=MANAGER_ROLES,
        menu_label=N_("📅 Meetings"), order=62))
    application.add_handler(CallbackQueryHandler(routed(_resident_route), pattern=rf"^{CALLBACK}:"), group=COMMANDS)
    application.add_handler(CallbackQueryHandler(routed(_route), pattern=rf"^{STAFF}:"), group=COMMANDS)
