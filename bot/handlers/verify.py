"""/verify: grid workers confirm the building and unit residents of their grid claim, or reject a claim
with a reason the resident reads; team leads, organizers and admins also see each grid's verified count."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.people import Role
from bot.domain.reports import REASON_MAX
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Flow, Turn, View, end_flow, new_draft, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.roster import keyboard
from bot.handlers.tasks import EXPIRED, page_row, present, pressed, refuse
from bot.i18n import N_
from bot.services import verification
from bot.services.reports import Refused, place_text_for
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc, shorten
from bot.ui.keyboards import inline

PREFIX = "vf"
PER_PAGE = 8
REASON_FLOW = "verify_reason"
REVIEWERS = frozenset(verification.VERIFY_ROLES)
COUNT_READERS = (Role.SECRETARY, Role.ORGANIZER, Role.ADMIN)


async def cmd_verify(ctx: Ctx) -> None:
    await show_waiting(ctx, 0)


async def show_waiting(ctx: Ctx, page: int) -> None:
    assert ctx.person is not None
    _ = ctx._
    page = max(page, 0)
    items, total = await verification.waiting(ctx.services, ctx.person, page=page, per_page=PER_PAGE)
    lines = [_("<b>Residents waiting for verification</b> ({total}), longest waiting first.").format(total=total)]
    if ctx.person.has(*COUNT_READERS):
        for count in await verification.counts(ctx.services, ctx.person):
            lines.append(
                _("{grid}: {verified} of {residents} residents verified · {waiting} waiting").format(
                    grid=esc(count.grid_name),
                    verified=count.verified,
                    residents=count.residents,
                    waiting=count.waiting,
                )
            )
    if total == 0:
        lines.append(_("Nobody is waiting. 🎉"))
    rows = [
        [(shorten(f"{c.name or '?'} · {c.building_name}, {c.unit or '—'}", 60), encode(PREFIX, "o", c.person_id))]
        for c in items
    ]
    await present(ctx, "\n".join(lines), keyboard([*rows, page_row(ctx, PREFIX, page, total, PER_PAGE)]))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed(update, context, REVIEWERS)
    if press is None:
        return
    ctx, action, number, parts = press
    _ = ctx._
    building_id, check = int_part(parts, 2), parts[3] if len(parts) > 3 else ""
    try:
        if action == "l":
            await ctx.answer()
            await show_waiting(ctx, number)
        elif action == "o":
            await _card(ctx, number)
        elif action == "c" and building_id is not None:
            claim = await verification.confirm(ctx.services, ctx.person, number, building_id, check)
            await ctx.answer(_("Confirmed: {name}.").format(name=claim.name))
            await show_waiting(ctx, 0)
        elif action == "r" and building_id is not None:
            claim = await verification.claim_to_review(ctx.services, ctx.person, number)
            await ctx.answer()
            home = await place_text_for(ctx.services, claim.building_id, claim.unit)
            draft = new_draft(
                ctx, REASON_FLOW, "reason", id=number, building=building_id, check=check, name=claim.name, home=home
            )
            await show(ctx, draft)
        else:
            await ctx.answer(_(EXPIRED), alert=True)
    except Refused as refusal:
        await refuse(ctx, refusal)


async def _card(ctx: Ctx, person_id: int) -> None:
    assert ctx.person is not None
    _ = ctx._
    claim = await verification.claim_to_review(ctx.services, ctx.person, person_id)
    home = await place_text_for(ctx.services, claim.building_id, claim.unit)
    check = verification.unit_check(claim.unit)
    text = "\n".join(
        [
            f"<b>{esc(claim.name or '?')}</b>",
            _("Says they live at: {home}").format(home=esc(home)),
            _("Confirm only what you know: a visit, the property register or someone you trust."),
        ]
    )
    await ctx.answer()
    await present(
        ctx,
        text,
        inline(
            [
                [
                    (_("✅ Confirm"), encode(PREFIX, "c", claim.person_id, claim.building_id, check)),
                    (_("❌ Reject"), encode(PREFIX, "r", claim.person_id, claim.building_id, check)),
                ],
                [(_("‹ Back"), encode(PREFIX, "l", 0))],
            ]
        ),
    )


async def _reason_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    text = _(
        "Why can you not confirm that {name} lives at {home}? They read this. Up to {limit} characters."
    ).format(name=esc(draft.data.get("name", "")), home=esc(draft.data.get("home", "")), limit=REASON_MAX)
    return text, [[(_("Cancel"), "cancel")]], None


async def _reason_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    if turn.action == "cancel":
        if await end_flow(ctx, draft):
            await present(ctx, _("Cancelled. Nothing was saved."))
        return
    if turn.action is not None:
        await ctx.answer(_(EXPIRED), alert=True)
        return
    text = (turn.text or "").strip()
    if not text or len(text) > REASON_MAX:
        await ctx.reply(_("Please type the reason in up to {limit} characters, or /cancel.").format(limit=REASON_MAX))
        return
    if ctx.person is None or not await end_flow(ctx, draft):
        return
    d = draft.data
    try:
        claim = await verification.reject(
            ctx.services, ctx.person, int(d["id"]), int(d["building"]), str(d["check"]), text
        )
    except Refused as refusal:
        await refuse(ctx, refusal)
        return
    await ctx.reply(_("Not confirmed; {name} is told why.").format(name=esc(claim.name)))


def register(application: Application) -> None:
    register_flow(application, REASON_FLOW, Flow(_reason_turn, _reason_view))
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "verify",
            N_("Confirm the homes of your grid's residents"),
            cmd_verify,
            roles=REVIEWERS,
            order=30,
        ),
    )
