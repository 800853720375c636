"""Grid workers' tasks: /tasks, the task card, Accept, Not mine, progress notes, Mark fixed (note and
after-photo), the reporter's contact and "Ask the reporter".

Also the pieces the other report screens share: the report card text, paged lists that say "3 of 12",
and `report_note`, one small flow for every "type a few words (or send a photo)" step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.people import Person, Role
from bot.domain.reports import (
    AWAITING_ACCEPT,
    BEING_FIXED,
    NOTE_MAX,
    Report,
    ReportEvent,
    ReportState,
)
from bot.handlers import menu
from bot.handlers.common import EXPIRED, Ctx
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.i18n import N_
from bot.services import reports as report_service
from bot.services import tasks as task_service
from bot.services.container import Services
from bot.services.reports import STATE_LABELS, Refused
from bot.storage.drafts import Draft
from bot.ui.callbacks import decode, encode, int_part
from bot.ui.html import esc, shorten
from bot.ui.keyboards import inline
from bot.ui.timefmt import format_moment, format_relative

PER_PAGE = 5
NOTE_FLOW = "report_note"
TASK_ROLES = frozenset({Role.GRID_WORKER, Role.PART_TIME_WORKER, Role.SECRETARY, Role.ORGANIZER, Role.ADMIN})
EVENT_LABELS: dict[str, str] = {
    "filed": N_("filed"),
    "assigned": N_("assigned to a grid worker"),
    "accepted": N_("accepted"),
    "handed_back": N_("handed back for reassignment"),
    "progress": N_("progress"),
    "resolved": N_("resolved"),
    "reopened": N_("reopened: not fixed"),
    "confirmed_fixed": N_("confirmed fixed"),
    "closed_unverified": N_("closed unverified"),
    "not_sure": N_("reporter not sure it is fixed"),
    "withdrawn": N_("withdrawn"),
    "merged": N_("merged into"),
    "merged_in": N_("a duplicate was merged in"),
    "followed": N_("another resident follows it"),
    "information": N_("more information"),
    "question": N_("question to the reporter"),
    "answer": N_("the reporter answered"),
    "rated": N_("rated"),
    "accept_overdue": N_("⚠️ not accepted in time"),
    "fix_overdue": N_("⚠️ not fixed in time"),
    "category_changed": N_("category changed"),
    "escalated": N_("escalated to deliberation"),
    "resumed": N_("back to work after deliberation"),
    "not_ours": N_("not our responsibility"),
    "identity_revealed": N_("reporter identity revealed by a street admin"),
}
# Events whose detail is the person's own words and may be shown with the event.
_SHOWN_DETAIL = frozenset({"progress", "resolved", "information", "not_ours", "merged", "question", "answer"})
_STAFF_ONLY = frozenset({"identity_revealed", "handed_back", "question", "answer"})


def moment(ctx: Ctx, when: datetime | None) -> str:
    return format_moment(when, ctx.locale, ctx.services.settings.tz) if when is not None else "—"


def deadline(ctx: Ctx, when: datetime | None) -> str:
    """`Mon 3 Mar 13:00 (in 4 hours)`."""
    if when is None:
        return "—"
    return f"{moment(ctx, when)} ({format_relative(when, ctx.now, ctx.locale)})"


def report_title(ctx: Ctx, report: Report) -> str:
    category = report_service.categories(ctx.services)[report.category].name(ctx.locale)
    marker = "⚠️ " if report.overdue(ctx.now) else ""
    return f"{marker}{report.number} · {category}"


async def report_card(ctx: Ctx, report: Report, *, staff: bool) -> str:
    """The report as text: what, where, status, deadlines and the timeline (never who filed it)."""
    _ = ctx._
    category = report_service.categories(ctx.services)[report.category].name(ctx.locale)
    lines = [f"<b>{esc(report.number)}</b> · {esc(category)}" + (_(" · ⚠️ urgent") if report.urgent else "")]
    lines.append(_("Status: {status}").format(status=_(STATE_LABELS[report.state])))
    if report.description:
        lines.append(esc(report.description))
    if report.voice:
        lines.append(_("🎤 With a voice note."))
    lines.append("📍 " + esc(await report_service.place_text(ctx.services, report)))
    if report.is_open and report.state in AWAITING_ACCEPT and report.due_at:
        lines.append(_("⏳ Accept by {when}").format(when=deadline(ctx, report.due_at)))
    if report.state is ReportState.DELIBERATION:
        lines.append(_("🛠 Fix deadline suspended until the deliberation's outcome"))
    elif report.is_open and report.state is not ReportState.RESOLVED and report.fix_by:
        lines.append(_("🛠 Fix by {when}").format(when=deadline(ctx, report.fix_by)))
    if report.affected_count > 1:
        lines.append(_("👥 Residents affected: {n}").format(n=report.affected_count))
    if report.reopen_count:
        lines.append(_("🔁 Reopened {n} times").format(n=report.reopen_count))
    if staff:
        lines.append(
            _("Filed via {channel}").format(channel=_(report_service.CHANNEL_LABELS[report.channel]))
        )
        if report.anonymous:
            lines.append(_("👤 Anonymous reporter"))
    if report.outcome_reason:
        lines.append(_("Reason: {reason}").format(reason=esc(report.outcome_reason)))
    lines.append("")
    lines.append(_("<b>Timeline</b>"))
    lines += timeline_lines(ctx, await report_service.timeline(ctx.services, report.id), staff=staff)
    return "\n".join(lines)


def timeline_lines(ctx: Ctx, events: Sequence[ReportEvent], *, staff: bool, last: int = 10) -> list[str]:
    shown = [e for e in events if staff or e.kind not in _STAFF_ONLY][-last:]
    lines = []
    for event in shown:
        label = ctx._(EVENT_LABELS.get(event.kind, event.kind))
        if event.kind == "rated":
            label += " " + "⭐" * int(event.detail or 0)
        elif event.kind in _SHOWN_DETAIL and event.detail:
            label += ": " + esc(shorten(event.detail, 200))
        elif event.kind == "category_changed" and event.detail:
            label += ": " + esc(_category_change(ctx, event.detail))
        lines.append(f"• {moment(ctx, event.at)} — {label}")
    return lines


def _category_change(ctx: Ctx, detail: str) -> str:
    """The event's `lighting→safety fix_by→…` as `Lighting → Safety hazard`, in the reader's language."""
    known = report_service.categories(ctx.services)
    codes = detail.split(" ", 1)[0].split("→")
    return " → ".join(category.name(ctx.locale) if (category := known.get(code)) else code for code in codes)


def report_rows(ctx: Ctx, reports: Sequence[Report], prefix: str) -> list[list[tuple[str, str]]]:
    """One button a report, "title · state", opening it under `prefix` (the resident's or the staff's card)."""
    return [
        [(shorten(f"{report_title(ctx, r)} · {ctx._(STATE_LABELS[r.state])}", 60), encode(prefix, "o", r.id))]
        for r in reports
    ]


def page_row(ctx: Ctx, prefix: str, page: int, total: int, per_page: int = PER_PAGE) -> list[tuple[str, str]]:
    """‹ 3 of 12 › — the counter is the page among pages."""
    pages = max(1, (total + per_page - 1) // per_page)
    if pages == 1:
        return []
    row = [("‹", encode(prefix, "l", page - 1))] if page > 0 else []
    row.append((ctx._("{page} of {pages}").format(page=page + 1, pages=pages), encode(prefix, "l", page)))
    if page < pages - 1:
        row.append(("›", encode(prefix, "l", page + 1)))
    return row


async def present(ctx: Ctx, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the pressed message in place; a button under a photo (whose caption cannot take a long card)
    gets a fresh message instead."""
    query = ctx.update.callback_query
    if query is not None and isinstance(query.message, Message) and query.message.text is None:
        await ctx.reply(text, markup)
        return
    await ctx.show(text, markup)


async def refuse(ctx: Ctx, refusal: Refused) -> None:
    """A polite refusal: an alert on a button, a message otherwise."""
    text = refusal.text(ctx._)
    if ctx.update.callback_query is not None:
        await ctx.answer(text, alert=True)
    else:
        await ctx.reply(text)


def callback_parts(update: Update) -> tuple[str, list[str]]:
    return decode(update.callback_query.data if update.callback_query else None)


def button_action(update: Update) -> tuple[str, int | None, list[str]]:
    """A `prefix:action:number:…` button read once for every handler: its action, its number (None when
    missing or forged) and all its parts for the handlers that take more."""
    _prefix, parts = callback_parts(update)
    return (parts[0] if parts else ""), int_part(parts, 1), parts


async def pressed_by(
    update: Update, context: ContextTypes.DEFAULT_TYPE, roles: frozenset[Role] | None = None
) -> tuple[Ctx, str, int | None, list[str]] | None:
    """A `prefix:action[:number:…]` button, for the handlers that check alike: someone not signed up or
    lacking one of `roles` hears "expired" and gets None. The number is None when missing or forged."""
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return None
    action, number, parts = button_action(update)
    person = ctx.person
    if person is None or not person.onboarded or (roles is not None and not person.has(*roles)):
        await ctx.answer(ctx._(EXPIRED), alert=True)
        return None
    return ctx, action, number, parts


async def pressed(
    update: Update, context: ContextTypes.DEFAULT_TYPE, roles: frozenset[Role] | None = None
) -> tuple[Ctx, str, int, list[str]] | None:
    """`pressed_by` for a button that names its subject (`prefix:action:number:…`): one without its number
    hears "expired" too."""
    press = await pressed_by(update, context, roles)
    if press is None:
        return None
    ctx, action, number, parts = press
    if number is None:
        await ctx.answer(ctx._(EXPIRED), alert=True)
        return None
    return ctx, action, number, parts


# ---------------------------------------------------------------------------------- step-by-step flows


StepAnswer = Callable[[Turn, str], Awaitable[None]]


async def step_turn(turn: Turn, steps: Sequence[str], answer: StepAnswer, *, allowed: bool = True) -> None:
    """One turn of a flow that walks `steps` in order, so Back and Cancel work alike everywhere: a lost right
    or an unknown step ends it as expired, Cancel (or Back on the first step) ends it unsaved, Back goes one
    step back, and anything else goes to `answer(turn, following step)`; a refusal ends the flow."""
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    if not allowed or ctx.person is None or draft.step not in steps:
        await end_flow(ctx, draft)
        await ctx.answer(_(EXPIRED), alert=True)
        return
    index = steps.index(draft.step)
    if turn.action == "cancel" or (turn.action == "back" and index == 0):
        if await end_flow(ctx, draft):
            await present(ctx, _("Cancelled. Nothing was saved."))
        return
    if turn.action == "back":
        await turn.goto(steps[index - 1])
        return
    try:
        await answer(turn, steps[index + 1] if index + 1 < len(steps) else "")
    except Refused as refusal:
        await end_flow(ctx, draft)
        await refuse(ctx, refusal)


# ---------------------------------------------------------------------------------- the note flow


NoteDone = Callable[[Ctx, Draft, str | None, str | None, str | None], Awaitable[bool]]
NoteUseCase = Callable[[Services, Person, int, str], Awaitable[Report]]


@dataclass(frozen=True)
class NotePurpose:
    """A "type a few words" step: its prompt, whether photos / voice count, and what to do with the input.

    `done(ctx, draft, text, photo, voice)` returns True when the flow is finished."""

    prompt: str
    done: NoteDone
    photos: bool = False
    voice: bool = False


_PURPOSES: dict[str, NotePurpose] = {}


def note_purpose(name: str, purpose: NotePurpose) -> None:
    _PURPOSES[name] = purpose


def note_to(use_case: NoteUseCase, done: str) -> NoteDone:
    """Most notes go whole to one use case on the report: run it, then say `done` (a msgid with {number})."""

    async def finish(
        ctx: Ctx, draft: Draft, text: str | None, _photo: str | None, _voice: str | None
    ) -> bool:
        assert ctx.person is not None
        report = await use_case(ctx.services, ctx.person, int(draft.data["id"]), text or "")
        await ctx.reply(ctx._(done).format(number=esc(report.number)))
        return True

    return finish


async def ask_note(ctx: Ctx, purpose: str, report_id: int, **data: object) -> None:
    await show(ctx, new_draft(ctx, NOTE_FLOW, purpose, id=report_id, **data))


async def _note_view(ctx: Ctx, draft: Draft) -> View:
    purpose = _PURPOSES[draft.step]
    prompt = ctx._(purpose.prompt).format(limit=NOTE_MAX, number=esc(draft.data.get("number", "")))
    buttons: list[list[Button]] = [[(ctx._("Cancel"), "cancel")]]
    if draft.data.get("skippable"):
        buttons.insert(0, [(ctx._("Skip"), "skip")])
    return prompt, buttons, None


async def _note_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    purpose = _PURPOSES.get(draft.step)
    if purpose is None or ctx.person is None:
        await end_flow(ctx, draft)
        return
    if turn.action == "cancel":
        await end_flow(ctx, draft)
        await present(ctx, _("Cancelled. Nothing was saved."))
        return
    message = turn.message
    photo = message.photo[-1].file_id if message is not None and message.photo and purpose.photos else None
    voice = message.voice.file_id if message is not None and message.voice and purpose.voice else None
    text = (turn.text or (message.caption if message is not None else None) or "").strip() or None
    if turn.action == "skip" and draft.data.get("skippable"):
        text = photo = voice = None
    elif turn.action is not None:
        await ctx.answer(_(EXPIRED), alert=True)
        return
    elif text is None and photo is None and voice is None:
        await ctx.reply(_("I can only take text here. Please type it, or /cancel."))
        return
    elif text is not None and len(text) > NOTE_MAX:
        await ctx.reply(
            _("That is {n} characters; please keep it under {limit}.").format(n=len(text), limit=NOTE_MAX)
        )
        return
    try:
        finished = await purpose.done(ctx, draft, text, photo, voice)
    except Refused as refusal:
        await end_flow(ctx, draft)
        await refuse(ctx, refusal)
        return
    if finished:
        await end_flow(ctx, draft)


# ------------------------------------------------------------------------------------------ /tasks


async def cmd_tasks(ctx: Ctx) -> None:
    await show_tasks(ctx, 0)


async def show_tasks(ctx: Ctx, page: int) -> None:
    assert ctx.person is not None
    _ = ctx._
    items, total = await task_service.my_tasks(ctx.services, ctx.person, page=max(page, 0), per_page=PER_PAGE)
    if total == 0:
        await present(ctx, _("You have no open tasks. 🎉"))
        return
    rows = [[(shorten(report_title(ctx, r), 60), encode("tk", "o", r.id))] for r in items]
    nav = page_row(ctx, "tk", page, total)
    text = _("<b>My open tasks</b> ({total}), nearest deadline first; ⚠️ marks overdue ones.").format(
        total=total
    )
    await present(ctx, text, inline([*rows, nav]))


def task_buttons(ctx: Ctx, report: Report) -> list[list[tuple[str, str]]]:
    _ = ctx._
    person = ctx.person
    assert person is not None
    rows: list[list[tuple[str, str]]] = []
    mine = report.assignee_id == person.id
    if report.state is ReportState.ASSIGNED:
        row = [(_("✅ Accept"), encode("tk", "a", report.id))]
        if mine:
            row.append((_("↩️ Not mine"), encode("tk", "n", report.id)))
        rows.append(row)
    if report.state in BEING_FIXED:
        rows.append(
            [
                (_("🔧 Progress note"), encode("tk", "p", report.id)),
                (_("✔️ Mark fixed"), encode("tk", "r", report.id)),
            ]
        )
    if report.is_open:
        row = [(_("❓ Ask the reporter"), encode("tk", "q", report.id))]
        if not report.anonymous:
            row.append((_("📞 Reporter's contact"), encode("tk", "c", report.id)))
        rows.append(row)
    rows.append([(_("🖼 Photos and voice"), encode("tk", "m", report.id))])
    if report_service.oversees(person, report):
        rows.append([(_("⚙️ Manage"), encode("rs", "o", report.id))])
    rows.append([(_("‹ My tasks"), encode("tk", "l", 0))])
    return rows


async def show_task(ctx: Ctx, report: Report) -> None:
    await present(ctx, await report_card(ctx, report, staff=True), inline(task_buttons(ctx, report)))


async def _workable(ctx: Ctx, report_id: int | None) -> Report | None:
    """The report when this person may act on it as a task; a polite refusal otherwise."""
    assert ctx.person is not None
    report = await report_service.get(ctx.services, report_id) if report_id is not None else None
    if report is None or not report_service.may_work_on(ctx.person, report):
        await ctx.answer(ctx._("This task is not assigned to you. Nothing was changed."), alert=True)
        return None
    return report


async def on_task_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed_by(update, context)
    if press is None:
        return
    ctx, action, number, _parts = press
    if action == "l":
        await ctx.answer()
        await show_tasks(ctx, number or 0)
        return
    report = await _workable(ctx, number)
    if report is None:
        return
    try:
        await _task_action(ctx, action, report)
    except Refused as refusal:
        await refuse(ctx, refusal)


async def _task_action(ctx: Ctx, action: str, report: Report) -> None:
    _ = ctx._
    assert ctx.person is not None
    services = ctx.services
    if action == "o":
        await ctx.answer()
        await show_task(ctx, report)
    elif action == "a":
        accepted = await task_service.accept(services, ctx.person, report.id)
        await ctx.answer(_("Accepted. Fix by {when}.").format(when=moment(ctx, accepted.fix_by)))
        await show_task(ctx, accepted)
    elif action == "n" and report.state is ReportState.ASSIGNED and report.assignee_id == ctx.person.id:
        await ctx.answer()
        await ask_note(ctx, "hand_back", report.id, number=report.number)
    elif action == "p" and report.state in BEING_FIXED:
        await ctx.answer()
        await ask_note(ctx, "progress", report.id, number=report.number)
    elif action == "r" and report.state in BEING_FIXED:
        await ctx.answer()
        await ask_note(ctx, "resolve", report.id, number=report.number)
    elif action == "q" and report.is_open:
        await ctx.answer()
        await ask_note(ctx, "ask", report.id, number=report.number)
    elif action == "c":
        details = await task_service.contact(services, ctx.person, report.id)
        await ctx.answer()
        await ctx.reply(
            _("Reporter of {number}: {contact}\nThis look is logged.").format(
                number=esc(report.number), contact=esc(" · ".join(details))
            )
        )
    elif action == "m":
        await ctx.answer()
        await send_media(ctx, report)
    else:
        await ctx.answer(_(report_service.STALE), alert=True)


async def send_media(ctx: Ctx, report: Report) -> None:
    """Photos and voice notes as they were sent: Telegram file ids passed on unchanged."""
    items = await report_service.media(ctx.services, report.id)
    if not items:
        await ctx.reply(ctx._("No photos or voice notes on {number}.").format(number=esc(report.number)))
        return
    labels = {"report": N_("with the report"), "info": N_("added later"), "after": N_("after the fix")}
    for purpose, kind, file_id in items:
        caption = f"{esc(report.number)} · {ctx._(labels[purpose])}"
        if kind == "voice":
            await ctx.context.bot.send_voice(ctx.user.id, file_id, caption=caption, rate_limit_args="reply")
        else:
            await ctx.context.bot.send_photo(ctx.user.id, file_id, caption=caption, rate_limit_args="reply")


# ------------------------------------------------------------------------------------ note purposes


async def _resolve(ctx: Ctx, draft: Draft, text: str | None, photo: str | None, _voice: str | None) -> bool:
    """Two inputs: the note, then the after-photo (which some categories let the worker skip)."""
    assert ctx.person is not None
    report_id = int(draft.data["id"])
    note = draft.data.get("note")
    if note is None:
        if text is None:
            await ctx.reply(ctx._("First a short note on what was done, please."))
            return False
        report = await report_service.get(ctx.services, report_id)
        needs = report is not None and task_service.needs_after_photo(ctx.services, report)
        await show(
            ctx,
            draft.model_copy(
                update={"step": "resolve_photo", "data": {**draft.data, "note": text, "skippable": not needs}}
            ),
        )
        return False
    if photo is None and not draft.data.get("skippable"):
        await ctx.reply(ctx._("This kind of task needs a photo of the result. Please send one."))
        return False
    report = await task_service.resolve(ctx.services, ctx.person, report_id, note, photo)
    if report.state is ReportState.RESOLVED:
        text = ctx._("Marked {number} fixed. The reporter is asked whether it is.")
    else:  # a patrol has no reporter to ask: it closes at once
        text = ctx._("Marked {number} done and closed.")
    await ctx.reply(text.format(number=esc(report.number)))
    return True


def register(application: Application) -> None:
    register_flow(application, NOTE_FLOW, Flow(_note_turn, _note_view))
    note_purpose(
        "hand_back",
        NotePurpose(
            N_(
                "Why is {number} not yours? Your team lead reads this and reassigns "
                "it. Up to {limit} characters."
            ),
            note_to(task_service.hand_back, N_("Handed back {number}. Your team lead will reassign it.")),
        ),
    )
    note_purpose(
        "progress",
        NotePurpose(
            N_(
                "Progress on {number}: what has been done? The residents read this. Up to {limit} characters."
            ),
            note_to(task_service.add_progress, N_("Progress noted on {number}; the residents are told.")),
        ),
    )
    note_purpose(
        "resolve",
        NotePurpose(
            N_("Marking {number} fixed. What was done? The residents read this. Up to {limit} characters."),
            _resolve,
            photos=True,
        ),
    )
    note_purpose(
        "resolve_photo",
        NotePurpose(N_("Now a photo of the result for {number}, please."), _resolve, photos=True),
    )
    note_purpose(
        "ask",
        NotePurpose(
            N_(
                "Your question to the reporter of {number}. The bot passes it on without "
                "telling either of you who the other is. Up to {limit} characters."
            ),
            note_to(
                task_service.ask_reporter,
                N_("Your question was passed on to the reporter of {number}. Their answer will come here."),
            ),
        ),
    )
    application.add_handler(CallbackQueryHandler(on_task_button, pattern=r"^tk:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "tasks",
            N_("Your open tasks, nearest deadline first"),
            cmd_tasks,
            roles=TASK_ROLES,
            menu_label=N_("🧰 My tasks"),
            order=20,
        ),
    )
