"""/duty, /leave and /offboard: who covers nights and holidays, leave with a stand-in and its one-step
handover, and taking a worker off a grid with their tasks handed on.

Adding a duty shift and marking leave are short flows (who, from, until, check); everything else is a
button whose data the server checks again against the stored state (`duty:`, `leave:`, `off:`).
"""

from __future__ import annotations

from datetime import date, timedelta

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.people import WORKER_ROLES, Role, Scope, ScopeKind
from bot.domain.roster import parse_day
from bot.handlers import flows, menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.tasks import EXPIRED, present, pressed_by, refuse, show_task, step_turn
from bot.i18n import N_
from bot.services import roster
from bot.services.reports import Refused
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc, shorten
from bot.ui.keyboards import inline
from bot.ui.labels import ROLE_LABELS
from bot.ui.timefmt import MONTHS, WEEKDAYS

DUTY_FLOW = "duty_new"
LEAVE_FLOW = "leave_new"
STEPS = {
    DUTY_FLOW: ["scope", "person", "first", "last", "review"],
    LEAVE_FLOW: ["first", "last", "person", "review"],
}
SHIFTS_SHOWN = 20
DUTY_VIEWERS = frozenset({*WORKER_ROLES, Role.ORGANIZER, Role.ADMIN})
LEAVE_TAKERS = frozenset(roster.LEAVE_ROLES)
MANAGERS = frozenset(roster.ROSTER_ROLES)


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Inline buttons, or none at all (Telegram refuses an empty keyboard)."""
    return inline(rows) if any(rows) else None


def day_text(ctx: Ctx, day: date) -> str:
    """`Mon 10 Mar` / `3月10日 周一`."""
    _ = ctx._
    return _("{weekday} {day} {month}").format(
        weekday=_(WEEKDAYS[day.weekday()]), day=day.day, month=_(MONTHS[day.month - 1])
    )


def days_text(ctx: Ctx, first: date, last: date) -> str:
    return day_text(ctx, first) if first == last else f"{day_text(ctx, first)} – {day_text(ctx, last)}"


def _today(ctx: Ctx) -> date:
    return roster.today(ctx.services)


# ------------------------------------------------------------------------------------------------ /duty


async def cmd_duty(ctx: Ctx) -> None:
    await show_roster(ctx)


async def show_roster(ctx: Ctx) -> None:
    assert ctx.person is not None
    _ = ctx._
    shifts = await roster.shifts(ctx.services, ctx.person)
    names = await roster.scope_names(ctx.services)
    people = await roster.person_names(ctx.services, [s.person_id for s in shifts])
    keeps = roster.roster_area(ctx.person)
    lines = [
        _(
            "<b>Duty roster</b> — urgent reports outside working hours and on holidays also go to the person "
            "on duty."
        )
    ]
    rows: list[list[tuple[str, str]]] = []
    for shift in shifts[:SHIFTS_SHOWN]:
        scope = Scope(kind=shift.scope_kind, id=shift.scope_id)
        label = f"{names.get(scope, '?')} · {people.get(shift.person_id, '?')} · " + days_text(
            ctx, shift.first_day, shift.last_day
        )
        lines.append("• " + esc(label))
        if await roster.keeps_roster_of(ctx.services, ctx.person, scope) and not keeps.empty:
            rows.append([("🗑 " + shorten(label, 50), encode("duty", "x", shift.id))])
    if not shifts:
        lines.append(_("Nobody is on the roster from today on."))
    elif len(shifts) > SHIFTS_SHOWN:
        lines.append(_("… and {count} more").format(count=len(shifts) - SHIFTS_SHOWN))
    if not keeps.empty:
        rows.append([(_("➕ Add a duty"), encode("duty", "n"))])
    await present(ctx, "\n".join(lines), keyboard(rows))


async def on_duty_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed_by(update, context)
    if press is None:
        return
    ctx, action, number, _parts = press
    assert ctx.person is not None
    try:
        if action == "n" and not roster.roster_area(ctx.person).empty:
            await ctx.answer()
            await show(ctx, new_draft(ctx, DUTY_FLOW, "scope", page=0))
        elif action == "x" and number is not None:
            await roster.remove_shift(ctx.services, ctx.person, number)
            await ctx.answer(ctx._("Taken off the roster."))
            await show_roster(ctx)
        elif action == "t" and number is not None:
            report = await roster.take_over(ctx.services, ctx.person, number)
            await ctx.answer(ctx._("It is yours now. Please accept it."))
            await show_task(ctx, report)
        else:
            await ctx.answer(ctx._(EXPIRED), alert=True)
    except Refused as refusal:
        await refuse(ctx, refusal)


# ------------------------------------------------------------------------------------------------ /leave


async def cmd_leave(ctx: Ctx) -> None:
    await show_leave(ctx)


async def show_leave(ctx: Ctx) -> None:
    await present(ctx, *await leave_screen(ctx))


async def leave_screen(ctx: Ctx) -> tuple[str, InlineKeyboardMarkup]:
    assert ctx.person is not None
    _ = ctx._
    leaves = await roster.leaves(ctx.services, ctx.person)
    people = await roster.person_names(ctx.services, [leave.stand_in_id for leave in leaves])
    open_tasks = await roster.open_task_count(ctx.services, ctx.person.id)
    lines = [_("<b>Your leave</b>")]
    rows: list[list[tuple[str, str]]] = []
    for leave in leaves:
        who = people.get(leave.stand_in_id, "?")
        lines.append(
            "• "
            + _("{days}, stand-in: {name}").format(
                days=days_text(ctx, leave.first_day, leave.last_day), name=esc(who)
            )
        )
        if open_tasks:
            rows.append(
                [
                    (
                        _("🤝 Hand my {count} open tasks to {name}").format(
                            count=open_tasks, name=shorten(who, 20)
                        ),
                        encode("leave", "h", leave.id),
                    )
                ]
            )
        rows.append(
            [
                (
                    _("✖️ Cancel leave {days}").format(days=days_text(ctx, leave.first_day, leave.last_day)),
                    encode("leave", "x", leave.id),
                )
            ]
        )
    if not leaves:
        lines.append(_("No leave marked. While you are away, a stand-in gets your new tasks."))
    rows.append([(_("➕ Mark leave"), encode("leave", "n"))])
    return "\n".join(lines), inline(rows)


async def on_leave_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed_by(update, context, LEAVE_TAKERS)
    if press is None:
        return
    ctx, action, number, _parts = press
    assert ctx.person is not None
    _ = ctx._
    try:
        if action == "n":
            await ctx.answer()
            await show(ctx, new_draft(ctx, LEAVE_FLOW, "first"))
        elif action == "h" and number is not None:
            moved = await roster.hand_over_to_stand_in(ctx.services, ctx.person, number)
            await ctx.answer(_("Handed over: {count}.").format(count=len(moved)))
            await show_leave(ctx)
        elif action == "x" and number is not None:
            await roster.cancel_leave(ctx.services, ctx.person, number)
            await ctx.answer(_("Leave cancelled."))
            await show_leave(ctx)
        else:
            await ctx.answer(_(EXPIRED), alert=True)
    except Refused as refusal:
        await refuse(ctx, refusal)


# -------------------------------------------------------------------------- the duty and leave flows


async def _candidates(ctx: Ctx, draft: Draft) -> list[tuple[int, str, Role]]:
    assert ctx.person is not None
    if draft.flow == DUTY_FLOW:
        scope = Scope(kind=ScopeKind(draft.data["scope_kind"]), id=int(draft.data["scope_id"]))
        found = await roster.duty_candidates(ctx.services, ctx.person, scope)
    else:
        found = await roster.stand_in_choices(ctx.services, ctx.person)
    return [(c.id, c.name, c.role) for c in found]


async def _flow_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    d, step, duty = draft.data, draft.step, draft.flow == DUTY_FLOW
    today = _today(ctx)
    if step == "scope":
        scopes = await roster.duty_scopes(ctx.services, ctx.person)
        rows = flows.pick_rows(
            ctx, scopes, int(d.get("page", 0)), lambda s: (shorten(s[1], 30), f"s:{s[0].kind.value}:{s[0].id}")
        )
        return _("<b>Add a duty</b>\nFor which grid or community?"), rows, None
    if step == "person":
        people = await _candidates(ctx, draft)
        rows = [[(shorten(f"{name} · {_(ROLE_LABELS[role])}", 40), f"p:{pid}")] for pid, name, role in people]
        text = (
            _("Who is on duty?")
            if duty
            else _("Who stands in for you? They get your new tasks while you are away.")
        )
        if not people:
            text = _("There is nobody to pick here. Add people to the team first.")
        return text, [*rows, flows.back_row(ctx)], None
    if step == "first":
        quick = [
            [
                (_("Today"), f"q:{today.isoformat()}"),
                (_("Tomorrow"), f"q:{(today + timedelta(days=1)).isoformat()}"),
            ]
        ]
        text = _("From which day? Type it (for example 3-10 or 2025-03-10) or pick one.")
        if not duty:
            text = _(
                "<b>Mark leave</b>\nYour first day away? Type it (for example 3-10 or 2025-03-10) or pick one."
            )
        return text, [*quick, flows.back_row(ctx)], None
    if step == "last":
        first = date.fromisoformat(d["first"])
        quick = [
            [
                (_("The same day"), f"q:{first.isoformat()}"),
                (_("A week"), f"q:{(first + timedelta(days=6)).isoformat()}"),
            ]
        ]
        text = _("Until which day, that day included? Type it or pick one.")
        return text, [*quick, flows.back_row(ctx)], None
    first, last = date.fromisoformat(d["first"]), date.fromisoformat(d["last"])
    if duty:
        text = _("<b>Check the duty</b>\n{scope}: {name}, {days}").format(
            scope=esc(d["scope_name"]), name=esc(d["person_name"]), days=days_text(ctx, first, last)
        )
    else:
        text = _("<b>Check your leave</b>\n{days}, stand-in: {name}").format(
            days=days_text(ctx, first, last), name=esc(d["person_name"])
        )
    return text, [[(_("✅ Save"), "save")], flows.back_row(ctx)], None


async def _flow_turn(turn: Turn) -> None:
    await step_turn(turn, STEPS[turn.draft.flow], _answer)


async def _answer(turn: Turn, following: str) -> None:
    ctx, draft = turn.ctx, turn.draft
    assert ctx.person is not None
    step, d = draft.step, draft.data
    if step == "scope" and turn.action == "pg":
        await turn.goto("scope", page=turn.int_arg() or 0)
    elif (
        step == "scope"
        and turn.action == "s"
        and len(turn.args) == 2
        and turn.args[0] in {"grid", "community"}
    ):
        scope = Scope(kind=ScopeKind(turn.args[0]), id=int_part(turn.args, 1) or 0)
        name = dict(await roster.duty_scopes(ctx.services, ctx.person)).get(scope)
        if name is None:
            await ctx.answer(ctx._(roster.NOT_YOUR_AREA), alert=True)
            return
        await turn.goto(following, scope_kind=scope.kind.value, scope_id=scope.id, scope_name=name)
    elif step == "person" and turn.action == "p":
        chosen = next(((p, n) for p, n, _r in await _candidates(ctx, draft) if p == turn.int_arg()), None)
        if chosen is None:
            await ctx.answer(ctx._("Pick someone from the list."), alert=True)
            return
        await turn.goto(following, person_id=chosen[0], person_name=chosen[1])
    elif step in {"first", "last"} and turn.action in {None, "q"}:
        text = (turn.args[0] if turn.args else "") if turn.action == "q" else (turn.text or "")
        day = parse_day(text, _today(ctx))
        if day is None or (step == "last" and day < date.fromisoformat(d["first"])):
            problem = ctx._("I could not read that day. Type it like 3-10 or 2025-03-10, or pick one.")
            await flows.ask_again(turn, problem)
            return
        await turn.goto(following, **{step: day.isoformat()})
    elif step == "review" and turn.action == "save":
        await _save(turn)
    else:
        await not_understood(turn)


async def _save(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    assert ctx.person is not None
    _ = ctx._
    d = draft.data
    first, last, person_id = (
        date.fromisoformat(d["first"]),
        date.fromisoformat(d["last"]),
        int(d["person_id"]),
    )
    if not await end_flow(ctx, draft):
        return  # a double tap: the first one saved
    if draft.flow == DUTY_FLOW:
        scope = Scope(kind=ScopeKind(d["scope_kind"]), id=int(d["scope_id"]))
        await roster.add_shift(ctx.services, ctx.person, scope, person_id, first, last)
        await present(
            ctx,
            _("📅 Saved: {scope}, {name}, {days}. They are told.").format(
                scope=esc(d["scope_name"]), name=esc(d["person_name"]), days=days_text(ctx, first, last)
            ),
        )
        return
    await roster.mark_leave(ctx.services, ctx.person, first, last, person_id)
    await present(
        ctx,
        _("🌴 Leave saved: {days}. {name} stands in and is told.").format(
            days=days_text(ctx, first, last), name=esc(d["person_name"])
        ),
    )
    await ctx.reply(*await leave_screen(ctx))  # a new message: the flow's one stays as a receipt


# ---------------------------------------------------------------------------------------------- /offboard


async def cmd_offboard(ctx: Ctx) -> None:
    await show_team(ctx)


async def show_team(ctx: Ctx) -> None:
    assert ctx.person is not None
    _ = ctx._
    team = await roster.team(ctx.services, ctx.person)
    grids = await roster.scope_names(ctx.services)
    rows = []
    for c in team:
        grid = grids.get(Scope(kind=ScopeKind.GRID, id=c.grid_id or 0), "?")
        label = shorten(f"{c.name} · {_(ROLE_LABELS[c.role])} · {grid}", 60)
        rows.append([(label, encode("off", "p", c.id, c.role.value, c.grid_id))])
    text = _(
        "<b>Take someone off a grid team</b>\nTheir role there ends and all their open tasks of that grid "
        "go to the team lead or a colleague you pick; the reporters are told who handles them now."
    )
    if not team:
        text = _("There is nobody on your grid teams you can take off.")
    await present(ctx, text, keyboard(rows))


async def on_offboard_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed_by(update, context, MANAGERS)
    if press is None:
        return
    ctx, action, person_id, parts = press
    assert ctx.person is not None
    _ = ctx._
    grid_id = int_part(parts, 3)
    role = parts[2] if len(parts) > 2 and parts[2] in {r.value for r in roster.OFFBOARDABLE} else None
    if action == "c":
        await ctx.answer()
        await present(ctx, _("Cancelled. Nothing was changed."))
        return
    if person_id is None or grid_id is None or role is None:
        await ctx.answer(_(EXPIRED), alert=True)
        return
    try:
        if action == "p":
            await _pick_successor(ctx, person_id, Role(role), grid_id)
        elif action == "s" and (to_id := int_part(parts, 4)) is not None:
            await _confirm_offboard(ctx, person_id, Role(role), grid_id, to_id)
        elif action == "y" and (to_id := int_part(parts, 4)) is not None:
            departure = await roster.offboard(ctx.services, ctx.person, person_id, Role(role), grid_id, to_id)
            await ctx.answer()
            names = await roster.person_names(ctx.services, [person_id, departure.to_id])
            await present(
                ctx,
                _(
                    "Done: {name} is off the team; {count} open tasks went to {successor}, and their "
                    "reporters are told."
                ).format(
                    name=esc(names.get(person_id, "?")),
                    count=len(departure.moved),
                    successor=esc(names.get(departure.to_id, "?")),
                ),
            )
        else:
            await ctx.answer(_(EXPIRED), alert=True)
    except Refused as refusal:
        await refuse(ctx, refusal)


async def _pick_successor(ctx: Ctx, person_id: int, role: Role, grid_id: int) -> None:
    assert ctx.person is not None
    _ = ctx._
    if not any(
        c.id == person_id and c.role is role and c.grid_id == grid_id
        for c in await roster.team(ctx.services, ctx.person)
    ):
        raise Refused(roster.NOT_YOUR_AREA)
    choices = await roster.successors(ctx.services, person_id, grid_id)
    names = await roster.person_names(ctx.services, [p for p, _r in choices] + [person_id])
    rows = [
        [
            (
                shorten(f"{names.get(p, '?')} · {_(ROLE_LABELS[r])}", 50)
                + (_(" (default)") if i == 0 else ""),
                encode("off", "s", person_id, role.value, grid_id, p),
            )
        ]
        for i, (p, r) in enumerate(choices)
    ]
    await ctx.answer()
    await present(
        ctx,
        _("Who takes over {name}'s open tasks?").format(name=esc(names.get(person_id, "?"))),
        inline([*rows, [(_("Cancel"), encode("off", "c"))]]),
    )


async def _confirm_offboard(ctx: Ctx, person_id: int, role: Role, grid_id: int, to_id: int) -> None:
    _ = ctx._
    names = await roster.person_names(ctx.services, [person_id, to_id])
    grids = await roster.scope_names(ctx.services)
    count = await roster.open_task_count(ctx.services, person_id, grid_id)
    await ctx.answer()
    await present(
        ctx,
        _(
            "End {name}'s role as {role} in {grid}? Their {count} open tasks there go to {successor} at once, and "
            "every reporter concerned is told who handles their report now."
        ).format(
            name=esc(names.get(person_id, "?")),
            role=_(ROLE_LABELS[role]),
            grid=esc(grids.get(Scope(kind=ScopeKind.GRID, id=grid_id), "?")),
            count=count,
            successor=esc(names.get(to_id, "?")),
        ),
        inline(
            [
                [
                    (
                        _("✅ End the role and hand over"),
                        encode("off", "y", person_id, role.value, grid_id, to_id),
                    )
                ],
                [(_("Cancel"), encode("off", "c"))],
            ]
        ),
    )


def register(application: Application) -> None:
    for name in (DUTY_FLOW, LEAVE_FLOW):
        register_flow(application, name, Flow(_flow_turn, _flow_view))
    application.add_handler(CallbackQueryHandler(on_duty_button, pattern=r"^duty:"), group=COMMANDS)
    application.add_handler(CallbackQueryHandler(on_leave_button, pattern=r"^leave:"), group=COMMANDS)
    application.add_handler(CallbackQueryHandler(on_offboard_button, pattern=r"^off:"), group=COMMANDS)
    add = menu.add_command
    add(
        application,
        menu.Command(
            "duty", N_("Duty roster for nights and holidays"), cmd_duty, roles=DUTY_VIEWERS, order=32
        ),
    )
    add(
        application,
        menu.Command(
            "leave",
            N_("Mark leave and hand your tasks to a stand-in"),
            cmd_leave,
            roles=LEAVE_TAKERS,
            order=33,
        ),
    )
    add(
        application,
        menu.Command(
            "offboard",
            N_("Take someone off a grid team, handing on their tasks"),
            cmd_offboard,
            roles=MANAGERS,
            order=34,
        ),
    )
