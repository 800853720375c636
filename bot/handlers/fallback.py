"""What nobody else handled: stale buttons, stickers, stray text, unknown commands; and errors."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, TypeHandler, filters

from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.groups import FALLBACK
from bot.i18n import normalize_locale, translator
from bot.runtime import services_of
from bot.storage import people

log = logging.getLogger(__name__)
TRACK = -1  # runs before everything: a person who writes has unblocked the bot


def _claimed_elsewhere(application: Application, update: Update) -> bool:
    """Does a feature's own button handler take this callback? Then it answers it, not us."""
    for group, handlers in application.handlers.items():
        if group in (FALLBACK, TRACK):
            continue
        for handler in handlers:
            if isinstance(handler, CallbackQueryHandler) and handler.check_update(update):
                return True
    return False


async def on_stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Buttons nobody owns (old versions, forged prefixes) get an answer instead of a spinner."""
    if _claimed_elsewhere(context.application, update):
        return
    ctx = await Ctx.load(update, context)
    if ctx is not None:
        await ctx.answer(ctx._("This button has expired. Send /start or /help to go on."), alert=True)


async def on_unexpected_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    _ = ctx._
    if ctx.person is None or not ctx.person.onboarded:
        await ctx.reply(_("Hello! Send /start to sign up with Gongzhi."))
    elif update.message is not None and update.message.text and update.message.text.startswith("/"):
        await ctx.reply(_("I don't know that command. Send /help to see what you can do."), menu.main_menu(ctx))
    else:
        await ctx.reply(_("I didn't understand that. Use the menu below, or send /help."), menu.main_menu(ctx))


async def on_any_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None or update.message is None:
        return
    services = services_of(context.application)
    if await people.is_unreachable(services.db, user.id):
        async with services.db.transaction() as conn:
            await people.mark_reachable(conn, user.id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the update id and the error; tell the person, in their language, without a traceback."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_user is None:
        return
    user = update.effective_user
    services = services_of(context.application)
    locale = services.settings.default_locale
    try:
        person = await people.by_telegram_id(services.db, user.id)
        locale = (person.locale if person else None) or normalize_locale(user.language_code, locale)
    except Exception:  # the store may be what failed
        log.warning("could not load the person to apologise in their language")
    _ = translator(locale)
    text = _("Sorry, something went wrong on our side. Nothing you sent was lost; please try again.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_chat is not None and update.effective_chat.type == "private":
            await context.bot.send_message(chat_id=user.id, text=text, rate_limit_args="reply")
    except TelegramError:
        log.warning("could not send the apology for update %s", update_id)


def register(application: Application) -> None:
    application.add_handler(TypeHandler(Update, on_any_update), group=TRACK)
    application.add_handler(CallbackQueryHandler(on_stale_button), group=FALLBACK)
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, on_unexpected_message), group=FALLBACK
    )
    application.add_error_handler(on_error)
