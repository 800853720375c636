"""/linkgroup in a building's or grid's Telegram group: an organizer links it, so notices can go there.

`/linkgroup` shows the grids of the organizer's area as buttons (`lg:g:<grid id>`); `/linkgroup <code>`
links a grid or a building by its code; `/unlinkgroup` undoes it. Whoever presses a button is checked
again on the server. Telegram's my_chat_member updates tell when the bot is added to a group or
removed from it; a removed group gets nothing until it is added back.
"""

from __future__ import annotations

from telegram import ChatMember, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.domain.broadcasts import may_send
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS
from bot.i18n import translator
from bot.runtime import services_of
from bot.services import broadcasts
from bot.services.broadcasts import LinkOutcome, LinkResult
from bot.ui.callbacks import decode, encode, int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, paginated

PREFIX = "lg"
PER_PAGE = 8
GROUP_TYPES = frozenset({"group", "supergroup"})


def _group_of(update: Update) -> tuple[int, str] | None:
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_TYPES:
        return None
    return chat.id, chat.title or ""


async def _say(ctx: Ctx, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    await ctx.context.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup, rate_limit_args="reply")


def _result_text(ctx: Ctx, result: LinkResult) -> str:
    _ = ctx._
    if result.outcome is LinkOutcome.LINKED:
        return _("✅ This group is now linked to {place}. Notices for it can be sent here.").format(
            place=esc(result.place))
    if result.outcome is LinkOutcome.UNKNOWN_PLACE:
        return _("No grid or building has that code. Send /linkgroup to pick a grid, or /linkgroup followed by a "
                 "building's code.")
    return _("Only organizers and street admins can link a group, and only to a place in their own area.")


async def cmd_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    group = _group_of(update)
    ctx = await Ctx.load(update, context)
    if group is None or ctx is None:
        return
    chat_id, title = group
    if ctx.person is None or not may_send(ctx.person):
        await _say(ctx, chat_id, _result_text(ctx, LinkResult(LinkOutcome.NOT_ALLOWED)))
        raise ApplicationHandlerStop
    if context.args:
        result = await broadcasts.link_group(ctx.services, ctx.person, chat_id, title, code=" ".join(context.args))
        await _say(ctx, chat_id, _result_text(ctx, result))
        raise ApplicationHandlerStop
    await _say(ctx, chat_id, *await _picker(ctx, 0))
    raise ApplicationHandlerStop


async def _picker(ctx: Ctx, page: int) -> tuple[str, InlineKeyboardMarkup]:
    _ = ctx._
    assert ctx.person is not None
    grids = await broadcasts.linkable_grids(ctx.services, ctx.person)
    rows, _page, _pages = paginated(grids, page, per_page=PER_PAGE, per_row=2,
                                    button=lambda c: (c.label[:40], encode(PREFIX, "g", c.id)),
                                    nav=lambda p: encode(PREFIX, "p", p), counter=_("{page} of {pages}"))
    text = _("<b>Link this group</b>\nPick its grid, or send /linkgroup followed by a building's code (for example "
             "/linkgroup B-101).")
    return text, inline(rows)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    group = _group_of(update)
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
    number = int_part(parts, 1)
    if group is None or number is None or not parts or parts[0] not in {"g", "p"}:
        await ctx.answer(ctx._("This button has expired. Send /start or /help to go on."), alert=True)
        return
    if ctx.person is None or not may_send(ctx.person):
        await ctx.answer(_result_text(ctx, LinkResult(LinkOutcome.NOT_ALLOWED)), alert=True)
        return
    if parts[0] == "p":
        text, markup = await _picker(ctx, number)
        await ctx.show(text, markup)
        await ctx.answer()
        return
    result = await broadcasts.link_group(ctx.services, ctx.person, group[0], group[1], grid_id=number)
    if result.outcome is LinkOutcome.LINKED:
        await ctx.show(_result_text(ctx, result))
        await ctx.answer()
    else:
        await ctx.answer(_result_text(ctx, result), alert=True)


async def cmd_unlink(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    group = _group_of(update)
    ctx = await Ctx.load(update, context)
    if group is None or ctx is None:
        return
    _ = ctx._
    done = ctx.person is not None and may_send(ctx.person) and await broadcasts.unlink_group(
        ctx.services, ctx.person, group[0])
    await _say(ctx, group[0], _("This group is no longer linked; notices will not come here.") if done
               else _("Nothing changed: this group is not linked, or linking it is not yours to change."))
    raise ApplicationHandlerStop


async def on_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was added to a group (say how to link it) or removed from one (stop sending there)."""
    change = update.my_chat_member
    group = _group_of(update)
    if change is None or group is None:
        return
    services = services_of(context.application)
    member = change.new_chat_member.status in {ChatMember.MEMBER, ChatMember.ADMINISTRATOR}
    await broadcasts.bot_membership(services, group[0], group[1], member)
    was_member = change.old_chat_member.status in {ChatMember.MEMBER, ChatMember.ADMINISTRATOR}
    if member and not was_member:
        _ = translator(services.settings.default_locale)
        await context.bot.send_message(
            chat_id=group[0], rate_limit_args="reply",
            text=_("Hello! I am the street office's assistant. An organizer can link this group to its grid or "
                   "building with /linkgroup."))
    raise ApplicationHandlerStop


async def on_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.migrate_to_chat_id:
        await broadcasts.group_migrated(services_of(context.application), message.chat.id, message.migrate_to_chat_id)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("linkgroup", cmd_link, filters=filters.ChatType.GROUPS), group=COMMANDS)
    application.add_handler(CommandHandler("unlinkgroup", cmd_unlink, filters=filters.ChatType.GROUPS),
                            group=COMMANDS)
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"), group=COMMANDS)
    application.add_handler(ChatMemberHandler(on_membership, ChatMemberHandler.MY_CHAT_MEMBER), group=COMMANDS)
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrated), group=COMMANDS)
