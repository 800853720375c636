"""/notifications: each resident chooses which topics of notices they receive.

Safety notices always arrive, and so does anything about the person's own reports, votes and
sign-ups (those are not notices). Buttons carry only the topic: `ntf:t:<topic>`.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.broadcasts import MUTABLE_TOPICS, Topic
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS
from bot.i18n import N_
from bot.services import broadcasts
from bot.services.broadcasts import TOPIC_LABELS
from bot.ui.callbacks import decode, encode
from bot.ui.keyboards import inline

PREFIX = "ntf"


def _text(ctx: Ctx, muted: set[Topic]) -> str:
    _ = ctx._
    lines = [_("<b>🔔 Notices you receive</b>"), _("Tap a topic to turn it off or back on."), ""]
    for topic in MUTABLE_TOPICS:
        mark = "🔕" if topic in muted else "✅"
        state = _("off") if topic in muted else _("on")
        lines.append(f"{mark} {_(TOPIC_LABELS[topic])}: {state}")
    lines += [f"🔒 {_(TOPIC_LABELS[Topic.SAFETY])}: {_('always on')}", "",
              _("Messages about your own reports, votes and sign-ups always arrive.")]
    return "\n".join(lines)


def _markup(ctx: Ctx, muted: set[Topic]) -> InlineKeyboardMarkup:
    return inline([[(("🔕 " if topic in muted else "✅ ") + ctx._(TOPIC_LABELS[topic]),
                      encode(PREFIX, "t", topic.value))] for topic in MUTABLE_TOPICS])


async def cmd_notifications(ctx: Ctx) -> None:
    assert ctx.person is not None
    muted = await broadcasts.muted_topics(ctx.services, ctx.person)
    await ctx.reply(_text(ctx, muted), _markup(ctx, muted))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
    if ctx.person is None or not ctx.person.onboarded:
        await ctx.answer(ctx._("Please finish signing up first: send /start."), alert=True)
        return
    if len(parts) != 2 or parts[0] != "t" or parts[1] not in {t.value for t in MUTABLE_TOPICS}:
        await ctx.answer(ctx._("This button has expired. Send /start or /help to go on."), alert=True)
        return
    muted = await broadcasts.toggle_topic(ctx.services, ctx.person, Topic(parts[1]))
    await ctx.show(_text(ctx, muted), _markup(ctx, muted))
    await ctx.answer()


def register(application: Application) -> None:
    menu.add_command(application, menu.Command(
        "notifications", N_("Choose which notices you receive"), cmd_notifications, order=85))
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"), group=COMMANDS)
