"""/export: reports with their timelines, volunteer service hours or deliberation results, as a CSV file
that opens in Excel, for a scope and a period the person may see (the same choices as /stats)."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.rates import Period, PeriodKind, parse_period, period_for
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS
from bot.handlers.stats import (
    NOT_ALLOWED,
    SCREENS,
    STATS_ROLES,
    default_scope,
    period_row,
    period_text,
    scope_code,
    scoped_button,
    today,
)
from bot.handlers.stats import (
    PREFIX as STATS_PREFIX,
)
from bot.handlers.tasks import EXPIRED, present
from bot.i18n import N_
from bot.services import exports
from bot.services.exports import Export
from bot.services.stats import ScopeChoice
from bot.ui.callbacks import encode
from bot.ui.html import esc
from bot.ui.keyboards import inline

PREFIX = "ex"
# Telegram takes documents up to 50 MB from a bot; longer exports are for the command line.
MAX_BYTES = 45 * 1024 * 1024
_CODES = {"r": Export.REPORTS, "h": Export.HOURS, "d": Export.DELIBERATION}


async def show_export(ctx: Ctx, choice: ScopeChoice, period: Period) -> None:
    _ = ctx._
    here = (scope_code(choice.scope), period.code)
    text = "\n".join(
        [
            _("⬇️ <b>Export</b> · {scope}").format(scope=esc(choice.name)),
            period_text(ctx, period),
            "",
            _("Reports: every report filed in the period, with its timeline; no reporter is named."),
            _("Volunteer hours: attendance and hours at activities held in the period."),
        _("Deliberation: turnout and totals of votes that closed in the period; never a single ballot."),
            _("CSV files in UTF-8 that open in Excel."),
        ]
    )
    rows = [
        [
            (_("📄 Reports"), encode(PREFIX, "f", *here, "r")),
            (_("🙋 Volunteer hours"), encode(PREFIX, "f", *here, "h")),
        ],
        [(_("🗳 Deliberation results"), encode(PREFIX, "f", *here, "d"))],
        period_row(ctx, PREFIX, choice.scope, period),
        [
            (_("🔭 Another area"), encode(STATS_PREFIX, "p", *here, 0, PREFIX)),
            (_("📊 Dashboard"), encode(STATS_PREFIX, "v", *here)),
        ],
    ]
    await present(ctx, text, inline(rows))


async def send_export(ctx: Ctx, choice: ScopeChoice, period: Period, what: Export) -> None:
    document = await exports.export(ctx.services, what, choice.scope, period, ctx.locale)
    if len(document.content) > MAX_BYTES:
        await ctx.answer(
            ctx._(
                "This export is too large to send here. Choose a shorter period, or ask the "
                "street admin for the command-line export."
            ),
            alert=True,
        )
        return
    await ctx.answer()
    await ctx.context.bot.send_document(
        chat_id=ctx.user.id,
        document=InputFile(document.content, filename=document.filename),
        caption=ctx._("{name}: {rows} rows · {period}").format(
            name=esc(choice.name), rows=document.rows, period=period_text(ctx, period)
        ),
        rate_limit_args="reply",
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    pressed = await scoped_button(update, context)
    if pressed is None:
        return
    ctx, action, parts, choice = pressed
    period = parse_period(parts[2], today(ctx)) if len(parts) > 2 else None
    if period is None:
        await ctx.answer(ctx._(EXPIRED), alert=True)
    elif action == "v":
        await ctx.answer()
        await show_export(ctx, choice, period)
    elif action == "f" and len(parts) > 3 and parts[3] in _CODES:
        await send_export(ctx, choice, period, _CODES[parts[3]])
    else:
        await ctx.answer(ctx._(EXPIRED), alert=True)


async def cmd_export(ctx: Ctx) -> None:
    choice = await default_scope(ctx)
    if choice is None:
        await ctx.reply(ctx._(NOT_ALLOWED))
        return
    await show_export(ctx, choice, period_for(PeriodKind.THIS_MONTH, today(ctx)))


def register(application: Application) -> None:
    SCREENS[PREFIX] = show_export
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "export",
            N_("Reports, volunteer hours or deliberation results as a spreadsheet (CSV)"),
            cmd_export,
            roles=STATS_ROLES,
            order=71,
        ),
    )
