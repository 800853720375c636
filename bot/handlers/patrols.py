"""/patrols: team leads, organizers and admins define recurring checks ("fire exits, building 5, every
Monday 09:00"), see when each falls due next and the tasks it became, and pause, edit or stop them.

New patrols and new schedules are short flows that show the next occurrences before saving; the rest are
`pt:` buttons, checked again on the server.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.patrols import SCHEDULE_MAX, TITLE_MAX, Patrol
from bot.handlers import flows, menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.tasks import EXPIRED, moment, present, pressed_by, refuse, step_turn
from bot.i18n import N_
from bot.services import patrols as patrol_service
from bot.services import reports as report_service
from bot.services.reports import STATE_LABELS, Refused
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode
from bot.ui.html import esc, shorten
from bot.ui.keyboards import inline

PREFIX = "pt"
NEW_FLOW = "patrol_new"
EDIT_FLOW = "patrol_edit"
STEPS = {NEW_FLOW: ["building", "title", "schedule", "mode", "review"], EDIT_FLOW: ["schedule", "mode", "review"]}
MANAGERS = frozenset(patrol_service.MANAGER_ROLES)
MODES = {"w": N_("🕘 in working time (holidays skipped)"), "r": N_("🌙 round the clock")}
EXAMPLES = N_(
    "When? Write the days and a time, for example:\n• mon 09:00\n• workdays 08:30\n• mon,thu 14:00\n"
    "• 每周一 09:00\n• or a cron line: 0 9 * * 1 (minute, hour, day, month, weekday)"
)


def _mode(patrol: Patrol) -> str:
    return MODES["w" if patrol.working_time else "r"]


async def _building_names(ctx: Ctx) -> dict[int, str]:
    return {b_id: name for b_id, _code, name in await report_service.buildings(ctx.services)}


async def cmd_patrols(ctx: Ctx) -> None:
    await show_patrols(ctx)


async def show_patrols(ctx: Ctx) -> None:
    assert ctx.person is not None
    _ = ctx._
    patrols = await patrol_service.managed(ctx.services, ctx.person)
    buildings = await _building_names(ctx)
    rows = []
    for patrol in patrols:
        when = _("paused") if patrol.paused else moment(ctx, patrol.next_at)
        label = f"{'⏸ ' if patrol.paused else ''}{patrol.title} · {buildings.get(patrol.building_id, '?')} · {when}"
        rows.append([(shorten(label, 60), encode(PREFIX, "o", patrol.id))])
    rows.append([(_("➕ New patrol"), encode(PREFIX, "n"))])
    text = _("<b>Patrols</b> ({count}): recurring checks that arrive as tasks for the grid's worker.").format(
        count=len(patrols)
    )
    await present(ctx, text, inline(rows))


async def show_patrol(ctx: Ctx, patrol: Patrol) -> None:
    _ = ctx._
    buildings = await _building_names(ctx)
    lines = [
        f"<b>{esc(patrol.title)}</b>",
        "📍 " + esc(buildings.get(patrol.building_id, "?")),
        "🗓 " + esc(patrol.schedule) + " · " + _(_mode(patrol)),
        _("Next: {when}").format(when=_("paused") if patrol.paused else moment(ctx, patrol.next_at)),
    ]
    recent = await patrol_service.recent_tasks(ctx.services, patrol)
    if recent:
        lines += ["", _("<b>Latest tasks</b>")]
        for report, due_at in recent:
            lines.append(f"• {moment(ctx, due_at)} — {esc(report.number)} · {_(STATE_LABELS[report.state])}")
    toggle = (_("▶️ Resume"), encode(PREFIX, "r", patrol.id)) if patrol.paused else (
        _("⏸ Pause"), encode(PREFIX, "p", patrol.id)
    )
    rows = [
        [(_("✏️ Change schedule"), encode(PREFIX, "e", patrol.id)), toggle],
        [(_("🗑 Stop for good"), encode(PREFIX, "s", patrol.id))],
        [(_("‹ Patrols"), encode(PREFIX, "l"))],
    ]
    await present(ctx, "\n".join(lines), inline(rows))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed_by(update, context, MANAGERS)
    if press is None:
        return
    ctx, action, number, _parts = press
    assert ctx.person is not None
    _ = ctx._
    services, person = ctx.services, ctx.person
    try:
        if action == "l":
            await ctx.answer()
            await show_patrols(ctx)
        elif action == "n":
            await ctx.answer()
            await show(ctx, new_draft(ctx, NEW_FLOW, "building", page=0))
        elif number is None:
            await ctx.answer(_(EXPIRED), alert=True)
        elif action == "o":
            patrol = await patrol_service.get(services, person, number)
            await ctx.answer()
            await show_patrol(ctx, patrol)
        elif action == "e":
            patrol = await patrol_service.get(services, person, number)
            await ctx.answer()
            await show(ctx, new_draft(ctx, EDIT_FLOW, "schedule", id=patrol.id, title=patrol.title))
        elif action == "p":
            patrol = await patrol_service.pause(services, person, number)
            await ctx.answer(_("Paused: no new tasks until you resume it."))
            await show_patrol(ctx, patrol)
        elif action == "r":
            patrol = await patrol_service.resume(services, person, number)
            await ctx.answer(_("Resumed."))
            await show_patrol(ctx, patrol)
        elif action == "s":
            patrol = await patrol_service.get(services, person, number)
            await ctx.answer()
            await present(
                ctx,
                _("Stop “{title}” for good? Tasks it already became stay as they are.").format(
                    title=esc(patrol.title)
                ),
                inline(
                    [
                        [(_("🗑 Yes, stop it"), encode(PREFIX, "sy", patrol.id))],
                        [(_("‹ Back"), encode(PREFIX, "o", patrol.id))],
                    ]
                ),
            )
        elif action == "sy":
            patrol = await patrol_service.stop(services, person, number)
            await ctx.answer(_("Stopped."))
            await show_patrols(ctx)
        else:
            await ctx.answer(_(EXPIRED), alert=True)
    except Refused as refusal:
        await refuse(ctx, refusal)


# ------------------------------------------------------------------------------------------- the flows


def _preview(ctx: Ctx, d: dict[str, object]) -> list[datetime]:
    return patrol_service.preview(ctx.services, str(d["schedule"]), d["mode"] == "w")


async def _view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    d, step = draft.data, draft.step
    if step == "building":
        buildings = await report_service.buildings(ctx.services, ctx.person)
        rows = flows.pick_rows(
            ctx, buildings, int(d.get("page", 0)), lambda b: (shorten(f"{b[1]} · {b[2]}", 30), f"b:{b[0]}")
        )
        return _("<b>New patrol</b>\nWhich building is to be checked?"), rows, None
    if step == "title":
        text = _("What is to be checked? One line of up to {limit} characters, e.g. “Fire exits and extinguishers”.")
        return text.format(limit=TITLE_MAX), [flows.back_row(ctx)], None
    if step == "schedule":
        header = _("New schedule for “{title}”.").format(title=esc(d.get("title", ""))) + "\n"
        return (header if draft.flow == EDIT_FLOW else "") + esc(_(EXAMPLES)), [flows.back_row(ctx)], None
    if step == "mode":
        return (
            _("Only in working time, or round the clock?"),
            [[(_(label), f"m:{code}")] for code, label in MODES.items()] + [flows.back_row(ctx)],
            None,
        )
    try:
        moments = ", ".join(moment(ctx, m) for m in _preview(ctx, d))
    except Refused as refusal:
        return refusal.text(_), [flows.back_row(ctx)], None
    lines = [_("<b>Check the patrol</b>")]
    if d.get("building_name"):
        lines.append("📍 " + esc(d["building_name"]))
    lines += [
        esc(d.get("title", "")),
        "🗓 " + esc(d["schedule"]) + " · " + _(MODES[str(d["mode"])]),
        _("Next: {when}").format(when=moments),
    ]
    return "\n".join(lines), [[(_("✅ Save"), "save")], flows.back_row(ctx)], None


async def _turn(turn: Turn) -> None:
    person = turn.ctx.person
    await step_turn(turn, STEPS[turn.draft.flow], _answer, allowed=person is not None and person.has(*MANAGERS))


async def _answer(turn: Turn, following: str) -> None:
    ctx, draft = turn.ctx, turn.draft
    assert ctx.person is not None
    _ = ctx._
    step, text = draft.step, (turn.text or "").strip()
    if step == "building" and turn.action == "pg":
        await turn.goto("building", page=turn.int_arg() or 0)
    elif step == "building" and turn.action == "b":
        chosen = {b_id: name for b_id, _c, name in await report_service.buildings(ctx.services, ctx.person)}
        if turn.int_arg() not in chosen:
            await ctx.answer(_(patrol_service.NOT_YOURS), alert=True)
            return
        await turn.goto(following, building_id=turn.int_arg(), building_name=chosen[turn.int_arg() or 0])
    elif step == "title" and turn.action is None:
        try:
            title = patrol_service.clean_title(text)
        except Refused as refusal:
            await ctx.reply(refusal.text(_))
            return
        await turn.goto(following, title=title)
    elif step == "schedule" and turn.action is None:
        if not text or len(text) > SCHEDULE_MAX:
            await ctx.reply(_(patrol_service.BAD_SCHEDULE))
            return
        try:
            patrol_service.read_schedule(text)
        except Refused as refusal:
            await ctx.reply(refusal.text(_))
            return
        await turn.goto(following, schedule=text)
    elif step == "mode" and turn.action == "m" and turn.args[:1] in (["w"], ["r"]):
        try:
            patrol_service.preview(ctx.services, str(draft.data["schedule"]), turn.args[0] == "w")
        except Refused as refusal:
            await ctx.answer(refusal.text(_), alert=True)
            await turn.goto("schedule")
            return
        await turn.goto(following, mode=turn.args[0])
    elif step == "review" and turn.action == "save":
        await _save(turn)
    else:
        await not_understood(turn)


async def _save(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    assert ctx.person is not None
    d = draft.data
    if not await end_flow(ctx, draft):
        return  # a double tap: the first one saved
    working_time = d["mode"] == "w"
    if draft.flow == NEW_FLOW:
        patrol = await patrol_service.create(
            ctx.services, ctx.person, int(d["building_id"]), str(d["title"]), str(d["schedule"]), working_time
        )
    else:
        patrol = await patrol_service.edit_schedule(
            ctx.services, ctx.person, int(d["id"]), str(d["schedule"]), working_time
        )
    await present(ctx, ctx._("Saved. Next: {when}.").format(when=moment(ctx, patrol.next_at)))
    await ctx.reply(
        ctx._("Patrol “{title}”:").format(title=esc(patrol.title)),
        inline([[(ctx._("🗂 Open the patrol"), encode(PREFIX, "o", patrol.id))]]),
    )


def register(application: Application) -> None:
    for name in (NEW_FLOW, EDIT_FLOW):
        register_flow(application, name, Flow(_turn, _view))
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "patrols",
            N_("Recurring patrols of your grids"),
            cmd_patrols,
            roles=MANAGERS,
            order=31,
        ),
    )
